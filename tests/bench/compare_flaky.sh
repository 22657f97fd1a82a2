#!/bin/sh
# The step of tests/bench/compare.sh that fails twice before it succeeds:
# counts its attempts in the file $1, exits 1 on the first two, 0 after.
# Usage: compare_flaky.sh COUNTER_FILE
set -eu
c=$(cat "$1" 2>/dev/null || echo 0)
c=$((c + 1))
echo "$c" >"$1"
[ "$c" -ge 3 ]
