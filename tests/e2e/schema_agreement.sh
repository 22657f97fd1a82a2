#!/bin/sh
# schema_agreement.sh — the JSON Schema (schemas/runbook.schema.json, what
# editors see) and `runbook validate` (the authority) must agree.
#
#   - every runbook under runbooks/ and every tests/fixtures/valid/*.yaml:
#     the schema accepts it and `runbook validate` exits 0;
#   - every tests/fixtures/invalid/*.yaml: `runbook validate` exits 2, and
#     when the fixture's header says "# schema: reject" the schema rejects it
#     too ("# schema: accept" marks a semantic error the schema cannot see:
#     the schema may accept it). A file the YAML parser cannot read counts as
#     a schema reject.
#
# The schema side is tests/schema/check.mjs (ajv + yaml, from
# tests/schema/package-lock.json); its node_modules is installed with
# `npm ci` on first use (in place, or in a temporary copy when the source
# tree is read-only).
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

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

cd "$RB_SOURCE_DIR" || exit 1
schema=schemas/runbook.schema.json

# --- the schema checker and its node modules -------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    bad "node and npm are needed (make deps installs them)"
    finish
fi
checker_dir=tests/schema
if [ ! -d "$checker_dir/node_modules/ajv" ] || [ ! -d "$checker_dir/node_modules/yaml" ]; then
    if [ -w "$checker_dir" ]; then
        # Two test runs may start at once (normal and ASan builds): one
        # installs, the other waits for it.
        lock="$checker_dir/.npm-install.lock"
        waited=0
        while ! mkdir "$lock" 2>/dev/null; do
            waited=$((waited + 1))
            if [ "$waited" -gt 300 ]; then
                bad "waited 300 s for $lock (remove it if no install is running)"
                finish
            fi
            sleep 1
        done
        if [ ! -d "$checker_dir/node_modules/ajv" ] || [ ! -d "$checker_dir/node_modules/yaml" ]; then
            echo "installing node modules in $checker_dir (npm ci)"
            (cd "$checker_dir" && npm ci --no-audit --no-fund --prefer-offline) >"$tmp/npm.log" 2>&1
            npm_rc=$?
        else
            npm_rc=0
        fi
        rmdir "$lock"
    else
        echo "installing node modules in a temporary copy of $checker_dir (npm ci)"
        mkdir "$tmp/schema" &&
            cp "$checker_dir/package.json" "$checker_dir/package-lock.json" "$checker_dir/check.mjs" "$tmp/schema/"
        checker_dir="$tmp/schema"
        (cd "$checker_dir" && npm ci --no-audit --no-fund --prefer-offline) >"$tmp/npm.log" 2>&1
        npm_rc=$?
    fi
    if [ "$npm_rc" -ne 0 ]; then
        bad "npm ci failed in $checker_dir"
        tail -n 20 "$tmp/npm.log" | sed 's/^/    | /'
        finish
    fi
fi

# schema_check FILE...: the checker's verdicts, one line per file, into
# $tmp/schema.out.
schema_check() {
    if ! node "$checker_dir/check.mjs" "$schema" "$@" >"$tmp/schema.out" 2>"$tmp/schema.err"; then
        bad "check.mjs failed"
        sed 's/^/    | /' "$tmp/schema.err"
        finish
    fi
}

# verdict FILE: sets $v to "ok", "reject" or "missing" and $reason to why.
verdict() {
    line=$(F=$1 awk 'BEGIN { f = ENVIRON["F"] }
        $0 == "ok " f { print; exit }
        index($0, "reject " f ": ") == 1 { print; exit }' "$tmp/schema.out")
    case "$line" in
    "ok "*) v=ok; reason="" ;;
    "reject "*) v=reject; reason=${line#"reject $1: "} ;;
    *) v=missing; reason="no verdict from check.mjs" ;;
    esac
}

# Runs `runbook validate FILE`; the exit code in $rc, the output in $tmp/out.
run_validate() {
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 5 30 "$RUNBOOK" validate "$1" </dev/null >"$tmp/out" 2>&1
    else
        "$RUNBOOK" validate "$1" </dev/null >"$tmp/out" 2>&1
    fi
    rc=$?
}

show_output() {
    head -n 20 "$tmp/out" | sed 's/^/    | /'
}

have_binary=1
if [ ! -x "$RUNBOOK" ]; then
    bad "no runbook binary at $RUNBOOK"
    have_binary=0
fi

# --- runbooks and valid fixtures: both accept -----------------------------
find runbooks tests/fixtures/valid -type f \( -name '*.yaml' -o -name '*.yml' \) 2>/dev/null |
    LC_ALL=C sort >"$tmp/all"
: >"$tmp/valid"
while IFS= read -r f; do
    if grep -q '^apiVersion:' "$f"; then
        echo "$f" >>"$tmp/valid"
    else
        echo "skip $f (no apiVersion: not a runbook)"
    fi
done <"$tmp/all"
if [ ! -s "$tmp/valid" ]; then
    bad "no runbooks found under runbooks/ and tests/fixtures/valid/"
else
    # shellcheck disable=SC2046 # paths in this repository have no spaces
    schema_check $(cat "$tmp/valid")
    while IFS= read -r f; do
        verdict "$f"
        why=""
        [ "$v" = ok ] || why="schema: $reason"
        if [ "$have_binary" = 1 ]; then
            run_validate "$f"
            [ "$rc" -eq 0 ] || why="${why:+$why; }runbook validate: exit code $rc, want 0"
        fi
        if [ -z "$why" ]; then
            ok "$f: valid for both"
        else
            bad "$f: $why"
            [ "$have_binary" = 1 ] && [ "$rc" -ne 0 ] && show_output
        fi
    done <"$tmp/valid"
fi

# --- invalid fixtures -----------------------------------------------------
ls tests/fixtures/invalid/*.yaml >"$tmp/invalid" 2>/dev/null
if [ ! -s "$tmp/invalid" ]; then
    bad "no fixtures in tests/fixtures/invalid"
    finish
fi
# shellcheck disable=SC2046
schema_check $(cat "$tmp/invalid")
while IFS= read -r f; do
    want=$(sed -n 's/^# schema: *\([a-z]*\).*/\1/p' "$f" | head -n 1)
    verdict "$f"
    why=""
    case "$want" in
    reject) [ "$v" = reject ] || why="header says schema: reject, but the schema accepts it" ;;
    accept) ;;
    *) why="no '# schema: reject' or '# schema: accept' header" ;;
    esac
    if [ "$have_binary" = 1 ]; then
        run_validate "$f"
        [ "$rc" -eq 2 ] || why="${why:+$why; }runbook validate: exit code $rc, want 2"
    fi
    if [ -z "$why" ]; then
        note=""
        [ "$want" = accept ] && [ "$v" = reject ] && note=" (the schema rejects it too: $reason)"
        ok "$f: schema $v, validator rejects$note"
    else
        bad "$f: $why"
        [ "$have_binary" = 1 ] && [ "$rc" -ne 2 ] && show_output
    fi
done <"$tmp/invalid"

finish
