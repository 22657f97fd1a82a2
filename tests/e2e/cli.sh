#!/bin/sh
# The command line as scripts use it: --help on every command, exit codes
# (0 resolved, 1 failed, 2 invalid input or usage, 3 not confirmed), JSON
# output, and clear errors for a bad journal file.
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
expect_rc() { # WANT DESCRIPTION CMD...
    want=$1 what=$2
    shift 2
    "$@" >out.log 2>err.log
    rc=$?
    if [ "$rc" -eq "$want" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $what: exit $rc, want $want"; sed 's/^/    | /' err.log | head -5; fi
}
expect_grep() { # FILE PATTERN DESCRIPTION
    if grep -q -- "$2" "$1"; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $3: no \"$2\" in $1"; sed 's/^/    | /' "$1" | head -5; fi
}

# every command the top-level help lists, and one spelling: "usage:"
cmds=$("$RUNBOOK" --help | awk '/^  [a-z]+ / { print $1 }' | sort -u)
[ "$(echo "$cmds" | wc -l)" -ge 14 ] && pass=$((pass + 1)) ||
    { fail=$((fail + 1)); echo "FAIL the top-level help lists few commands: $cmds"; }
for cmd in $cmds; do
    expect_rc 0 "$cmd --help" "$RUNBOOK" "$cmd" --help
    if [ "$(head -n 1 out.log | cut -c1-15)" = "usage: runbook " ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $cmd --help does not start with \"usage: runbook\": $(head -n 1 out.log)"; fi
done
expect_rc 0 "--help" "$RUNBOOK" --help
expect_rc 2 "no command" "$RUNBOOK"
expect_rc 2 "unknown command" "$RUNBOOK" frobnicate
expect_grep err.log 'unknown command "frobnicate"' "unknown command is named"
# an unknown command or top-level option is a usage error like any other:
# one line, then where to read more (not the whole help)
for bad in frobnicate -V "help frobnicate"; do
    # shellcheck disable=SC2086
    expect_rc 2 "runbook $bad" "$RUNBOOK" $bad
    [ "$(wc -l <err.log)" -eq 2 ] && grep -q "^Try 'runbook --help'.$" err.log && pass=$((pass + 1)) ||
        { fail=$((fail + 1)); echo "FAIL runbook $bad: $(wc -l <err.log) lines, want 2 ending in Try 'runbook --help'."; }
done
expect_grep err.log 'unknown command "frobnicate"' "help names the unknown command"
expect_rc 2 "runbook -V" "$RUNBOOK" -V
expect_grep err.log "runbook: unknown option '-V'" "an unknown top-level option is named"
# --version is in --help (and so in runbook(1)'s OPTIONS)
expect_rc 0 "--help" "$RUNBOOK" --help
expect_grep out.log "^  --version " "--help lists --version"
expect_rc 2 "bad option" "$RUNBOOK" run --no-such-option x
# a usage error is one line and a pointer to --help, not the whole help
expect_grep err.log "runbook run: unknown option '--no-such-option'" "a bad option of run is named"
expect_grep err.log "Try 'runbook run --help'" "run points to its --help"
[ "$(wc -l <err.log)" -eq 2 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL run usage error: $(wc -l <err.log) lines, want 2"; }
expect_rc 2 "run without a runbook" "$RUNBOOK" run
[ "$(wc -l <err.log)" -eq 2 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL run without a runbook: $(wc -l <err.log) lines, want 2"; }
expect_rc 0 "help --help" "$RUNBOOK" help --help
expect_grep out.log "usage: runbook COMMAND" "help --help prints the help"
expect_rc 2 "audit with no subcommand" "$RUNBOOK" audit --db j.db
expect_grep err.log "the subcommand is missing: runbook audit verify" "the missing subcommand is named"
expect_rc 2 "journal with no subcommand" "$RUNBOOK" journal --db j.db
expect_grep err.log "the subcommand is missing: runbook journal prune" "the missing subcommand is named"

cat >ok.yaml <<'YAML'
apiVersion: runbook/v1
name: ok
params: { who: { default: world } }
steps:
  - { name: hello, run: [echo, "hello {{ params.who }}"] }
YAML
cat >fails.yaml <<'YAML'
apiVersion: runbook/v1
name: fails
steps:
  - { name: boom, run: [sh, -c, "echo broken >&2; exit 4"] }
YAML
cat >quiet.yaml <<'YAML'
apiVersion: runbook/v1
name: quiet
detect: [ { name: up, run: ["true"] } ]
confirm: "!checks.up.ok"
steps: [ { name: fix, run: [touch, fixed] } ]
YAML
cat >invalid.yaml <<'YAML'
apiVersion: runbook/v1
name: invalid
steps:
  - { name: a, run: [echo], retyr: 3 }
YAML

expect_rc 0 "resolved run" "$RUNBOOK" run --db j.db ok.yaml
expect_grep err.log "resolved" "summary names the outcome"
expect_rc 1 "failed run" "$RUNBOOK" run --db j.db fails.yaml
expect_grep err.log "broken" "a failed step's stderr is shown"
expect_rc 3 "not confirmed" "$RUNBOOK" run --db j.db quiet.yaml
[ -e fixed ] && { fail=$((fail + 1)); echo "FAIL not confirmed run touched something"; }
expect_rc 2 "invalid runbook" "$RUNBOOK" run --db j.db invalid.yaml
expect_grep err.log "invalid.yaml:4:29: error: unknown key \"retyr\"" "diagnostic with file:line:col"
expect_rc 2 "undeclared param" "$RUNBOOK" run --db j.db -p nope=1 ok.yaml
expect_grep err.log 'no parameter "nope"' "undeclared param is named"
expect_rc 2 "bad --param" "$RUNBOOK" run --db j.db -p novalue ok.yaml
expect_grep err.log "Try 'runbook run --help'." "a bad --param says where help is"
expect_rc 2 "missing runbook" "$RUNBOOK" run --db j.db no-such-runbook
expect_rc 0 "run by name" "$RUNBOOK" run --db j.db --dir . ok
# what is wrong is said as it is, not as "no runbook named"
expect_rc 2 "--dir that does not exist" "$RUNBOOK" run --db j.db --dir ./no-such-folder ok
expect_grep err.log "no-such-folder: no such folder" "a missing --dir is said"
expect_rc 2 "run a device" "$RUNBOOK" run --db j.db /dev/zero
expect_grep err.log "/dev/zero: not a regular file" "a device is not a runbook file"
printf '{"labels": {"a": "x\\u0000y"}}' >nul-alert.json
expect_rc 2 "alert with a NUL" "$RUNBOOK" run --db j.db --alert nul-alert.json ok.yaml
expect_grep err.log "an alert may not hold a NUL character" "a NUL in an alert is said in our words"
expect_rc 0 "quiet run" "$RUNBOOK" run --quiet --db j.db ok.yaml
expect_grep err.log "1 step: 1 ok, 0 failed" "the quiet summary still counts the steps"
expect_rc 0 "--sync normal" "$RUNBOOK" run --quiet --sync normal --db j.db ok.yaml
expect_rc 2 "--sync bogus" "$RUNBOOK" run --quiet --sync bogus --db j.db ok.yaml
expect_grep err.log "must be full or normal" "a bad --sync is named"

expect_rc 0 "json progress" "$RUNBOOK" run --db j.db --format json -p who=json ok.yaml
expect_grep out.log '"type":"run_finished"' "JSON lines on stdout"
expect_grep out.log '"stdout":"hello json\\n"' "JSON lines carry results"

expect_rc 0 "runs" "$RUNBOOK" runs --db j.db
expect_grep out.log "fails" "runs lists the failed run"
expect_rc 0 "runs json" "$RUNBOOK" runs --db j.db --format json
expect_grep out.log '"status": *"failed"' "runs --format json"
expect_rc 0 "show" "$RUNBOOK" show --db j.db 2
expect_grep out.log "boom" "show prints the steps"
expect_rc 2 "show unknown run" "$RUNBOOK" show --db j.db 999
expect_rc 2 "show no arg" "$RUNBOOK" show --db j.db

printf 'this is not a database, just text\n%.0s' $(seq 1 200) >notdb.db
expect_rc 2 "journal not sqlite" "$RUNBOOK" run --db notdb.db ok.yaml
expect_grep err.log "not a database" "not-a-database error is clear"
expect_rc 2 "runs on a missing journal" "$RUNBOOK" runs --db missing.db

# --alert with no NAME: the runbook whose triggers match the alert runs
mkdir -p books
cat >books/disk.yaml <<'YAML'
apiVersion: runbook/v1
name: disk
triggers: [ { match: { alertname: "=~Disk(Space|Inode)Low" } } ]
params: { host: { default: "{{ alert.labels.instance }}" } }
steps: [ { name: note, run: [sh, -c, 'echo "disk $1" > picked', x, "{{ params.host }}"] } ]
YAML
cat >books/node.yaml <<'YAML'
apiVersion: runbook/v1
name: node
triggers: [ { match: { alertname: NodeDown } } ]
steps: [ { name: note, run: [sh, -c, 'echo node > picked'] } ]
YAML
printf '{"labels":{"alertname":"DiskSpaceLow","instance":"n7"}}' >disk-alert.json
printf '{"labels":{"alertname":"CpuHot"}}' >cpu-alert.json
expect_rc 0 "run --alert picks by trigger" "$RUNBOOK" run --db j.db --dir books --alert disk-alert.json
[ "$(cat books/picked 2>/dev/null)" = "disk n7" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL the disk runbook did not run with the alert's label"; }
expect_rc 2 "run --alert with no match" "$RUNBOOK" run --db j.db --dir books --alert cpu-alert.json
expect_grep err.log "no runbook under books has triggers matching" "no match is explained"
expect_rc 0 "named runbook, alert not matching: warned, run" "$RUNBOOK" run --db j.db --dir books --alert cpu-alert.json node
expect_grep err.log "matches none of node's triggers" "the mismatch is a warning"

# approval: --yes, the operator's answer at a terminal (a pty from script(1)),
# and no terminal and no timeout: denied at once
cat >appr.yaml <<'YAML'
apiVersion: runbook/v1
name: appr
steps: [ { name: risky, approval: {}, run: [touch, risky-ran] } ]
YAML
expect_rc 0 "--yes approves" "$RUNBOOK" run --quiet --yes --db a.db appr.yaml
[ -e risky-ran ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL --yes did not run the step"; }
rm -f risky-ran
expect_rc 1 "no terminal, no --yes: denied" "$RUNBOOK" run --db a.db appr.yaml </dev/null
expect_grep err.log "approval denied by nobody: no terminal" "the denial is said"
[ ! -e risky-ran ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL a denied step ran"; }
# At a real terminal (a pty from tests/e2e/pty_answer.py): yes runs the
# step, no denies it, and the journal names the login user who answered.
me=$(logname 2>/dev/null || id -un)
pty() { RUNBOOK_NO_LIVE=1 python3 "$RB_SOURCE_DIR/tests/e2e/pty_answer.py" tty.log "$@"; }
ptyok() { # description, then a command that must succeed
    local what=$1; shift
    if "$@"; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $what"; sed 's/^/    | /' tty.log | head -30; fi
}
pty "approve step risky?=y" -- "$RUNBOOK" run --db a.db appr.yaml
ptyok "yes at the terminal runs the step" test -e risky-ran
ptyok "the approval names who answered" grep -q "approved.* by $me" tty.log
rm -f risky-ran
pty "approve step risky?=n" -- "$RUNBOOK" run --db a.db appr.yaml
ptyok "no at the terminal: the step is denied and did not run" \
    sh -c "! test -e risky-ran && grep -q 'approval denied.* by $me' tty.log && grep -q 'risky denied' tty.log"

# Regression: denying one approval at a terminal and reaching the next one
# reopened the terminal while it was still closing (libuv assertion, exit
# 134, the run left running); and after a question timed out, the next one
# said there was no terminal.
cat >appr2.yaml <<'YAML'
apiVersion: runbook/v1
name: appr2
steps:
  - { name: first, approval: {}, run: [touch, first-ran], on_failure: continue }
  - { name: second, approval: { timeout: 200ms }, run: [touch, second-ran], on_failure: continue }
  - { name: third, approval: {}, run: [touch, third-ran] }
YAML
pty "approve step first?=n" "approve step second?=-" "approve step third?=y" -- \
    "$RUNBOOK" run --db a2.db appr2.yaml
rc=$?
ptyok "no, timeout, then yes at one terminal: exit 0 (got $rc)" test "$rc" = 0
ptyok "only the approved step ran" sh -c '! test -e first-ran && ! test -e second-ran && test -e third-ran'
ptyok "the third question was asked at the terminal" sh -c "! grep -q 'no terminal to ask' tty.log"
id2=$("$RUNBOOK" runs --db a2.db --format json | jq -r '.[0].id // .runs[0].id')
"$RUNBOOK" show --db a2.db --format json "$id2" >show2.json
ptyok "the run is resolved, not left running" test "$(jq -r .status show2.json)" = resolved
ptyok "who answered each: the user, timeout, the user" test \
    "$(jq -r '[.events[] | select(.type | startswith("approval_")) | select(.type != "approval_requested") | .data.by] | join(",")' show2.json)" = "$me,timeout,$me"

# concurrency across processes: a second run of an active key is not started
cat >long.yaml <<'YAML'
apiVersion: runbook/v1
name: long
steps: [ { name: wait, run: [sh, -c, 'touch long-started; sleep 2'] } ]
YAML
"$RUNBOOK" run --quiet --db c.db long.yaml >/dev/null 2>&1 &
longpid=$!
n=0
while [ ! -e long-started ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
expect_rc 4 "second run of an active key" "$RUNBOOK" run --quiet --db c.db long.yaml
expect_grep err.log 'still active for the concurrency key "long"' "the busy key is named"
wait "$longpid"
rm -f long-started
expect_rc 0 "the key is free once the run ended" "$RUNBOOK" run --quiet --db c.db long.yaml

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
