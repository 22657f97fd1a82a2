#!/bin/sh
# `make lint`: clang-tidy and cppcheck over every C file of engine/, actions/
# and tests/ (and through them the headers of include/, engine/, actions/),
# with the checked-in configurations: .clang-tidy (tests/.clang-tidy for the
# tests), tests/lint/cppcheck.supp and tests/lint/jansson.cfg. Fails on any
# finding; prints each as file:line:col. docs/development.md says how to
# suppress a wrong one. Owns no build: it reads BUILD/compile_commands.json
# (CMake writes it at configure time) and writes only under BUILD/lint/.
#
#   sh tests/lint/run.sh BUILD [tidy|cppcheck|all]    (LINT_JOBS, default 2)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD [tidy|cppcheck|all]}" && pwd)
what=${2:-all}
jobs=${LINT_JOBS:-2}
tidy=${CLANG_TIDY:-clang-tidy}
out=$build/lint
[ -f "$build/compile_commands.json" ] || {
    echo "lint: $build/compile_commands.json is missing (configure with CMake first)" >&2; exit 2; }
mkdir -p "$out"
# The project's own translation units only (not the demo target's).
jq --arg src "$src/" '[.[] | select(.file | startswith($src)) |
    select(.file[($src | length):] | test("^(engine|actions|tests)/"))]' \
    "$build/compile_commands.json" >"$out/compile_commands.json"
fail=0

if [ "$what" = all ] || [ "$what" = tidy ]; then
    start=$(date +%s)
    rm -rf "$out/tidy" && mkdir -p "$out/tidy"
    # One clang-tidy per file, LINT_JOBS at a time; each writes its own log.
    jq -r '.[].file' "$out/compile_commands.json" | sort -u |
        xargs -P "$jobs" -I{} sh -c 'log="$3/$(echo "$1" | tr / _).log"
            "$2" -p "$4" --quiet "$1" >"$log" 2>&1 || echo "$1" >>"$log.failed"' \
            sh {} "$tidy" "$out/tidy" "$out"
    n=$(jq length "$out/compile_commands.json")
    # A header's finding shows once per file that includes it: count it once.
    cat "$out"/tidy/*.log | grep -E '^/.*: (warning|error): ' | sort -u >"$out/tidy.txt" || true
    found=$(wc -l <"$out/tidy.txt")
    if [ "$found" -gt 0 ] || ls "$out"/tidy/*.failed >/dev/null 2>&1; then
        sed "s|^$src/||" "$out/tidy.txt"
        [ "$found" -gt 0 ] || cat "$out"/tidy/*.log
        echo "lint: clang-tidy: $found finding(s) in $n files ($(($(date +%s) - start))s)" >&2
        fail=1
    else
        echo "lint: clang-tidy: no findings in $n files ($(($(date +%s) - start))s)"
    fi
fi

if [ "$what" = all ] || [ "$what" = cppcheck ]; then
    start=$(date +%s)
    mkdir -p "$out/cppcheck"
    # --cppcheck-build-dir keeps results of unchanged files between runs.
    if cppcheck --project="$out/compile_commands.json" --cppcheck-build-dir="$out/cppcheck" \
        --enable=warning,performance,portability --inline-suppr \
        --library=posix --library="$src/tests/lint/jansson.cfg" \
        --suppressions-list="$src/tests/lint/cppcheck.supp" \
        --error-exitcode=1 -q -j "$jobs" \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' 2>"$out/cppcheck.txt"; then
        echo "lint: cppcheck: no findings ($(($(date +%s) - start))s)"
    else
        sed "s|^$src/||" "$out/cppcheck.txt" | awk 1 # its last line lacks the newline
        echo "lint: cppcheck: $(grep -c ': [a-z]*: ' "$out/cppcheck.txt") finding(s) ($(($(date +%s) - start))s)" >&2
        fail=1
    fi
fi
exit $fail
