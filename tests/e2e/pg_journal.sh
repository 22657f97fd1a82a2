#!/bin/sh
# A journal on PostgreSQL (docs/journal.md, "PostgreSQL"), against a real
# PostgreSQL 15 started by tests/e2e/lib_pg.sh:
#   - `journal copy` moves a journal made by real runs (several runbooks,
#     alerts through `runbook serve`, signed runs, a pruned journal with its
#     checkpoint) into an empty database, and `audit verify` on the copy
#     gives the file's report, field for field (the path aside);
#   - a target that is not empty is refused, a source whose chain is broken
#     copies nothing (exit 1), and a password in the URL is never shown;
#   - the triggers refuse UPDATE, DELETE and TRUNCATE of the record to its
#     owner; the engine's role, granted as the docs say, can append and read
#     but not update or delete;
#   - a row changed with the triggers disabled (as the superuser) makes
#     `audit verify` say TAMPERED and name that event, with the same
#     findings as the same change in the file;
#   - `runs` lists the copy as it lists the file, with every filter;
#   - --pubkey and --anchor check the copied signatures and an anchor with
#     the file's findings, a forged signature row included;
#   - what is not supported on PostgreSQL yet says so, exit 2; a server
#     whose database is missing says so without its password.
# Skips (exit 77) only when PostgreSQL is not installed.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
. "$RB_SOURCE_DIR/tests/e2e/lib_pg.sh"
pg_available || { echo "SKIP: PostgreSQL 15 is not installed (make deps-test)"; exit 77; }
for t in sqlite3 jq curl psql; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: no $t"; exit 77; }
done
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # $tmp, ok, bad, serve_start, http
trap '[ -n "$srv_pid" ] && kill -9 $srv_pid 2>/dev/null; pg_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
export TZ=UTC
unset RUNBOOK_SIGNING_KEY RUNBOOK_DB

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
pg_journal_dbs journal pruned broken other || { bad "setup"; exit 1; }
OWNER=$(pg_url runbook_owner journal)
ENGINE=$(pg_url runbook_engine journal)
SUPER=$(pg_url postgres journal)

# ---- a journal made by real runs ---------------------------------------------------
mkdir runbooks marks
export MARKS=$tmp/marks
node_down_runbook runbooks/node-down.yaml
cat >two.yaml <<'YAML'
apiVersion: runbook/v1
name: two
steps:
  - { name: one, run: [echo, hi] }
  - { name: two, run: [echo, hi] }
YAML
cat >fails.yaml <<'YAML'
apiVersion: runbook/v1
name: fails
steps:
  - { name: try, run: [sh, -c, "exit 3"] }
YAML
alert() {
    printf '{"receiver":"engine","status":"firing","version":"4","groupKey":"{}","alerts":[{"status":"firing","labels":{"alertname":"NodeDown","instance":"%s"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}]}' "$1" "$2"
}
hook_token
server_config
serve_start serve.log --config server.yaml || { bad "the server did not start"; cat serve.log; exit 1; }
alert node-1 fp-a >a.json
alert node-2 fp-b >b.json
[ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] && ok || bad "alert a: 200"
[ "$(http POST /hooks/alertmanager $T b.json)" = 200 ] && ok || bad "alert b: 200"
runs_done() { [ "$(sqlite3 j.db "SELECT count(*) FROM runs WHERE ended_at IS NOT NULL")" = 2 ]; }
wait_for runs_done && ok || bad "the alerts' runs did not end"
serve_stop
"$RUNBOOK" run --quiet --db j.db two.yaml >/dev/null 2>&1 || bad "run two"
"$RUNBOOK" run --quiet --db j.db fails.yaml >/dev/null 2>&1
"$RUNBOOK" audit key init --out k >/dev/null 2>&1 || bad "audit key init"
RUNBOOK_SIGNING_KEY=k.key "$RUNBOOK" run --quiet --db j.db two.yaml >/dev/null 2>&1 || bad "a signed run"
RUNBOOK_SIGNING_KEY=k.key "$RUNBOOK" run --quiet --db j.db fails.yaml >/dev/null 2>&1
sqlite3 j.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
[ "$(sqlite3 j.db 'SELECT count(*) FROM runs')" = 6 ] &&
    [ "$(sqlite3 j.db 'SELECT count(*) FROM alerts')" = 2 ] &&
    [ "$(sqlite3 j.db 'SELECT count(*) FROM signatures')" = 2 ] && ok ||
    bad "the journal to copy: $(sqlite3 j.db 'SELECT count(*) FROM runs, alerts, signatures')"
cp j.db j.orig

