#!/bin/sh
# Review commands on big runs (`make bench`; prints figures, never fails on
# timing). Targets (issue 9): `show`, `replay` and `report --format html`
# of a run of 10,000 events each under 100 ms; `runs --since` on a journal
# of 1,000,000 events under 50 ms.
#
#   1. a run of about 10,000 events (a foreach of 2,500 `log` items):
#      the median of RB_BENCH_ROUNDS (default 5) timings of each command;
#   2. the same run journaled 100 times (about 1,000,000 events): the
#      median of `runs --since 1h` and `runs --since 1h --severity P1`,
#      and `report --format html` of the first run again, in that journal.
#
# Each figure is wall time, the median of the rounds, with the CPU time
# (user + system) of the same round beside it: on a loaded machine the
# wall time mostly measures the wait for a core, the CPU time does not.
# With valgrind installed (and RB_BENCH_IR not 0) each command is also run
# once under callgrind and its instruction count printed ("Ir"): the
# figure that repeats from one run to the next whatever the load.
#
# Usage: review.sh BUILD_DIR [RUNS]   (RUNS: how many copies, default 100)
set -eu
build=$(cd "${1:-build}" && pwd)
copies=${2:-100}
rounds=${RB_BENCH_ROUNDS:-5}
rb=$build/runbook
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat >big.yaml <<'Y'
apiVersion: runbook/v1
name: big
params:
  items: { type: list }
severity:
  - { level: P1 }
steps:
  - name: fan
    foreach: "{{ params.items }}"
    max_parallel: 8
    action: log
    with: { message: "{{ item }}" }
Y
items=$(awk 'BEGIN { printf "["; for (i = 0; i < 2500; i++) printf "%s%d", i ? "," : "", i; print "]" }')
RUNBOOK_NO_LIVE=1 "$rb" run big.yaml --db b.db -q --param "items=$items" >/dev/null 2>&1
events=$(sqlite3 b.db "SELECT count(*) FROM events WHERE run_id = 1")

ir=0
if [ "${RB_BENCH_IR:-1}" != 0 ] && command -v valgrind >/dev/null 2>&1; then
    ir=1
fi

# "W ms (cpu C ms[, Ir N])": the median wall time of `runbook ARGS` over the
# rounds, the CPU time of that round, and the instruction count.
median() {
    i=0
    while [ $i -lt "$rounds" ]; do
        s=$(date +%s%N)
        # times: the children's user and system seconds, on its 2nd line
        cpu=$( ( "$rb" "$@" >/dev/null 2>&1; times ) | awk 'NR == 2 {
            split($1, u, /[ms]/); split($2, y, /[ms]/)
            printf "%d", (u[1] * 60 + u[2] + y[1] * 60 + y[2]) * 1000 }')
        e=$(date +%s%N)
        echo "$(((e - s) / 1000000)) $cpu"
        i=$((i + 1))
    done | sort -n | awk '{ w[NR] = $1; c[NR] = $2 }
        END { m = int((NR + 1) / 2); printf "%d ms (cpu %d ms", w[m], c[m] }'
    if [ $ir = 1 ]; then
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$rb" "$@" 2>&1 >/dev/null |
            awk '/refs:/ { printf ", Ir %s", $NF }'
    fi
    printf ')'
}
echo "review: a run of $events events (load average: $(cut -d' ' -f1 /proc/loadavg))"
echo "  show                  $(median show 1 --db b.db) (target < 100 ms)"
echo "  show --format json    $(median show 1 --db b.db --format json)"
echo "  replay                $(median replay 1 --db b.db) (target < 100 ms)"
echo "  report --format html  $(median report 1 --db b.db --format html) (target < 100 ms)"

i=1
while [ $i -lt "$copies" ]; do
    RUNBOOK_NO_LIVE=1 "$rb" run big.yaml --db b.db -q --param "items=$items" >/dev/null 2>&1
    i=$((i + 1))
done
total=$(sqlite3 b.db "SELECT count(*) FROM events")
echo "review: a journal of $total events in $copies runs (load average: $(cut -d' ' -f1 /proc/loadavg))"
echo "  runs --since 1h                $(median runs --db b.db --since 1h) (target < 50 ms)"
echo "  runs --since 1h --severity P1  $(median runs --db b.db --since 1h --severity P1)"
echo "  report 1 --format html         $(median report 1 --db b.db --format html)"
