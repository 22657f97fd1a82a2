#!/bin/sh
# resume_timers.sh — a resumed run's timers count from what the journal
# says, not from the resume (docs/cli.md, `runbook resume`; issue 12's
# "resume completeness"), against the real binary, a real journal and the
# HTTP receiver of tests/e2e/notify_peer.py on 127.0.0.1:
#   1. an escalation due 5 s after the start, the run killed (SIGKILL)
#      early and resumed 2 s later: it fires 5 s after the original start,
#      not 5 s after the resume, and once;
#   2. an approval with a 4 s timeout, the run killed once it waits and
#      resumed 2 s later: it is asked again and times out 4 s after it was
#      first asked (the ~2 s left), with on_timeout (continue) applied.
# A gap of 2 s between kill and resume is measured, not waited on: it is
# what tells the original start from the resume's.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u
: "${RUNBOOK:?}" "${RB_SOURCE_DIR:?}"
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # $tmp, ok, bad
peer_pid= run_pid=
trap '[ -n "$run_pid" ] && kill -9 $run_pid 2>/dev/null; [ -n "$peer_pid" ] && kill $peer_pid 2>/dev/null; rm -rf "$tmp"' EXIT
. "$RB_SOURCE_DIR/tests/e2e/lib_notify.sh"
notify_peer_start unused
req=requests.jsonl
ms() { echo $(($(date +%s%N) / 1000000)); }
# await CMD…: until CMD succeeds, at most 60 s
await() {
    i=0
    while ! "$@" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && return 1
        sleep 0.1
    done
}

# ---- 1. an escalation ----
cat >esc.yaml <<EOF
apiVersion: runbook/v1
name: esc
steps:
  - name: slow
    idempotent: true
    run: [sh, -c, "touch $tmp/slow.started; sleep 8"]
escalate:
  - after: 5s
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/esc/level1" }
EOF
"$RUNBOOK" run --db e.db --yes esc.yaml >esc.out 2>&1 &
run_pid=$!
await test -e slow.started || bad "the slow step never started"
kill -9 $run_pid
wait $run_pid 2>/dev/null
run_pid=
sleep 2
tb=$(ms)
timeout 120 "$RUNBOOK" resume --db e.db 1 >esc-resume.out 2>&1 || { bad "resume"; cat esc-resume.out; }
"$RUNBOOK" show --db e.db --format json 1 >esc.json
t0=$("$RUNBOOK" runs --db e.db --format json | jq '.[0].started_at')
fired=$(jq '[.events[] | select(.type == "escalated") | .wall_ms]' esc.json)
at=$(echo "$fired" | jq '.[0] // 0')
[ "$(echo "$fired" | jq length)" = 1 ] && ok || bad "escalated $(echo "$fired" | jq length) times, not once"
[ $((at - t0)) -ge 5000 ] && ok || bad "escalated $((at - t0)) ms after the start, before its 5 s"
# from the resume it would be at tb + 5000 or later; from the start, ~3 s earlier
[ "$at" -lt $((tb + 4000)) ] && ok ||
    bad "escalated $((at - tb)) ms after the resume: the timer counted from the resume, not the start"
check "the receiver got the escalation once" '[.[] | select(.path == "/esc/level1")] | length == 1' $req

# ---- 2. an approval's timeout ----
cat >ask.yaml <<EOF
apiVersion: runbook/v1
name: ask
steps:
  - name: risky
    approval: { timeout: 4s, on_timeout: continue }
    run: [touch, "$tmp/risky.ran"]
EOF
RUNBOOK_NO_LIVE=1 "$RUNBOOK" run --db a.db ask.yaml </dev/null >ask.out 2>&1 &
run_pid=$!
await run_is a.db '[.events[] | select(.type == "approval_requested")] | length == 1' ||
    bad "the approval was never asked"
kill -9 $run_pid
wait $run_pid 2>/dev/null
run_pid=
sleep 2
tb=$(ms)
RUNBOOK_NO_LIVE=1 timeout 120 "$RUNBOOK" resume --db a.db 1 </dev/null >ask-resume.out 2>&1 ||
    { bad "resume of the approval: exit $?"; cat ask-resume.out; }
"$RUNBOOK" show --db a.db --format json 1 >ask.json
asked=$(jq '[.events[] | select(.type == "approval_requested") | .wall_ms] | .[0]' ask.json)
out=$(jq '[.events[] | select(.type == "approval_timeout") | .wall_ms] | .[0] // 0' ask.json)
check "asked again on resume, timed out once, on_timeout continue: the step ran" '.[0] |
    ([.events[] | select(.type == "approval_requested")] | length) == 2 and
    ([.events[] | select(.type == "approval_timeout") | .data.outcome] == ["continue"]) and
    ([.events[] | select(.type == "step_finished") | .data.status] == ["ok"]) and .status == "resolved"' ask.json
[ -e risky.ran ] && ok || bad "the step did not run after its approval timed out (on_timeout: continue)"
[ $((out - asked)) -ge 4000 ] && ok || bad "timed out $((out - asked)) ms after it was first asked, before its 4 s"
[ "$out" -lt $((tb + 3500)) ] && ok ||
    bad "timed out $((out - tb)) ms after the resume: the timeout counted from the resume, not the first request"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
