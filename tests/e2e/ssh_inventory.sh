#!/bin/sh
# An inventory drives remote steps: three real sshd (tests/e2e/lib_sshd.sh),
# each on its own free port with its own host key, are the hosts of an
# inventory file whose `defaults` give the user and key, whose hosts pin
# their own host keys, and whose group `validators` lists all three.
#   - `foreach: "{{ inventory.groups.validators }}"` with `max_parallel: 2`
#     runs the command once on each host (each sshd authenticates once), never
#     more than two at a time, and the journal records which host every
#     attempt ran on (`host`), with the host's vars;
#   - a host whose pinned key is wrong in the inventory is an `error` item,
#     and nothing ran there;
#   - an inventory with a group naming an unknown host, or an unknown key,
#     is refused with file:line:col before anything runs;
#   - live progress, `show` and a drill name each remote step's host (an
#     inventory host by its name, else user@address:port), never its JSON.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
tmp=$(mktemp -d)
. "$RB_SOURCE_DIR/tests/e2e/lib_sshd.sh"
P1= P2= P3=
stop_all() {
    ssh_masters_stop "$tmp/rt/runbook/ssh"
    for p in $P1 $P2 $P3; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap stop_all EXIT
trap 'exit 130' INT TERM HUP PIPE
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
mkdir -m 700 rt
export XDG_RUNTIME_DIR="$tmp/rt"

for i in 1 2 3; do
    sshd_start "$tmp/s$i" || { echo "cannot start sshd $i"; cat "$tmp/s$i/sshd.log"; exit 1; }
    eval "P$i=\$SSHD_PID PORT$i=\$SSHD_PORT KEY$i=\"\$SSHD_HOSTKEY\""
    # one client key for all three: the first one's
    [ "$i" = 1 ] || cp "$tmp/s1/client_ed25519.pub" "$tmp/s$i/authorized_keys"
done
SSHD_PID=
cp "$tmp/s1/client_ed25519" id_ed25519
mkdir active

cat >inv.yaml <<YAML
defaults: { user: $(id -un), identity: id_ed25519 }
hosts:
  n1: { address: 127.0.0.1, port: $PORT1, host_key: "$KEY1", vars: { role: primary } }
  n2: { address: 127.0.0.1, port: $PORT2, host_key: "$KEY2", vars: { role: standby } }
  n3: { address: 127.0.0.1, port: $PORT3, host_key: "$KEY3", vars: { role: standby } }
  bad: { address: 127.0.0.1, port: $PORT1, host_key: "$KEY2" }
groups:
  validators: [n1, n2, n3]
  broken: [bad]
YAML
cat >fan.yaml <<YAML
apiVersion: runbook/v1
name: fan
steps:
  - name: each
    foreach: "{{ inventory.groups.validators }}"
    max_parallel: 2
    action: ssh
    with:
      host: "{{ item }}"
      env: { ROLE: "{{ item.vars.role }}" }
      argv: [sh, -c, 'touch $tmp/active/\$1; ls $tmp/active | wc -l >> $tmp/counts; touch $tmp/ran.\$1; sleep 1; rm $tmp/active/\$1; echo "\$1 \$ROLE"', x, "{{ item.name }}"]
  - name: broken
    foreach: "{{ inventory.groups.broken }}"
    action: ssh
    with: { host: "{{ item }}", argv: [touch, $tmp/ran.bad] }
    on_failure: continue
YAML
"$RUNBOOK" run --db j.db --inventory inv.yaml fan.yaml >run.log 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "run exit $rc"; cat run.log; }
items() {
    "$RUNBOOK" show --db j.db --format json 1 |
        jq -r --arg s "$1" '[.events[] | select(.type == "step_finished" and .step == $s)] | last | .data.result.items[] | "\(.host) \(.status) \(.stdout | rtrimstr("\n"))"'
}
want="n1 ok n1 primary
n2 ok n2 standby
n3 ok n3 standby"
[ "$(items each)" = "$want" ] && ok || bad "items: $(items each)"
for i in 1 2 3; do
    [ -e "ran.n$i" ] && ok || bad "n$i did not run"
    [ "$(grep -c 'Accepted publickey' "$tmp/s$i/sshd.log")" = 1 ] && ok || bad "sshd $i: $(grep -c 'Accepted publickey' "$tmp/s$i/sshd.log") authentications"
done
max=$(sort -n counts | tail -1)
[ "$max" -le 2 ] && ok || bad "max_parallel 2: $max ran at once"
# every attempt's host is journaled
hosts=$("$RUNBOOK" show --db j.db --format json 1 |
    jq -r '[.events[] | select(.type == "attempt_finished" and .step == "each") | .data.result.host] | sort | join(",")')
