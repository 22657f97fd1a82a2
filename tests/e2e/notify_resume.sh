#!/bin/sh
# notify_resume.sh — the run's end notification is delivered at least once
# (docs/notifications.md, "Delivery"): a `resolved` PagerDuty resolve in
# flight when the engine is killed (SIGKILL, while a slow receiver of
# tests/e2e/notify_peer.py holds the request) is sent again when the run is
# resumed, with the same dedup_key, so PagerDuty closes the one incident;
# the journal then records it sent and the run resolved.
#   1. `runbook run`, kill -9, `runbook resume` (the secret routing key
#      given again);
#   2. `runbook serve`, kill -9, a restart that resumes the run itself (the
#      routing key from the config's params:).
#   3. not only the end's: a `declared` PagerDuty trigger and an escalation
#      both in flight at the kill are sent again on `runbook resume` (the
#      trigger with its dedup_key), once each, and the run does not
#      escalate again; the journal then records each sent.
# Both times the run's duration is one number everywhere — run_finished
# (`show`), the runs listing (ended_at - started_at), the report, and the
# resume's summary — counted from the run's first start, so it covers the
# time before the kill; and the resume's summary counts the step that
# finished before it (docs/semantics.md, "Durations").
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u
: "${RUNBOOK:?}" "${RB_SOURCE_DIR:?}"
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh"
peer_pid= run_pid=
trap '[ -n "$srv_pid" ] && kill -9 $srv_pid 2>/dev/null; [ -n "$run_pid" ] && kill -9 $run_pid 2>/dev/null; [ -n "$peer_pid" ] && kill $peer_pid 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
. "$RB_SOURCE_DIR/tests/e2e/lib_notify.sh"
notify_peer_start unused-password
pd_key=R0UTINGKEY-3e9d0b7a
req=requests.jsonl
mkdir runbooks
cat >runbooks/r.yaml <<'YAML'
apiVersion: runbook/v1
name: pd-resume
triggers:
  - match: { alertname: Down }
params:
  pd_key: { secret: true }
  who: {}
  port: {}
steps:
  - name: fix
    run: [sh, -c, "true"]
notify:
  - on: [declared]
    action: notify
    with: { channel: pagerduty, url: "http://127.0.0.1:{{ params.port }}/pd/{{ params.who }}", routing_key: "{{ params.pd_key }}" }
  - on: [resolved]
    action: notify
    with: { channel: pagerduty, url: "http://127.0.0.1:{{ params.port }}/slowpd/{{ params.who }}", routing_key: "{{ params.pd_key }}",
            timeout: 5m, attempts: 1 }
YAML
# resolves WHO: the resolve events /slowpd/WHO received, as [action, key] pairs
resolves() {
    jq -c -s --arg p "/slowpd/$1" '[.[] | select(.path == $p) | .body | fromjson | [.event_action, .dedup_key, .routing_key]]' $req 2>/dev/null
}
ms() { echo $(($(date +%s%N) / 1000000)); }
asked() { [ "$(resolves "$1" | jq length)" -ge 1 ]; }
sent_ok() { # sent_ok DB: the journal's resolved notification is ok, after run_resumed
    run_is "$1" '.status == "resolved" and
        ([.events[].type] | index("run_resumed")) as $r | $r != null and
        ([.events[] | select(.type == "notification_sent" and .step == "resolved")] | length == 1 and
         (.[0].data.result | .ok and .status == 202 and .dedup_key == "runbook/pd-resume/1"))' >/dev/null
}

# ---- 1. the command line ----
"$RUNBOOK" run --db cli.db runbooks/r.yaml -p "pd_key=$pd_key" -p who=cli -p port=$hp \
    >run.out 2>&1 &
run_pid=$!
wait_for asked cli || { bad "the resolve never reached the receiver"; cat run.out; }
ta=$(ms)
kill -9 "$run_pid"
wait "$run_pid" 2>/dev/null
run_pid=
sleep 2 # a gap the duration must cover, measured: not a wait for an event
tb=$(ms)
"$RUNBOOK" resume --db cli.db 1 -p "pd_key=$pd_key" >resume.out 2>&1 && ok ||
    { bad "resume: exit $?"; cat resume.out; }
