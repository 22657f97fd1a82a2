#!/bin/sh
# Runs journaled into PostgreSQL (docs/journal.md, "PostgreSQL"), against a
# real PostgreSQL 15 started by tests/e2e/lib_pg.sh:
#   - the first `runbook run --db URL` (the owner's) makes the schema; the
#     engine's role, granted as the docs say, runs every runbook of
#     runbooks/ and tests/fixtures/valid as a drill, and the same runs go
#     into an SQLite file: the same exit codes, the same runs with the same
#     statuses, the same events (run, seq, type, step) on both, and
#     `audit verify` passes on both, the head moving with each run;
#   - a failing step's run ends failed on both; a signed run's signature
#     verifies with --pubkey;
#   - two `runbook run` processes appending to one database at once:
#     verify passes, every run's seqs are 1, 2, 3 … without a gap;
#   - direct mode (tests/helpers/journal_write.c): appends stay in one
#     transaction until the sync, another handle's append waits for the
#     head's lock and gives up, a failed append takes the ones before it
#     and the next sync says so; a writer that finds the head locked waits
#     and then appends; two claims of one alert: the first stands;
#   - a group the database refuses (no INSERT on events) is rolled back
#     whole: the run fails, its step never runs, the head stays;
#   - `runbook serve --db URL` takes an Alertmanager webhook, claims the
#     alert, runs its runbook and journals it; verify passes.
# Skips (exit 77) only when PostgreSQL is not installed.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR, RB_BUILD_DIR.
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
pg_journal_dbs journal busy served || { bad "setup"; exit 1; }
OWNER=$(pg_url runbook_owner journal)
ENGINE=$(pg_url runbook_engine journal)

head_id() { # URL: the chain head's event id
    pg_sql "$1" "SELECT event_id FROM chain_head"
}
# events_pg URL / events_db FILE: every event as "run type step", sorted
# (the order of checks that run at once is the clock's), and each run's
# seqs as "run first last count"
events_pg() {
    pg_sql "$1" "SELECT run_id || ' ' || type || ' ' || coalesce(step, '-') FROM events" | sort
    pg_sql "$1" "SELECT run_id || ' ' || min(seq) || ' ' || max(seq) || ' ' || count(*)
        FROM events GROUP BY run_id ORDER BY run_id"
}
events_db() {
    sqlite3 "$1" "SELECT run_id || ' ' || type || ' ' || coalesce(step, '-') FROM events" | sort
    sqlite3 "$1" "SELECT run_id || ' ' || min(seq) || ' ' || max(seq) || ' ' || count(*)
        FROM events GROUP BY run_id ORDER BY run_id"
}
runs_of() { # DB: id runbook status trigger, oldest first
    "$RUNBOOK" runs --db "$1" --format json | jq -r 'reverse | .[] | "\(.id) \(.runbook) \(.status) \(.trigger)"'
}

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

# ---- the owner's first run makes the schema --------------------------------------------
"$RUNBOOK" run --quiet --db "$OWNER" two.yaml >out.log 2>&1 && ok ||
    { bad "the first run on an empty database"; cat out.log; }
"$RUNBOOK" run --quiet --db j.db two.yaml >/dev/null 2>&1 || bad "the first run into the file"
pg_grant_engine "$OWNER" || bad "granting the engine's role"
[ "$(head_id "$OWNER")" = "$(sqlite3 j.db 'SELECT event_id FROM chain_head')" ] && ok ||
    bad "the head after one run: $(head_id "$OWNER")"