# ---- copy, then verify on both ---------------------------------------------------
# A password in the URL (trust authentication ignores it) is never shown.
"$RUNBOOK" journal copy --from j.db --to "postgresql://runbook_owner:s3cret@127.0.0.1:$PG_PORT/journal" \
    >copy.log 2>&1 && ok || { bad "journal copy: exit $?"; cat copy.log; }
grep -q "^copied j.db to postgresql://runbook_owner@127.0.0.1:$PG_PORT/journal" copy.log &&
    grep -q "runs         6 (" copy.log && grep -q "alerts       2 (2 run links)" copy.log &&
    grep -q "signatures 2" copy.log && ok || { bad "copy's report"; cat copy.log; }
cmp -s j.db j.orig && ok || bad "journal copy changed its source"
# every table, row for row (the hashes as hex)
for q in "SELECT sha256, name, path, source, recorded_at FROM versions ORDER BY sha256" \
    "SELECT id, runbook, sha256, status, trigger, params, started_at, ended_at, owner_pid, owner_start, owner_boot FROM runs ORDER BY id" \
    "SELECT id, run_id, seq, wall_ms, mono_ns, type, step, attempt, data, lower(hex(prev_hash)), lower(hex(hash)) FROM events ORDER BY id" \
    "SELECT event_id, lower(hex(hash)) FROM chain_head" \
    "SELECT id, event_id, lower(hex(hash)), signed_at, lower(hex(key_id)), lower(hex(signature)) FROM signatures ORDER BY id" \
    "SELECT id, fingerprint, starts_at, received_at, payload, run_id, status, runbooks, resolved_at, resolved FROM alerts ORDER BY id" \
    "SELECT fingerprint, starts_at, runbook, run_id, outcome, recorded_at FROM alert_runs ORDER BY fingerprint, runbook"; do
    sqlite3 -separator '|' j.db "$q" >want.txt
    pq=$(echo "$q" | sed "s/lower(hex(\([a-z_]*\)))/encode(\1, 'hex')/g")
    pg_sql "$OWNER" "$pq" >got.txt
    cmp -s want.txt got.txt && ok || { bad "the copy differs: $q"; diff want.txt got.txt | head -5; }
done
# the ids the file would hand out next
[ "$(pg_sql "$OWNER" "SELECT nextval(pg_get_serial_sequence('runs', 'id'))")" = 7 ] && ok ||
    bad "the runs' sequence after the copy"

"$RUNBOOK" audit verify --db j.db --format json | jq 'del(.path)' >sqlite.json
"$RUNBOOK" audit verify --db "$OWNER" --format json >pg.json
[ $? -eq 0 ] && ok || bad "audit verify on PostgreSQL: exit $?"
jq -e --arg u "postgresql://runbook_owner@127.0.0.1:$PG_PORT/journal" '.ok and .path == $u' pg.json \
    >/dev/null && ok || { bad "pg report"; cat pg.json; }
jq 'del(.path)' pg.json | cmp -s - sqlite.json && ok ||
    { bad "the reports differ"; jq 'del(.path)' pg.json | diff - sqlite.json | head; }
"$RUNBOOK" audit verify --db j.db | sed 1d >sqlite.txt
"$RUNBOOK" audit verify --db "$OWNER" >pg.txt
head -1 pg.txt | grep -q "journal: ok, the hash chain is intact" && sed 1d pg.txt | cmp -s - sqlite.txt &&
    ok || { bad "text reports differ"; cat pg.txt; }

# the signed checkpoints and an anchor: the same report on both
"$RUNBOOK" audit anchor --db j.db >anchor.txt 2>/dev/null || bad "audit anchor"
"$RUNBOOK" audit anchor --db "$OWNER" | cmp -s - anchor.txt && ok || bad "audit anchor on PostgreSQL"
"$RUNBOOK" audit verify --db j.db --pubkey k.pub --anchor anchor.txt --format json |
    jq 'del(.path)' >sqlite.json
"$RUNBOOK" audit verify --db "$OWNER" --pubkey k.pub --anchor anchor.txt --format json |
    jq 'del(.path)' >pg.json
jq -e '.ok and .signatures.valid == 2 and (.anchors | length) == 1' pg.json >/dev/null &&
    cmp -s pg.json sqlite.json && ok || { bad "verify --pubkey --anchor differ"; diff pg.json sqlite.json | head; }
"$RUNBOOK" audit verify --db "$OWNER" --pubkey k.pub >out.log 2>&1 &&
    grep -q "signed       up to event #" out.log && ok || { bad "verify --pubkey text"; cat out.log; }

