#!/bin/sh
# coverage.sh BUILD — the report half of `make coverage` (docs/testing.md):
# reads the .gcda counts the suite left in BUILD (a gcc --coverage build,
# -DRB_COVERAGE=ON) with gcovr once, then prints the line and branch figures
# of engine/ and of actions/ apart and together, and writes the per-file
# HTML report BUILD/coverage/index.html (and coverage.json, the counts).
# Runs no test and changes no source. Needs gcovr (Debian's, DEB_COV_PKGS).
set -eu
build=${1:?usage: coverage.sh BUILD}
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
out="$build/coverage"
command -v gcovr >/dev/null 2>&1 || { echo "coverage: gcovr is missing (make deps-coverage)" >&2; exit 1; }
find "$build" -name '*.gcda' | grep -q . ||
    { echo "coverage: no .gcda counts in $build: build with -DRB_COVERAGE=ON and run the tests" >&2; exit 1; }
rm -rf "$out"; mkdir -p "$out"
# One pass of gcov over every object; the summaries below read its JSON.
# Only the engine's own sources count: tests, helpers and generated files
# are left out.
gcovr -r "$src" -j 2 --filter "$src/engine/" --filter "$src/actions/" \
    --exclude-unreachable-branches --json "$out/coverage.json" "$build" >/dev/null
summary() { # NAME FILTER...: "NAME  lines L% (c/t)  branches B% (c/t)"
    name=$1; shift
    gcovr -r "$src" -a "$out/coverage.json" "$@" --print-summary -o /dev/null |
        awk -v n="$name" '
            /^lines:/    { sub(/^lines: */, ""); sub(/ out of /, "/"); l = $0 }
            /^branches:/ { sub(/^branches: */, ""); sub(/ out of /, "/"); b = $0 }
            END { printf "%-16s lines %-20s branches %s\n", n, l, b }'
}
echo "coverage ($(date -u +%Y-%m-%d), gcc --coverage, gcovr $(gcovr --version | awk 'NR==1{print $2}')):"
summary "engine/"          --filter "$src/engine/"
summary "actions/"         --filter "$src/actions/"
summary "engine+actions"   --filter "$src/engine/" --filter "$src/actions/"
summary "engine/journal/"  --filter "$src/engine/journal/"
gcovr -r "$src" -a "$out/coverage.json" --html-details "$out/index.html" \
    --html-title "runbook coverage" >/dev/null
# The per-file table, most lines left uncovered first: what to test next.
gcovr -r "$src" -a "$out/coverage.json" --json-summary "$out/summary.json"
python3 - "$out/summary.json" > "$out/files.txt" <<'PY'
import json, sys
files = json.load(open(sys.argv[1]))["files"]
files.sort(key=lambda f: f["line_covered"] - f["line_total"])
pct = lambda v: "-" if v is None else "%.1f%%" % v
print("%-40s %7s %7s %7s %7s" % ("file", "lines", "branch", "funcs", "missed"))
for f in files:
    print("%-40s %7s %7s %7s %7d" % (f["filename"], pct(f["line_percent"]),
          pct(f["branch_percent"]), pct(f["function_percent"]),
          f["line_total"] - f["line_covered"]))
PY
echo "per file: $out/files.txt   HTML: $out/index.html"
