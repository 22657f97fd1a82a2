# lib_validate.sh — what the validate e2e scripts share (sourced, not a test:
# ctest skips tests/e2e/lib*.sh). Needs RUNBOOK and a $tmp directory; sets
# pass/fail counters through ok and bad.

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# Milliseconds since the epoch (GNU date has %N; elsewhere whole seconds).
now_ms() {
    t=$(date +%s%N)
    case "$t" in
    *[!0-9]*) echo $(($(date +%s) * 1000)) ;;
    *) echo $((t / 1000000)) ;;
    esac
}

# Runs `runbook validate FILE`, output in $tmp/out, exit code in $rc, time in
# $ms. A hard timeout (when coreutils' timeout exists) keeps a hang bounded.
run_validate() {
    t0=$(now_ms)
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 5 30 "$RUNBOOK" validate "$1" </dev/null >"$tmp/out" 2>&1
    else
        "$RUNBOOK" validate "$1" </dev/null >"$tmp/out" 2>&1
    fi
    rc=$?
    ms=$(($(now_ms) - t0))
}
