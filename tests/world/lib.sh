# lib.sh — sourced by the world tests (tests/world/t_*.sh). Starts a fresh
# world per case, breaks it, runs a runbook from runbooks/ against it, and
# checks the world's state and the journal afterwards. The world is stopped
# on every exit (trap), also when a check fails.
#
# Needs: RUNBOOK (the binary), RB_SOURCE_DIR; python3, jq.
set -eu
: "${RUNBOOK:?RUNBOOK must name the runbook binary}"
: "${RB_SOURCE_DIR:?RB_SOURCE_DIR must name the source tree}"
WORLD_PY=$RB_SOURCE_DIR/tests/world/world.py
RUNBOOKS=$RB_SOURCE_DIR/runbooks
T=$(mktemp -d "${TMPDIR:-/tmp}/rbworld.XXXXXX")
DB=$T/journal.db
CASE=setup
START=$(date +%s)

finish() {
    rc=$?
    [ -d "$T/w" ] && /usr/bin/python3 "$WORLD_PY" down "$T/w" >/dev/null 2>&1 || true
    if [ $rc -ne 0 ]; then
        echo "FAILED in case: $CASE" >&2
        [ -f "$T/out" ] && { echo "--- runbook output (tail)"; tail -n 60 "$T/out"; } >&2
        [ -f "$T/w/world.log" ] && { echo "--- world.log (tail)"; tail -n 20 "$T/w/world.log"; } >&2
    fi
    rm -rf "$T"
    exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }
ok() { echo "ok   [$CASE] $* ($(($(date +%s) - START))s)"; }

# world_up [NODES]: a fresh world in $T/w; its env (NODE1_RPC …) is sourced.
world_up() {
    [ -d "$T/w" ] && /usr/bin/python3 "$WORLD_PY" down "$T/w" >/dev/null 2>&1
    rm -rf "$T/w" "$DB"
    /usr/bin/python3 "$WORLD_PY" up "$T/w" --nodes "${1:-4}" >/dev/null || fail "the world did not start"
    . "$T/w/world.env"
    SYSTEMCTL=$WORLD_BIN/systemctl
}
# brk FAULT [UNIT]: break the world the way a scenario says.
brk() {
    jq -nc --arg f "$1" --arg u "${2:-}" '{fault: $f, unit: (if $u == "" then null else $u end)}' |
        curl -fsS --max-time 60 -H 'Content-Type: application/json' --data-binary @- "$WORLD_CTL/break" >/dev/null ||
        fail "break $*"
}
# wstate JQ: a value of the world's state.
wstate() { curl -fsS --max-time 60 "$WORLD_CTL/state" | jq -r "$1"; }
# alert FILE NAME [label=value...]: an Alertmanager webhook body.
alert() {
    f=$1 name=$2; shift 2
    labels=$(printf '%s\n' "alertname=$name" "$@" | jq -Rn '[inputs | split("=") | {(.[0]): (.[1:] | join("="))}] | add')
    jq -n --argjson l "$labels" '{version: "4", status: "firing", alerts: [{status: "firing", labels: $l, annotations: {}, startsAt: "2026-01-01T00:00:00Z"}]}' >"$f"
}
# rb WANT_EXIT ARGS...: runbook run ARGS with the journal $DB; checks the exit code.
rb() {
    want=$1; shift
    set +e
    "$RUNBOOK" run --db "$DB" --dir "$RUNBOOKS" "$@" >"$T/out" 2>&1
    got=$?
    set -e
    last_run >"$T/show.json" 2>/dev/null || true
    [ "$got" = "$want" ] || fail "runbook run $* exited $got, want $want"
}
# rb_tty WANT_EXIT TEXT=ANSWER... -- ARGS...: the same at a terminal,
# answering approval questions (tests/e2e/pty_answer.py types ANSWER once
# TEXT shows).
rb_tty() {
    want=$1; shift
    printf '#!/bin/sh\nexec "%s" run --db "%s" --dir "%s" "$@"\n' "$RUNBOOK" "$DB" "$RUNBOOKS" >"$T/rbrun"
    chmod +x "$T/rbrun"
    n=$# i=0
    while [ $i -lt $n ]; do   # rotate the arguments, putting the command after --
        a=$1; shift; i=$((i + 1))
        if [ "$a" = -- ]; then set -- "$@" -- "$T/rbrun"; else set -- "$@" "$a"; fi
    done
    set +e
    /usr/bin/python3 "$RB_SOURCE_DIR/tests/e2e/pty_answer.py" "$T/out" "$@" >/dev/null 2>&1
    got=$?
    set -e
    last_run >"$T/show.json" 2>/dev/null || true
    [ "$got" = "$want" ] || fail "runbook run (tty) $* exited $got, want $want"
}
# last_run: the newest top-level run of the journal as show --format json.
last_run() {
    id=$("$RUNBOOK" runs --db "$DB" --format json --limit 0 | jq -r '[.[] | select(.trigger | startswith("runbook:") | not)] | max_by(.id) | .id')
    "$RUNBOOK" show --db "$DB" --format json "$id"
}
# jr FILTER: a jq filter over the newest run (as rb left it) must print true.
jr() {
    got=$(jq -r "$1" "$T/show.json") || fail "jq $1"
    [ "$got" = true ] || fail "journal: $1 is $got"
}
status_is() { jr ".status == \"$1\""; }
severity_is() { jr "[.events[] | select(.type == \"severity_assigned\") | .data.level][-1] == \"$1\""; }
step_is() { jr "[.events[] | select((.type == \"step_finished\" or .type == \"step_skipped\") and .step == \"$1\") | .data.status][-1] == \"$2\""; }
step_ran() { jr "any(.events[]; .type == \"step_started\" and .step == \"$1\")"; }
step_not_ran() { jr "all(.events[]; .type != \"step_started\" or .step != \"$1\")"; }
no_step_ran() { jr "all(.events[]; .type != \"step_started\")"; }
# messages_have TEXT: the world's webhook sink got a message containing TEXT.
messages_have() {
    n=$(wstate "[.messages[] | select(.text | contains(\"$1\"))] | length")
    [ "$n" -gt 0 ] || fail "no message to the webhook contains \"$1\" (got: $(wstate '[.messages[].text[0:60]]'))"
}
no_messages() { [ "$(wstate '.messages | length')" = 0 ] || fail "unexpected messages: $(wstate '[.messages[].text[0:60]]')"; }
