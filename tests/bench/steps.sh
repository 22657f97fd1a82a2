#!/bin/sh
# Per-step cost of the engine, two ways; prints figures, never fails on
# timing (the machine's load is not the engine's fault).
#
#   1. bench_engine steps N: a run of N `exec /bin/true` steps, journaled
#      through the writer thread at FULL (the default) and at NORMAL, each
#      against its floor built in the same round — per step, posix_spawn
#      of /bin/true and one single-row commit at that synchronous level —
#      over RB_BENCH_ROUNDS rounds (default 5), with the medians. The
#      target: engine/floor at most 1.10x at both levels.
#   2. the runbook binary end to end (loading the file included) on the
#      same N steps, at both levels, for the operator's view.
#
# Usage: steps.sh BUILD_DIR [N]
set -eu
build=$(cd "${1:-build}" && pwd)
n=${2:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$build/bench_engine" steps "$n"

{
    echo "apiVersion: runbook/v1"
    echo "name: bench-true"
    echo "steps:"
    i=1
    while [ $i -le "$n" ]; do
        echo "  - { name: s$i, run: [/bin/true] }"
        i=$((i + 1))
    done
} >"$tmp/bench.yaml"

now_ns() { date +%s%N; }
for sync in full normal; do
    rm -f "$tmp/j.db" "$tmp/j.db-wal" "$tmp/j.db-shm"
    t0=$(now_ns)
    "$build/runbook" run --quiet --sync "$sync" --db "$tmp/j.db" "$tmp/bench.yaml" >/dev/null 2>&1
    t1=$(now_ns)
    awk -v n="$n" -v e="$((t1 - t0))" -v s="$sync" 'BEGIN {
        printf "runbook run, %d steps, --sync %-6s %8.1f ms, %.3f ms/step (process start and load included)\n", n, s, e / 1e6, e / 1e6 / n
    }'
done

t0=$(now_ns)
"$build/runbook" validate --quiet "$tmp/bench.yaml"
t1=$(now_ns)
awk -v n="$n" -v v="$((t1 - t0))" 'BEGIN { printf "validate of the %d-step file: %.1f ms\n", n, v / 1e6 }'
