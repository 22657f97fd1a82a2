#!/bin/sh
# database-corruption against the world: a repairable corruption is
# repaired in place; one beyond repair is restored from a verified backup
# (after an approval); with no backup the chain database is wiped and the
# node resyncs (after an approval); a refused approval wipes nothing. The
# corrupted copy is always kept. A healthy database is not_confirmed.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p data_dir=$NODE1_DATA" \
         "-p db_engine=sqlite -p backup_dir=$WORLD_BACKUPS -p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}
kept() { ls "$WORLD_BACKUPS"/corrupted_db_*.tar.gz >/dev/null 2>&1 || fail "the corrupted database was not kept"; }

CASE="repairable"
world_up
brk corrupt node1
# shellcheck disable=SC2046
rb 0 database-corruption $(p)
status_is resolved; severity_is P1
step_is stop_node ok; step_is keep_corrupted ok; step_is repair ok; step_is restore skipped; step_is resync skipped
kept
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 not running"
sqlite3 "$NODE1_DATA/chain.db" 'PRAGMA integrity_check' | grep -qx ok || fail "chain.db still corrupt"
ok "repaired in place, corrupted copy kept, node back"

CASE="beyond repair, restore a backup"
world_up
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" >/dev/null
brk corrupt-header node1
# shellcheck disable=SC2046
rb 0 database-corruption $(p) --yes
status_is resolved
step_is repair failed; step_is restore ok; step_is resync skipped
jr 'any(.events[]; .type == "approval_granted" and .step == "restore")'
ls -d "$NODE1_DATA".before-restore.* >/dev/null 2>&1 || fail "the corrupted data was not moved aside"
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 not running"
messages_have "INCIDENT UPDATE"; messages_have "INCIDENT RESOLVED"
ok "restored from the verified backup after approval"

CASE="no backup, resync"
world_up
brk corrupt-header node1
# shellcheck disable=SC2046
rb 0 database-corruption $(p) --yes
status_is resolved
step_is restore failed; step_is resync ok
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 not running"
ok "wiped and resynced after approval"

CASE="approval refused"
world_up
brk corrupt-header node1
before=$(sha256sum "$NODE1_DATA/chain.db")
# shellcheck disable=SC2046
rb_tty 1 "approve step restore?=n" "approve step resync?=n" -- database-corruption $(p)
status_is failed
step_is restore denied; step_not_ran resync; step_not_ran start_node
[ "$(sha256sum "$NODE1_DATA/chain.db")" = "$before" ] || fail "chain.db changed without approval"
[ "$(wstate .nodes.node1.state)" != active ] || fail "node1 started on a corrupt database"
messages_have "INCIDENT ESCALATED"
ok "refused: nothing restored or wiped, the run fails and escalates"

CASE="healthy"
world_up
# shellcheck disable=SC2046
rb 3 database-corruption $(p)
no_step_ran
ok "not_confirmed"

CASE="integrity tool missing"
world_up
brk corrupt node1
# shellcheck disable=SC2046
rb 5 database-corruption $(p) -p db_engine=rocksdb:/nonexistent/ldb
no_step_ran
grep -q "cannot assess: /nonexistent/ldb" "$T/out" || fail "the reason is not shown"
ok "inconclusive when the integrity tool is missing"

CASE="drill"
world_up
brk corrupt-header node1
before=$(sha256sum "$NODE1_DATA/chain.db")
# shellcheck disable=SC2046
rb 1 database-corruption $(p) --dry-run --assume repair=failed
step_is stop_node simulated; step_is repair simulated; step_is restore simulated; step_is resync skipped
jr 'any(.events[]; .type == "approval_granted" and .step == "restore" and .data.by == "drill")'
[ "$(sha256sum "$NODE1_DATA/chain.db")" = "$before" ] || fail "the drill changed chain.db"
[ "$(wstate .nodes.node1.state)" = failed ] || fail "the drill touched node1"
ok "the drill walks repair (assumed failed) to restore, would ask, changes nothing"
