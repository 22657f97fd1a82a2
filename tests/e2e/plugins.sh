#!/bin/sh
# plugins.sh — external action modules through the real binary:
#
#   - a runbook using the example module's `hello` action is valid with
#     `--plugins DIR` (and with $RUNBOOK_PLUGINS), and "unknown action"
#     without; its `with:` is checked against the module's parameter map;
#   - `runbook run --plugins DIR` runs it (and so does --dry-run: the action
#     is read-only);
#   - `runbook actions --plugins DIR` lists it, with the module it came from;
#   - each refused module (tests/plugins/broken.c) makes validate, run and
#     actions exit 2 with "runbook CMD: FILE: why", and runs nothing.
#
#   - the example module, built with the command docs/plugins.md gives,
#     loads.
#
# Env: RUNBOOK (the binary), RB_PLUGIN_DIR (the folder of rb_hello.so),
# RB_SOURCE_DIR (the repository root),
# RB_BROKEN_<VARIANT> (each refused module; tests/plugins/plugins.cmake).
set -u

: "${RUNBOOK:?RUNBOOK must name the runbook binary}"
: "${RB_PLUGIN_DIR:?RB_PLUGIN_DIR must name the folder of rb_hello.so}"

pass=0
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
unset RUNBOOK_PLUGINS

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
show_output() { head -n 20 "$tmp/out" | sed 's/^/    | /'; }

# rb ARGS...: runs the binary, output in $tmp/out, exit code in $rc.
rb() {
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 5 60 "$RUNBOOK" "$@" </dev/null >"$tmp/out" 2>&1
    else
        "$RUNBOOK" "$@" </dev/null >"$tmp/out" 2>&1
    fi
    rc=$?
}

# expect WANT_RC TEXT WHAT: checks $rc and that $tmp/out holds TEXT.
expect() {
    if [ "$rc" -ne "$1" ]; then
        bad "$3: exit code $rc, want $1"
        show_output
    elif [ -n "$2" ] && ! grep -qF -- "$2" "$tmp/out"; then
        bad "$3: output lacks: $2"
        show_output
    else
        ok "$3"
    fi
}

cat >"$tmp/greet.yaml" <<'YAML'
apiVersion: runbook/v1
name: greet
title: Greet the on-call through the example module
params:
  who: { default: on-call }
steps:
  - name: greet
    action: hello
    with: { name: "{{ params.who }}", delay: 50ms }
    timeout: 10s
  - name: echo
    action: log
    with: { message: "module said: {{ steps.greet.message }}" }
YAML
sed 's/name: "{{ params.who }}"/nme: "{{ params.who }}"/' "$tmp/greet.yaml" >"$tmp/typo.yaml"

# --- validate ---------------------------------------------------------------
rb validate "$tmp/greet.yaml"
expect 2 'unknown action "hello"' "validate without --plugins: unknown action"

rb validate --plugins "$RB_PLUGIN_DIR" "$tmp/greet.yaml"
expect 0 "" "validate --plugins DIR: valid"

RUNBOOK_PLUGINS=$RB_PLUGIN_DIR rb validate "$tmp/greet.yaml"
expect 0 "" "validate with \$RUNBOOK_PLUGINS: valid"
unset RUNBOOK_PLUGINS

rb validate --plugins "$RB_PLUGIN_DIR" "$tmp/typo.yaml"
expect 2 'action "hello" has no parameter "nme" (did you mean "name"?)' \
    "validate --plugins DIR: the module's parameter map checks with:"

rb validate --plugins "$tmp/no-such-dir" "$tmp/greet.yaml"
expect 2 "runbook validate: $tmp/no-such-dir: No such file or directory" \
    "validate --plugins of a missing folder"

# --- run ------------------------------------------------------------------
rb run --plugins "$RB_PLUGIN_DIR" --db "$tmp/j.db" --format json -p who=ops "$tmp/greet.yaml"
expect 0 "module said: hello, ops" "run --plugins DIR: the module's action runs"

rb run --db "$tmp/j.db" "$tmp/greet.yaml"
expect 2 'unknown action "hello"' "run without --plugins: unknown action, nothing run"

rb run --plugins "$RB_PLUGIN_DIR" --db "$tmp/j.db" --format json --dry-run "$tmp/greet.yaml"
expect 0 "module said: hello, on-call" "run --dry-run: a read-only module action still runs"

# --- actions ----------------------------------------------------------------
rb actions --plugins "$RB_PLUGIN_DIR" --format json hello
expect 0 '"module": "' "actions --plugins DIR lists the module's action"
grep -qF "rb_hello.so" "$tmp/out" || bad "actions --format json: no module path"

rb actions hello
expect 2 'unknown action "hello"' "actions without --plugins does not know it"

# --- built as docs/plugins.md says ------------------------------------------
if [ -n "${RB_SOURCE_DIR:-}" ] && command -v cc >/dev/null 2>&1 && command -v pkg-config >/dev/null 2>&1; then
    mkdir "$tmp/mods"
    # shellcheck disable=SC2046 # pkg-config output is a list of flags
    if cc -shared -fPIC -O2 -Wall -Wextra -I"$RB_SOURCE_DIR/include" \
        $(pkg-config --cflags jansson libuv) -o "$tmp/mods/rb_hello.so" \
        "$RB_SOURCE_DIR/actions/external/hello.c" >"$tmp/out" 2>&1; then
        rb validate --plugins "$tmp/mods" "$tmp/greet.yaml"
        expect 0 "" "a module built with the command in docs/plugins.md loads"
    else
        bad "the build command in docs/plugins.md fails"
        show_output
    fi
else
    echo "skip building the example by hand (no cc, pkg-config or RB_SOURCE_DIR)"
fi

# --- refused modules ----------------------------------------------------------
refused() { # VAR WANT
    eval "so=\${$1:-}"
    if [ -z "$so" ]; then
        bad "$1 is not set"
        return
    fi
    dir=$(dirname "$so")
    rb validate --plugins "$dir" "$tmp/greet.yaml"
    expect 2 "runbook validate: $so: $2" "validate refuses $(basename "$so"): $2"
    rb run --plugins "$dir" --db "$tmp/j.db" "$tmp/greet.yaml"
    expect 2 "runbook run: $so: $2" "run refuses $(basename "$so")"
    rb actions --plugins "$dir"
    expect 2 "runbook actions: $so: $2" "actions refuses $(basename "$so")"
}
refused RB_BROKEN_BAD_ABI "ABI version 99, this engine speaks 1"
refused RB_BROKEN_BAD_SIZE "struct_size 16 is smaller than rb_action_t"
refused RB_BROKEN_NO_ENTRY "the module has no symbol rb_action_module_entry"
refused RB_BROKEN_CLASH 'action "exec" is already built in'
refused RB_BROKEN_UNDEF "undefined symbol: rb_action_no_such_service"
refused RB_BROKEN_NO_FLAGS "action \"broken\" must set exactly one of RB_ACTION_SIDE_EFFECTS and RB_ACTION_READ_ONLY"
refused RB_BROKEN_BAD_DEFAULT 'action "broken": the default of "level" is not JSON text'
refused RB_BROKEN_SECOND_BAD "descriptor 1: ABI version 99, this engine speaks 1"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
