#!/bin/sh
# notify_channels.sh — notify's channels against real servers on 127.0.0.1
# (ports chosen by the OS): tests/e2e/notify_peer.py runs an HTTP receiver
# (http.server) and an SMTP server (Debian's python3-aiosmtpd) that requires
# STARTTLS, with a certificate made here by openssl, and AUTH.
#
# 1. The runbook of docs/notifications.md (the block after its "tested:"
#    marker) validates, and a run of it for an alert, with every channel
#    configured, sends:
#    Slack {"text"} bodies, a PagerDuty trigger and then a resolve with the
#    same dedup_key (exact bodies), a status webhook that answers 500 twice
#    and then 202 (three tries, journaled), and a mail over STARTTLS with
#    AUTH whose headers and MIME parts are read back. A hostile instance
#    label (CR LF "Bcc:", <!channel>, HTML, non-ASCII) stays inert in every
#    body and adds no mail header. Secrets (webhook path, routing key, SMTP password)
#    are nowhere in the journal, the output or show.
# 2. Channels that fail (500 to the end, no answer, refused, a wrong SMTP
#    password) do not fail the run, each is journaled with its outcome and
#    tries; an escalation's repeated PagerDuty trigger keeps the run's
#    dedup_key.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u
: "${RUNBOOK:?}" "${RB_SOURCE_DIR:?}"
tmp=$(mktemp -d)
peer_pid=
cleanup() {
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
. "$RB_SOURCE_DIR/tests/e2e/lib_notify.sh"

hook_secret=T0SECRET-b7f1e2d9
pd_key=R0UTING-9c2a41f0e8
smtp_pw=smtp-Pw-4e8d1c77
notify_peer_start "$smtp_pw"

# ---- 1. the documented runbook, every channel on ----
awk '/<!-- tested: tests\/e2e\/notify_channels.sh -->/ { on = 1; next }
     on && /^```yaml/ { inb = 1; next } inb && /^```/ { exit } inb { print }' \
    "$RB_SOURCE_DIR/docs/notifications.md" >rb.yaml
[ -s rb.yaml ] && ok || bad "no runbook after the tested: marker in docs/notifications.md"
"$RUNBOOK" validate rb.yaml >validate.out 2>&1 && ok || { bad "the documented runbook does not validate"; cat validate.out; }

# the instance comes from an alert label, hostile
hostile=$(printf 'node-7 <!channel> "q" & <b>x</b> \303\274\r\nBcc: evil@example.com')
jq -n --arg i "$hostile" '{receiver: "runbook", status: "firing",
    alerts: [{status: "firing", labels: {alertname: "RpcDown", instance: $i}}]}' >alert.json
"$RUNBOOK" run --db j.db --yes --alert alert.json rb.yaml \
    -p "chat_webhook=http://127.0.0.1:$hp/hook/T000/$hook_secret" \
    -p "status_webhook=http://127.0.0.1:$hp/flaky/status" \
    -p "pd_routing_key=$pd_key" -p "pd_events_url=http://127.0.0.1:$hp/pd/enqueue" \
    -p "smtp_url=smtp://127.0.0.1:$sp" -p "smtp_password=$smtp_pw" -p "smtp_ca=$tmp/cert.pem" \
    -p "rpc_check=echo probed >$tmp/probed; exit 1" >run.out 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "run exit $rc"; cat run.out; }
# the documented probe is a shell command that really runs
[ "$(cat probed 2>/dev/null)" = probed ] && ok || bad "the rpc_check shell command did not run"
"$RUNBOOK" show --db j.db --format json 1 >show.json 2>&1 || bad "show --format json"
"$RUNBOOK" show --db j.db 1 >show.out 2>&1 || bad "show"
check "the run is resolved" '.[0].status == "resolved"' show.json

req=requests.jsonl
# Slack: {"text"} on declared and resolved, the hostile name escaped
check "two chat messages" '[.[] | select(.path | startswith("/hook/"))] | length == 2' $req
check "chat bodies are {text} only" \
    '[.[] | select(.path | startswith("/hook/")) | .body | fromjson | keys] == [["text"], ["text"]]' $req
check "the chat declaration" '[.[] | select(.path | startswith("/hook/")) | .body | fromjson | .text][0]
    | startswith("*INCIDENT DECLARED*: node-7 &lt;!channel&gt; \"q\" &amp; &lt;b&gt;x&lt;/b&gt; ü  Bcc: evil@example.com: RPC down\n*Severity:* P1\n*Status:* declared\n*What we know:* the RPC port does not answer\n*Detected:*\n• rpc: failed\n*Runbook:* rpc-down (run 1)")' $req
