#!/bin/sh
# The same recovery work done three ways, in one run (issue 12's
# comparison; `make compare`, and the last part of `make bench`). Prints
# figures and never compares them with a threshold; fails loudly when a
# tool did not really do the work.
#
# The work: N steps of a trivial command (`touch DIR/m.I`), one step that
# fails twice before it succeeds (tests/bench/compare_flaky.sh: a counter
# file, ok from the third attempt on), then a verify (compare_verify.sh:
# every marker is there and the counter says 3; it leaves DIR/verified).
# Done, each in one invocation of the tool, by:
#   engine   `runbook run --db DIR/journal.db` of a generated runbook: the
#            steps, the flaky one with `retry: { attempts: 5, delay: 0s }`,
#            the verify as the `validate` check; the journal on disk at its
#            default synchronous=FULL, as in real use;
#   ansible  `ansible-playbook` (Debian's ansible-core) of a generated
#            playbook, `hosts: localhost`, `connection: local`,
#            `gather_facts: false`, one `command` task a step, the flaky one
#            with `register`/`until`/`retries: 4`/`delay: 0`;
#   sh       one `sh` script with the same commands in a loop: the floor.
# Each in its own fresh directory, timed whole from the shell (the tool's
# own start-up is part of its price), RB_BENCH_ROUNDS rounds (default 3)
# taken in turn so that all three see the same load; the medians are
# printed as seconds per step, a step being one of the N + 2 above.
#
# After every invocation the work is checked: the tool's exit status, the
# counter (exactly 3 attempts), every marker and the verify's own marker;
# for the engine also its journal (`runbook show`: status resolved, three
# attempts of the flaky step), for Ansible its recap (failed=0, N + 2 ok).
# Any miss: a message on stderr and exit 1.
#
# Usage: compare.sh BUILD_DIR [N]   (N default 100)
# Needs ansible-playbook (ansible-core) and jq: `make deps-bench` installs
# them; this script installs nothing.
set -eu
build=$(cd "${1:-build}" && pwd)
n=${2:-100}
rounds=${RB_BENCH_ROUNDS:-3}
here=$(cd "$(dirname "$0")" && pwd)
case $n in '' | *[!0-9]*) echo "compare: N must be a number: $n" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] || { echo "compare: N must be at least 1" >&2; exit 2; }
for t in ansible-playbook jq; do
    command -v $t >/dev/null 2>&1 || {
        echo "compare: $t is missing: run \`make deps-bench\` (it installs ansible-core and jq)" >&2
        exit 1
    }
