#!/bin/sh
# `runbook serve` with each SQLite call of its journal failing in turn
# (RUNBOOK_JOURNAL_FAULT=N, engine/journal/journal_fault.c; the CLI's
# commands are swept by journal_fault_sweep.sh): the server starts on a
# journal that already holds a claimed alert, takes a firing alert that
# starts a run, then its resolved notice, lists the runs, and stops. For
# N = 1, 2, … until the fault no longer fires, every N must give:
#   - a start refused with exit 2 and the journal's reason, or a server;
#   - webhook answers 200 or 503 only (503: retry, nothing claimed) and an
#     API answer 200 or 503, never a crash or a 500;
#   - nothing acknowledged lost: an alert answered 200 is in the journal
#     afterwards, and so is a resolved notice answered 200;
#   - no step ran whose intent was not journaled first;
#   - exit 0 or 1 on SIGTERM (1: the journal failed while serving);
#   - a file that passes integrity_check and audit verify.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit
bad() { fail=$((fail + 1)); echo "FAIL $*"; grep -v '^runbook: RUNBOOK_JOURNAL_FAULT' log 2>/dev/null | tail -4 | sed 's/^/    | /'; }

mkdir runbooks marks
node_down_runbook runbooks/node-down.yaml
hook_token
O=0123456789abcdef0456 # an operator's token, for the API's reads
printf 'ops operator %s\n' "$O" >>tokens
server_config
export MARKS="$tmp/marks"
# alert FP STATUS INSTANCE: a version 4 body with one NodeDown alert
alert() {
    ends='0001-01-01T00:00:00Z'
    [ "$2" = resolved ] && ends='2026-11-21T23:50:00Z'
    printf '{"receiver":"engine","status":"%s","version":"4","groupKey":"{}","alerts":[{"status":"%s","labels":{"alertname":"NodeDown","instance":"%s"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"%s","fingerprint":"%s"}]}' \
        "$2" "$2" "$3" "$ends" "$1"
}
alert fp-a firing node-a >a.json
alert fp-b firing node-b >b.json
alert fp-b resolved node-b >b-resolved.json
q() { sqlite3 j.db "$1"; }

# The journal every N starts from: one alert claimed and its run done.
serve_start log --config server.yaml || { bad "the server did not start"; exit 1; }
[ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] || bad "setting up: fp-a"
wait_for test -s marks/node-down || bad "setting up: the run of fp-a"
serve_stop
srv_pid=
[ "$(q "SELECT count(*) FROM alerts WHERE fingerprint = 'fp-a'")" = 1 ] || bad "setting up: fp-a is not claimed"
cp j.db base.db
rm -f j.db-wal j.db-shm

faults=0
n=1
while [ $n -le 2000 ]; do
    rm -f j.db j.db-wal j.db-shm marks/node-down
    cp base.db j.db
    what="serve (fault at call $n)"
    fa= fr= api=
    if RUNBOOK_JOURNAL_FAULT=$n serve_start log --config server.yaml; then
        fa=$(http POST /hooks/alertmanager $T b.json)
        # the run it started, if any, ends before the resolved notice: the
        # notice then finds it done (a bound, not a sleep: 30 s at most)
        [ "$fa" = 200 ] && wait_for sh -c 'test -s marks/node-down || grep -q "RUNBOOK_JOURNAL_FAULT)" log' >/dev/null
        fr=$(http POST /hooks/alertmanager $T b-resolved.json)
        api=$(http GET /api/v1/runs $O)
        serve_stop
        srv_pid=
        rc=$srv_rc
    else
        wait "$srv_pid"
        rc=$?
        srv_pid=
    fi
    grep -q "RUNBOOK_JOURNAL_FAULT: SQLite call $n " log || break
    faults=$((faults + 1))
    what="$what: exit $rc, answers firing=${fa:-none} resolved=${fr:-none} api=${api:-none}"
    if [ -z "$fa" ]; then
        # The start was refused: exit 2 with the journal's reason.
        [ "$rc" = 2 ] && grep -q "j.db: .*(RUNBOOK_JOURNAL_FAULT)" log && ok ||
            bad "$what: a refused start without exit 2 and the journal's reason"
    else
        case "$fa$fr" in 200200 | 200503 | 503200 | 503503) ok ;;
        *) bad "$what: a webhook answer other than 200 or 503" ;; esac
        case "$api" in 200 | 503) ok ;; *) bad "$what: the API answered $api" ;; esac
        case "$rc" in 0 | 1) ok ;; *) bad "$what: not an exit code serve documents" ;; esac
        # Exit 1: the journal failed while serving, and the log says why
        # (a read that failed is answered 503 and retried: exit 0).
        if [ "$rc" = 1 ]; then
            grep -q "event=journal_failed.*(RUNBOOK_JOURNAL_FAULT)" log && ok ||
                bad "$what: exit 1 without a journal_failed line with the reason"
        fi
        # A 503 is never silent: the request's line says it at level error.
        case "$fa$fr$api" in *503*) grep -q "level=error event=request .*status=503" log && ok ||
            bad "$what: a 503 not logged as an error" ;; esac
    fi
    # Nothing acknowledged lost.
    if [ "$fa" = 200 ]; then
        [ "$(q "SELECT count(*) FROM alerts WHERE fingerprint = 'fp-b'")" = 1 ] && ok ||
            bad "$what: fp-b was answered 200 but is not in the journal"
    fi
    if [ "$fr" = 200 ]; then
        [ "$(q "SELECT count(*) FROM alerts WHERE fingerprint = 'fp-b' AND resolved_at IS NOT NULL")" = 1 ] && ok ||
            bad "$what: fp-b's resolved notice was answered 200 but is not in the journal"
    fi
    if [ -s marks/node-down ]; then
        [ "$(q "SELECT count(*) FROM events e JOIN alert_runs a ON a.run_id = e.run_id WHERE a.fingerprint = 'fp-b' AND e.type = 'step_started'")" -ge 1 ] &&
            ok || bad "$what: the step ran but its step_started was not journaled"
    fi
    [ "$(q 'PRAGMA integrity_check' 2>&1)" = ok ] && ok || bad "$what: integrity_check"
    "$RUNBOOK" audit verify --db j.db >verify.log 2>&1 && ok ||
        bad "$what: audit verify fails after the fault: $(tail -2 verify.log)"
    n=$((n + 1))
done
[ $faults -gt 10 ] && ok || bad "the fault fired only $faults times (is RUNBOOK_JOURNAL_FAULT read?)"
# Past the last call: the server as it runs without a fault.
[ "$rc" = 0 ] && [ "$fa$fr$api" = 200200200 ] && ok || bad "serve without a fault: exit $rc, answers $fa $fr $api"
echo "    serve: $((n - 1)) SQLite calls, each failed once"
echo "$pass passed, $fail failed ($faults faults injected)"
[ "$fail" -eq 0 ]
