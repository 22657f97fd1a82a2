#!/bin/sh
# Reading runs from a PostgreSQL journal (docs/journal.md, "PostgreSQL"),
# against a real PostgreSQL 15 started by tests/e2e/lib_pg.sh: a journal
# file made by real runs is copied with `journal copy`, and every read gives
# the same bytes from the copy as from the file (the journal's name aside,
# where one is printed):
#   - `show` (text and json), `report` in every format, `replay` (text and
#     json), `runs` with every filter, of every run: an incident with an
#     alert, approvals, retries and an escalation; one with goto, foreach,
#     rollback and a sub-runbook; a run of a few thousand events; a step
#     whose output is big, not ASCII, holds a NUL and a byte that is not
#     UTF-8; a drill; a failed run; a run killed and resumed;
#   - the reads no command prints whole, through tests/helpers/journal_read:
#     a run, its row, its events picked by type, its walk with the outline,
#     its sub-runs, its chain check, its resume point, the runbook versions
#     and their text, a concurrency key's state, the alert claims;
#   - a run whose records were changed (an event edited, one deleted, as
#     the superuser with the triggers off on PostgreSQL, with them dropped
#     in the file): `show` and `report` say so with the same findings;
#   - a password in the URL is never shown (`no run 99 in …`);
#   - a run's walk reads its events one at a time: `show` of the big run
#     takes no more memory on PostgreSQL than from the file.
# Skips (exit 77) only when PostgreSQL is not installed.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR, RB_BUILD_DIR (journal_read).
set -u
. "$RB_SOURCE_DIR/tests/e2e/lib_pg.sh"
pg_available || { echo "SKIP: PostgreSQL 15 is not installed (make deps-test)"; exit 77; }
for t in sqlite3 jq psql; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: no $t"; exit 77; }
done
JR=$RB_BUILD_DIR/journal_read
[ -x "$JR" ] || { echo "no $JR (build the tree)"; exit 1; }
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
export TZ=UTC RUNBOOK_NO_LIVE=1 NO_COLOR=1
unset RUNBOOK_SIGNING_KEY RUNBOOK_DB

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
pg_journal_dbs journal tampered || { bad "setup"; exit 1; }
PG=$(pg_url runbook_owner journal)

# ---- a journal made by real runs ------------------------------------------------------
. "$RB_SOURCE_DIR/tests/e2e/lib_report.sh"
report_demo # h.yaml, alert.json
"$RUNBOOK" run h.yaml --alert alert.json --db j.db --yes -q >/dev/null 2>&1 || bad "the incident run"
cat >child.yaml <<'Y'
apiVersion: runbook/v1
name: child
params:
  who: { default: x }
steps:
  - { name: mark, run: [touch, "child-{{ params.who }}"] }
Y
cat >all.yaml <<'Y'
apiVersion: runbook/v1
name: all
params:
  items: { type: list, default: [a, b, c] }
detect:
  - { name: probe, run: ["true"] }
confirm: "checks.probe.ok"
severity:
  - { level: P1, when: "!checks.probe.ok" }
  - { level: P3 }
steps:
  - name: counter
    run: [sh, -c, "echo x >> count; wc -l < count | tr -d ' '"]
    retry: { attempts: 5, delay: 1ms, until: "int(stdout) >= 3" }
  - name: flaky
    run: [sh, -c, "[ -f loop-done ]"]
    on_failure: "goto:fix"
  - name: fix
    when: "!steps.flaky.ok"
    run: [touch, loop-done]
  - name: fan
    foreach: "{{ params.items }}"
    max_parallel: 2
    run: [touch, "item-{{ item }}"]
    undo: { run: [rm, -f, "item-{{ item }}"] }
  - name: sub
    action: runbook
    with: { name: child, params: { who: "{{ params.items[0] }}" } }
  - name: gated
    approval: { timeout: 1h }
    run: ["true"]
  - name: breaks
    run: [sh, -c, "exit 3"]
    on_failure: rollback
Y
"$RUNBOOK" run all.yaml --db j.db --yes >/dev/null 2>&1
# a step's output: big, not ASCII, a NUL, a byte that is not UTF-8, stderr;
# then a foreach of 1,000 log lines: about 4,000 events
cat >out.sh <<'S'
printf 'h\303\251llo w\303\266rld \342\234\223 \346\227\245\346\234\254 \360\237\232\200\n'
printf 'nul:\000:end\n'
printf 'bad \377 byte\n'
seq 1 40000
printf 'to stderr \303\251\n' >&2
S
cat >wide.yaml <<'Y'
apiVersion: runbook/v1
name: wide
params:
  items: { type: list, default: [] }
steps:
  - name: utf8
    run: [sh, out.sh]
  - name: fan
    foreach: "{{ params.items }}"
    max_parallel: 8
    action: log
    with: { message: "ünïcode — {{ item }}" }
Y
items=$(awk 'BEGIN { printf "["; for (i = 0; i < 1000; i++) printf "%s%d", i ? "," : "", i; print "]" }')
"$RUNBOOK" run wide.yaml --db j.db -q --param "items=$items" >/dev/null 2>&1 || bad "the wide run"
cat >fails.yaml <<'Y'
apiVersion: runbook/v1
name: fails
steps:
  - { name: try, run: [sh, -c, "echo nope; exit 3"] }
