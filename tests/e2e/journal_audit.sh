#!/bin/sh
# `runbook audit verify` against a journal made by `runbook run`, then
# tampered with by the sqlite3 tool as an attacker would (triggers dropped
# first): an edited column (the first event's too), a deleted event (middle, newest, the whole
# newest run), an inserted event, reordered events, an edited runbook text.
# Each must be caught (exit 1, naming the first bad event); the clean
# journal must verify (exit 0). While the triggers stand, UPDATE and DELETE
# are refused outright.
# Env: RUNBOOK (the binary).
set -u
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

cat >three.yaml <<'YAML'
apiVersion: runbook/v1
name: three
steps:
  - { name: one, run: [echo, hi] }
  - { name: two, run: [echo, hi] }
  - { name: three, run: [echo, hi] }
YAML
for i in 1 2; do
    "$RUNBOOK" run --quiet --db clean.db three.yaml >/dev/null 2>&1 || bad "run $i failed"
done
sqlite3 clean.db 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
n=$(sqlite3 clean.db 'SELECT count(*) FROM events')
[ "$n" -ge 10 ] || bad "expected events in the journal, got $n"

# verify FILE WANT_RC DESCRIPTION [PATTERN…]: runs audit verify, checks the
# exit code and that the output names each pattern.
verify() {
    f=$1 want=$2 what=$3
    shift 3
    "$RUNBOOK" audit verify --db "$f" >out.log 2>&1
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "$what: exit $rc, want $want"
        sed 's/^/    | /' out.log | head -8
        return
    fi
    for p in "$@"; do
        if ! grep -q -- "$p" out.log; then
            bad "$what: no \"$p\" in the report"
            sed 's/^/    | /' out.log | head -8
            return
        fi
    done
    ok
}

# attack DESCRIPTION SQL PATTERN…: a fresh copy of the clean journal,
# the SQL run on it with the sqlite3 tool, and verify must catch it.
attack() {
    what=$1 sql=$2
    shift 2
    rm -f t.db t.db-wal t.db-shm
    cp clean.db t.db
    if ! sqlite3 t.db "$sql" 2>err.log; then
        bad "$what: the attack itself failed: $(cat err.log)"
        return
    fi
    verify t.db 1 "$what" TAMPERED "$@"
}

verify clean.db 0 "a clean journal verifies" "ok, the hash chain is intact" "events       $n in 2 runs"

max=$(sqlite3 clean.db 'SELECT max(id) FROM events')
run2_first=$(sqlite3 clean.db 'SELECT min(id) FROM events WHERE run_id = 2')
DROP_ALL='DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; DROP TRIGGER chain_head_follows;'

attack "edited data" "$DROP_ALL UPDATE events SET data = '{\"stdout\":\"forged\"}' WHERE id = 5;" \
    "event #5 (run 1 seq 5" "does not match its hash"
# The first event has no event before it: its own hash is all that covers
# it, and an edit of it must be caught like any other.
attack "edited first event" "$DROP_ALL UPDATE events SET data = '{\"forged\":true}' WHERE id = 1;" \
    "event #1 (run 1 seq 1" "does not match its hash"
attack "edited first event's time" "$DROP_ALL UPDATE events SET wall_ms = wall_ms + 1 WHERE id = 1;" \
    "event #1 (run 1 seq 1" "does not match its hash"
attack "edited step name" "$DROP_ALL UPDATE events SET step = 'other' WHERE id = 6 AND step IS NOT NULL;
    UPDATE events SET attempt = attempt + 1 WHERE id = 6 AND step IS NULL;" "event #6 (run 1 seq 6"
attack "edited time" "$DROP_ALL UPDATE events SET wall_ms = wall_ms - 60000 WHERE id = 3;" "event #3"
attack "edited type" "$DROP_ALL UPDATE events SET type = 'step_skipped' WHERE id = 4;" "event #4"
attack "forged hash too" "$DROP_ALL UPDATE events SET data = '{}', hash = zeroblob(32) WHERE id = 4;" \
    "event #4"
attack "deleted event in the middle" "$DROP_ALL DELETE FROM events WHERE id = 7;" \
    "event #8" "event #7, before it, is missing"
