#!/bin/sh
# split-brain against the world: node3 on a fork (different hashes at the
# same height) is found as the minority and resynced after an approval;
# refused, nothing is wiped; one chain is not_confirmed; a node that does
# not answer cannot be assessed.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p nodes=node1|$NODE1_RPC|$NODE1_DATA,node2|$NODE2_RPC|$NODE2_DATA,node3|$NODE3_RPC|$NODE3_DATA" \
         "-p systemctl=$SYSTEMCTL -p sync_wait=500ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="fork"
world_up
brk fork node3
[ "$(wstate .nodes.node3.chain)" = fork ] || fail "the fault did not take"
alert "$T/a.json" ChainSplit
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p) --yes
status_is resolved; severity_is P1
jr '[.events[] | select(.type == "step_finished" and .step == "heights") | .data.result.items | length][0] == 3'
jr '[.events[] | select(.type == "step_finished" and .step == "resync_minority") | .data.result.items | length][0] == 1'
[ "$(wstate .nodes.node3.chain)" = main ] || fail "node3 still on the fork"
[ "$(wstate .nodes.node1.chain)" = main ] || fail "node1 touched"
messages_have "INCIDENT RESOLVED"
ok "the minority (node3) resynced onto the majority chain"

CASE="refused"
world_up
brk fork node3
rb_tty 1 "approve step resync_minority?=n" -- split-brain $(p)
step_is resync_minority denied
[ "$(wstate .nodes.node3.chain)" = fork ] || fail "node3 wiped without approval"
ok "refused: nothing wiped"

CASE="one chain"
world_up
# shellcheck disable=SC2046
rb 3 split-brain $(p)
no_step_ran
ok "not_confirmed"

CASE="a node does not answer"
world_up
brk crash node2
# shellcheck disable=SC2046
rb 5 split-brain $(p)
no_step_ran
ok "inconclusive"