Y
"$RUNBOOK" run fails.yaml --db j.db -q >/dev/null 2>&1
"$RUNBOOK" run h.yaml --alert alert.json --db j.db --dry-run --yes -q >/dev/null 2>&1
# a run killed in a step, then resumed (its events: run_interrupted, run_resumed)
cat >slow.yaml <<'Y'
apiVersion: runbook/v1
name: slow
steps:
  - { name: first, run: ["true"] }
  - name: wait
    run: [sh, -c, "i=0; while [ ! -e go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done"]
    idempotent: true
  - { name: after, run: ["true"] }
Y
"$RUNBOOK" run slow.yaml --db j.db -q >/dev/null 2>&1 &
p=$!
waiting() {
    [ "$(sqlite3 j.db "SELECT count(*) FROM events e JOIN runs r ON r.id = e.run_id
        WHERE r.runbook = 'slow' AND e.type = 'attempt_started' AND e.step = 'wait'" 2>/dev/null)" = 1 ]
}
n=0
while ! waiting && [ $n -lt 600 ]; do n=$((n + 1)); sleep 0.05; done
kill -9 $p
wait $p 2>/dev/null
touch go
slow=$(sqlite3 j.db "SELECT id FROM runs WHERE runbook = 'slow'")
"$RUNBOOK" resume "$slow" --db j.db -q >/dev/null 2>&1 || bad "resume"
# alert claims as the server keeps them (not hash-chained: a projection)
sqlite3 j.db "INSERT INTO alerts(fingerprint, starts_at, received_at, payload, run_id, status, runbooks)
    VALUES ('fp-a', '2026-11-21T23:46:58Z', 1000, '{\"labels\":{\"instance\":\"nöde-1\"}}', 1, 'claimed', '[\"html-demo\",\"other\",\"third\"]'),
           ('fp-b', '2026-11-21T23:47:00Z', 2000, '{\"labels\":{}}', NULL, 'unmatched', '[]'),
           ('fp-a', '2026-11-20T00:00:00Z', 500, '{}', NULL, 'claimed', '[\"x\"]');
  UPDATE alerts SET resolved_at = 3000, resolved = '{\"status\":\"resolved\"}' WHERE fingerprint = 'fp-a' AND starts_at = '2026-11-20T00:00:00Z';
  INSERT INTO alert_runs(fingerprint, starts_at, runbook, run_id, outcome, recorded_at)
    VALUES ('fp-a', '2026-11-21T23:46:58Z', 'html-demo', 1, 'started', 1001),
           ('fp-a', '2026-11-21T23:46:58Z', 'other', NULL, 'not started: busy', 1002);" ||
    bad "the alert claims"
sqlite3 j.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
runs=$(sqlite3 j.db 'SELECT count(*) FROM runs')
big=$(sqlite3 j.db "SELECT id FROM runs WHERE runbook = 'wide'")
[ "$runs" = 7 ] && [ "$(sqlite3 j.db "SELECT count(*) FROM events WHERE run_id = $big")" -gt 4000 ] &&
    [ "$(sqlite3 j.db "SELECT status FROM runs WHERE id = $slow")" = resolved ] && ok ||
    bad "the journal to copy: $runs runs, $(sqlite3 j.db 'SELECT group_concat(status) FROM runs')"
cp j.db t.db

"$RUNBOOK" journal copy --from j.db --to "$PG" >copy.log 2>&1 && ok || { bad "journal copy"; cat copy.log; }

# same CMD…: the command on the file and on the copy prints the same bytes
# and exits alike (the journal's name, where printed, made the same)
same() {
    "$RUNBOOK" "$@" --db j.db >f.out 2>f.err
    frc=$?
    "$RUNBOOK" "$@" --db "$PG" >p.out 2>p.err
    prc=$?
    sed -i "s|$PG|j.db|g" p.err
    if [ $frc = $prc ] && cmp -s f.out p.out && cmp -s f.err p.err; then ok; else
        bad "$* differs (exit $frc, $prc)"
        diff f.out p.out | head -5
        diff f.err p.err | head -5
    fi
}
# jr WHAT ARG…: journal_read on both
jr() {
    "$JR" j.db "$@" >f.out 2>/dev/null
    frc=$?
    "$JR" "$PG" "$@" >p.out 2>/dev/null
    prc=$?
    if [ $frc = $prc ] && cmp -s f.out p.out; then ok; else
        bad "journal_read $* differs (exit $frc, $prc)"
        diff f.out p.out | head -5
    fi
}

for id in $(sqlite3 j.db 'SELECT id FROM runs ORDER BY id'); do
    same show "$id"
    same show "$id" --format json
    for f in text md json html; do
        same report "$id" --format "$f"
    done
    same replay "$id"
    same replay "$id" --format json
    for w in run row walk children verify resume; do
        jr "$w" "$id"
    done
    jr some "$id" -log
    jr some "$id" step_finished attempt_finished
done
"$JR" "$PG" run "$big" | grep -q 'ünïcode — 999' && ok ||
    bad "the big run's last item"
