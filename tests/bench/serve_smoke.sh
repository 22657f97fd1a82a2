#!/bin/sh
# bench.serve_smoke (ctest): tests/bench/serve.sh in miniature (1 s of wrk,
# 10 sequential alerts, 100 waiting runs) — it checks that the bench still
# runs and prints every figure, never what the figures are.
# Env: RB_BUILD_DIR (the build), RB_SOURCE_DIR.
set -u
out=$(RB_BENCH_SECS=1 RB_BENCH_LAT=10 RB_BENCH_WAITING=100 sh "$RB_SOURCE_DIR/tests/bench/serve.sh" "$RB_BUILD_DIR" 2>&1)
rc=$?
printf '%s\n' "$out"
case $out in *"SKIP"*) exit 0 ;; esac
[ $rc -eq 0 ] || { echo "FAIL serve.sh exited $rc"; exit 1; }
fail=0
for want in "0. disk: fdatasync" "1. nginx" "runbook serve (each alert journaled)" "ratio:" \
    "journal:" "2. webhook request" "journal mono_ns" "client, answer read" \
    "runs waiting in an approval: server RSS" "ingest with them waiting"; do
    case $out in *"$want"*) ;; *) echo "FAIL no line with: $want"; fail=1 ;; esac
done
exit $fail
