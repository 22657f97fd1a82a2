#!/bin/sh
# validate_hostile.sh — `runbook validate` against hostile input, generated
# at test time: binary garbage, a 50 MB file, an alias bomb ("billion
# laughs"), 10,000 nested lists (flow and block), a NUL byte after a valid
# runbook, empty files, a FIFO, and a file that does not exist.
#
# Each must be rejected with exit code 2 and a "FILE:LINE:COL: error:" line,
# without a crash (no exit code of 128 or more) and in under 5 s (the time is
# printed; 5 s only catches a hang or a blow-up, it is not a benchmark).
#
# Env: RUNBOOK (the binary).
set -u

: "${RUNBOOK:?RUNBOOK must name the runbook binary}"

pass=0
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib_validate.sh"

show_output() {
    # Cut long lines: a diagnostic may quote hostile bytes.
    head -n 20 "$tmp/out" | cut -c1-200 | sed 's/^/    | /'
}

# Keeps a failing input for a post-mortem (the temp dir is removed).
keep() {
    kept=$(mktemp "${TMPDIR:-/tmp}/rb-hostile-$2.XXXXXX") && cp "$1" "$kept" &&
        echo "    input kept in $kept"
}

# 1 when $tmp/out has a line "$1:LINE:COL: error: ..." (LINE, COL numbers).
has_diag() {
    DIAG_FILE=$1 awk '
        BEGIN { p = ENVIRON["DIAG_FILE"] ":"; found = 0 }
        index($0, p) == 1 && substr($0, length(p) + 1) ~ /^[0-9]+:[0-9]+: error: / { found = 1 }
        END { exit !found }' "$tmp/out"
}

# check NAME FILE: exit 2, a positioned diagnostic, no crash, under 5 s.
check() {
    name=$1
    file=$2
    run_validate "$file"
    why=""
    if [ "$rc" -ge 124 ]; then
        why="exit code $rc (crash, signal or timeout)"
    elif [ "$rc" -ne 2 ]; then
        why="exit code $rc, want 2"
    fi
    if ! has_diag "$file"; then
        why="${why:+$why; }no \"$file:LINE:COL: error:\" line"
    fi
    if [ "$ms" -gt 5000 ]; then
        why="${why:+$why; }took $ms ms (over 5 s)"
    fi
    if [ -z "$why" ]; then
        ok "$name: rejected in $ms ms"
    else
        bad "$name: $why ($ms ms)"
        show_output
        if [ "$(wc -c <"$file")" -le 1048576 ]; then keep "$file" "$name"; fi
    fi
}

if [ ! -x "$RUNBOOK" ]; then
    bad "no runbook binary at $RUNBOOK"
    echo "$pass passed, $fail failed"
    exit 1
fi

# --- binary garbage ---------------------------------------------------------
head -c 4096 /dev/urandom >"$tmp/garbage.yaml"
check garbage "$tmp/garbage.yaml"

# --- 50 MB: a runbook's header, then one enormous block scalar -----------
big="$tmp/big.yaml"
{
    printf 'apiVersion: runbook/v1\nname: big\ndescription: |\n'
    yes '  filler filler filler filler filler filler filler filler filler filler filler filler' |
        head -c 52428800
    printf '\n'
} >"$big"
check big-50MB "$big"
rm -f "$big"

# --- alias bomb: 10 levels of 10 references, 10^10 nodes if expanded ----
bomb="$tmp/alias_bomb.yaml"
{
    printf 'apiVersion: runbook/v1\nname: alias-bomb\n'
    printf 'x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    i=1
    while [ "$i" -le 9 ]; do
        p=$((i - 1))
        printf 'x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n' \
            "$i" "$i" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p"
        i=$((i + 1))
    done
    printf 'steps:\n  - name: boom\n    run: *a9\n'
} >"$bomb"
check alias-bomb "$bomb"

# --- 10,000 nested lists --------------------------------------------------
# Written with awk: a shell loop of 10,000 appends is slow in some shells.
awk 'BEGIN {
    printf "apiVersion: runbook/v1\nname: deep\nsteps: ";
    for (i = 0; i < 10000; i++) printf "[";
    for (i = 0; i < 10000; i++) printf "]";
    printf "\n" }' >"$tmp/deep_flow.yaml"
check deep-flow-10000 "$tmp/deep_flow.yaml"

awk 'BEGIN {
    printf "apiVersion: runbook/v1\nname: deep\nsteps:\n  ";
    for (i = 0; i < 10000; i++) printf "- ";
    printf "x\n" }' >"$tmp/deep_block.yaml"
check deep-block-10000 "$tmp/deep_block.yaml"

# --- a NUL byte after a complete, valid runbook --------------------------
# A reader that stops at the NUL would accept it; YAML forbids the byte.
printf 'apiVersion: runbook/v1\nname: nul-byte\nsteps:\n  - name: hello\n    action: log\n    with: { message: hello }\n# trailing \000 garbage\n' \
    >"$tmp/nul.yaml"
check nul-byte "$tmp/nul.yaml"

# --- empty input ----------------------------------------------------------
: >"$tmp/empty.yaml"
check empty-0-bytes "$tmp/empty.yaml"
printf '\n   \n\n' >"$tmp/blank.yaml"
check blank-lines "$tmp/blank.yaml"

# --- a FIFO: opening it for reading would wait for a writer forever -----
if mkfifo "$tmp/fifo.yaml" 2>/dev/null; then
    check fifo "$tmp/fifo.yaml"
    grep -q "not a regular file" "$tmp/out" && ok "fifo: said not a regular file" ||
        bad "fifo: no \"not a regular file\""
fi

# --- a file that does not exist -------------------------------------------
missing="$tmp/no/such/runbook.yaml"
run_validate "$missing"
if [ "$rc" -eq 2 ] && grep -qF "$missing" "$tmp/out"; then
    ok "missing-file: exit 2, message names the file ($ms ms)"
else
    bad "missing-file: exit code $rc (want 2), file named in output: $(grep -cF "$missing" "$tmp/out") line(s)"
    show_output
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