# `runbook runs`: the same listing, filters and all
for args in "" "--limit 2" "--limit 0" "--runbook two" "--status failed" "--trigger cli" \
    "--trigger alert" "--since 2000-01-01" "--severity P1" "--no-drill" "--drill"; do
    # shellcheck disable=SC2086
    "$RUNBOOK" runs --db j.db --format json $args >sqlite.json 2>&1
    # shellcheck disable=SC2086
    "$RUNBOOK" runs --db "$OWNER" --format json $args >pg.json 2>&1
    cmp -s pg.json sqlite.json && ok || { bad "runs $args differs"; diff pg.json sqlite.json | head -5; }
done
[ "$(jq length pg.json)" = 0 ] && [ "$("$RUNBOOK" runs --db "$OWNER" --format json --limit 0 | jq length)" = 6 ] &&
    ok || bad "runs on PostgreSQL lists nothing"
"$RUNBOOK" runs --db j.db | cmp -s - "$("$RUNBOOK" runs --db "$OWNER" >runs.txt; echo runs.txt)" && ok ||
    bad "runs' table differs"

# ---- a target that is not empty ------------------------------------------------------
"$RUNBOOK" journal copy --from j.db --to "$OWNER" >out.log 2>&1
[ $? -eq 2 ] && grep -q "the journal is not empty (6 runs, .* events, 3 runbook versions, 2 alerts" out.log &&
    grep -q "journal copy fills an empty journal only" out.log && ok || { bad "a second copy"; cat out.log; }
[ "$(pg_sql "$OWNER" 'SELECT count(*) FROM runs')" = 6 ] && ok || bad "the refused copy wrote"
# another program's database is not taken over
pg_sql "$(pg_url runbook_owner other)" "CREATE TABLE t (x int)"
"$RUNBOOK" journal copy --from j.db --to "$(pg_url runbook_owner other)" >out.log 2>&1
[ $? -eq 2 ] && grep -q "not a runbook journal: the database has 1 other table" out.log && ok ||
    { bad "a foreign database"; cat out.log; }
"$RUNBOOK" journal copy --from j.db >out.log 2>&1
[ $? -eq 2 ] && grep -q -- "--to URL is required" out.log && ok || bad "copy without --to"
"$RUNBOOK" journal copy --from j.db --to x.db >out.log 2>&1
[ $? -eq 2 ] && grep -q -- "--to must be a postgresql:// URL" out.log && ok || bad "copy to a file"
"$RUNBOOK" journal copy --help | grep -q "runbook journal copy --from FILE --to URL" && ok ||
    bad "journal copy --help"

# ---- append-only: the owner, the engine's role ---------------------------------------
refused() { # URL SQL PATTERN
    if pg_sql "$1" "$2" >out.log 2>&1; then bad "not refused: $2"; else
        grep -q "$3" out.log && ok || { bad "refused otherwise: $2"; cat out.log; }
    fi
}
refused "$OWNER" "UPDATE events SET data = '{}' WHERE id = 3" "events are append-only"
refused "$OWNER" "DELETE FROM events WHERE id = 3" "events are append-only"
refused "$OWNER" "TRUNCATE events CASCADE" "events are append-only"
refused "$OWNER" "UPDATE chain_head SET event_id = 3" "the chain head can only move to the newest event"
refused "$OWNER" "UPDATE signatures SET signed_at = 0" "signatures are append-only"
refused "$OWNER" "DELETE FROM signatures" "signatures are append-only"
refused "$OWNER" "UPDATE versions SET name = 'x'" "runbook versions are immutable"
# the grants of docs/journal.md, "Roles", as written there
pg_grant_engine "$OWNER" && ok || bad "the grants of docs/journal.md"
next=$(pg_sql "$OWNER" "SELECT max(id) + 1 FROM events")
pg_sql "$ENGINE" "BEGIN; INSERT INTO events (id, run_id, seq, wall_ms, mono_ns, type, prev_hash, hash)
    VALUES ($next, 1, 99, 0, 0, 'x', '\\x00', '\\x00'); SELECT count(*) FROM events WHERE id = $next; ROLLBACK" \
    >out.log 2>&1 && grep -qx 1 out.log && ok || { bad "the engine's role cannot append"; cat out.log; }
refused "$ENGINE" "UPDATE events SET data = '{}' WHERE id = 3" "permission denied"
refused "$ENGINE" "DELETE FROM events WHERE id = 3" "permission denied"
refused "$ENGINE" "DELETE FROM runs WHERE id = 3" "permission denied"
refused "$ENGINE" "UPDATE versions SET name = 'x'" "permission denied"
"$RUNBOOK" audit verify --db "$ENGINE" >/dev/null 2>&1 && ok || bad "the engine's role cannot verify"

