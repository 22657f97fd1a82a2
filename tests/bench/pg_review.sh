#!/bin/sh
# The review commands on a PostgreSQL journal against the file it was
# copied from (prints figures, never fails on timing): a run of about
# 50,000 events (a foreach of 12,500 `log` items, as review.sh makes its
# 10,000), copied with `journal copy` into a PostgreSQL 15 that
# tests/e2e/lib_pg.sh starts on loopback; then `show`, `show --format
# json`, `report` (text, html, json) and `replay` of it from each: the
# median wall time of RB_BENCH_ROUNDS (default 5), the CPU time (user +
# system) of the runbook process in that round, and its peak memory. The
# server's own CPU is not in the figure: on PostgreSQL part of the work is
# its. Fails only when a command fails or the two outputs differ.
#
# Usage: pg_review.sh BUILD_DIR [ITEMS]   (ITEMS: foreach items, default 12500)
set -eu
build=$(cd "${1:-build}" && pwd)
items_n=${2:-12500}
rounds=${RB_BENCH_ROUNDS:-5}
rb=$build/runbook
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/e2e/lib_pg.sh"
pg_available || { echo "pg_review: PostgreSQL 15 is not installed (make deps-test)"; exit 1; }
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
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
items=$(awk -v n="$items_n" 'BEGIN { printf "["; for (i = 0; i < n; i++) printf "%s%d", i ? "," : "", i; print "]" }')
RUNBOOK_NO_LIVE=1 "$rb" run big.yaml --db b.db -q --param "items=$items" >/dev/null 2>&1
events=$(sqlite3 b.db "SELECT count(*) FROM events WHERE run_id = 1")
pg_start || { echo "pg_review: cannot start PostgreSQL"; exit 1; }
pg_sql "$PG_URL_SUPER" "CREATE DATABASE bench" >/dev/null
url=$(pg_url "$PG_SUPER" bench)
"$rb" journal copy --from b.db --to "$url" >/dev/null
pg_sql "$url" "ANALYZE" >/dev/null

# "W ms (cpu C ms, M MB)": the median wall time of `runbook ARGS` over the
# rounds, with the CPU time and peak memory of that round.
median() {
    i=0
    while [ $i -lt "$rounds" ]; do
        s=$(date +%s%N)
        /usr/bin/time -o t.txt -f '%U %S %M' "$rb" "$@" >/dev/null 2>&1 || true
        m=$(tail -1 t.txt)
        e=$(date +%s%N)
        echo "$(((e - s) / 1000000)) $m"
        i=$((i + 1))
    done | sort -n | awk -v r="$rounds" 'NR == int((r + 1) / 2) {
        printf "%d ms (cpu %d ms, %.0f MB)", $1, ($2 + $3) * 1000, $4 / 1024 }'
}

echo "pg_review: run 1 of $events events; the file against its PostgreSQL copy (median of $rounds)"
for cmd in "show 1" "show 1 --format json" "report 1" "report 1 --format html" \
    "report 1 --format json" "replay 1"; do
    # shellcheck disable=SC2086
    "$rb" $cmd --db b.db >f.out 2>&1 || [ "${cmd%% *}" = replay ] || { echo "pg_review: $cmd failed"; exit 1; }
    # shellcheck disable=SC2086
    "$rb" $cmd --db "$url" >p.out 2>&1 || [ "${cmd%% *}" = replay ] || { echo "pg_review: $cmd failed on PostgreSQL"; exit 1; }
    cmp -s f.out p.out || { echo "pg_review: $cmd: the outputs differ"; exit 1; }
    # shellcheck disable=SC2086
    printf '  %-24s file %-32s postgresql %s\n' "$cmd" "$(median $cmd --db b.db)" "$(median $cmd --db "$url")"
done
