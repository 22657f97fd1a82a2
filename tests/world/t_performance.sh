#!/bin/sh
# performance-degradation against the world: CPU bound (97 % CPU, lag 150)
# gets max_peers = 30 and a restart; I/O bound (a fragmented chain.db) gets
# an offline compaction; healthy is not_confirmed; a down node is not this
# runbook's case; a missing service manager is inconclusive.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p config_file=$NODE1_CONFIG" \
         "-p data_dir=$NODE1_DATA -p db_engine=sqlite -p drop_caches_file=$T/w/drop_caches" \
         "-p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="CPU bound"
world_up
brk cpu node1
alert "$T/a.json" HighCPU instance=node1
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p)
status_is resolved; severity_is P2
step_is reduce_peers ok; step_is restart_cpu ok; step_is optimize_db skipped
grep -qx "max_peers = 30" "$NODE1_CONFIG" || fail "max_peers not lowered"
[ "$(wstate .nodes.node1.cpu)" = false ] || fail "still CPU bound"
ok "max_peers = 30, restarted, P2 (lag past 100)"

CASE="I/O bound"
world_up
brk io node1
"$SYSTEMCTL" restart node1
# shellcheck disable=SC2046
rb 0 performance-degradation $(p)
status_is resolved; severity_is P2
step_is reduce_peers skipped; step_is optimize_db ok
[ "$(wstate .nodes.node1.io)" = false ] || fail "still I/O bound"
ok "compacted offline"

CASE="healthy"
world_up
# shellcheck disable=SC2046
rb 3 performance-degradation $(p)
no_step_ran
ok "not_confirmed"

CASE="service manager missing"
world_up
brk cpu node1
# shellcheck disable=SC2046
rb 5 performance-degradation $(p) -p systemctl=/nonexistent/systemctl
no_step_ran
ok "inconclusive"
