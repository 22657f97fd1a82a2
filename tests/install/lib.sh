# lib.sh — what the install tests share (sourced): a scratch folder removed
# on exit, ok/bad counters, `expect` on a command's exit code and output,
# and the summary line. Env: RB_SOURCE_DIR, RB_BUILD_DIR (tests/install/install.cmake).
set -u
: "${RB_SOURCE_DIR:?RB_SOURCE_DIR must name the repository}"
: "${RB_BUILD_DIR:?RB_BUILD_DIR must name the build folder}"
pass=0
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
unset RUNBOOK_DB RUNBOOK_PLUGINS RUNBOOK_JOURNAL_SYNC

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# run CMD...: output in $tmp/out, exit code in $rc (bounded in time).
run() {
    timeout -k 5 120 "$@" </dev/null >"$tmp/out" 2>&1
    rc=$?
}

# expect WANT_RC TEXT WHAT: checks $rc and that $tmp/out holds TEXT.
expect() {
    if [ "$rc" -ne "$1" ]; then
        bad "$3: exit code $rc, want $1"
        head -n 20 "$tmp/out" | sed 's/^/    | /'
    elif [ -n "$2" ] && ! grep -qF -- "$2" "$tmp/out"; then
        bad "$3: output lacks: $2"
        head -n 20 "$tmp/out" | sed 's/^/    | /'
    else
        ok "$3"
    fi
}

# has PATH WHAT: the file or folder exists.
has() {
    if [ -e "$1" ]; then ok "$2"; else bad "$2: $1 is missing"; fi
}

# new_command FILE HELP: writes FILE, a stand-in for $RUNBOOK that has one
# command more, `frobnicate` ("frobnicate a thing" in `--help`), whose
# --help prints HELP (printf format); every other call goes to $RUNBOOK.
new_command() {
    cat >"$1" <<SH
#!/bin/sh
if [ "\$1" = frobnicate ]; then
    printf '$2'
    exit 0
fi
if [ "\$1" = --help ]; then
    "$RUNBOOK" --help | sed 's/^commands:\$/commands:\n  frobnicate frobnicate a thing/'
    exit 0
fi
exec "$RUNBOOK" "\$@"
SH
    chmod +x "$1"
}

summary() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
