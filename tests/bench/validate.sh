#!/bin/sh
# How long `runbook validate` takes on the repository's runbooks (best of 5).
# Usage: validate.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
best=""
for i in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "$build/runbook" validate --quiet "$src/runbooks" >/dev/null
    t1=$(date +%s%N)
    t=$(((t1 - t0) / 1000))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
files=$(find "$src/runbooks" -name '*.yaml' | wc -l)
echo "validate runbooks/ ($files files): best of 5 = $((best / 1000)).$(printf %03d $((best % 1000))) ms"