# ---- tampering, as on the file ------------------------------------------------------------
n=$(sqlite3 j.db "SELECT min(id) FROM events WHERE run_id = 3 AND type = 'step_finished'")
psql -X -q -v ON_ERROR_STOP=1 -d "$SUPER" -c "ALTER TABLE events DISABLE TRIGGER USER" \
    -c "UPDATE events SET data = '{\"result\":\"forged\"}' WHERE id = $n" \
    -c "ALTER TABLE events ENABLE TRIGGER USER" >out.log 2>&1 || { bad "tampering as superuser"; cat out.log; }
"$RUNBOOK" audit verify --db "$OWNER" >out.log 2>&1
[ $? -eq 1 ] && grep -q "TAMPERED: 1 problem found" out.log && grep -q "event #$n " out.log &&
    grep -q "its content does not match its hash" out.log && ok || { bad "PG tampering not found"; cat out.log; }
cp j.orig t.db
sqlite3 t.db "DROP TRIGGER events_no_update; UPDATE events SET data = '{\"result\":\"forged\"}' WHERE id = $n"
"$RUNBOOK" audit verify --db t.db --format json | jq '.problems' >sqlite.json
"$RUNBOOK" audit verify --db "$OWNER" --format json | jq '.problems' >pg.json
cmp -s pg.json sqlite.json && ok || { bad "the findings differ"; diff pg.json sqlite.json; }
# a forged signature row: --pubkey names it, on both
pg_sql "$SUPER" "ALTER TABLE signatures DISABLE TRIGGER USER; UPDATE signatures SET signed_at = signed_at + 1 WHERE id = 1; ALTER TABLE signatures ENABLE TRIGGER USER" >/dev/null
sqlite3 t.db "DROP TRIGGER signatures_no_update; UPDATE signatures SET signed_at = signed_at + 1 WHERE id = 1"
"$RUNBOOK" audit verify --db t.db --pubkey k.pub --format json | jq '.problems' >sqlite.json
"$RUNBOOK" audit verify --db "$OWNER" --pubkey k.pub --format json | jq '.problems' >pg.json
grep -q "signed checkpoint #1 .* is not a valid signature" pg.json && cmp -s pg.json sqlite.json && ok ||
    { bad "a forged signature"; diff pg.json sqlite.json; }

# ---- a source whose chain is broken copies nothing ------------------------------------------
"$RUNBOOK" journal copy --from t.db --to "$(pg_url runbook_owner broken)" >out.log 2>&1
[ $? -eq 1 ] && grep -q "t.db: event #$n: its content does not match its hash" out.log &&
    grep -q "nothing was copied" out.log && ok || { bad "a broken source"; cat out.log; }
[ "$(pg_sql "$(pg_url runbook_owner broken)" 'SELECT count(*) FROM events')" = 0 ] && ok ||
    bad "a broken source left events"

# ---- a pruned journal: the chain resumes at its checkpoint ----------------------------------
cp j.orig p.db
"$RUNBOOK" journal prune --db p.db --before 2099-01-01 >/dev/null 2>&1 || bad "prune"
"$RUNBOOK" run --quiet --db p.db two.yaml >/dev/null 2>&1 || bad "a run after the prune"
[ "$(sqlite3 p.db 'SELECT count(*) FROM checkpoints')" = 1 ] && ok || bad "no checkpoint"
"$RUNBOOK" journal copy --from p.db --to "$(pg_url runbook_owner pruned)" >out.log 2>&1 && ok ||
    { bad "copying a pruned journal"; cat out.log; }
"$RUNBOOK" audit verify --db p.db --format json | jq 'del(.path)' >sqlite.json
"$RUNBOOK" audit verify --db "$(pg_url runbook_owner pruned)" --format json | jq 'del(.path)' >pg.json
jq -e '.ok and (.checkpoints | length) == 1' pg.json >/dev/null && cmp -s pg.json sqlite.json && ok ||
    { bad "the pruned copy's report"; diff pg.json sqlite.json | head; }

# ---- what PostgreSQL does not do yet ---------------------------------------------------------
unsupported() { # WHAT ARGS…
    _w=$1
    shift
    "$RUNBOOK" "$@" >out.log 2>&1
    _rc=$?
    [ $_rc -eq 2 ] && grep -q "not supported on a PostgreSQL journal yet: $_w" out.log && ok ||
        { bad "$* on PostgreSQL: exit $_rc"; cat out.log; }
}
# a server whose database cannot be reached says so without the password
"$RUNBOOK" serve --db "postgresql://runbook_owner:s3cret@127.0.0.1:$PG_PORT/nosuchdb" \
    --dir runbooks --listen 127.0.0.1:0 >out.log 2>&1
_rc=$?
[ $_rc -eq 2 ] && grep -q nosuchdb out.log && ok || { bad "serve on a missing database: exit $_rc"; cat out.log; }
grep -q s3cret out.log && bad "serve showed the password" || ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
