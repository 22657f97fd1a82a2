#!/bin/sh
# disk-exhaustion against the world: a volume filled with old rotated logs
# is cleaned by the first step and log rotation is set up; one filled with
# backups needs their removal, which waits for an approval: refused, no
# backup is deleted and the run fails; approved, the newest 3 are kept.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p path=$NODE1_HOME -p quota=3600000 -p log_dir=$NODE1_LOGS -p apt_get=true" \
         "-p backup_dir=$NODE1_HOME/backups -p logrotate_file=$T/w/logrotate-neo-node" \
         "-p unit=node1 -p systemctl=$SYSTEMCTL -p webhook_url=$WORLD_WEBHOOK"
}
fill_backups() {
    mkdir -p "$NODE1_HOME/backups"
    for i in 1 2 3 4 5 6 7; do
        head -c 450000 /dev/urandom >"$NODE1_HOME/backups/neo-$i.tar.gz"
        touch -d "@$(( $(date +%s) - (10 - i) * 86400 ))" "$NODE1_HOME/backups/neo-$i.tar.gz"
    done
}

CASE="old logs"
world_up
brk disk-full node1
touch "$NODE1_LOGS/node.log"
alert "$T/a.json" DiskSpaceLow instance=node1
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p)
status_is resolved; severity_is P2
step_is old_logs ok; step_is package_cache skipped; step_is old_backups skipped
[ -z "$(ls "$NODE1_LOGS" | grep 'node.log.')" ] || fail "old logs left"
[ -f "$NODE1_LOGS/node.log" ] || fail "the live log was removed"
grep -q "rotate 7" "$T/w/logrotate-neo-node" || fail "no log rotation rule"
ok "old logs removed, live log kept, rotation rule written"

CASE="backups, approval refused"
world_up
fill_backups
rb_tty 1 "approve step old_backups?=n" -- disk-exhaustion $(p)
status_is failed; step_is old_backups denied
[ "$(ls "$NODE1_HOME/backups" | wc -l)" = 7 ] || fail "a backup was deleted without approval"
messages_have "INCIDENT ESCALATED"
ok "no approval: every backup kept, the run fails and escalates"

CASE="backups, approved"
world_up
fill_backups
# shellcheck disable=SC2046
rb 0 disk-exhaustion $(p) --yes
status_is resolved; step_is old_backups ok
[ "$(ls "$NODE1_HOME/backups" | tr '\n' ' ')" = "neo-5.tar.gz neo-6.tar.gz neo-7.tar.gz " ] || fail "kept: $(ls "$NODE1_HOME/backups")"
ok "approved: the newest 3 backups kept"

CASE="healthy"
world_up
# shellcheck disable=SC2046
rb 3 disk-exhaustion $(p)
no_step_ran
ok "not_confirmed"

CASE="cannot measure"
world_up
# shellcheck disable=SC2046
rb 5 disk-exhaustion $(p) -p path=/nonexistent/volume
no_step_ran
grep -q "CANNOT ASSESS" "$T/out" || fail "no cannot-assess message"
ok "inconclusive"
