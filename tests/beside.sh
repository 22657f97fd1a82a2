#!/bin/sh
# beside.sh A B: runs the shell commands A and B at the same time (make test:
# the world tests, which mostly wait on sockets, beside a CPU-only check),
# prints A's output then B's, each whole, and fails when either failed,
# saying which. Owns nothing but two temporary logs.
#
#   sh tests/beside.sh "COMMAND A" "COMMAND B"
set -u
[ $# = 2 ] || { echo "usage: beside.sh 'COMMAND A' 'COMMAND B'" >&2; exit 2; }
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
sh -c "$1" >"$logs/a" 2>&1 &
a=$!
sh -c "$2" >"$logs/b" 2>&1
rb=$?
wait $a
ra=$?
cat "$logs/a" "$logs/b"
[ $ra = 0 ] || echo "beside.sh: failed (exit $ra): $1" >&2
[ $rb = 0 ] || echo "beside.sh: failed (exit $rb): $2" >&2
[ $ra = 0 ] && [ $rb = 0 ]
