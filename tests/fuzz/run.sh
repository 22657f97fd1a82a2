#!/bin/sh
# Runs one libFuzzer target of tests/fuzz (README.md there).
#
#   run.sh smoke BIN NAME SECONDS   ctest `fuzz.NAME`: replays every checked-in
#                                   input (seeds and regress/ reproducers), then
#                                   fuzzes SECONDS from them in a scratch corpus
#   run.sh run BIN NAME SECONDS     `make fuzz`: fuzzes SECONDS with the corpus
#                                   kept in $RB_BUILD_DIR/fuzz/NAME (not committed)
#
# Seeds come from three places: tests/fuzz/corpus/NAME (small, checked in),
# tests/fuzz/regress/NAME (crash reproducers of fixed findings, checked in)
# and what seeds.py extracts from runbooks/, tests/fixtures, tests/spec and
# tests/e2e. A finding (crash-, leak-, timeout- or oom-…; a slow-unit- is
# only noted) is saved in $RB_BUILD_DIR/fuzz/NAME-artifacts/ and makes the
# command fail. A unit may take 60 s in a run, 30 s in the smoke: generous,
# so that a fuzzer stopped for a while (SIGSTOP) does not count it as a hang.
# Prints one summary line:
#   fuzz NAME: N execs in S s (E exec/s), cov C ft F, corpus K, findings X
# Env: RB_SOURCE_DIR (the source tree), RB_BUILD_DIR (where corpora go).
# The fuzzer runs under nice -n 19: the machine is shared.
set -u
mode=$1 bin=$2 name=$3 secs=$4
src=${RB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$src/tests/fuzz
out=${RB_BUILD_DIR:-.}/fuzz
mkdir -p "$out"
seeds=$out/$name-seeds
arts=$out/$name-artifacts
rm -rf "$seeds"
mkdir -p "$seeds" "$arts"
[ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$seeds"/ 2>/dev/null
python3 "$here/seeds.py" "$name" "$src" "$seeds" || exit 1

# Per-target options: input size bound and the dictionary.
opts="-timeout=$([ "$mode" = run ] && echo 60 || echo 30) -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$arts/"
case $name in
  load|config|journal) opts="$opts -max_len=16384" ;;
  *) opts="$opts -max_len=4096" ;;
esac
[ -f "$here/$name.dict" ] && opts="$opts -dict=$here/$name.dict"
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

log=$out/$name.log
: >"$log"
fail=0
# 1. Every reproducer of a fixed finding must pass.
if ls "$here/regress/$name"/* >/dev/null 2>&1; then
  if ! nice -n 19 "$bin" $opts "$here/regress/$name"/* >>"$log" 2>&1; then
    echo "fuzz $name: a regression input fails again (tests/fuzz/regress/$name):"
    tail -40 "$log"
    exit 1
  fi
fi
if [ "$mode" = smoke ]; then
  corpus=$out/$name-smoke
  rm -rf "$corpus"
else
  corpus=$out/$name
fi
mkdir -p "$corpus"
before=$(ls "$arts" | grep -vc "^slow-unit-")
nice -n 19 "$bin" $opts -max_total_time="$secs" "$corpus" "$seeds" >>"$log" 2>&1 || fail=1
after=$(ls "$arts" | grep -vc "^slow-unit-")
# The stats libFuzzer prints last.
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1 ft \2, corpus \3/p')
echo "fuzz $name: ${execs:-?} execs in ${secs} s (${rate:-?} exec/s), ${cov:-cov ?}, findings $((after - before))"
if [ "$fail" = 1 ] || [ "$after" != "$before" ]; then
  grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5
  grep -E 'Test unit written to|artifact_prefix' "$log" | tail -3
  echo "fuzz $name: log in $log"
  exit 1
fi
[ "$mode" = smoke ] && rm -rf "$corpus"
exit 0
