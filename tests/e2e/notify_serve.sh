#!/bin/sh
# notify_serve.sh — a run that an alert starts on `runbook serve` notifies
# with the secrets of the server config (docs/server.md, "What runs are
# given"; docs/notifications.md), against the real receivers of
# tests/e2e/notify_peer.py (HTTP and SMTP with STARTTLS, ports chosen by
# the OS):
#
# 1. params: gives the runbook's parameters — a webhook URL from a named
#    env var ({env: VAR}), a PagerDuty routing key written in the file
#    ({secret: …}), a plain SMTP URL and an SMTP password from env — so the
#    runbook's notify entries (off while their parameter is empty) send:
#    Slack, a PagerDuty trigger then resolve, and a mail with AUTH.
# 2. Those secrets are masked everywhere the server writes: its log, the
#    journal (the SQLite file and its WAL), the API (run, events), /metrics
#    — including the webhook URL that the runbook did not declare secret.
# 3. external_url: makes {{ run.report_url }} EXTERNAL/api/v1/runs/ID/report,
#    and the built-in templates carry it (a "Report:" line, PagerDuty's
#    client_url and links); $RUNBOOK_EXTERNAL_URL does the same for `run`.
# 4. A server restarted after a kill -9 resumes the run with the secret
#    params again from its config (the journal holds only their masks).
# 5. Config mistakes are file:line:col errors and the server does not start:
#    an unset env var, a short secret, an external_url that is not a URL.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u
: "${RUNBOOK:?}" "${RB_SOURCE_DIR:?}"
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh"
peer_pid=
trap '[ -n "$srv_pid" ] && kill -9 $srv_pid 2>/dev/null; [ -n "$peer_pid" ] && kill $peer_pid 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
. "$RB_SOURCE_DIR/tests/e2e/lib_notify.sh"
hook_secret=H00KSECRET-5d1c9a7e
pd_key=R0UTINGKEY-77ab31c0
smtp_pw=smtp-PW-0c4e19a2b3
notify_peer_start "$smtp_pw"

mkdir runbooks
# chat_webhook is not declared secret: the server config makes it one
cat >runbooks/rpc.yaml <<'YAML'
apiVersion: runbook/v1
name: rpc-down
triggers:
  - match: { alertname: RpcDown }
params:
  chat_webhook: { default: "" }
  pd_routing_key: { default: "", secret: true }
  pd_events_url: { default: "https://events.pagerduty.com/v2/enqueue" }
  smtp_url: { default: "" }
  smtp_password: { default: "", secret: true }
  smtp_ca: { default: "" }
  hold: { default: "" }
detect:
  - name: rpc
    run: [sh, -c, "exit 1"]
confirm: "!checks.rpc.ok"
severity:
  - { level: P1 }
steps:
  - name: restart
    run: [sh, -c, "if [ -n \"$1\" ]; then touch \"$1.started\"; while [ ! -e \"$1.go\" ]; do sleep 0.05; done; fi", x, "{{ params.hold }}"]
    idempotent: true
notify:
  - on: [declared, resolved]
    when: "params.chat_webhook != ''"
    action: notify
    with: { url: "{{ params.chat_webhook }}", vars: { title: "node-7: RPC down" } }
  - on: [declared, resolved]
    when: "params.pd_routing_key != ''"
    action: notify
    with: { channel: pagerduty, url: "{{ params.pd_events_url }}", routing_key: "{{ params.pd_routing_key }}" }
  - on: [resolved]
    when: "params.smtp_url != ''"
    action: notify
    with:
      channel: email
      url: "{{ params.smtp_url }}"
      from: runbook@example.com
      to: oncall@example.com
      username: alerts
      password: "{{ params.smtp_password }}"
      ca_file: "{{ params.smtp_ca }}"
YAML
# a sub-runbook is given the config's params too
cat >runbooks/parent.yaml <<'YAML'
apiVersion: runbook/v1
name: parent
triggers:
  - match: { alertname: Parent }
steps:
  - { name: sub, action: runbook, with: { name: child } }
