#!/bin/sh
# The verify of tests/bench/compare.sh: every marker DIR/m.1 … DIR/m.N is
# there and the counter says 3 attempts; then it leaves DIR/verified.
# Usage: compare_verify.sh DIR N
set -eu
i=1
while [ "$i" -le "$2" ]; do
    [ -e "$1/m.$i" ] || { echo "verify: $1/m.$i is missing" >&2; exit 1; }
    i=$((i + 1))
done
[ "$(cat "$1/counter")" = 3 ] || { echo "verify: counter is not 3" >&2; exit 1; }
: >"$1/verified"