"$JR" "$PG" run "$big" | grep -q 'nul:\\u0000:end' && ok || bad "the NUL in the output"
[ "$("$RUNBOOK" show "$big" --db "$PG" --format json | jq '.events | length')" -gt 4000 ] && ok ||
    bad "show json of the big run"
same show 99
same report 99
same replay 99
for args in "" "--limit 2" "--limit 0" "--runbook all" "--status failed" "--status resolved" \
    "--trigger cli" "--trigger alert" "--trigger runbook" "--since 2000-01-01" "--severity P1" \
    "--severity p3" "--no-drill" "--drill" "--format json --limit 0"; do
    # shellcheck disable=SC2086
    same runs $args
done
jr runs 0
jr runs 3
for name in html-demo all child wide fails slow nothing; do
    jr versions "$name"
done
for sha in $(sqlite3 j.db 'SELECT sha256 FROM versions'); do
    jr version "$sha"
done
jr version 0000
jr key html-demo html-demo
jr key all all
jr key slow nothing
jr alert fp-a 2026-11-21T23:46:58Z
jr alert fp-a 2026-11-20T00:00:00Z
jr alert fp-b 2026-11-21T23:47:00Z
jr alert fp-c 2026-11-21T23:47:00Z
jr alert-open fp-a
jr alert-open fp-b
jr alert-open fp-c
jr unstarted 0
jr unstarted 1
"$JR" "$PG" unstarted 0 | jq -e '.[0].missing == ["third"] and .[1].missing == ["x"]' >/dev/null &&
    ok || bad "unstarted alerts: $("$JR" "$PG" unstarted 0)"
"$JR" "$PG" walk "$big" | jq -se '.[0] | .events > 4000 and .first.type == "run_started"
    and .last.type == "run_finished" and (.last.data.duration_ms | type) == "number"' >/dev/null &&
    ok || bad "the big run's outline"
"$JR" "$PG" walk 1 | jq -se '.[0].first.data.alert.labels.alertname == "NodeDown"
    and ([.[1:][].seq] == [range(1; .[0].events + 1)])' >/dev/null && ok ||
    bad "run 1's walk: its outline, its events in seq order"

# the big run's events are read one at a time, as from the file: show's
# peak memory is the file's (holding the run's events at once adds 9 MB);
# not under AddressSanitizer, whose quarantine keeps what was freed
kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
if [ -x /usr/bin/time ] && ! ldd "$RUNBOOK" 2>/dev/null | grep -q libasan; then
    file_kb=$(kb "$RUNBOOK" show "$big" --db j.db)
    pg_kb=$(kb "$RUNBOOK" show "$big" --db "$PG")
    [ "$pg_kb" -lt $((file_kb + 4096)) ] && ok ||
        bad "show of the big run took ${pg_kb} kB on PostgreSQL, ${file_kb} kB from the file"
fi

# a password in the URL is never shown, in a message or an answer
pw="postgresql://runbook_owner:s3cret@127.0.0.1:$PG_PORT/journal"
for args in "show 99" "show 99 --format json" "report 99" "replay 99" "runs --runbook nothing"; do
    # shellcheck disable=SC2086
    "$RUNBOOK" $args --db "$pw" >out.log 2>&1
    grep -q "127.0.0.1:$PG_PORT/journal\|no run 99" out.log && ! grep -q s3cret out.log && ok ||
        { bad "$args showed the password"; cat out.log; }
done

# ---- a run whose records were changed --------------------------------------------------
"$RUNBOOK" journal copy --from t.db --to "$(pg_url runbook_owner tampered)" >/dev/null 2>&1 ||
    bad "copying the second journal"
PG=$(pg_url runbook_owner tampered)
edit=$(sqlite3 j.db "SELECT min(id) FROM events WHERE run_id = 2 AND type = 'step_finished'")
gone=$(sqlite3 j.db "SELECT max(id) FROM events WHERE run_id = 2 AND type = 'step_started'")
sqlite3 t.db "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;
    UPDATE events SET data = '{\"result\":\"forged\"}' WHERE id = $edit; DELETE FROM events WHERE id = $gone" ||
    bad "tampering with the file"
psql -X -q -v ON_ERROR_STOP=1 -d "$(pg_url postgres tampered)" -c "ALTER TABLE events DISABLE TRIGGER USER" \
    -c "UPDATE events SET data = '{\"result\":\"forged\"}' WHERE id = $edit" \
    -c "DELETE FROM events WHERE id = $gone" -c "ALTER TABLE events ENABLE TRIGGER USER" >out.log 2>&1 ||
    { bad "tampering as the superuser"; cat out.log; }
cp t.db j.db
for id in 1 2 3; do
    same show "$id"
    same report "$id" --format json
    jr verify "$id"
done
"$RUNBOOK" show 2 --db "$PG" >/dev/null 2>out.log
[ $? -eq 1 ] && grep -q "event #$edit (run 2 .*its content does not match its hash" out.log &&
    grep -q "event #$gone, before it, is missing (deleted)" out.log && ok ||
    { bad "show of the changed run"; cat out.log; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
