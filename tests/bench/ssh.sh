#!/bin/sh
# Per remote step on a warm connection: the ssh action against a plain loop
# of `ssh -o ControlPath=…` running the same command over the same reused
# connection, in the same round (and Ansible's figure for the same work, when
# ansible-playbook is installed: `apt-get install ansible-core`). Prints
# figures, never fails on timing. Target: ssh action / plain ssh at most 1.2x.
#
# A real sshd (tests/e2e/lib_sshd.sh) on 127.0.0.1 and a free port. Each of
# RB_BENCH_ROUNDS rounds (default 5), in turn:
#   1. `runbook run` of 1 + N steps (`ssh … true`); the first opens the
#      connection, the N others are timed by the journal (duration_ms of
#      each attempt, the engine's own measure from start to result);
#   2. N times `ssh -o ControlPath=SOCKET … true` over the connection the
#      engine left open, timed from the shell (fork+exec of ssh included);
#   3. with Ansible: a playbook of N `command: true` tasks on the same host
#      over its own ControlPersist connection, pipelining on, timed whole
#      (minus nothing: Ansible's own start is part of its price), per task.
# The medians over the rounds are printed, and the first step's latency
# (handshake) against the warm one.
#
# Usage: ssh.sh BUILD_DIR [N]
set -eu
build=$(cd "${1:-build}" && pwd)
n=${2:-40}
rounds=${RB_BENCH_ROUNDS:-5}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
. "$src/tests/e2e/lib_sshd.sh"
cleanup() {
    ssh_masters_stop "$tmp/rt/runbook/ssh"
    ssh_masters_stop "$tmp/cp"
    sshd_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
cd "$tmp"
sshd_start "$tmp/sshd" >/dev/null
mkdir -m 700 rt cp
export XDG_RUNTIME_DIR="$tmp/rt"

{
    echo "apiVersion: runbook/v1"
    echo "name: bench-ssh"
    echo "steps:"
    i=0
    while [ $i -le "$n" ]; do
        echo "  - { name: s$i, action: ssh, with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $SSHD_CLIENT_KEY, host_key: \"$SSHD_HOSTKEY\", argv: [\"true\"] } }"
        i=$((i + 1))
    done
} >bench.yaml
echo "[127.0.0.1]:$SSHD_PORT $SSHD_HOSTKEY" >known_hosts

have_ansible=0
if command -v ansible-playbook >/dev/null 2>&1; then
    have_ansible=1
    cat >inventory.ini <<EOF
target ansible_host=127.0.0.1 ansible_port=$SSHD_PORT ansible_user=$(id -un) ansible_ssh_private_key_file=$SSHD_CLIENT_KEY
EOF
    {
        echo "- hosts: target"
        echo "  gather_facts: false"
        echo "  tasks:"
        i=1
        while [ $i -le "$n" ]; do
            echo "    - command: 'true'"
            i=$((i + 1))
        done
    } >play.yaml
    cat >ansible.cfg <<EOF
[defaults]
host_key_checking = True
interpreter_python = /usr/bin/python3
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$tmp/known_hosts -o BatchMode=yes
control_path = $tmp/cp/%%C
EOF
fi

now_ns() { date +%s%N; }
r=1
: >engine.txt
: >plain.txt
: >first.txt
: >ansible.txt
while [ "$r" -le "$rounds" ]; do
    rm -f j.db j.db-wal j.db-shm
    "$build/runbook" run --quiet --db j.db bench.yaml >/dev/null 2>&1
    "$build/runbook" show --db j.db --format json 1 >show.json
    jq '[.events[] | select(.type == "attempt_finished" and .step != "s0") | .data.result.duration_ms] | add / length' show.json >>engine.txt
    jq '[.events[] | select(.type == "attempt_finished" and .step == "s0") | .data.result.duration_ms] | .[0]' show.json >>first.txt
    sock=$(ls -t rt/runbook/ssh/ | grep -v known_hosts | head -1)
    t0=$(now_ns)
    i=1
    while [ $i -le "$n" ]; do
        ssh -o ControlPath="rt/runbook/ssh/$sock" -p "$SSHD_PORT" 127.0.0.1 true
        i=$((i + 1))
    done
    t1=$(now_ns)
    echo "$(((t1 - t0) / n / 1000))" | awk '{ print $1 / 1000 }' >>plain.txt
    if [ $have_ansible = 1 ]; then
        t0=$(now_ns)
        ANSIBLE_CONFIG=$tmp/ansible.cfg ansible-playbook -i inventory.ini play.yaml >ansible.log 2>&1 ||
            { echo "ansible failed:"; tail -5 ansible.log; have_ansible=0; }
        t1=$(now_ns)
        echo "$(((t1 - t0) / n / 1000))" | awk '{ print $1 / 1000 }' >>ansible.txt
    fi
    r=$((r + 1))
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
e=$(median engine.txt)
p=$(median plain.txt)
f=$(median first.txt)
awk -v e="$e" -v p="$p" -v f="$f" -v n="$n" -v r="$rounds" 'BEGIN {
    printf "ssh, %d warm steps x %d rounds (medians): ssh action %.1f ms/step, plain ssh over the same ControlPath %.1f ms/step: %.2fx (target <= 1.2x)\n", n, r, e, p, e / p
    printf "ssh, first step (handshake) %.0f ms, warm step %.1f ms\n", f, e
}'
if [ $have_ansible = 1 ] && [ -s ansible.txt ]; then
    a=$(median ansible.txt)
    awk -v a="$a" -v e="$e" -v n="$n" 'BEGIN {
        printf "ssh, ansible-playbook (pipelining, ControlPersist), %d tasks of the same command: %.1f ms/task (%.2fx the ssh action)\n", n, a, a / e
    }'
fi
