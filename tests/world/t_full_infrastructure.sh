#!/bin/sh
# full-infrastructure-failure against the world: every node and the
# database down: the database comes back first, then every node and the
# services, and the smoke tests pass; with the database's data file
# corrupt, the newest dump is restored after an approval; one node up of
# four (quorum 3) confirms, all up does not; without curl (the counting
# tool) it is inconclusive.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p units=node1,node2,node3,node4 -p rpc_urls=$NODE1_RPC,$NODE2_RPC,$NODE3_RPC,$NODE4_RPC -p quorum=3" \
         "-p systemctl=$SYSTEMCTL -p docker=$WORLD_BIN/docker -p docker_compose=$WORLD_BIN/docker-compose" \
         "-p db_engine=sqlite -p db_target=$WORLD_DB_FILE -p backup_dir=$WORLD_BACKUPS" \
         "-p gateway_host=127.0.0.1 -p gateway_port=$WORLD_GATEWAY_PORT -p webhook_url=$WORLD_WEBHOOK"
}

CASE="all down"
world_up
brk all-down
alert "$T/a.json" MainnetDown
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p) --yes
status_is resolved; severity_is P1
jr 'any(.events[]; .type == "approval_granted" and .step == "deploy_services")'
step_is provision skipped; step_is start_db ok; step_is restore_db skipped; step_is smoke_tests ok
[ "$(wstate '[.nodes[] | select(.state == "active")] | length')" = 4 ] || fail "not every node runs"
[ "$(wstate .db.state)" = active ] || fail "database down"
messages_have "INCIDENT RESOLVED"
ok "database, nodes, services back; smoke tests pass"

CASE="all down, database corrupt"
world_up
sqlite3 "$WORLD_DB_FILE" .dump | gzip >"$WORLD_BACKUPS/20260101-database.sql.gz"
brk all-down
brk db-corrupt
# shellcheck disable=SC2046
rb 0 full-infrastructure-failure $(p) --yes
status_is resolved
step_is start_db failed; step_is restore_db ok; step_is restart_db ok
[ "$(sqlite3 "$WORLD_DB_FILE" 'select count(*) from users')" = 200 ] || fail "data not restored"
ok "the dump restored after approval"

CASE="all down, deploy refused"
world_up
brk all-down
# shellcheck disable=SC2046
rb_tty 1 "approve step deploy_services?=n" -- full-infrastructure-failure $(p)
step_is start_db ok; step_is deploy_services denied; step_not_ran smoke_tests
[ "$(wstate .gateway.recreated)" = 0 ] || fail "the platform was deployed without approval"
ok "refused: the database and nodes are back, the platform not deployed"

CASE="quorum"
world_up
brk crash node1
# shellcheck disable=SC2046
rb 3 full-infrastructure-failure $(p)
no_step_ran
ok "one node down of four is not a full failure"
