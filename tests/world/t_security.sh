#!/bin/sh
# ddos, key-compromise and security-breach against the world.
# ddos: 4000 connections are rate-limited (iptables recent rules) back
# under the mark; healthy not_confirmed; no firewall tool: inconclusive.
# key-compromise: the validator is stopped at once, and (after approval)
# the key is rotated and the validator started; refused, it stays stopped;
# a key state that cannot be read is inconclusive and stops nothing.
# security-breach: ports locked down, circuit breaker opened, forensics
# kept, credentials rotated after approval, services redeployed.
. "$(dirname "$0")/lib.sh"

dd() { echo "-p rpc_url=$NODE1_RPC -p iptables=$WORLD_BIN/iptables -p observe=0s -p webhook_url=$WORLD_WEBHOOK"; }

CASE="ddos"
world_up
brk ddos node1
alert "$T/a.json" HighConnectionCount instance=node1
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(dd)
status_is resolved; severity_is P2
[ "$(wstate .nodes.node1.connections)" -lt 500 ] || fail "still flooded"
[ "$(wstate '[.firewall[] | select(index("--hitcount"))] | length')" = 1 ] || fail "no rate limit rule"
ok "rate-limited under 500 connections"

CASE="ddos: healthy"
world_up
# shellcheck disable=SC2046
rb 3 ddos $(dd)
no_step_ran
ok "not_confirmed"

CASE="ddos: no firewall tool"
world_up
brk ddos node1
# shellcheck disable=SC2046
rb 5 ddos $(dd) -p iptables=/nonexistent/iptables
no_step_ran
ok "inconclusive"

kc() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p key_status_url=$NODE2_RPC/admin/key" \
         "-p key_rotate_url=$NODE2_RPC/admin/key/rotate -p validators_webhook=$WORLD_CTL/hooks/validators -p webhook_url=$WORLD_WEBHOOK"
}

CASE="key compromise"
world_up
brk key-compromise
alert "$T/a.json" ValidatorKeyCompromised
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(kc) --yes
status_is resolved; severity_is P1
[ "$(wstate .key)" = rotated ] || fail "key not rotated"
[ "$(wstate .nodes.node1.state)" = active ] || fail "validator not running"
[ "$(wstate '[.messages[] | select(.hook == "validators")] | length')" = 2 ] || fail "validators not told twice"
ok "stopped, validators told, key rotated, started"

CASE="key compromise: refused"
world_up
brk key-compromise
rb_tty 1 "approve step rotate_key?=n" -- key-compromise $(kc)
step_is stop_node ok; step_is rotate_key denied; step_not_ran start_node
[ "$(wstate .nodes.node1.state)" != active ] || fail "the validator runs with the exposed key"
[ "$(wstate .key)" = exposed ] || fail "key changed without approval"
ok "refused: the validator stays stopped"

CASE="key compromise: the key state cannot be read"
world_up
# shellcheck disable=SC2046
rb 5 key-compromise $(kc) -p key_status_url=http://127.0.0.1:1/admin/key --yes
no_step_ran
[ "$(wstate .nodes.node1.state)" = active ] || fail "the validator was stopped on no evidence"
ok "unreachable key endpoint: inconclusive, the validator keeps running"

CASE="key compromise: healthy"
world_up
# shellcheck disable=SC2046
rb 3 key-compromise $(kc)
no_step_ran
ok "not_confirmed"

sb() {
    echo "-p audit_log=$WORLD_AUDIT_LOG -p iptables=$WORLD_BIN/iptables -p ports=${NODE1_RPC##*:} -p rpc_url=$NODE1_RPC" \
         "-p log_dir=$NODE1_LOGS -p forensics_dir=$T/w/forensics -p credentials_rotate_url=$NODE1_RPC/admin/key/rotate" \
         "-p docker_compose=$WORLD_BIN/docker-compose -p security_webhook=$WORLD_WEBHOOK"
}

CASE="breach: isolation refused"
world_up
brk breach
# shellcheck disable=SC2046
rb_tty 1 "approve step lockdown?=n" -- security-breach $(sb)
step_is lockdown denied
[ "$(wstate '[.firewall[] | select(index("DROP"))] | length')" = 0 ] || fail "traffic dropped without approval"
ok "refused: no port dropped"

CASE="breach"
world_up
brk breach
alert "$T/a.json" UnauthorizedAccess
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(sb) --yes
status_is resolved; severity_is P1
[ "$(wstate '[.firewall[] | select(index("DROP") and index("--dport"))] | length')" = 1 ] || fail "ports not locked down"
[ "$(wstate '[.admin[] | select(.path == "/admin/circuit-breaker/open")] | length')" = 1 ] || fail "circuit breaker not opened"
tar -tzf "$(ls "$T"/w/forensics/forensics_*.tar.gz)" | grep -q audit.log || fail "no audit log in the forensics"
[ "$(wstate .key)" = rotated ] || fail "credentials not rotated"
[ "$(wstate .gateway.recreated)" = 1 ] || fail "not redeployed"
messages_have "INCIDENT DECLARED"
ok "isolated, forensics kept, rotated, redeployed"

CASE="breach: only old lines in the window's past"
# Yesterday's failed logins (epoch, RFC 3339 and syslog stamps, two hours
# old) are not a breach now: the window is one hour (004 --since="1 hour").
world_up
old=$(($(date +%s) - 7200))
{ echo "$old unauthorized login user=admin from=203.0.113.9"
  echo "$(date -d "@$old" --iso-8601=seconds) host sshd[7]: Failed password for root from 203.0.113.9"
  echo "$(date -d "@$old" '+%b %e %H:%M:%S') host sshd[8]: Invalid user oracle from 203.0.113.9"; } >>"$WORLD_AUDIT_LOG"
# shellcheck disable=SC2046
rb 3 security-breach $(sb)
no_step_ran
[ "$(wstate '[.firewall[] | select(index("DROP"))] | length')" = 0 ] || fail "traffic dropped"
# shellcheck disable=SC2046
rb 0 security-breach $(sb) -p window=3h --yes
severity_is P1
ok "lines two hours old: not_confirmed within 1h, a breach within 3h"

CASE="breach: clean log"
world_up
# shellcheck disable=SC2046
rb 3 security-breach $(sb)
no_step_ran
ok "not_confirmed"

CASE="breach: audit log unreadable"
world_up
# shellcheck disable=SC2046
rb 5 security-breach $(sb) -p audit_log=/nonexistent/auth.log
no_step_ran
ok "inconclusive"
