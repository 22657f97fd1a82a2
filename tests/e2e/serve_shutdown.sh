#!/bin/sh
# `runbook serve` stops and starts again without losing or repeating work
# (docs/server.md, "Signals, shutdown and restart"): on SIGTERM the step in
# flight finishes within the grace, no new step starts, and the run is
# journaled interrupted; the next start resumes it at its next step, so
# every step runs once. A step still in flight when the grace ends is left
# with its intent and no result: not idempotent, it is not run again on its
# own (run_not_resumed). A run waiting for an approval stops at once and
# asks again after the restart, its timeout armed again.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir runbooks marks
export MARKS="$tmp/marks"
cat >runbooks/three.yaml <<'YAML'
apiVersion: runbook/v1
name: three
triggers:
  - match: { alertname: Three }
steps:
  - name: s1
    run: "echo s1 >> {{ env.MARKS }}/three"
  - name: s2
    run: "while [ ! -e {{ env.MARKS }}/go ]; do sleep 0.05; done; echo s2 >> {{ env.MARKS }}/three"
  - name: s3
    run: "echo s3 >> {{ env.MARKS }}/three"
YAML
cat >runbooks/stuck.yaml <<'YAML'
apiVersion: runbook/v1
name: stuck
triggers:
  - match: { alertname: Stuck }
steps:
  - name: hang
    run: "echo started >> {{ env.MARKS }}/stuck; while [ ! -e {{ env.MARKS }}/free ]; do sleep 0.05; done"
  - name: after
    run: "echo after >> {{ env.MARKS }}/stuck"
YAML
cat >runbooks/gate.yaml <<'YAML'
apiVersion: runbook/v1
name: gate
triggers:
  - match: { alertname: Gate }
steps:
  - name: gate
    approval: { timeout: 1s, on_timeout: continue }
    run: "echo gate >> {{ env.MARKS }}/gate"
YAML
hook_token
conf() { server_config "shutdown_grace: $1"; }
alert() {
    printf '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"%s"},"startsAt":"2026-11-21T23:46:58Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}]}' "$1" "$2" >"$2.json"
}
status_of() { sqlite3 j.db "SELECT r.status FROM runs r JOIN alert_runs a ON a.run_id = r.id WHERE a.fingerprint = '$1'"; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }
has_line() { [ -f "$1" ] && grep -qx "$2" "$1"; }

# ---- the step in flight finishes, the next one waits for the restart ----
conf 30s
serve_start log1 --config server.yaml || { bad "start"; cat log1; exit 1; }
alert Three t1
[ "$(http POST /hooks/alertmanager $T t1.json)" = 200 ] && ok || bad "three: 200"
wait_for has_line marks/three s1 && ok || bad "s1 ran"
kill -TERM "$srv_pid"
wait_for grep -q 'event=stopping' log1 && ok || bad "stopping is logged"
touch marks/go # s2 may finish now, within the grace
wait "$srv_pid"
srv_rc=$?
[ "$srv_rc" = 0 ] && ok || bad "SIGTERM exits 0 (got $srv_rc)"
[ "$(cat marks/three | tr '\n' ' ')" = "s1 s2 " ] && ok || { bad "s2 finished, s3 did not start"; cat marks/three; }
status_is t1 interrupted && ok || bad "the run is interrupted (got $(status_of t1))"
grep -q 'event=run_parked' log1 && ok || bad "run_parked is logged"
serve_start log2 --config server.yaml || { bad "restart"; cat log2; exit 1; }
wait_for status_is t1 resolved && ok || { bad "the run resumes and resolves"; cat log2; }
[ "$(cat marks/three | tr '\n' ' ')" = "s1 s2 s3 " ] && ok || { bad "every step ran once"; cat marks/three; }
[ "$(grep -c 'event=run_resumed' log2)" = 1 ] && ok || { bad "run_resumed is logged once"; grep run_resumed log2; }
serve_stop

# ---- the grace runs out: the step in flight is not run again on its own ----
conf 1s
serve_start log3 --config server.yaml || { bad "start 3"; exit 1; }
alert Stuck k1
[ "$(http POST /hooks/alertmanager $T k1.json)" = 200 ] && ok || bad "stuck: 200"
wait_for has_line marks/stuck started && ok || bad "the stuck step started"
serve_stop
[ "$srv_rc" = 0 ] && ok || bad "SIGTERM after the grace exits 0 (got $srv_rc)"
grep -q 'event=grace_over' log3 && ok || bad "grace_over is logged"
status_is k1 interrupted && ok || bad "the stuck run is interrupted"
touch marks/free # the orphaned step may end now
serve_start log4 --config server.yaml || { bad "start 4"; exit 1; }
grep -q 'event=run_not_resumed.*rerun-started' log4 && ok || { bad "a step with side effects in flight is not rerun"; cat log4; }
status_is k1 interrupted && ok || bad "the stuck run stays interrupted"
[ "$(grep -c started marks/stuck)" = 1 ] && ! grep -q after marks/stuck && ok || bad "nothing of the stuck run ran again"

# ---- a run waiting for an approval stops at once; its timeout is armed again ----
alert Gate g1
[ "$(http POST /hooks/alertmanager $T g1.json)" = 200 ] && ok || bad "gate: 200"
serve_stop
[ "$srv_rc" = 0 ] && ok || bad "SIGTERM while waiting exits 0"
status_is g1 interrupted && ok || bad "the waiting run is interrupted (got $(status_of g1))"
[ ! -e marks/gate ] && ok || bad "the gated step did not run before the stop"
serve_start log5 --config server.yaml || { bad "start 5"; exit 1; }
wait_for status_is g1 resolved && ok || { bad "the approval is asked again and times out into the step"; cat log5; }
[ "$(sqlite3 j.db "SELECT count(*) FROM events e JOIN alert_runs a ON a.run_id = e.run_id WHERE a.fingerprint = 'g1' AND e.type = 'approval_requested'")" = 2 ] &&
    ok || bad "asked once before the stop and once after"
[ "$(cat marks/gate)" = gate ] && ok || bad "the gated step ran once"
serve_stop
"$RUNBOOK" audit verify --db j.db >/dev/null 2>&1 && ok || bad "audit verify"
srv_pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
