#!/bin/sh
# backup-verify against the world: with no backup it takes one in
# maintenance mode, verifies that it restores with an intact chain
# database, and (after an approval) removes backups past retention,
# keeping the newest 3; refused, nothing is deleted; an unreadable store is
# inconclusive. (point-in-time-restore: t_point_in_time.sh.)
. "$(dirname "$0")/lib.sh"

bk() {
    echo "-p data_dir=$NODE1_DATA -p db_engine=sqlite -p backup_dir=$WORLD_BACKUPS -p scratch_dir=$T/scratch" \
         "-p rpc_url=$NODE1_RPC -p webhook_url=$WORLD_WEBHOOK"
}
old_backups() { # five backups 10..14 days old
    for i in 10 11 12 13 14; do
        "$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" "neo_backup_old$i" >/dev/null
        touch -d "@$(( $(date +%s) - i * 86400 ))" "$WORLD_BACKUPS"/neo_backup_old"$i"*
    done
}

CASE="backup: none yet, old ones expired"
world_up
old_backups
alert "$T/a.json" BackupTooOld
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(bk) --yes
status_is resolved; severity_is P2
step_is take ok; step_is test_restore ok; step_is restored_intact ok; step_is retention ok
[ "$(wstate '[.admin[] | .path] | join(",")')" = "/maintenance/enable,/maintenance/disable" ] || fail "maintenance mode: $(wstate '.admin')"
[ "$(ls "$WORLD_BACKUPS" | wc -l)" = 3 ] || fail "retention kept: $(ls "$WORLD_BACKUPS")"
ls "$WORLD_BACKUPS" | grep -qv old || fail "the new backup was removed"
[ ! -e "$T/scratch" ] || fail "scratch folder left"
ok "taken in maintenance mode, verified by a restore, 3 newest kept"

CASE="backup: retention refused"
world_up
old_backups
rb_tty 0 "approve step retention?=n" -- backup-verify $(bk)
step_is retention denied
[ "$(ls "$WORLD_BACKUPS" | wc -l)" = 6 ] || fail "a backup was deleted without approval"
ok "refused: no backup deleted (the new one is still verified)"

CASE="backup: store unreadable"
world_up
# shellcheck disable=SC2046
rb 5 backup-verify $(bk) -p backup_dir=/nonexistent/store
no_step_ran
ok "inconclusive"
