#!/bin/sh
# Review commands on big runs (`make bench`; prints figures, never fails on
# timing). Targets (issue 9): `show`, `replay` and `report --format html`
# of a run of 10,000 events each under 100 ms; `runs --since` on a journal
# of 1,000,000 events under 50 ms.
#
#   1. a run of about 10,000 events (a foreach of 2,500 `log` items):
#      the median of RB_BENCH_ROUNDS (default 5) timings of each command;
#   2. the same run journaled 100 times (about 1,000,000 events): the
#      median of `runs --since 1h` and `runs --since 1h --severity P1`.
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

# median ms of `runbook ARGS` over the rounds
median() {
    i=0
    while [ $i -lt "$rounds" ]; do
        s=$(date +%s%N)
        "$rb" "$@" >/dev/null
        e=$(date +%s%N)
        echo $(((e - s) / 1000000))
        i=$((i + 1))
    done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
echo "review: a run of $events events (load average: $(cut -d' ' -f1 /proc/loadavg))"
echo "  show                  $(median show 1 --db b.db) ms (target < 100)"
echo "  show --format json    $(median show 1 --db b.db --format json) ms"
echo "  replay                $(median replay 1 --db b.db) ms (target < 100)"
echo "  report --format html  $(median report 1 --db b.db --format html) ms (target < 100)"

i=1
while [ $i -lt "$copies" ]; do
    RUNBOOK_NO_LIVE=1 "$rb" run big.yaml --db b.db -q --param "items=$items" >/dev/null 2>&1
    i=$((i + 1))
done
total=$(sqlite3 b.db "SELECT count(*) FROM events")
echo "review: a journal of $total events in $copies runs"
echo "  runs --since 1h                $(median runs --db b.db --since 1h) ms (target < 50)"
echo "  runs --since 1h --severity P1  $(median runs --db b.db --since 1h --severity P1) ms"