YAML
cat >runbooks/child.yaml <<'YAML'
apiVersion: runbook/v1
name: child
params:
  child_hook: { default: "" }
steps:
  - { name: s, run: [sh, -c, "true"] }
notify:
  - on: [declared]
    when: "params.child_hook != ''"
    action: notify
    with: { url: "{{ params.child_hook }}", text: "child of {{ run.key }}" }
YAML
T=0123456789abcdef0123
V=fedcba98765432100123
printf 'am hook %s\nme viewer %s\n' "$T" "$V" >tokens
chmod 600 tokens
cat >server.yaml <<YAML
database: $tmp/j.db
runbooks: $tmp/runbooks
tokens: $tmp/tokens
external_url: https://ops.example.com/rb/
params:
  chat_webhook: { env: RB_TEST_CHAT }
  pd_routing_key: { secret: "$pd_key" }
  pd_events_url: "http://127.0.0.1:$hp/pd/enqueue"
  smtp_url: "smtp://127.0.0.1:$sp"
  smtp_password: { env: RB_TEST_SMTP_PW }
  smtp_ca: "$tmp/cert.pem"
  hold: "$tmp/hold"
  child_hook: { env: RB_TEST_CHILD }
YAML
export RB_TEST_CHAT="http://127.0.0.1:$hp/hook/T000/$hook_secret" RB_TEST_SMTP_PW=$smtp_pw
export RB_TEST_CHILD="http://127.0.0.1:$hp/child/$hook_secret"
alert() { # alert FP: a version 4 body with one RpcDown alert
    printf '{"receiver":"engine","status":"firing","version":"4","groupKey":"{}","alerts":[{"status":"firing","labels":{"alertname":"RpcDown","instance":"node-7"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}]}' "$1"
}
status_is() { [ "$(http GET "/api/v1/runs/$1" $V)" = 200 ] && [ "$(jq -r .status body)" = "$2" ]; }

# ---- 1, 3, 4: an alert starts the run; the server is killed mid-step and restarted ----
serve_start log1 --config server.yaml || { bad "the server did not start"; cat log1; exit 1; }
alert fp-1 >a.json
[ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] && ok || { bad "alert: not 200"; cat body; }
wait_for test -e hold.started || bad "the step did not start"
# the declared notifications recorded sent before the kill: one in flight
# would be sent again on the restart (at least once, docs/notifications.md)
declared_sent() {
    run_is j.db '[.events[] | select(.step == "declared")] |
        ([.[] | select(.type == "attempt_started")] | length) as $n | $n > 0 and
        ([.[] | select(.type == "notification_sent")] | length) == $n' >/dev/null
}
wait_for declared_sent || bad "the declared notifications were not recorded"
kill -9 "$srv_pid"
wait "$srv_pid" 2>/dev/null
touch hold.go
serve_start log2 --config server.yaml || { bad "the server did not restart"; cat log2; exit 1; }
wait_for status_is 1 resolved && ok || { bad "run 1 is not resolved after the restart"; cat log1 log2 body; }
req=requests.jsonl
check "two chat messages, to the config's webhook" \
    "[.[] | select(.path == \"/hook/T000/$hook_secret\")] | length == 2" $req
check "the chat resolution links the report" \
    '[.[] | select(.path | startswith("/hook/")) | .body | fromjson | .text] | .[1]
     | contains("*Report:* https://ops.example.com/rb/api/v1/runs/1/report")' $req
