#!/bin/sh
# The journal's speed (DESIGN §9, issue 4): the writer thread's throughput
# under many concurrent runs against SQLite's own batched insert rate for
# rows of the same size, in the same run (bench_journal), and the disk
# flushes per step of a sequential run of the real binary (fsync/fdatasync
# counted by strace when it can trace; bench_journal's commit counts
# otherwise). Prints figures; never fails on timing.
# Usage: journal.sh BUILD_DIR [RUNS] [EVENTS] [STEPS]
set -eu
build=$(cd "${1:-build}" && pwd)
runs=${2:-1000}
events=${3:-20}
steps=${4:-200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$build/bench_journal" "$tmp" "$runs" "$events" "$steps"

# The real binary: a sequential run of N exec steps, its disk flushes
# counted. (The journal's writer thread does the syncing, hence -f.)
n=100
{
    echo "apiVersion: runbook/v1"
    echo "name: bench-fsync"
    echo "steps:"
    i=1
    while [ $i -le $n ]; do
        echo "  - { name: s$i, run: [/bin/true] }"
        i=$((i + 1))
    done
} >"$tmp/seq.yaml"
if command -v strace >/dev/null 2>&1 &&
    strace -f -c -e trace=fsync,fdatasync -o "$tmp/strace.out" \
        "$build/runbook" run --quiet --db "$tmp/seq.db" "$tmp/seq.yaml" >/dev/null 2>&1; then
    syncs=$(awk '$NF == "fsync" || $NF == "fdatasync" { s += $4 } END { print s + 0 }' "$tmp/strace.out")
    awk -v s="$syncs" -v n="$n" 'BEGIN {
        printf "runbook run of %d exec steps (synchronous=FULL): %d fsync+fdatasync calls, %.2f per step (strace)\n", n, s, s / n }'
else
    echo "runbook run: strace unavailable here; see the commits per step above (one commit = one WAL fsync at FULL)"
fi