attack "deleted newest event of the newest run" "$DROP_ALL DELETE FROM events WHERE id = $max;" \
    "event #$max" "the newest event was deleted"
attack "deleted the newest run" "$DROP_ALL DELETE FROM events WHERE run_id = 2; DELETE FROM runs WHERE id = 2;" \
    "event #$run2_first" "were deleted"
attack "deleted the first event" "$DROP_ALL DELETE FROM events WHERE id = 1;" "event #2" "event #1, before it, is missing"
# The runs table is not chained, but it must agree with the events: a run
# whose status is rewritten (failed → resolved) is caught.
attack "edited run status" "UPDATE runs SET status = CASE status WHEN 'resolved' THEN 'failed' ELSE 'resolved' END WHERE id = 1;" \
    "run 1: the runs table says" "the runs table was edited"
attack "inserted event at the end" "INSERT INTO events SELECT id + 1, run_id, seq + 1, wall_ms, mono_ns,
    'step_finished', step, attempt, '{\"ok\":true}', hash, hash FROM events WHERE id = $max;" \
    "event #$((max + 1))"
attack "inserted event in the middle" "$DROP_ALL UPDATE events SET id = id + 1000 WHERE id > 4;
    UPDATE events SET id = id - 999 WHERE id > 1000;
    INSERT INTO events SELECT 5, run_id, seq + 100, wall_ms, mono_ns, 'log', NULL, 0, '{}', hash, hash
    FROM events WHERE id = 4;" "event #5"
attack "reordered events" "$DROP_ALL UPDATE events SET id = -1 WHERE id = 4;
    UPDATE events SET id = 4 WHERE id = 5; UPDATE events SET id = 5 WHERE id = -1;" \
    "event #4" "does not follow event #3"
attack "deleted one and renumbered" "$DROP_ALL DELETE FROM events WHERE id = 6;
    UPDATE events SET id = id - 1 WHERE id > 6;
    UPDATE chain_head SET event_id = event_id - 1, hash = (SELECT hash FROM events WHERE id = $((max - 1)));" \
    "event #6" "does not follow event #5"
attack "edited runbook text" "DROP TRIGGER versions_no_update; UPDATE versions SET source = source || '# x';" \
    "does not match its SHA-256"
attack "deleted chain head" "DROP TRIGGER chain_head_no_delete; DELETE FROM chain_head;" "chain head record is missing"

# The report as JSON names the first bad event.
rm -f t.db*
cp clean.db t.db
sqlite3 t.db "$DROP_ALL UPDATE events SET data = '{}' WHERE id = 9;"
"$RUNBOOK" audit verify --db t.db --format json >out.json 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q '"ok": false' out.json && grep -q '"event_id": 9' out.json &&
    grep -q '"seq": ' out.json; then ok; else bad "json report: exit $rc"; sed 's/^/    | /' out.json | head; fi

# While the triggers stand, history cannot be changed at all.
for sql in "UPDATE events SET data = '{}' WHERE id = 2" "DELETE FROM events WHERE id = $max" \
    "UPDATE chain_head SET event_id = 1"; do
    if sqlite3 clean.db "$sql" 2>err.log; then bad "not refused: $sql"; else ok; fi
done
grep -q "append-only\|chain head" err.log && ok || bad "refusal names the rule: $(cat err.log)"
verify clean.db 0 "still clean after refused attempts" "ok"

# Usage and unreadable journals: exit 2.
"$RUNBOOK" audit verify --db missing.db >out.log 2>&1
[ $? -eq 2 ] && grep -q "no journal at missing.db" out.log && ok || bad "missing journal: exit 2"
printf 'not a database at all, just text\n%.0s' $(seq 1 200) >text.db
"$RUNBOOK" audit verify --db text.db >out.log 2>&1
[ $? -eq 2 ] && grep -q "not a database" out.log && ok || bad "not a journal: exit 2"
"$RUNBOOK" audit verify --db clean.db --bogus >out.log 2>&1
[ $? -eq 2 ] && ok || bad "bad option: exit 2"
"$RUNBOOK" audit frob >out.log 2>&1
[ $? -eq 2 ] && ok || bad "unknown audit subcommand: exit 2"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