check "PagerDuty trigger then resolve, with the config's routing key" \
    "[.[] | select(.path == \"/pd/enqueue\") | .body | fromjson | [.routing_key, .event_action, .dedup_key]]
     == [[\"$pd_key\", \"trigger\", \"runbook/rpc-down/1\"], [\"$pd_key\", \"resolve\", \"runbook/rpc-down/1\"]]" $req
check "the PagerDuty trigger carries the report link" \
    '[.[] | select(.path == "/pd/enqueue") | .body | fromjson][0]
     | .client_url == "https://ops.example.com/rb/api/v1/runs/1/report"
       and .links == [{href: "https://ops.example.com/rb/api/v1/runs/1/report", text: "Report"}]
       and .payload.custom_details.report_url == "https://ops.example.com/rb/api/v1/runs/1/report"' $req
[ -e mail-1.json ] && check "the mail went with the config's SMTP password" \
    '.[0] | .tls and .authenticated and .rcpt_tos == ["oncall@example.com"]' mail-1.json ||
    bad "no mail"
[ -e mail-1.eml ] && grep -q 'Report: https://ops.example.com/rb/api/v1/runs/1/report' mail-1.eml && ok ||
    bad "the mail has no report link"
grep -q 'event=run_resumed' log2 && ok || bad "the restarted server did not resume run 1"

# the sub-runbook's notification went with the config's value
printf '{"receiver":"engine","status":"firing","version":"4","groupKey":"{}","alerts":[{"status":"firing","labels":{"alertname":"Parent"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"fp-parent"}]}' >p.json
[ "$(http POST /hooks/alertmanager $T p.json)" = 200 ] && ok || { bad "parent alert: not 200"; cat body; }
child_sent() { grep -q "\"/child/$hook_secret\"" $req; }
wait_for child_sent && ok || bad "the sub-runbook did not notify with the config's params"

# ---- 2: masked everywhere the server writes ----
http GET /api/v1/runs/1 $V >/dev/null && cp body api-run.json
http GET /api/v1/runs/1/events $V >/dev/null && cp body api-events.json
curl -s -H "Authorization: Bearer $V" "http://127.0.0.1:$srv_port/metrics" >metrics.txt
grep -q 'runbook_' metrics.txt && ok || bad "no metrics read"
grep -q '\*\*\*' api-run.json api-events.json && ok || bad "the API shows no mask at all"
serve_stop
for s in "$hook_secret" "$pd_key" "$smtp_pw"; do
    if grep -l -a -F -- "$s" log1 log2 api-run.json api-events.json metrics.txt j.db j.db-wal 2>/dev/null; then
        bad "a config secret is written in the files above"
    else
        ok
    fi
done
"$RUNBOOK" show --db j.db 1 >show.out 2>&1
! grep -q -F -e "$hook_secret" -e "$pd_key" -e "$smtp_pw" show.out && ok || bad "show prints a config secret"

# ---- 3: $RUNBOOK_EXTERNAL_URL for a CLI run ----
RUNBOOK_EXTERNAL_URL=https://cli.example.com "$RUNBOOK" run --db cli.db runbooks/rpc.yaml \
    -p "chat_webhook=http://127.0.0.1:$hp/cli/hook" >cli.out 2>&1 || { bad "cli run"; cat cli.out; }
check "the CLI run's message links its report" \
    '[.[] | select(.path == "/cli/hook") | .body | fromjson | .text] | length == 2 and
     (.[1] | contains("*Report:* https://cli.example.com/api/v1/runs/1/report"))' $req
RUNBOOK_EXTERNAL_URL='ftp://x' "$RUNBOOK" run --db cli.db runbooks/rpc.yaml >bad-url.out 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'RUNBOOK_EXTERNAL_URL must be an http:// or https:// URL' bad-url.out && ok ||
    { bad "a bad \$RUNBOOK_EXTERNAL_URL: exit $rc"; cat bad-url.out; }

# ---- 5: config mistakes, at file:line:col ----
cat >bad.yaml <<YAML
database: $tmp/j2.db
runbooks: $tmp/runbooks
params:
  a: { env: RB_TEST_NOT_SET_EVER }
  b: { secret: "ab" }
  c: { value: 1 }
external_url: "runbook.example.com"
YAML
"$RUNBOOK" serve --listen 127.0.0.1:0 --config bad.yaml >bad.out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "a bad config: exit $rc"
says bad.out 'bad.yaml:4:[0-9]*: error: params: a: the variable RB_TEST_NOT_SET_EVER is not set' \
    'bad.yaml:5:[0-9]*: error: params: b: a secret shorter than' \
    'bad.yaml:6:[0-9]*: error: params: c: a value that is a mapping is {env: VARIABLE} or {secret: VALUE}' \
    'bad.yaml:7:[0-9]*: error: external_url: must be an http:// or https:// URL'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
