#!/bin/sh
# End to end with the real client: Debian's prometheus-alertmanager, started
# here on loopback (clustering off, its own storage, free ports), configured
# with the exact configuration of docs/webhooks.md (read from the doc; only
# the url and the credentials_file change), delivering to `runbook serve`:
#  - an alert fired through Alertmanager's v2 API runs its runbook, which
#    resolves (a marker file says so);
#  - a second alert in the same group makes Alertmanager deliver the first
#    one again: no second run;
#  - resolving the alert is journaled against its run, and a
#    cancel_on_resolve run is cancelled;
#  - the server stopped while Alertmanager is sending, and started again:
#    the alert arrives by Alertmanager's retries, runs once; nothing lost,
#    nothing twice (marker lines are counted).
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
AM=$(command -v prometheus-alertmanager || true)
[ -n "$AM" ] || { echo "SKIP: prometheus-alertmanager is not installed (make deps)"; exit 0; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit
am_pid=
trap '[ -n "$srv_pid" ] && kill -9 $srv_pid 2>/dev/null; [ -n "$am_pid" ] && kill -9 $am_pid 2>/dev/null; rm -rf "$tmp"' EXIT

mkdir runbooks marks
export MARKS="$tmp/marks"
cat >runbooks/node-down.yaml <<'YAML'
apiVersion: runbook/v1
name: node-down
triggers:
  - match: { alertname: NodeDown }
concurrency: "{{ alert.labels.instance }}/{{ alert.labels.extra }}"
steps:
  - name: mark
    run: "echo {{ alert.labels.instance }}/{{ alert.labels.extra }} >> {{ env.MARKS }}/node-down"
YAML
slow_runbook runbooks/slow.yaml
am_tokens
server_config 'shutdown_grace: 5s'

serve_start log1 --config server.yaml || { bad "the server did not start"; cat log1; exit 1; }
port=$srv_port

# The configuration from docs/webhooks.md, with this test's url and token file.
am_config "$port" && ok || { bad "the doc's configuration was not found"; cat am.yml; exit 1; }

am_ready() { curl -sf "http://127.0.0.1:$amport/-/ready" >/dev/null 2>&1; }
started=
for try in 1 2 3 4 5; do
    amport=$(free_port)
    "$AM" --config.file=am.yml --storage.path="$tmp/amdata" --web.listen-address="127.0.0.1:$amport" \
        --cluster.listen-address= --web.external-url="http://127.0.0.1:$amport" 2>am.log &
    am_pid=$!
    if wait_for am_ready; then started=1; break; fi
    kill "$am_pid" 2>/dev/null; wait "$am_pid" 2>/dev/null; am_pid=
done
[ -n "$started" ] && ok || { bad "Alertmanager did not start"; tail -5 am.log; exit 1; }

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
# fire NAME INSTANCE EXTRA [ENDS]: posts one alert to Alertmanager's v2 API
fire() {
    ends=${4:+,\"endsAt\":\"$4\"}
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
        "http://127.0.0.1:$amport/api/v2/alerts" \
        -d "[{\"labels\":{\"alertname\":\"$1\",\"instance\":\"$2\",\"extra\":\"$3\"}$ends}]"
}
# the status of the run of the alert with that instance and extra label
status_of() {
    sqlite3 j.db "SELECT r.status FROM runs r JOIN alert_runs a ON a.run_id = r.id JOIN alerts l ON l.fingerprint = a.fingerprint AND l.starts_at = a.starts_at WHERE json_extract(l.payload, '\$.labels.instance') = '$1' AND json_extract(l.payload, '\$.labels.extra') = '$2'" 2>/dev/null
}
status_is() { [ "$(status_of "$1" "$2")" = "$3" ]; }
count() { [ -f marks/node-down ] && grep -cx "$1" marks/node-down || echo 0; }
has_event() {
    [ "$(sqlite3 j.db "SELECT count(*) FROM events e JOIN alert_runs a ON a.run_id = e.run_id JOIN alerts l ON l.fingerprint = a.fingerprint AND l.starts_at = a.starts_at WHERE json_extract(l.payload, '\$.labels.instance') = '$1' AND e.type = '$2'" 2>/dev/null)" -ge 1 ]
}

# ---- fire: the runbook runs and resolves ----
fire NodeDown n1 a && ok || bad "firing through the v2 API"
wait_for status_is n1 a resolved && ok || { bad "the run of n1 resolves"; tail -5 log1; }
[ "$(count n1/a)" = 1 ] && ok || bad "the marker says n1 ran"

# ---- the same group again: Alertmanager delivers n1/a again, no second run ----
fire NodeDown n1 b && ok || bad "a second alert in the group"
wait_for status_is n1 b resolved && ok || bad "the run of n1/b resolves"
wait_for grep -q '"duplicates":1\|event=request.*status=200' log1 && ok || bad "deliveries answered"
[ "$(sqlite3 j.db "SELECT count(*) FROM alerts WHERE json_extract(payload, '\$.labels.instance') = 'n1'")" = 2 ] && ok || bad "two alerts claimed"
[ "$(count n1/a)" = 1 ] && [ "$(count n1/b)" = 1 ] && ok || { bad "each alert ran once"; cat marks/node-down; }

# ---- resolve: journaled against the run; cancel_on_resolve cancels ----
fire NodeDown n1 a "$(now)" && ok || bad "resolving n1/a"
wait_for has_event n1 alert_resolved && ok || bad "the resolution is journaled against n1's run"
fire Slow s1 x && ok || bad "firing slow"
wait_for status_is s1 x running && ok || bad "the slow run runs"
fire Slow s1 x "$(now)" && ok || bad "resolving slow"
wait_for status_is s1 x cancelled && ok || { bad "the slow run is cancelled"; tail -5 log1; }

# ---- stop the server while Alertmanager sends; start it again ----
serve_stop
[ "$srv_rc" = 0 ] && ok || bad "the server stops cleanly"
fire NodeDown n3 a && ok || bad "firing n3 while the server is down"
wait_for grep -q 'msg="Notify attempt failed\|Notify for alerts failed\|connection refused' am.log && ok ||
    { bad "Alertmanager tried to send while the server was down"; tail -5 am.log; }
started=
for try in 1 2 3 4 5; do
    if serve_start log2 --config server.yaml --listen "127.0.0.1:$port"; then started=1; break; fi
    sleep 0.5 # the port is the url in Alertmanager's configuration: try it again
done
[ -n "$started" ] && ok || { bad "the server did not start again on its port"; cat log2; exit 1; }
wait_for status_is n3 a resolved && ok || { bad "n3 arrives by the retries and runs"; tail -5 am.log; }
fire NodeDown n3 b && ok || bad "a second n3 alert"
wait_for status_is n3 b resolved && ok || bad "n3/b runs"
[ "$(count n3/a)" = 1 ] && [ "$(count n1/a)" = 1 ] && [ "$(count n1/b)" = 1 ] && ok ||
    { bad "nothing lost, nothing twice"; cat marks/node-down; }
serve_stop
kill "$am_pid" 2>/dev/null
wait "$am_pid" 2>/dev/null
am_pid=
srv_pid=
"$RUNBOOK" audit verify --db j.db >/dev/null 2>&1 && ok || bad "audit verify"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
