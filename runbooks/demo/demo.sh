#!/bin/sh
# `make demo`: starts the simulated deployment of tests/world (four nodes, a
# service manager, a database, a load balancer, on 127.0.0.1), crashes
# node1, runs the node-crash runbook against it the way an alert would,
# prints the run's timeline from the journal, and exits 0 only when node1
# serves blocks again. The world is stopped on exit.
# Usage: demo.sh [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
rb=$build/runbook
state=$build/demo
world=$src/tests/world/world.py

rm -rf "$state" && mkdir -p "$state"
db=$state/journal.db
trap '/usr/bin/python3 "$world" down "$state/world" >/dev/null 2>&1 || true' EXIT

echo "== 1. start the world"
/usr/bin/python3 "$world" up "$state/world" >/dev/null
. "$state/world/world.env"
echo "   node1 RPC at $NODE1_RPC, service manager $WORLD_BIN/systemctl"
curl -fsS "$NODE1_RPC/health" | jq -c '{node, height, peers}'

echo "== 2. break it: node1 crashes"
/usr/bin/python3 "$world" break "$state/world" crash node1
"$WORLD_BIN/systemctl" is-active node1 || true
curl -fsS --max-time 2 "$NODE1_RPC/health" >/dev/null 2>&1 && { echo "   node1 still answers?" >&2; exit 1; }
echo "   health check: connection refused"

echo "== 3. the alert: NodeDown for node1; runbook run --alert"
cat >"$state/alert.json" <<EOF
{"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "NodeDown", "instance": "node1", "severity": "critical"}}]}
EOF
status=0
"$rb" run --db "$db" --dir "$src/runbooks" --alert "$state/alert.json" \
    -p unit=node1 -p systemctl="$WORLD_BIN/systemctl" -p rpc_url="$NODE1_RPC" \
    -p data_dir="$NODE1_DATA" -p log_dir="$NODE1_LOGS" -p db_engine=sqlite \
    -p watch=2s -p stability=2s -p webhook_url="$WORLD_WEBHOOK" || status=$?

echo "== 4. the run's timeline, from the journal ($db)"
"$rb" show --db "$db" 1

echo "== 5. what the incident channel got"
curl -fsS "$WORLD_CTL/state" | jq -r '.messages[].text | split("\n")[0]'

echo "== 6. is node1 back?"
if [ "$status" -eq 0 ] && curl -fsS "$NODE1_RPC/health" | jq -c '{node, height, peers}'; then
    echo "demo: node1 is back (run exit $status)"
else
    echo "demo: node1 is NOT back (run exit $status)" >&2
    exit 1
fi
