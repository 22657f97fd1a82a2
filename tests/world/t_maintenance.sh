#!/bin/sh
# maintenance-window and db-compaction against the world.
# maintenance-window: backup, drain from the balancer, maintenance mode and
# mempool freeze, upgrade after approval, validation, return; a release
# that does not come up is rolled back (rollout undo, unfreeze,
# maintenance off, back in the balancer); an unhealthy node is not touched.
# db-compaction: a fragmented chain.db is compacted offline, the node's
# I/O wait goes back to normal; a compact one is not_confirmed.
. "$(dirname "$0")/lib.sh"

mw() {
    echo "-p version=v2.0.0 -p kubectl=$WORLD_BIN/kubectl -p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC" \
         "-p data_dir=$NODE1_DATA -p backup_dir=$WORLD_BACKUPS -p lb_url=$WORLD_LB -p member=node1 -p fallback=node2" \
         "-p monitor=0s -p watch=500ms -p webhook_url=$WORLD_WEBHOOK"
}
admin() { wstate '[.admin[] | select(.node == "node1") | .path] | join(",")'; }

CASE="maintenance: upgrade"
world_up
# shellcheck disable=SC2046
rb 0 maintenance-window $(mw) --yes
status_is resolved; severity_is P3
[ "$(wstate '.images[-1]')" = dinari-blockchain:v2.0.0 ] || fail "not upgraded: $(wstate .images)"
[ "$(admin)" = "/maintenance/enable,/admin/mempool/freeze,/admin/mempool/unfreeze,/maintenance/disable" ] || fail "admin calls: $(admin)"
[ "$(wstate .lb.upstream)" = node1 ] || fail "not back in the balancer"
ls "$WORLD_BACKUPS"/pre-maintenance_* >/dev/null || fail "no pre-maintenance backup"
messages_have "INCIDENT UPDATE"; messages_have "INCIDENT RESOLVED"
ok "backed up, drained, upgraded, validated, returned"

CASE="maintenance: bad release"
world_up
brk bad-release node1
# shellcheck disable=SC2046
rb 1 maintenance-window $(mw) --yes
status_is failed; step_is rollout failed
[ "$(wstate '.images[-1]')" = dinari-blockchain:v1.0.0 ] || fail "not rolled back: $(wstate .images)"
[ "$(admin)" = "/maintenance/enable,/admin/mempool/freeze,/admin/mempool/unfreeze,/maintenance/disable" ] || fail "admin calls: $(admin)"
[ "$(wstate .lb.upstream)" = node1 ] || fail "not back in the balancer"
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 not running the old release"
messages_have "INCIDENT ESCALATED"
ok "rolled back: old image, unfrozen, back in the balancer"

CASE="maintenance: drain refused"
world_up
# shellcheck disable=SC2046
rb_tty 1 "approve step drain?=n" -- maintenance-window $(mw)
step_is drain denied; step_not_ran maintenance_on; step_not_ran upgrade
[ "$(wstate .lb.upstream)" = node1 ] || fail "drained without approval"
[ "$(admin)" = "" ] || fail "admin calls without approval: $(admin)"
ok "refused: the node stays in the balancer, nothing frozen"

CASE="maintenance: unhealthy node"
world_up
brk crash node1
# shellcheck disable=SC2046
rb 3 maintenance-window $(mw) --yes
no_step_ran
ok "not started on an unhealthy node"

cp_p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p data_dir=$NODE1_DATA -p db_engine=sqlite" \
         "-p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="compaction: fragmented"
world_up
brk io node1
"$SYSTEMCTL" restart node1
[ "$(wstate .nodes.node1.io)" = true ] || fail "the fault did not take"
size=$(stat -c %s "$NODE1_DATA/chain.db")
alert "$T/a.json" ScheduledCheck check=db-compaction
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(cp_p)
status_is resolved
[ "$(stat -c %s "$NODE1_DATA/chain.db")" -lt "$size" ] || fail "not smaller"
[ "$(wstate .nodes.node1.io)" = false ] || fail "still I/O bound"
ok "compacted offline, I/O wait normal"

CASE="compaction: not needed"
world_up
# shellcheck disable=SC2046
rb 3 db-compaction $(cp_p)
no_step_ran
ok "not_confirmed"

CASE="compaction: tool missing"
world_up
# shellcheck disable=SC2046
rb 5 db-compaction $(cp_p) -p db_engine=rocksdb:/nonexistent/ldb
no_step_ran
ok "inconclusive"
