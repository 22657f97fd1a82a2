#!/bin/sh
# hot-standby-failover against the world: the primary behind the load
# balancer crashed: after an approval the primary is stopped on the
# primary (through its own command), the balancer points at the standby,
# which is promoted; without a command that reaches the primary it refuses
# before asking; refused, neither the primary nor the balancer is touched.
. "$(dirname "$0")/lib.sh"

# on_node NAME: $T/on-NAME, the command that "reaches" node NAME: it logs
# what it runs to $T/onlog, then runs it (the world's nodes share this host).
on_node() {
    printf '#!/bin/sh\necho "%s: $*" >>"%s/onlog"\nexec "$@"\n' "$1" "$T" >"$T/on-$1"
    chmod +x "$T/on-$1"
}
standby() {
    on_node node1; on_node node4
    echo "-p primary=node1 -p standby=node4 -p primary_unit=node1 -p standby_unit=node4 -p systemctl=$SYSTEMCTL" \
         "-p on_primary=$T/on-node1 -p on_standby=$T/on-node4" \
         "-p primary_rpc_url=$NODE1_RPC -p standby_rpc_url=$NODE4_RPC -p lb_url=$WORLD_LB" \
         "-p promote_url=$NODE4_RPC/admin/promote -p settle=0s -p webhook_url=$WORLD_WEBHOOK"
}

CASE="standby: primary down"
world_up
brk lb-primary-down
alert "$T/a.json" PrimaryNodeDown
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(standby) --yes
status_is resolved; severity_is P1
[ "$(wstate .lb.upstream)" = node4 ] || fail "the balancer still points at $(wstate .lb.upstream)"
[ "$(wstate '[.admin[] | select(.path == "/admin/promote" and .node == "node4")] | length')" = 1 ] || fail "standby not promoted"
grep -qx "node1: $SYSTEMCTL stop node1" "$T/onlog" || fail "the primary was not stopped on the primary: $(cat "$T/onlog")"
grep -qx "node4: $SYSTEMCTL is-active node4" "$T/onlog" || fail "the standby was not asked on the standby: $(cat "$T/onlog")"
if grep -E "^node1: .* node4|^node4: .* node1" "$T/onlog"; then fail "a unit driven through the other node's command"; fi
ok "balancer on the standby, standby promoted; each unit driven on its own node"

CASE="standby: no command reaches the primary"
world_up
brk lb-primary-down
rm -f "$T/onlog"
# shellcheck disable=SC2046
rb 1 hot-standby-failover $(standby) -p on_primary= --yes
step_is reachable failed; step_not_ran stop_primary; step_not_ran switch_lb
jr 'all(.events[]; .type != "approval_requested")'
grep -q "refusing to fail over" "$T/out" || fail "the refusal does not say why"
[ "$(wstate .lb.upstream)" = node1 ] || fail "the balancer was switched"
if grep -q "stop" "$T/onlog"; then fail "something was stopped: $(cat "$T/onlog")"; fi
ok "without on_primary: refused before the approval, nothing stopped or switched"

CASE="standby: refused"
world_up
brk lb-primary-down
rb_tty 1 "approve step failover?=n" -- hot-standby-failover $(standby)
step_is failover denied; step_not_ran stop_primary; step_not_ran switch_lb; step_not_ran promote
[ "$(wstate .lb.upstream)" = node1 ] || fail "the balancer was switched without approval"
ok "refused: the primary not stopped, the balancer untouched"

CASE="standby: healthy"
world_up
# shellcheck disable=SC2046
rb 3 hot-standby-failover $(standby)
no_step_ran
ok "not_confirmed"

CASE="standby: service manager missing"
world_up
brk lb-primary-down
# shellcheck disable=SC2046
rb 5 hot-standby-failover $(standby) -p systemctl=/nonexistent/systemctl
no_step_ran
ok "inconclusive"

CASE="standby: no command reaches the standby"
world_up
brk lb-primary-down
# shellcheck disable=SC2046
rb 5 hot-standby-failover $(standby) -p on_standby=
no_step_ran
ok "inconclusive: the standby cannot be asked"

CASE="standby: drill"
world_up
brk lb-primary-down
# shellcheck disable=SC2046
rb 1 hot-standby-failover $(standby)  --dry-run
step_is standby_ready ok; step_is switch_lb simulated; step_is promote simulated
jr 'any(.events[]; .type == "approval_granted" and .step == "failover" and .data.would_ask == true)'
[ "$(wstate .lb.upstream)" = node1 ] || fail "the drill switched the balancer"
ok "the drill reaches the switch, would ask, changes nothing (validate fails: nothing was done)"