check "no live mention in chat" '[.[] | select(.path | startswith("/hook/")) | .body | select(contains("<!channel>"))] == []' $req
# PagerDuty: trigger, then resolve with the same dedup_key, exact bodies
check "two PagerDuty events" '[.[] | select(.path == "/pd/enqueue")] | length == 2' $req
check "the PagerDuty trigger" "[.[] | select(.path == \"/pd/enqueue\") | .body | fromjson | select(.event_action == \"trigger\")][0]
    | del(.payload.custom_details) == {routing_key: \"$pd_key\", event_action: \"trigger\",
      dedup_key: \"runbook/rpc-down/1\", client: \"runbook\",
      payload: {summary: \"[P1] INCIDENT DECLARED: node-7 <!channel> \\\"q\\\" & <b>x</b> ü  Bcc: evil@example.com: RPC down\",
                source: \"runbook\", severity: \"critical\"}}" $req
check "the PagerDuty trigger's details" "[.[] | select(.path == \"/pd/enqueue\") | .body | fromjson | select(.event_action == \"trigger\")][0].payload.custom_details
    | .severity == \"P1\" and .status == \"declared\" and .run_id == \"1\" and .detected == [\"rpc: failed\"]
      and .runbook == \"rpc-down\" and (.text | startswith(\"INCIDENT DECLARED: \"))" $req
check "the PagerDuty resolve" "[.[] | select(.path == \"/pd/enqueue\") | .body | fromjson | select(.event_action != \"trigger\")]
    == [{routing_key: \"$pd_key\", event_action: \"resolve\", dedup_key: \"runbook/rpc-down/1\"}]" $req
# the status webhook: 500, 500, 202 for the declaration and for the resolution
check "status webhook tried 3 times each" '[.[] | select(.path == "/flaky/status")] | length == 6' $req
check "status webhook body" '[.[] | select(.path == "/flaky/status") | .body | fromjson | select(.event == "declared")]
    | length == 3 and (.[0] | .template == "incident" and .severity == "P1" and .steps == []
      and .detected == ["rpc: failed"] and (.text | startswith("INCIDENT DECLARED: ")))' $req
check "status webhook resolution lists the steps" '[.[] | select(.path == "/flaky/status") | .body | fromjson | select(.event == "resolved")]
    | length == 3 and (.[0] | .template == "resolved" and .steps == ["restart: ok"])' $req
# the journal: channel, target, outcome, attempts
check "journaled notifications" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | [.channel, .outcome, .attempts]] | sort == ([["slack","ok",1],["slack","ok",1],["pagerduty","ok",1],
      ["pagerduty","ok",1],["webhook","ok",3],["webhook","ok",3],["email","ok",1]] | sort)' show.json
check "journaled targets" "[.[0].events[] | select(.type == \"notification_sent\") | .data.result.target] | unique
    == ([\"http://127.0.0.1:$hp\", \"oncall@example.com\"] | sort)" show.json
check "the retried webhook's tries" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.channel == "webhook") | .tries | map(.status)] == [[500, 500, 202], [500, 500, 202]]' show.json
check "PagerDuty dedup_key in the journal" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.channel == "pagerduty") | [.event_action, .dedup_key]] == [["trigger", "runbook/rpc-down/1"], ["resolve", "runbook/rpc-down/1"]]' show.json

# the mail: over STARTTLS, authenticated, headers and MIME parts
check "one mail, over TLS, authenticated, to the recipient" \
    '.[0] | .tls and .authenticated and .rcpt_tos == ["oncall@example.com"] and .mail_from == "runbook@example.com"' mail-1.json
[ ! -e mail-2.json ] && ok || bad "more than one mail"
"$py" "$RB_SOURCE_DIR/tests/e2e/notify_peer.py" mail mail-1.eml >mail.json || bad "the mail does not parse"
check "mail headers" '.[0].headers | .From == "Runbook <runbook@example.com>" and .To == "oncall@example.com"
    and .Subject == "[P1] INCIDENT RESOLVED: node-7 <!channel> \"q\" & <b>x</b> ü  Bcc: evil@example.com: RPC down"
    and .["Auto-Submitted"] == "auto-generated" and (.Date | length > 0)' mail.json
grep -q '^Subject: =?UTF-8?B?' mail-1.eml && ok || bad "the subject is not RFC 2047-encoded"
check "no injected header" '.[0].raw_headers | map(ascii_downcase) | index("bcc") == null' mail.json
check "MIME: alternative text and html" '[.[0].parts[] | .type] == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html"]' mail.json
check "the text part" '.[0].parts[2] | .charset == "utf-8" and (.text | startswith("INCIDENT RESOLVED: node-7 <!channel>"))
    and (.text | contains("\nSteps taken:\n- restart: ok\nApprovals:\n- restart: granted by --yes\n"))
    and (.text | contains("\nRunbook: rpc-down (run 1)\n"))' mail.json
check "the html part escapes values" '.[0].parts[3].text | contains("<h2>INCIDENT RESOLVED: node-7 &lt;!channel&gt; &quot;q&quot; &amp; &lt;b&gt;x&lt;/b&gt;")
    and (contains("<b>x</b>") | not) and contains("<li>restart: ok</li>")' mail.json

# secrets: nowhere in the journal, the output, show
for f in j.db j.db-wal run.out show.out show.json; do
    [ -e "$f" ] || continue
    if grep -a -q -e "$hook_secret" -e "$pd_key" -e "$smtp_pw" "$f"; then
        bad "a secret is in $f"
    else
        ok
    fi
done
# …while the receivers got the real values
grep -q "$hook_secret" $req && grep -q "$pd_key" $req && ok || bad "the receivers did not get the secrets"

# ---- 2. channels that fail do not fail the run ----
cat >fail.yaml <<YAML
apiVersion: runbook/v1
name: notify-fail
params:
  pw: { secret: true, default: "" }
  pw2: { secret: true, default: "" }
  bad_to: { default: "" }
severity:
  - { level: P2 }
steps:
  - { name: work, run: [sh, -c, "sleep 0.4"] }
notify:
  - on: [declared]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/down/x", attempts: 2, retry_delay: 50ms }
  - on: [declared]
    action: notify
    with: { url: "http://127.0.0.1:$hp/hang/x", attempts: 2, retry_delay: 50ms, timeout: 300ms }
  - on: [declared]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", from: a@example.com, to: b@example.com,
            username: alerts, password: "{{ params.pw }}", ca_file: cert.pem, retry_delay: 50ms }
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", from: a@example.com, to: tempfail@example.com,
            username: alerts, password: "{{ params.pw2 }}", ca_file: cert.pem, retry_delay: 50ms,
            text: "the page went out" }
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtps://127.0.0.1:$ssp", from: a@example.com, to: smtps@example.com,
            username: alerts, password: "{{ params.pw2 }}", ca_file: cert.pem }
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", from: a@example.com, to: "{{ params.bad_to }}",
            username: alerts, password: "{{ params.pw2 }}", ca_file: cert.pem }
  - on: [declared, resolved]
    action: notify
    with: { channel: pagerduty, url: "http://127.0.0.1:$hp/pd/esc", routing_key: rk-esc-1 }