want="[[\"resolve\",\"runbook/pd-resume/1\",\"$pd_key\"],[\"resolve\",\"runbook/pd-resume/1\",\"$pd_key\"]]"
[ "$(resolves cli)" = "$want" ] && ok || bad "cli: the resolve was not sent again with its dedup_key: $(resolves cli)"
sent_ok cli.db && ok || { bad "cli: the journal does not say the resolve was sent"; "$RUNBOOK" show --db cli.db 1; }
# one_duration DB TA TB: run 1's duration in ms, the same in show, runs and
# the report, and at least TB - TA: the run had started by TA (the
# receiver had its resolve), and ended after TB (the resume began)
one_duration() {
    "$RUNBOOK" show --db "$1" --format json 1 >d-show.json
    "$RUNBOOK" runs --db "$1" --format json >d-runs.json
    "$RUNBOOK" report --db "$1" --format json 1 >d-report.json
    d_show=$(jq '.events[] | select(.type == "run_finished") | .data.duration_ms' d-show.json)
    d_runs=$(jq '.[] | select(.id == 1) | .ended_at - .started_at' d-runs.json)
    d_rep=$(jq '.duration_ms' d-report.json)
    [ -n "$d_show" ] && [ "$d_show" = "$d_runs" ] && [ "$d_show" = "$d_rep" ] && ok ||
        bad "$1: durations disagree: show $d_show, runs $d_runs, report $d_rep"
    [ "${d_show:-0}" -ge $(($3 - $2)) ] && ok ||
        bad "$1: the duration $d_show ms is shorter than the $(($3 - $2)) ms from the kill to the resume"
}
one_duration cli.db "$ta" "$tb"
grep -q '1 step: 1 ok' resume.out && ok || { bad "the resume's summary does not count the step before the kill"; cat resume.out; }
# the summary's "resolved in 12.3s" is show's "(12.3s)"
said=$(sed -n 's/.*run 1: resolved.* in \([^ ]*\).*/\1/p' resume.out | sed 's/\x1b\[[0-9;]*m//g')
"$RUNBOOK" show --db cli.db 1 | grep -q "run finished: resolved ($said)" && ok ||
    { bad "the resume says resolved in $said, show says otherwise"; "$RUNBOOK" show --db cli.db 1 | tail -2; }

# ---- 2. the server ----
T=0123456789abcdef0123
printf 'am hook %s\n' "$T" >tokens
chmod 600 tokens
cat >server.yaml <<YAML
database: $tmp/srv.db
runbooks: $tmp/runbooks
tokens: $tmp/tokens
params:
  pd_key: { secret: "$pd_key" }
  who: srv
  port: $hp
YAML
serve_start log1 --config server.yaml || { bad "the server did not start"; cat log1; exit 1; }
printf '{"receiver":"engine","status":"firing","version":"4","groupKey":"{}","alerts":[{"status":"firing","labels":{"alertname":"Down"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"fp-1"}]}' >a.json
[ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] && ok || { bad "alert: not 200"; cat body; }
wait_for asked srv || { bad "the server's resolve never reached the receiver"; cat log1; }
ta=$(ms)
kill -9 "$srv_pid"
wait "$srv_pid" 2>/dev/null
sleep 2
tb=$(ms)
serve_start log2 --config server.yaml || { bad "the server did not restart"; cat log2; exit 1; }
wait_for sent_ok srv.db && ok || { bad "srv: the journal does not say the resolve was sent"; cat log2; }
[ "$(resolves srv)" = "$want" ] && ok || bad "srv: the resolve was not sent again with its dedup_key: $(resolves srv)"
one_duration srv.db "$ta" "$tb"
serve_stop

# ---- 3. the declared notification and an escalation in flight ----
cat >mid.yaml <<EOF
apiVersion: runbook/v1
name: mid
steps:
  - name: slow
    idempotent: true
    run: [sh, -c, "sleep 4"]
notify:
  - on: [declared]
    action: notify
    with: { channel: pagerduty, url: "http://127.0.0.1:$hp/slowpd/mid-declared", routing_key: rk-mid, timeout: 5m, attempts: 1 }
escalate:
  - after: 200ms
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/slowpd/mid-esc", timeout: 5m, attempts: 1 }
EOF
got() { jq -c -s --arg p "/slowpd/$1" '[.[] | select(.path == $p) | .body | fromjson | (.dedup_key // .event)]' $req 2>/dev/null; }
# both in flight: each reached its receiver, and the journal has each one's start
both_out() {
    [ "$(got mid-declared | jq length)" -ge 1 ] && [ "$(got mid-esc | jq length)" -ge 1 ] &&
        run_is mid.db '[.events[] | select(.type == "attempt_started"
            and (.data.phase == "notify" or .data.phase == "escalate")) | .step] | sort == ["declared", "escalation"]' >/dev/null
}
"$RUNBOOK" run --db mid.db --yes mid.yaml >mid.out 2>&1 &
run_pid=$!
wait_for both_out || { bad "the declared notification and the escalation never both went out"; cat mid.out; }
kill -9 "$run_pid"
wait "$run_pid" 2>/dev/null
run_pid=
"$RUNBOOK" resume --db mid.db 1 >mid-resume.out 2>&1 && ok || { bad "resume: exit $?"; cat mid-resume.out; }
[ "$(got mid-declared)" = '["runbook/mid/1","runbook/mid/1"]' ] && ok ||
    bad "the declared trigger was not sent again with its dedup_key: $(got mid-declared)"
[ "$(got mid-esc | jq length)" = 2 ] && ok || bad "the escalation was not sent again, once: $(got mid-esc)"
run_is mid.db '.status == "resolved" and
    ([.events[] | select(.type == "escalated")] | length == 1) and
    # (sent again at once as the run resumes: in either order)
    ([.events[] | select(.type == "notification_sent") | [.step, .data.rule, .data.result.ok]] | sort
        == [["declared", 0, true], ["escalation", 0, true]])' >/dev/null && ok ||
    { bad "the journal does not record the two sent once each, and one escalation"; "$RUNBOOK" show --db mid.db 1; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