[ "$hosts" = "n1,n2,n3" ] && ok || bad "journaled hosts: $hosts"
b=$(items broken)
case $b in "bad error "*) ok ;; *) bad "broken: $b" ;; esac
[ ! -e ran.bad ] && ok || bad "the host with a wrong pinned key ran the command"

# remote steps show their host (docs/remote.md): live progress, show and a
# drill name the inventory host, or [user@]address:port, not the host's JSON
cat >where.yaml <<YAML
apiVersion: runbook/v1
name: where
steps:
  - name: one
    action: ssh
    with: { host: "{{ inventory.hosts.n2 }}", argv: [echo, hi] }
  - name: fan
    foreach: "{{ inventory.groups.validators }}"
    action: ssh
    with: { host: "{{ item }}", argv: [echo, "{{ item.name }}"] }
  - name: plain
    action: ssh
    with: { host: 127.0.0.1, port: $PORT1, user: $(id -un), identity: id_ed25519, host_key: "$KEY1", command: "uname -s" }
YAML
"$RUNBOOK" run --db w.db --inventory inv.yaml where.yaml >where.log 2>&1 || { bad "where: exit $?"; cat where.log; }
"$RUNBOOK" show --db w.db 1 >where.show 2>&1
"$RUNBOOK" run --db w.db --dry-run --inventory inv.yaml where.yaml >drill.log 2>&1 || bad "where drill: exit $?"
me=$(id -un)
for want in "where.log|▶ one (ssh on n2)" "where.log|✔ item 0 (n1): ok" "where.log|✔ item 2 (n3): ok" \
    "where.log|▶ plain (ssh on $me@127.0.0.1:$PORT1)" \
    "where.show|step one started: on n2: \$ echo hi" "where.show|item 1 (n2): on n2: \$ echo n2" \
    "where.show|step fan item 2 (n3): ok" "where.show|step plain started: on $me@127.0.0.1:$PORT1: \$ uname -s" \
    "drill.log|would run: on n2: \$ echo hi" "drill.log|item 1 would run: on n2: \$ echo n2" \
    "drill.log|✔ item 1 (n2): simulated" "drill.log|would run: on $me@127.0.0.1:$PORT1: \$ uname -s"; do
    f=${want%%|*} w=${want#*|}
    grep -qF -- "$w" "$f" && ok || { bad "$f lacks: $w"; cat "$f"; }
done
# a host's JSON is never the label
! grep -q '"address"' where.log where.show drill.log && ok || bad "an item label prints the host's JSON"

# an invalid inventory: file:line:col, nothing runs
cat >inv_bad.yaml <<YAML
hosts:
  n1: { address: 127.0.0.1, prot: 22 }
groups:
  g: [n1, nope]
YAML
rm -f ran.*
"$RUNBOOK" run --db j.db --inventory inv_bad.yaml fan.yaml >bad.log 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'inv_bad.yaml:2:[0-9]*: error: unknown key "prot"' bad.log &&
    grep -q 'inv_bad.yaml:4:[0-9]*: error: group "g": no such host' bad.log && ! ls ran.* >/dev/null 2>&1; then
    ok
else
    bad "invalid inventory: exit $rc"; cat bad.log
fi

# values the ssh action refuses are refused when the inventory is read,
# with file:line:col, before the first (side-effecting) step runs
cat >inv_hostile.yaml <<YAML
hosts:
  h1: { address: "-oProxyCommand=touch $tmp/pwned" }
  h2: { address: 127.0.0.1, host_key: garbage }
  h3: { address: "127.0.0.1 -p 22" }
  h4: { address: 127.0.0.1, user: "-oProxyCommand=x" }
groups:
  all: [h1, h2, h3, h4]
YAML
cat >first.yaml <<YAML
apiVersion: runbook/v1
name: first
steps:
  - { name: before, action: exec, with: { argv: [touch, $tmp/ran.before] } }
  - name: remote
    action: ssh
    foreach: "{{ inventory.groups.all }}"
    with: { host: "{{ item }}", argv: ["true"] }
YAML
rm -f ran.*
"$RUNBOOK" run --db j.db --inventory inv_hostile.yaml first.yaml >hostile.log 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'inv_hostile.yaml:2:[0-9]*: error: host "h1": host' hostile.log &&
    grep -q 'inv_hostile.yaml:3:[0-9]*: error: host "h2": host_key' hostile.log &&
    grep -q 'inv_hostile.yaml:4:[0-9]*: error: host "h3": host' hostile.log &&
    grep -q 'inv_hostile.yaml:5:[0-9]*: error: host "h4": user' hostile.log &&
    [ ! -e ran.before ] && [ ! -e pwned ]; then
    ok
else
    bad "hostile inventory values: exit $rc, before ran: $([ -e ran.before ] && echo yes || echo no)"; cat hostile.log
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
