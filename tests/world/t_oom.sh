#!/bin/sh
# oom against the world: a node the kernel OOM-killed gets a memory limit
# (MemoryMax) and is restarted (P1); a node past the critical mark but
# alive is P2 and gets the same; a plain crash is not an OOM.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p kernel_log=$WORLD_KERNEL_LOG" \
         "-p swap_file= -p settle=0s -p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="OOM-killed"
world_up
brk oom-kill node1
alert "$T/a.json" NodeOOMKilled instance=node1
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p)
status_is resolved; severity_is P1
step_is oom_evidence ok; step_is memory_limit ok; step_is emergency_swap skipped; step_is restart ok
[ "$(wstate .nodes.node1.memory_max)" = 8589934592 ] || fail "MemoryMax not set"
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 not running"
ok "limit set, restarted, P1"

CASE="memory critical"
world_up
brk leak node1
# shellcheck disable=SC2046
rb 0 oom $(p)
status_is resolved; severity_is P2
[ "$(wstate .nodes.node1.memory_max)" = 8589934592 ] || fail "MemoryMax not set"
ok "P2, limit set, restarted"

CASE="plain crash is not an OOM"
world_up
brk crash node1
# shellcheck disable=SC2046
rb 3 oom $(p)
no_step_ran
ok "not_confirmed"

CASE="service manager missing"
world_up
brk oom-kill node1
# shellcheck disable=SC2046
rb 5 oom $(p) -p systemctl=/nonexistent/systemctl
no_step_ran
[ "$(wstate .nodes.node1.state)" = failed ] || fail "node1 was touched"
ok "inconclusive"

CASE="rolled back: the operator's own settings kept"
# The node cannot come back (its database is beyond repair too): the
# restart fails and the run rolls back. The memory limit's undo sets back
# the values it found; `systemctl revert` would have removed every drop-in
# of the unit, the operator's CPUQuota and MemoryMax=12G with them.
world_up
"$SYSTEMCTL" set-property node1 CPUQuota=50% MemoryMax=12G >/dev/null
brk corrupt-header node1
brk oom-kill node1
# shellcheck disable=SC2046
rb 1 oom $(p)
step_is memory_limit ok; step_is restart failed
jr 'any(.events[]; .type == "undo_finished" and .step == "memory_limit" and .data.ok == true)'
[ "$(wstate .nodes.node1.props.CPUQuota)" = 50% ] || fail "the operator's CPUQuota is gone: $(wstate .nodes.node1.props)"
[ "$(wstate .nodes.node1.props.MemoryMax)" = 12G ] || fail "MemoryMax not set back: $(wstate .nodes.node1.props)"
[ "$(wstate .nodes.node1.memory_max)" = 12884901888 ] || fail "memory_max $(wstate .nodes.node1.memory_max)"
ok "the undo set MemoryMax back to 12G and left the other drop-ins alone"