# ---- every runbook, as a drill, into both ------------------------------------------------
for f in "$RB_SOURCE_DIR"/runbooks/*.yaml "$RB_SOURCE_DIR"/tests/fixtures/valid/*.yaml two.yaml \
    fails.yaml; do
    before=$(head_id "$ENGINE")
    "$RUNBOOK" run --quiet --dry-run --yes --db j.db "$f" >/dev/null 2>&1
    want=$?
    "$RUNBOOK" run --quiet --dry-run --yes --db "$ENGINE" "$f" >out.log 2>&1
    got=$?
    [ "$got" = "$want" ] && ok || { bad "$(basename "$f"): exit $got on PostgreSQL, $want on the file"; cat out.log; }
    if [ "$want" != 2 ]; then # 2: not run (a parameter it needs)
        [ "$(head_id "$ENGINE")" -gt "$before" ] && ok || bad "$(basename "$f"): the head did not move"
    fi
done
"$RUNBOOK" run --quiet --db "$ENGINE" fails.yaml >/dev/null 2>&1
[ $? = 1 ] && ok || bad "a failing step: not exit 1 on PostgreSQL"
"$RUNBOOK" run --quiet --db j.db fails.yaml >/dev/null 2>&1
runs_of j.db >file.runs
runs_of "$ENGINE" >pg.runs
[ "$(wc -l <pg.runs)" -ge 20 ] && cmp -s file.runs pg.runs && ok ||
    { bad "the runs differ"; diff file.runs pg.runs | head -20; }
[ "$(tail -1 pg.runs)" = "$(awk 'END { print $1 }' pg.runs) fails failed cli" ] && ok ||
    bad "the failing run: $(tail -1 pg.runs)"
events_db j.db >file.events
events_pg "$ENGINE" >pg.events
[ "$(wc -l <pg.events)" -ge 200 ] && cmp -s file.events pg.events && ok ||
    { bad "the events differ"; diff file.events pg.events | head -20; }
"$RUNBOOK" audit verify --db j.db >out.log 2>&1 || { bad "verify of the file"; cat out.log; }
"$RUNBOOK" audit verify --db "$ENGINE" >out.log 2>&1 && grep -q "hash chain is intact" out.log && ok ||
    { bad "verify of PostgreSQL"; cat out.log; }
# the same runs, statuses and events: the same counts in both reports
"$RUNBOOK" audit verify --db j.db --format json | jq -c '[.events, .runs, .versions]' >file.v
"$RUNBOOK" audit verify --db "$ENGINE" --format json | jq -c '[.events, .runs, .versions]' >pg.v
cmp -s file.v pg.v && ok || bad "verify's counts: $(cat pg.v) on PostgreSQL, $(cat file.v) on the file"

# ---- a signed run --------------------------------------------------------------------------
"$RUNBOOK" audit key init --out k >/dev/null 2>&1 || bad "audit key init"
RUNBOOK_SIGNING_KEY=k.key "$RUNBOOK" run --quiet --db "$ENGINE" two.yaml >out.log 2>&1 && ok ||
    { bad "a signed run"; cat out.log; }
"$RUNBOOK" audit verify --db "$ENGINE" --pubkey k.pub --format json >v.json 2>&1
jq -e '.ok and (.signatures | length) >= 1' v.json >/dev/null && ok || { bad "the signature"; cat v.json; }

# ---- two engines at once -----------------------------------------------------------------
BUSY_OWNER=$(pg_url runbook_owner busy)
BUSY=$(pg_url runbook_engine busy)
"$RUNBOOK" run --quiet --db "$BUSY_OWNER" two.yaml >/dev/null 2>&1 || bad "the busy journal's first run"
pg_grant_engine "$BUSY_OWNER" || bad "granting on busy"
# one runbook per engine: a runbook's name is its default concurrency key, and
# one key's runs never overlap (R-key-global), on any backend
for e in 1 2; do
    awk -v e=$e 'BEGIN { print "apiVersion: runbook/v1\nname: many" e "\nsteps:";
        for (i = 1; i <= 30; i++) printf "  - { name: s%d, run: [\"true\"] }\n", i }' >many$e.yaml
done
engine() { # N I: runs manyI.yaml N times, as engine I
    _i=0
    while [ $_i -lt "$1" ]; do
        "$RUNBOOK" run --quiet --db "$BUSY" "many$2.yaml" >/dev/null 2>"engine$2.log" ||
            { echo "a run failed:" && cat "engine$2.log"; } >>engines.log
        _i=$((_i + 1))
    done
}
: >engines.log
engine 5 1 &
e1=$!
engine 5 2 &
e2=$!
wait $e1
wait $e2
[ ! -s engines.log ] && ok || { bad "an engine failed"; cat engines.log; }
[ "$(pg_sql "$BUSY" "SELECT count(*) FROM runs WHERE status = 'resolved'")" = 11 ] && ok ||
    bad "resolved runs on busy: $(pg_sql "$BUSY" "SELECT count(*) FROM runs WHERE status = 'resolved'")"
gaps=$(pg_sql "$BUSY" "SELECT count(*) FROM (SELECT run_id FROM events GROUP BY run_id
    HAVING min(seq) <> 1 OR max(seq) <> count(*)) g")
[ "$gaps" = 0 ] && ok || bad "$gaps runs with gaps in their seqs"
# the two engines' runs interleave in the chain (they did append at once)
"$RUNBOOK" audit verify --db "$BUSY" >out.log 2>&1 && ok || { bad "verify of busy"; cat out.log; }

# ---- direct mode, the head's lock, claims ------------------------------------------------------
# (RB_BUILD_DIR/journal_write: tests/helpers/journal_write.c)
"$RB_BUILD_DIR/journal_write" "$BUSY" direct >direct.log 2>&1 && ok ||
    { bad "direct mode"; cat direct.log; }
# an engine whose writer finds the head locked waits for it, then appends
rm -f held
"$RB_BUILD_DIR/journal_write" "$BUSY" hold held >hold.log 2>&1 &
holder=$!
wait_for test -e held && ok || bad "the holder did not append"
"$RUNBOOK" run --quiet --db "$BUSY" two.yaml >out.log 2>&1 &
runner=$!
# the run is waiting for the lock: its run_started is not in the journal
waits_for_lock() { pg_sql "$BUSY" "SELECT 1 FROM pg_locks WHERE NOT granted LIMIT 1" | grep -q 1; }
wait_for waits_for_lock && ok || bad "the run did not wait for the head's lock"
rm -f held
wait $holder && ok || { bad "the holder"; cat hold.log; }
wait $runner && ok || { bad "the run after the holder"; cat out.log; }
"$RUNBOOK" audit verify --db "$BUSY" >out.log 2>&1 && ok || { bad "verify after the lock"; cat out.log; }
# two engines claim one alert: one claim stands, the first
"$RB_BUILD_DIR/journal_write" "$BUSY" claim fp-x 2026-11-21T23:46:58Z first >/dev/null 2>&1 &&
    "$RB_BUILD_DIR/journal_write" "$BUSY" claim fp-x 2026-11-21T23:46:58Z second >/dev/null 2>&1 &&
    ok || bad "claiming twice"
[ "$(pg_sql "$BUSY" "SELECT count(*) || ' ' || min(runbooks) FROM alerts WHERE fingerprint = 'fp-x'")" = '1 ["first"]' ] &&
    ok || bad "the claims: $(pg_sql "$BUSY" "SELECT * FROM alerts WHERE fingerprint = 'fp-x'")"

# ---- a batch the database refuses: nothing of it stays, nothing runs --------------------------
pg_sql "$BUSY_OWNER" "REVOKE INSERT ON events FROM runbook_engine" >/dev/null || bad "revoke"
before=$(head_id "$BUSY")
runs_before=$(pg_sql "$BUSY" "SELECT count(*) FROM runs")
rm -f marks.refused
cat >refused.yaml <<YAML
apiVersion: runbook/v1
name: refused
steps:
  - { name: touch, run: [touch, "$tmp/marks.refused"] }
YAML
"$RUNBOOK" run --db "$BUSY" refused.yaml >out.log 2>&1
rc=$?
[ $rc != 0 ] && grep -q "permission denied for table events" out.log && ok ||
    { bad "a refused write: exit $rc"; cat out.log; }
[ ! -e marks.refused ] && ok || bad "the step ran though its intent was not durable"
[ "$(head_id "$BUSY")" = "$before" ] && [ "$(pg_sql "$BUSY" "SELECT count(*) FROM runs")" = "$runs_before" ] &&
    ok || bad "the refused batch left rows"
"$RUNBOOK" audit verify --db "$BUSY" >out.log 2>&1 && ok || { bad "verify after the refusal"; cat out.log; }

# ---- runbook serve -------------------------------------------------------------------------
SERVED_OWNER=$(pg_url runbook_owner served)
SERVED=$(pg_url runbook_engine served)
"$RUNBOOK" run --quiet --db "$SERVED_OWNER" two.yaml >/dev/null 2>&1 || bad "served's first run"
pg_grant_engine "$SERVED_OWNER" || bad "granting on served"
mkdir runbooks marks
export MARKS=$tmp/marks
node_down_runbook runbooks/node-down.yaml
hook_token
printf 'database: %s\nrunbooks: %s/runbooks\ntokens: %s/tokens\nenv: [MARKS]\n' "$SERVED" "$tmp" \
    "$tmp" >server.yaml
"$RUNBOOK" validate --config server.yaml >out.log 2>&1 && ok || { bad "validate --config"; cat out.log; }
if serve_start serve.log --config server.yaml; then
    printf '{"receiver":"engine","status":"firing","version":"4","groupKey":"{}","alerts":[{"status":"firing","labels":{"alertname":"NodeDown","instance":"n1"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"fp1"}]}' >a.json
    [ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] && jq -e '.claimed == 1' body >/dev/null &&
        ok || { bad "the webhook"; cat body; }
    served() { [ "$(pg_sql "$SERVED" "SELECT count(*) FROM runs WHERE runbook = 'node-down' AND ended_at IS NOT NULL")" = 1 ]; }
    wait_for served && ok || { bad "the alert's run did not end"; cat serve.log; }
    serve_stop
    [ "$srv_rc" = 0 ] && ok || { bad "serve exit $srv_rc"; cat serve.log; }
else
    bad "the server did not start"
    cat serve.log
fi
[ "$(cat marks/node-down 2>/dev/null)" = n1 ] && ok || bad "the step did not run once"
[ "$(pg_sql "$SERVED" "SELECT a.status || ' ' || r.run_id FROM alerts a JOIN alert_runs r USING (fingerprint, starts_at)")" = "claimed 2" ] &&
    ok || bad "the claim and its run: $(pg_sql "$SERVED" "SELECT * FROM alert_runs")"
[ "$(pg_sql "$SERVED" "SELECT status FROM runs WHERE id = 2")" = resolved ] && ok || bad "the served run's status"
"$RUNBOOK" audit verify --db "$SERVED" >out.log 2>&1 && ok || { bad "verify of served"; cat out.log; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
