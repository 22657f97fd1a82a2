#!/bin/sh
# Runs every benchmark and prints its figures (`make bench`).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
sh "$dir/validate.sh" "${1:-build}"
sh "$dir/steps.sh" "${1:-build}" 1000
bench="$(cd "${1:-build}" && pwd)/bench_engine"
"$bench" flat   # steps.sh ran `bench_engine steps` already
"$bench" load
"$bench" idle
sh "$dir/journal.sh" "${1:-build}"
sh "$dir/ssh.sh" "${1:-build}"
sh "$dir/serve.sh" "${1:-build}"
sh "$dir/review.sh" "${1:-build}"
