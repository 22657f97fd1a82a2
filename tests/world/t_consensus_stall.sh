#!/bin/sh
# consensus-stall against the world: one stuck validator is restarted
# (the others advance); a stall of every validator needs the coordinated
# view change, after an approval; healthy is not_confirmed; a validator
# that does not answer cannot be assessed.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p validators=$NODE2_RPC,$NODE3_RPC" \
         "-p stall_watch=700ms -p view_change_url=$NODE1_RPC/admin/forceviewchange" \
         "-p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="isolated"
world_up
brk stall node1
alert "$T/a.json" ConsensusStalled instance=node1
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p)
status_is resolved; severity_is P1
step_is other_validators ok; step_is restart_isolated ok; step_is force_view_change skipped
[ "$(wstate .nodes.node1.stalled)" = false ] || fail "node1 still stalled"
ok "isolated stall: restarted, no view change"

CASE="widespread"
world_up
brk stall-all
# shellcheck disable=SC2046
rb 0 consensus-stall $(p) --yes
status_is resolved
step_is other_validators failed; step_is restart_isolated skipped; step_is force_view_change ok
jr 'any(.events[]; .type == "approval_granted" and .step == "force_view_change")'
[ "$(wstate '[.nodes[] | select(.stalled)] | length')" = 0 ] || fail "validators still stalled"
ok "widespread stall: coordinated view change after approval"

CASE="healthy"
world_up
# shellcheck disable=SC2046
rb 3 consensus-stall $(p)
no_step_ran
ok "not_confirmed"

CASE="validator does not answer"
world_up
brk crash node1
# shellcheck disable=SC2046
rb 5 consensus-stall $(p)
no_step_ran
ok "inconclusive"
