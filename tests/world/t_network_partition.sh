#!/bin/sh
# network-partition against the world: a node whose peer file is poisoned
# gets it reset (stop, remove peers.dat, start) and finds its peers again;
# a host with no network changes nothing and fails; healthy is
# not_confirmed; a missing service manager is inconclusive.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p iptables=$WORLD_BIN/iptables -p rpc_url=$NODE1_RPC" \
         "-p data_dir=$NODE1_DATA -p internet_url=$WORLD_CTL/state -p seeds=127.0.0.1" \
         "-p p2p_port=${NODE2_RPC##*:} -p peer_wait=0s -p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="peers lost"
world_up
brk peers-lost node1
[ "$(wstate .nodes.node1.peers)" = 0 ] || fail "the fault did not take"
alert "$T/a.json" NodePeerCountZero instance=node1
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p)
status_is resolved; severity_is P2
step_is seed_reachability ok; step_is remove_peers_file ok
[ "$(wstate .nodes.node1.peers)" -ge 3 ] || fail "node1 has no peers"
[ ! -e "$NODE1_DATA/peers.dat" ] || grep -qv poison "$NODE1_DATA/peers.dat" || fail "peers.dat still poisoned"
messages_have "INCIDENT RESOLVED"
ok "peer file reset, peers back, P2"

CASE="host offline"
world_up
brk peers-lost node1
# shellcheck disable=SC2046
rb 1 network-partition $(p) -p internet_url=http://127.0.0.1:1/ -p p2p_port=1
status_is failed; severity_is P1
step_is host_offline failed; step_not_ran stop_node
[ "$(wstate .nodes.node1.state)" = active ] || fail "the node was touched"
messages_have "INCIDENT ESCALATED"
ok "the host is cut off: nothing touched, P1, escalated"

CASE="healthy"
world_up
# shellcheck disable=SC2046
rb 3 network-partition $(p)
no_step_ran
ok "not_confirmed"

CASE="service manager missing"
world_up
brk peers-lost node1
# shellcheck disable=SC2046
rb 5 network-partition $(p) -p systemctl=/nonexistent/systemctl
no_step_ran
ok "inconclusive"
