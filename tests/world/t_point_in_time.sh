#!/bin/sh
# point-in-time-restore against the world: restores the newest backup
# taken before a moment, rolls back to a height and starts the node; two
# restores in a row keep both previous folders; backup-restore puts the
# archive's folder under any target name; a RocksDB chain (real, from
# rocksdb-tools) cannot be rolled back offline and that is known before
# anything is stopped (inconclusive, the whole reason shown); a missing
# store is inconclusive; refused, nothing is touched.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p data_dir=$NODE1_DATA -p db_engine=sqlite" \
         "-p backup_dir=$WORLD_BACKUPS -p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="point in time"
world_up
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" >/dev/null
touch -d "@$(( $(date +%s) - 7200 ))" "$WORLD_BACKUPS"/neo_backup_*
cut=$(( $(date +%s) - 3600 ))
sleep 1
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" "neo_backup_late" >/dev/null
# shellcheck disable=SC2046
rb 0 point-in-time-restore $(p) -p target_height=250 -p before=$cut --yes
status_is resolved
jr '[.events[] | select(.type == "step_finished" and .step == "restore") | .data.result.stdout][0] | contains("late") | not'
[ "$(sqlite3 "$NODE1_DATA/chain.db" 'select max(height) from blocks')" = 250 ] || fail "not rolled back"
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 not running"
ok "the backup before the moment restored, rolled back to 250, node running"

CASE="point in time: two restores in a row"
# The second restore moves the first one's result aside under a new name:
# the data from before the first restore is still there, never removed.
world_up
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" >/dev/null
orig=$(sqlite3 "$NODE1_DATA/chain.db" 'select max(height) from blocks')
# shellcheck disable=SC2046
rb 0 point-in-time-restore $(p) -p target_height=250 --yes
# shellcheck disable=SC2046
rb 0 point-in-time-restore $(p) -p target_height=240 --yes
[ "$(ls -d "$NODE1_DATA".before-restore.* | wc -l)" = 2 ] || fail "kept: $(ls -d "$NODE1_DATA".before-restore.* 2>&1)"
first=$(ls -d "$NODE1_DATA".before-restore.* | sort | head -n 1)
[ "$(sqlite3 "$first/chain.db" 'select max(height) from blocks')" -ge "$orig" ] || fail "the data from before the first restore is gone"
[ "$(sqlite3 "$NODE1_DATA/chain.db" 'select max(height) from blocks')" = 240 ] || fail "not rolled back to 240"
ok "two restores: both previous folders kept, the newest restore in place"

CASE="restore into a folder of another name"
world_up
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" >/dev/null
"$RUNBOOKS/scripts/backup-restore" "$WORLD_BACKUPS" "$T/elsewhere/node1-copy" >/dev/null
sqlite3 "$T/elsewhere/node1-copy/chain.db" 'PRAGMA integrity_check' | grep -qx ok || fail "no chain.db in the target"
[ ! -e "$T/elsewhere/$(basename "$NODE1_DATA")" ] || fail "extracted under the backup's folder name"
ok "the archive's folder becomes the target, whatever its name"

CASE="point in time: RocksDB cannot be rolled back, asked before the restore"
# A real RocksDB (Debian's rocksdb-tools): the rollback to a height is not
# possible offline, and that is known before the node is stopped or any
# data replaced: inconclusive, nothing done, the whole reason shown.
command -v ldb >/dev/null || fail "ldb (rocksdb-tools) is not installed: make deps"
world_up
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" >/dev/null
mkdir -p "$T/rocks"
ldb --db="$T/rocks/chain.db" --create_if_missing put height 300 >/dev/null
before=$(ls -R "$T/rocks" | sha256sum)
# shellcheck disable=SC2046
rb 5 point-in-time-restore $(p) -p data_dir="$T/rocks" -p db_engine=rocksdb -p target_height=250 --yes
no_step_ran
grep -q "rollback of a RocksDB chain to a height needs the node's own tool (ldb cannot do it offline)" "$T/out" ||
    fail "the reason is not shown whole: $(grep -i rocksdb "$T/out")"
[ "$(ls -R "$T/rocks" | sha256sum)" = "$before" ] || fail "the RocksDB folder was touched"
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 was stopped"
ok "RocksDB: inconclusive before anything is stopped or restored"

CASE="point in time: no backup store"
world_up
# shellcheck disable=SC2046
rb 5 point-in-time-restore $(p) -p backup_dir="$T/none" -p target_height=250 --yes
no_step_ran
grep -q "no backup store at $T/none" "$T/out" || fail "the reason is not shown"
ok "a missing store: inconclusive, not not_confirmed"

CASE="point in time: refused"
world_up
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" >/dev/null
before=$(sha256sum "$NODE1_DATA/chain.db")
rb_tty 1 "approve step restore?=n" -- point-in-time-restore $(p) -p target_height=250
step_is restore denied
[ "$(sha256sum "$NODE1_DATA/chain.db")" = "$before" ] || fail "data changed without approval"
[ "$(wstate .nodes.node1.state)" = active ] || fail "the node was not started again (undo)"
ok "refused: data untouched, the node started again by the rollback"
