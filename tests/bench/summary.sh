#!/bin/sh
# The engine's key figures of every benchmark the issues asked for, in one
# Markdown table with each figure's target, the load average when its
# benchmark started and the command that printed it (tests/bench/README.md
# keeps a copy). It reads the log tests/bench/run_all.sh writes and parses
# the figures the benchmarks printed: it measures nothing and never
# compares a figure with its target. A figure the log does not have (a
# benchmark that failed or was skipped) reads "not in the log".
# Usage: summary.sh [LOG]   (default build/bench.log)
set -eu
log=${1:-build/bench.log}
[ -r "$log" ] || { echo "summary: no log $log: run tests/bench/run_all.sh first" >&2; exit 1; }

# section NAME: the lines of that benchmark's output, its header first
section() { awk -v s="$1" '/^== / && $2 != s ":" { on = ($2 == s) } on' "$log"; }
# get NAME SED: the first line of section NAME that the sed expression SED
# (an s///p) prints, or "not in the log"
get() {
    v=$(section "$1" | sed -n "$2" | sed -n 1p)
    echo "${v:-not in the log}"
}
# row NAME WHAT FIGURE TARGET: one line of the table
row() {
    hdr=$(section "$1" | sed -n 1p)
    load=$(echo "$hdr" | awk -F' [|] ' '{ split($2, l, " "); print l[1] }')
    cmd=$(echo "$hdr" | awk -F' [|] ' '{ print $3 }')
    failed=$(section "$1" | grep -q "^== $1: FAILED" && echo " (the benchmark failed)" || true)
    echo "| $2 | $3$failed | $4 | ${load:-?} | \`${cmd:-not run}\` |"
}
num='[0-9][0-9.,]*'

sed -n 's/^## //p' "$log"
echo
echo "| benchmark (issue) | figure | target | load | command |"
echo "|---|---|---|---|---|"
row validate "validate the repository's runbooks (2)" \
    "$(get validate "s/^validate runbooks\/ (\([0-9]* files\)): best of 5 = \($num ms\)/\2 for \1 (best of 5)/p")" "— (reported)"
row steps "1,000 exec steps, engine / floor at FULL, the default (3, 13)" \
    "$(get steps "s/.*engine\/floor at FULL (the default): \($num\)x.*/\1×/p")" "≤ 1.10×"
row steps "1,000 exec steps, engine / floor at NORMAL (3, 13)" \
    "$(get steps "s/.*engine\/floor at FULL (the default): .*; at NORMAL: \($num\)x.*/\1×/p")" "≤ 1.10×"
row steps "engine ms/step at FULL / NORMAL, median (3)" \
    "$(get steps "s/^  median *$num *\($num\) *${num}x *$num *\($num\) .*/\1 \/ \2 ms/p")" "—"
row steps "\`runbook run\` of 1,000 steps, whole process, FULL (3)" \
    "$(get steps "s/^runbook run, .*--sync full .* \($num ms\/step\).*/\1/p")" "—"
row flat "per step while holding 1 GiB live (3)" \
    "$(get flat "s/^  holding 1 GiB.*ms\/step  *\([-+]$num%\).*/\1/p")" "< +10%"
row load "load + validate + compile of 1,000 runbooks (3)" \
    "$(get load "s/.*: \($num runbooks\/s\).*/\1/p")" "≥ 5,000 runbooks/s"
row idle "100,000 runs waiting in a sleep: RSS a run (3)" \
    "$(get idle "s/^  started all.*RSS \($num MiB\) -> \($num MiB\): \($num KiB a run\)/\3 (\1 → \2)/p")" "≤ 10 KiB (1 GiB in all)"
row idle "the same: worst loop lag (3)" \
    "$(get idle "s/^  worst loop lag over 2 s of waiting \($num ms\).*/\1/p")" "responsive"
row journal "writer thread vs SQLite batched insert, FULL (4)" \
    "$(get journal "s/^  journal writer thread, synchronous=FULL: *\($num events\/s\) *= *\($num%\) of sqlite.*/\2 (\1)/p")" "≥ 50%"
row journal "the same at NORMAL (4)" \
    "$(get journal "s/^  journal writer thread, synchronous=NORMAL: *\($num events\/s\) *= *\($num%\) of sqlite.*/\2 (\1)/p")" "—"
row journal "commits per step of a sequential run (4)" \
    "$(get journal "s/^  writer mode: \($num\) commits.*/\1/p")" "— (reported)"
row journal "fsync + fdatasync per step, 100-step \`runbook run\` (4)" \
    "$(get journal "s/.*calls, \($num\) per step (strace).*/\1/p")" "— (reported)"
row ssh "ssh action / plain ssh, warm connection (14)" \
    "$(get ssh "s/.*ssh action \($num ms\/step\), plain ssh.* \($num ms\/step\): \(${num}x\) (target.*/\3 (\1 vs \2)/p")" "≤ 1.2×"
row ssh "Ansible over ssh, same remote work (14)" \
    "$(get ssh "s/.*ansible-playbook.*: \($num ms\/task\) (\(${num}x\) the ssh action)/\1, \2 the action/p")" "— (reported)"
row serve "webhook ingest, each alert durable, vs nginx (8)" \
    "$(get serve "s/^ *ratio: \($num%\) of nginx.*/\1/p") of nginx ($(get serve "s/^ *runbook serve (each alert journaled): \($num req\/s\).*/\1/p"))" "≥ 50%"
row serve "webhook ingest p99 (8)" \
    "$(get serve "s/^ *runbook serve (each alert journaled): .*p99 \($num ms\).*/\1/p")" "< 5 ms"
row serve "webhook → first action, median (8)" \
    "$(get serve "s/.*run_started → attempt_started: median \($num ms\).*/\1/p")" "< 1 ms"
row serve "10,000 runs waiting: RSS, and ingest beside idle (8)" \
    "$(get serve "s/^  3\. .*server RSS \($num MiB\).*/\1/p"); $(get serve "s/^ *ingest with them waiting: \($num req\/s\).*(idle: \($num req\/s\).*/\1 (idle \2)/p")" "— (reported)"
row review "\`show\` of a 10,000-event run (9)" \
    "$(get review "s/^  show  *\($num ms\) (cpu \($num ms\).*/\1 (cpu \2)/p")" "< 100 ms"
row review "\`replay\` of it (9)" \
    "$(get review "s/^  replay  *\($num ms\) (cpu \($num ms\).*/\1 (cpu \2)/p")" "< 100 ms"
row review "\`report --format html\` of it (9)" \
    "$(get review "s/^  report --format html  *\($num ms\) (cpu \($num ms\).*/\1 (cpu \2)/p")" "< 100 ms"
row review "\`runs --since 1h\`, 1,000,000 events (9)" \
    "$(get review "s/^  runs --since 1h  *\($num ms\) (cpu \($num ms\).*/\1 (cpu \2)/p")" "< 50 ms"
row compare "s/step: engine, Ansible (local), sh loop (12)" \
    "$(get compare "s/^  seconds per step.*: engine \($num\), ansible \($num\), sh \($num\)/\1, \2, \3/p")" "— (reported)"
row compare "engine vs Ansible, engine vs sh (12)" \
    "$(get compare "s/^  engine vs ansible: \(${num}x\) the time.*engine vs sh: \(${num}x\) the time/\1, \2/p")" "— (reported)"
