#!/bin/sh
# rpc-failover against the world: the services' RPC endpoint (node1)
# crashed, or lags 150 blocks: after an approval the configuration is
# pointed at the backup (node4) and the services recreated; refused,
# nothing changes; healthy is not_confirmed; an unreadable configuration
# is inconclusive. (hot-standby-failover: t_hot_standby.sh.)
. "$(dirname "$0")/lib.sh"

rpc() {
    printf 'NEO_N3_RPC_URL=%s\nOTHER=1\n' "$NODE1_RPC" >"$T/w/service.env"
    echo "-p env_file=$T/w/service.env -p primary_rpc_url=$NODE1_RPC -p backup_rpc_url=$NODE4_RPC" \
         "-p docker_compose=$WORLD_BIN/docker-compose -p webhook_url=$WORLD_WEBHOOK"
}

CASE="rpc: endpoint down"
world_up
brk crash node1
alert "$T/a.json" RPCEndpointDown
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(rpc) --yes
status_is resolved; severity_is P1
jr 'any(.events[]; .type == "approval_granted" and .step == "switch")'
grep -qx "NEO_N3_RPC_URL=$NODE4_RPC" "$T/w/service.env" || fail "not switched"
grep -qx "OTHER=1" "$T/w/service.env" || fail "the rest of the file changed"
[ "$(wstate .gateway.recreated)" = 1 ] || fail "services not recreated"
ok "switched to the backup, services recreated, P1"

CASE="rpc: endpoint lags"
world_up
brk behind node1
# shellcheck disable=SC2046
rb 0 rpc-failover $(rpc) --yes
status_is resolved; severity_is P2
ok "a lag over 100 blocks fails over, P2"

CASE="rpc: failover refused"
world_up
brk crash node1
# shellcheck disable=SC2046
rb_tty 1 "approve step switch?=n" -- rpc-failover $(rpc)
step_is switch denied; step_not_ran recreate
grep -qx "NEO_N3_RPC_URL=$NODE1_RPC" "$T/w/service.env" || fail "switched without approval"
[ "$(wstate .gateway.recreated)" = 0 ] || fail "services recreated without approval"
ok "refused: the configuration and the services untouched"

CASE="rpc: healthy"
world_up
# shellcheck disable=SC2046
rb 3 rpc-failover $(rpc)
no_step_ran
ok "not_confirmed"

CASE="rpc: configuration unreadable"
world_up
brk crash node1
# shellcheck disable=SC2046
rb 5 rpc-failover $(rpc) -p env_file=/nonexistent/.env
no_step_ran
ok "inconclusive"