done
[ -x "$build/runbook" ] || { echo "compare: no $build/runbook: run \`make build\`" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
steps=$((n + 2))

fail() {
    echo "compare: FAILED: $*" >&2
    exit 1
}

# gen_engine DIR: the runbook of the work in DIR
gen_engine() {
    {
        echo "apiVersion: runbook/v1"
        echo "name: compare"
        echo "steps:"
        i=1
        while [ $i -le "$n" ]; do
            echo "  - { name: s$i, run: [touch, $1/m.$i] }"
            i=$((i + 1))
        done
        echo "  - name: flaky"
        echo "    run: [sh, $here/compare_flaky.sh, $1/counter]"
        echo "    retry: { attempts: 5, delay: 0s }"
        echo "validate:"
        echo "  - { name: verify, run: [sh, $here/compare_verify.sh, $1, \"$n\"] }"
    } >"$1.yaml"
}

# gen_ansible DIR: the playbook of the work in DIR
gen_ansible() {
    {
        echo "- hosts: localhost"
        echo "  connection: local"
        echo "  gather_facts: false"
        echo "  tasks:"
        i=1
        while [ $i -le "$n" ]; do
            echo "    - { name: s$i, command: touch $1/m.$i }"
            i=$((i + 1))
        done
        echo "    - name: flaky"
        echo "      command: sh $here/compare_flaky.sh $1/counter"
        echo "      register: flaky"
        echo "      until: flaky.rc == 0"
        echo "      retries: 4"
        echo "      delay: 0"
        echo "    - { name: verify, command: sh $here/compare_verify.sh $1 $n }"
    } >"$1.yaml"
}

# gen_sh DIR: the sh script of the work in DIR
gen_sh() {
    cat >"$1.sh" <<EOF
set -e
i=1
while [ \$i -le $n ]; do
    touch "$1/m.\$i"
    i=\$((i + 1))
done
a=1
until sh "$here/compare_flaky.sh" "$1/counter"; do
    [ \$a -lt 5 ] || exit 1
    a=\$((a + 1))
done
sh "$here/compare_verify.sh" "$1" $n
EOF
}

# Ansible's own files stay in $tmp: no ~/.ansible, no retry files, and the
# interpreter named (no discovery, no warning about it).
cat >"$tmp/ansible.cfg" <<EOF
[defaults]
interpreter_python = /usr/bin/python3
retry_files_enabled = False
local_tmp = $tmp/ansible-local
remote_tmp = $tmp/ansible-remote
EOF
export ANSIBLE_CONFIG="$tmp/ansible.cfg" ANSIBLE_HOME="$tmp/ansible-home"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
# ansible-core refuses a locale that is not UTF-8 (a bare machine's is C).
export LC_ALL=C.UTF-8

# check_work TOOL DIR: the work was done, all of it, exactly once
check_work() {
    c=$(cat "$2/counter" 2>/dev/null || echo none)
    [ "$c" = 3 ] || fail "$1: the flaky step ran $c times, not 3 (counter $2/counter)"
    i=1
    while [ $i -le "$n" ]; do
        [ -e "$2/m.$i" ] || fail "$1: step s$i left no marker ($2/m.$i)"
        i=$((i + 1))
    done
    [ -e "$2/verified" ] || fail "$1: the verify did not run ($2/verified missing)"
}

now_ns() { date +%s%N; }
start=$(now_ns)
: >"$tmp/engine.txt"
: >"$tmp/ansible.txt"
: >"$tmp/sh.txt"
echo "compare: $n steps of \`touch\` + 1 that fails twice before it succeeds + 1 verify = $steps steps," \
    "$rounds rounds; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  $(ansible-playbook --version 2>/dev/null | sed -n 1p), $("$build/runbook" --version 2>/dev/null | sed -n 1p), sh = $(readlink -f /bin/sh)"
echo "  round   engine s   ansible s       sh s   (whole invocation, wall)"
r=1
while [ "$r" -le "$rounds" ]; do
    # engine
    d=$tmp/engine$r
    mkdir "$d"
    gen_engine "$d"
    t0=$(now_ns)
    "$build/runbook" run --quiet --db "$d/journal.db" "$d.yaml" >"$d.out" 2>&1 ||
        { rc=$?; cat "$d.out" >&2; fail "engine: runbook run exited $rc"; }
    t1=$(now_ns)
    te=$((t1 - t0))
    check_work engine "$d"
    "$build/runbook" show --db "$d/journal.db" --format json 1 >"$d.json" ||
        fail "engine: runbook show of the run failed"
    st=$(jq -r .status "$d.json")
    [ "$st" = resolved ] || fail "engine: the run's status in the journal is $st, not resolved"
    at=$(jq '[.events[] | select(.type == "attempt_finished" and .step == "flaky")] | length' "$d.json")
    [ "$at" = 3 ] || fail "engine: the journal has $at attempts of the flaky step, not 3"
    echo "$te" >>"$tmp/engine.txt"

    # ansible
    d=$tmp/ansible$r
    mkdir "$d"
    gen_ansible "$d"
    t0=$(now_ns)
    ansible-playbook -i localhost, "$d.yaml" >"$d.out" 2>&1 ||
        { rc=$?; tail -20 "$d.out" >&2; fail "ansible: ansible-playbook exited $rc"; }
    t1=$(now_ns)
    ta=$((t1 - t0))
    check_work ansible "$d"
    recap=$(grep -E '^localhost +:' "$d.out" || true)
    case $recap in
    *" ok=$steps "*" failed=0 "*) ;;
    *) fail "ansible: the recap is not ok=$steps failed=0: $recap" ;;
    esac
    echo "$ta" >>"$tmp/ansible.txt"

    # sh
    d=$tmp/sh$r
    mkdir "$d"
    gen_sh "$d"
    t0=$(now_ns)
    sh "$d.sh" >"$d.out" 2>&1 || { rc=$?; cat "$d.out" >&2; fail "sh: the script exited $rc"; }
    t1=$(now_ns)
    ts=$((t1 - t0))
    check_work sh "$d"
    echo "$ts" >>"$tmp/sh.txt"

    awk -v r="$r" -v e="$te" -v a="$ta" -v s="$ts" 'BEGIN { printf "  %5d  %9.3f  %10.3f  %9.3f\n", r, e / 1e9, a / 1e9, s / 1e9 }'
    r=$((r + 1))
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
awk -v e="$(median "$tmp/engine.txt")" -v a="$(median "$tmp/ansible.txt")" -v s="$(median "$tmp/sh.txt")" \
    -v k="$steps" -v r="$rounds" 'BEGIN {
    e /= 1e9 * k; a /= 1e9 * k; s /= 1e9 * k
    printf "  seconds per step (median of %d rounds, %d steps): engine %.6f, ansible %.6f, sh %.6f\n", r, k, e, a, s
    printf "  engine vs ansible: %.4fx the time (ansible takes %.1fx the engine'"'"'s); engine vs sh: %.2fx the time\n", e / a, a / e, e / s
}'
echo "  work checked in every round: counter 3, all $n markers, verify ran; engine journal resolved with 3 attempts; ansible recap ok=$steps failed=0"
echo "  load after: $(cut -d' ' -f1-3 /proc/loadavg); compare.sh took $((($(now_ns) - start) / 1000000000)) s"
