#!/bin/sh
# Per-step cost of `runbook run` journaling into PostgreSQL against the
# SQLite file; prints figures, never fails on timing (the machine's load is
# not the engine's fault). Fails only when a run did not resolve or a
# journal does not verify.
#
# The work: a runbook of N steps of `true` (N = 20 unless given), run
# RB_BENCH_ROUNDS times (default 5) into each journal, taken in turn so
# that both see the same load: a file in a fresh directory (--sync full,
# the default) and a local PostgreSQL 15 (tests/e2e/lib_pg.sh: loopback,
# fsync and synchronous_commit at their defaults). Each invocation is timed
# whole from the shell (process start, load and the journal's open
# included); the medians are printed, and per step: the median over N, and
# the difference of the two over N (what PostgreSQL adds to a step).
#
# Usage: pg_step.sh BUILD_DIR [N]   (needs postgresql-15: make deps-test)
set -eu
build=$(cd "${1:-build}" && pwd)
n=${2:-20}
rounds=${RB_BENCH_ROUNDS:-5}
here=$(cd "$(dirname "$0")" && pwd)
case $n in '' | *[!0-9]*) echo "pg_step: N must be a number: $n" >&2; exit 2 ;; esac
RB_SOURCE_DIR=$(cd "$here/../.." && pwd)
. "$RB_SOURCE_DIR/tests/e2e/lib_pg.sh"
pg_available || { echo "pg_step: PostgreSQL 15 is not installed (make deps-test)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
pg_start || { echo "pg_step: cannot start PostgreSQL" >&2; exit 1; }
pg_sql "$PG_URL_SUPER" "CREATE DATABASE bench" >/dev/null
url=$(pg_url "$PG_SUPER" bench)

{
    echo "apiVersion: runbook/v1"
    echo "name: bench-true"
    echo "steps:"
    i=1
    while [ $i -le "$n" ]; do
        echo "  - { name: s$i, run: [\"true\"] }"
        i=$((i + 1))
    done
} >"$tmp/bench.yaml"

now_ns() { date +%s%N; }
# once DB: one run into DB, its wall time in ns on stdout
once() {
    t0=$(now_ns)
    "$build/runbook" run --quiet --db "$1" "$tmp/bench.yaml" >/dev/null 2>"$tmp/run.log" || {
        echo "pg_step: a run into $1 did not resolve:" >&2
        cat "$tmp/run.log" >&2
        exit 1
    }
    t1=$(now_ns)
    echo $((t1 - t0))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# the schema made and the file created outside the rounds
once "$url" >/dev/null
once "$tmp/j.db" >/dev/null
: >"$tmp/file.ns"
: >"$tmp/pg.ns"
r=0
while [ $r -lt "$rounds" ]; do
    once "$tmp/j.db" >>"$tmp/file.ns"
    once "$url" >>"$tmp/pg.ns"
    r=$((r + 1))
done
"$build/runbook" audit verify --db "$tmp/j.db" >/dev/null || { echo "pg_step: the file does not verify" >&2; exit 1; }
"$build/runbook" audit verify --db "$url" >/dev/null || { echo "pg_step: PostgreSQL does not verify" >&2; exit 1; }

f=$(median <"$tmp/file.ns")
p=$(median <"$tmp/pg.ns")
awk -v n="$n" -v r="$rounds" -v f="$f" -v p="$p" 'BEGIN {
    printf "runbook run, %d steps of true, median of %d (process start and load included):\n", n, r
    printf "  SQLite file   %8.1f ms a run, %.2f ms/step\n", f / 1e6, f / 1e6 / n
    printf "  PostgreSQL    %8.1f ms a run, %.2f ms/step\n", p / 1e6, p / 1e6 / n
    printf "  PostgreSQL adds %.2f ms/step (%.2fx the file)\n", (p - f) / 1e6 / n, p / f
}'
