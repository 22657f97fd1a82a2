#!/bin/sh
# Two Alertmanagers clustered on loopback (Debian's prometheus-alertmanager),
# both with docs/webhooks.md's configuration and both sent the same alerts,
# as Prometheus does in a high-availability pair. With --cluster.peer-timeout
# at zero and gossip slower than the test, both deliver every
# notification (neither hears in time that the other did), so the server gets each alert
# twice (or more): one run per alert all the same.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
AM=$(command -v prometheus-alertmanager || true)
[ -n "$AM" ] || { echo "SKIP: prometheus-alertmanager is not installed (make deps)"; exit 0; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit
am1= am2=
trap '[ -n "$srv_pid" ] && kill -9 $srv_pid 2>/dev/null; for p in $am1 $am2; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

mkdir runbooks marks
export MARKS="$tmp/marks"
node_down_runbook runbooks/node-down.yaml
am_tokens
server_config
serve_start log --config server.yaml || { bad "the server did not start"; cat log; exit 1; }
am_config "$srv_port" && ok || { bad "the doc's configuration was not found"; exit 1; }

ready() { curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null 2>&1; }
# start_am N WEB CLUSTER PEER: one peer of the pair; its pid in am$N
start_am() {
    "$AM" --config.file=am.yml --storage.path="$tmp/amdata$1" --web.listen-address="127.0.0.1:$2" \
        --web.external-url="http://127.0.0.1:$2" --cluster.listen-address="127.0.0.1:$3" \
        --cluster.advertise-address="127.0.0.1:$3" --cluster.peer="127.0.0.1:$4" \
        --cluster.peer-timeout=0s --cluster.settle-timeout=2s --cluster.gossip-interval=30s \
        --cluster.pushpull-interval=30s \
        2>"am$1.log" &
    eval "am$1=\$!"
}
started=
for try in 1 2 3 4 5; do
    w1=$(free_port) w2=$(free_port) c1=$(free_port) c2=$(free_port)
    start_am 1 "$w1" "$c1" "$c2"
    start_am 2 "$w2" "$c2" "$c1"
    if wait_for ready "$w1" && wait_for ready "$w2"; then started=1; break; fi
    kill "$am1" "$am2" 2>/dev/null; wait "$am1" "$am2" 2>/dev/null
done
[ -n "$started" ] && ok || { bad "the Alertmanagers did not start"; tail -3 am1.log am2.log; exit 1; }

# fire INSTANCE: the alert sent to both peers with one startsAt, as
# Prometheus sends it (an alert is its fingerprint + startsAt: a peer that
# stamped its own arrival time would make it two alerts)
fire() {
    at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
    for w in "$w1" "$w2"; do
        curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$w/api/v2/alerts" \
            -d "[{\"labels\":{\"alertname\":\"NodeDown\",\"instance\":\"$1\"},\"startsAt\":\"$at\"}]" || return 1
    done
}
requests() { grep -c 'event=request method=POST path=/hooks/alertmanager status=200 who=alertmanager' log; }
resolved() { [ "$(sqlite3 j.db "SELECT count(*) FROM runs WHERE status = 'resolved'")" = "$1" ]; }
more_requests_than() { [ "$(requests)" -gt "$1" ]; }
for i in c1 c2 c3; do
    fire "$i" && ok || bad "firing $i at both"
done
wait_for resolved 3 && ok || { bad "three runs resolve"; tail -5 log; }
# both peers deliver: at least twice as many requests as alerts
wait_for more_requests_than 5 && ok || bad "both Alertmanagers delivered (requests: $(requests))"
sleep 3 # group_interval (2s) and a bit: whatever else the pair sends, arrives
for i in c1 c2 c3; do
    [ "$(grep -cx "$i" marks/node-down)" = 1 ] && ok || bad "$i ran once"
done
[ "$(sqlite3 j.db "SELECT count(*) FROM runs")" = 3 ] && ok || bad "three runs, no more"
serve_stop
kill "$am1" "$am2" 2>/dev/null
wait "$am1" "$am2" 2>/dev/null
am1= am2= srv_pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
