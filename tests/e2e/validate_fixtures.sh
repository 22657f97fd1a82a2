#!/bin/sh
# validate_fixtures.sh — `runbook validate` against the fixtures.
#
# Every tests/fixtures/invalid/*.yaml must be rejected with exit code 2 and,
# for each of its "# expect: LINE:COL SUBSTRING" header lines, a diagnostic
# "FILE:LINE:COL: error: ...SUBSTRING..." (stdout or stderr), and with a
# "# errors: N" line exactly N errors (one diagnostic per problem). Every runbook
# under runbooks/ (recursively) and every tests/fixtures/valid/*.yaml must be
# accepted (exit 0), and so must every complete runbook shown in the
# README and docs/*.md.
#
# Times are printed, not asserted (timing assertions are not tests here);
# only a validation slower than 5 s fails, to catch a hang.
#
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u

: "${RUNBOOK:?RUNBOOK must name the runbook binary}"
: "${RB_SOURCE_DIR:?RB_SOURCE_DIR must name the repository root}"

pass=0
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib_validate.sh"

show_output() {
    sed 's/^/    | /' "$tmp/out" | head -n 40
}

# 1 when $tmp/out has a line that starts with $1 and contains $2 after it.
has_diag() {
    DIAG_PREFIX=$1 DIAG_TEXT=$2 awk '
        BEGIN { p = ENVIRON["DIAG_PREFIX"]; t = ENVIRON["DIAG_TEXT"]; found = 0 }
        index($0, p) == 1 && index(substr($0, length(p) + 1), t) > 0 { found = 1 }
        END { exit !found }' "$tmp/out"
}

if [ ! -x "$RUNBOOK" ]; then
    bad "no runbook binary at $RUNBOOK"
    echo "$pass passed, $fail failed"
    exit 1
fi

cd "$RB_SOURCE_DIR" || exit 1

# --- invalid fixtures: exit 2 and the expected diagnostics -----------------
n_invalid=0
for f in tests/fixtures/invalid/*.yaml; do
    [ -f "$f" ] || continue
    n_invalid=$((n_invalid + 1))
    sed -n 's/^# expect: //p' "$f" >"$tmp/expects"
    if [ ! -s "$tmp/expects" ]; then
        bad "$f: fixture has no '# expect: LINE:COL SUBSTRING' line"
        continue
    fi
    run_validate "$f"
    why=""
    if [ "$rc" -ge 124 ]; then
        why="exit code $rc (crash, signal or timeout)"
    elif [ "$rc" -ne 2 ]; then
        why="exit code $rc, want 2"
    fi
    while IFS= read -r exp; do
        pos=${exp%% *}
        text=${exp#* }
        if ! has_diag "$f:$pos: error: " "$text"; then
            why="${why:+$why; }no diagnostic \"$f:$pos: error: ...$text...\""
        fi
    done <"$tmp/expects"
    # "# errors: N": exactly N errors, so one problem gives one diagnostic
    want=$(sed -n 's/^# errors: //p' "$f")
    if [ -n "$want" ]; then
        got=$(grep -c "^$f:[0-9]*:[0-9]*: error: " "$tmp/out")
        [ "$got" = "$want" ] || why="${why:+$why; }$got errors, want $want"
    fi
    if [ "$ms" -gt 5000 ]; then
        why="${why:+$why; }took $ms ms (over 5 s: a hang?)"
    fi
    if [ -z "$why" ]; then
        ok "$f rejected as expected ($ms ms)"
    else
        bad "$f: $why ($ms ms)"
        show_output
    fi
done
[ "$n_invalid" -gt 0 ] || bad "no fixtures in tests/fixtures/invalid"

# --- runbooks and valid fixtures: exit 0 ---------------------------------
# A YAML file under runbooks/ that is not a runbook (a demo's config, say)
# has no apiVersion line and is skipped, with a note.
find runbooks tests/fixtures/valid -type f \( -name '*.yaml' -o -name '*.yml' \) 2>/dev/null |
    LC_ALL=C sort >"$tmp/valid"
n_valid=0
while IFS= read -r f; do
    if ! grep -q '^apiVersion:' "$f"; then
        echo "skip $f (no apiVersion: not a runbook)"
        continue
    fi
    n_valid=$((n_valid + 1))
    run_validate "$f"
    if [ "$rc" -eq 0 ] && [ "$ms" -le 5000 ]; then
        ok "$f valid ($ms ms)"
    else
        bad "$f: exit code $rc, want 0 ($ms ms)"
        show_output
    fi
done <"$tmp/valid"
[ "$n_valid" -gt 0 ] || bad "no runbooks found under runbooks/ and tests/fixtures/valid/"

# --- the complete runbooks shown in the README and docs/*.md: exit 0 -------
# Every ```yaml block that holds an apiVersion line is written to a file of
# its own and validated.
for doc in README.md docs/*.md; do
    [ -f "$doc" ] || continue
    stem=$(echo "$doc" | tr '/.' '__')
    awk -v dir="$tmp" -v stem="$stem" '
        /^```yaml[ \t]*$/ { inb = 1; n++; f = dir "/" stem "_example_" n ".yaml"; printf "" > f; next }
        /^```/ && inb { inb = 0; close(f); next }
        inb { print > f }' "$doc"
    for f in "$tmp"/"$stem"_example_*.yaml; do
        [ -f "$f" ] || continue
        grep -q '^apiVersion:' "$f" || continue
        run_validate "$f"
        name="$doc, yaml block ${f##*_example_}"; name=${name%.yaml}
        if [ "$rc" -eq 0 ]; then
            ok "$name valid ($ms ms)"
        else
            bad "$name: exit code $rc, want 0"
            show_output
        fi
    done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
