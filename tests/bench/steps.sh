#!/bin/sh
# Per-step cost of the engine: a runbook of N `exec /bin/true` steps, run
# and journaled, against a plain sh loop running /bin/true N times, in the
# same benchmark run. Prints figures; never fails on timing.
# Usage: steps.sh BUILD_DIR [N]
set -eu
build=$(cd "${1:-build}" && pwd)
n=${2:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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

t0=$(now_ns)
i=0
while [ $i -lt "$n" ]; do /bin/true; i=$((i + 1)); done
t1=$(now_ns)
loop_ns=$((t1 - t0))

t0=$(now_ns)
"$build/runbook" run --quiet --db "$tmp/j.db" "$tmp/bench.yaml" 2>/dev/null
t1=$(now_ns)
engine_ns=$((t1 - t0))

t0=$(now_ns)
"$build/runbook" validate --quiet "$tmp/bench.yaml"
t1=$(now_ns)
validate_ns=$((t1 - t0))

awk -v n="$n" -v l="$loop_ns" -v e="$engine_ns" -v v="$validate_ns" 'BEGIN {
    printf "steps: %d x exec /bin/true\n", n
    printf "  sh loop:          %8.3f ms total, %.3f ms/step\n", l / 1e6, l / 1e6 / n
    printf "  runbook run:      %8.3f ms total, %.3f ms/step (journal synchronous=full)\n", e / 1e6, e / 1e6 / n
    printf "  ratio engine/loop: %.2fx\n", e / l
    printf "  validate of the %d-step file: %.1f ms\n", n, v / 1e6
}'
