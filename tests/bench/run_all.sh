#!/bin/sh
# Runs every benchmark (`make bench`), printing their figures as they come,
# then the engine's key figures of them all in one table with their targets
# (tests/bench/summary.sh). Everything printed is also kept in a log,
# BUILD_DIR/bench.log (or $RB_BENCH_LOG), that summary.sh reads again:
# each benchmark's output follows a line
#   == NAME | LOAD1 LOAD5 LOAD15 | COMMAND
# with the load average when it started and the command that ran it; the
# log starts with "## " lines naming the date and the machine.
# A benchmark that fails does not stop the others; the exit status is 1
# then. Nothing here compares a figure with its target.
# Usage: run_all.sh [BUILD_DIR]
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
b=${1:-build}
build=$(cd "$b" && pwd)
log=${RB_BENCH_LOG:-$build/bench.log}
: >"$log"
status=0
rcf=$(mktemp)
trap 'rm -f "$rcf"' EXIT

# the disk of the temporary directory, where every benchmark keeps its journal
tdir=${TMPDIR:-/tmp}
dev=$(df -P "$tdir" | awk 'NR == 2 { print $1 }')
fs=$(df -PT "$tdir" | awk 'NR == 2 { print $2 }')
rot=$(cat "/sys/block/$(basename "$dev" | sed 's/[0-9]*$//')/queue/rotational" 2>/dev/null || echo "?")
case $rot in 0) rot="not rotational" ;; 1) rot="rotational" ;; *) rot="rotational: unknown" ;; esac
{
    echo "## date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "## machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p), kernel $(uname -r), $tdir on $dev ($fs, $rot)"
    echo "## load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "## commit: $(git -C "$dir" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee -a "$log"

# bench NAME SHOWN CMD...: runs CMD with its output on stdout and in the log,
# after the header line (SHOWN: the command as a person would type it)
bench() {
    name=$1 shown=$2
    shift 2
    echo "== $name | $(cut -d' ' -f1-3 /proc/loadavg) | $shown" | tee -a "$log"
    { rc=0; "$@" 2>&1 || rc=$?; echo "$rc" >"$rcf"; } | tee -a "$log"
    rc=$(cat "$rcf")
    if [ "$rc" != 0 ]; then
        echo "== $name: FAILED (exit $rc)" | tee -a "$log"
        status=1
    fi
}

bench validate "sh tests/bench/validate.sh $b" sh "$dir/validate.sh" "$build"
bench steps "sh tests/bench/steps.sh $b 1000" sh "$dir/steps.sh" "$build" 1000
bench flat "$b/bench_engine flat" "$build/bench_engine" flat # steps.sh ran `bench_engine steps` already
bench load "$b/bench_engine load" "$build/bench_engine" load
bench idle "$b/bench_engine idle" "$build/bench_engine" idle
bench journal "sh tests/bench/journal.sh $b" sh "$dir/journal.sh" "$build"
bench ssh "sh tests/bench/ssh.sh $b" sh "$dir/ssh.sh" "$build"
bench serve "sh tests/bench/serve.sh $b" sh "$dir/serve.sh" "$build"
bench review "sh tests/bench/review.sh $b" sh "$dir/review.sh" "$build"
bench compare "sh tests/bench/compare.sh $b" sh "$dir/compare.sh" "$build"
echo "## load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"

echo
sh "$dir/summary.sh" "$log"
exit $status