escalate:
  - after: 100ms
    action: notify
    with: { channel: pagerduty, url: "http://127.0.0.1:$hp/pd/esc", routing_key: rk-esc-1 }
YAML
wrong_pw=Wrong-pw-0d93b1
"$RUNBOOK" run --db f.db fail.yaml -p "pw=$wrong_pw" -p "pw2=$smtp_pw" \
    -p "bad_to=$(printf 'x@example.com\r\nBcc: evil@example.com')" >fail.out 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "a failing channel failed the run (exit $rc)"; cat fail.out; }
"$RUNBOOK" show --db f.db --format json 1 >fshow.json 2>&1
check "the run is resolved anyway" '.[0].status == "resolved"' fshow.json
check "500 to the end: failed after 2 tries" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.channel == "webhook") | [.ok, .outcome, .status, .attempts]] == [[false, "failed", 500, 2]]' fshow.json
check "no answer: timeout after 2 tries" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.channel == "slack") | [.ok, .outcome, .attempts]] == [[false, "timeout", 2]]' fshow.json
check "wrong SMTP password: final at once" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.channel == "email" and .target == "b@example.com") | [.ok, .outcome, .attempts]] == [[false, "error", 1]]' fshow.json
check "SMTP 451: tried again" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.target == "tempfail@example.com") | [.ok, .status, (.tries | map(.status))]] == [[true, 250, [451, 250]]]' fshow.json
cat mail-*.json >mails.json
n=$(grep -l tempfail@ mail-*.json | head -n 1)
"$py" "$RB_SOURCE_DIR/tests/e2e/notify_peer.py" mail "${n%.json}.eml" >mail2.json || bad "the text-only mail does not parse"
check "smtps: over TLS from the first byte, authenticated" '[.[] | select(.rcpt_tos == ["smtps@example.com"])
    | [.tls, .authenticated]] == [[true, true]]' mails.json
check "text alone: one text/plain part" '.[0] | [.parts[] | .type] == ["multipart/mixed", "text/plain"]
    and .parts[1].text == "the page went out" and .headers.Subject == "the page went out"' mail2.json
check "a rendered To with a line break is refused, not sent" '[.[0].events[] | select(.type == "notification_sent")
    | .data.result | select(.outcome == "error" and (.error | test("^to")))] | length == 1' fshow.json
check "nothing went to the injected address" '[.[] | select(.rcpt_tos | index("evil@example.com"))] == []' mails.json
check "the 451 mail arrived once" '[.[] | select(.rcpt_tos == ["tempfail@example.com"])] | length == 1' mails.json
grep -q "notifications not sent" fail.out && ok || { bad "the summary does not count the unsent"; cat fail.out; }
grep -a -q "$wrong_pw" f.db f.db-wal fail.out fshow.json 2>/dev/null && bad "the SMTP password leaked" || ok
check "trigger, escalation, resolve: one dedup_key" '[.[] | select(.path == "/pd/esc") | .body | fromjson]
    | (map(.event_action) | sort) == ["resolve", "trigger", "trigger"] and (map(.dedup_key) | unique) == ["runbook/notify-fail/1"]
      and .[-1].event_action == "resolve"' $req

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
