#!/bin/sh
# notify_fixes.sh — what a new user's tryout of notify found (issue 16),
# each against the real binary, a real journal and the real servers of
# tests/e2e/notify_peer.py on 127.0.0.1 (ports chosen by the OS):
#
# 1. A secret that a template transformed (Slack's & < > escaping, a tab or
#    line break made a space, a list value printed as JSON, a value cut
#    at 4096 bytes) is masked in show, show --format json, run --format
#    json and the SQLite file and its WAL; the receiver still gets it.
# 2. `timeout: 0s` and `retry_delay` over 1m are refused by validate, at
#    the key's file:line:col; so is `json` with a template, and `on: []`.
# 3. SIGTERM while the run's end waits for a notification that never
#    answers stops it at once: the notification is journaled cancelled,
#    the outcome stays resolved, and notify_failed is not raised.
# 4. Two runs whose concurrency key is 400 characters long get different
#    PagerDuty dedup_keys of at most 255 bytes, each ending in its run id.
# (5. An escalation after a resume: tests/e2e/resume_timers.sh.)
# 16. The mail has a Message-ID, and its text part's lines are CRLF lines,
#    not "=0A".
# 7. An SMTP 451 is reported in the server's words (not "Weird server
#    reply"), a TLS failure after the 220 greeting has status 0, and a
#    missing ca_file is named.
# 18. show counts a notification's tries ("2 attempts"); a message sent on
#    notify_failed names the notification that was not sent.
# 8. Unicode line breaks and controls (U+0085, U+2028, U+2029, U+202E) in
#    a value become spaces in the message.
# 6. A mail with 40 recipients and a long non-ASCII subject arrives: its
#    To and Subject headers are folded under RFC 5322's 998 bytes a line.
# 11. `starttls: false` with `password: "{{ params.pw }}"` (empty by
#    default) validates: an empty password is no password.
# 10. A drill whose rendered dedup_key is over 255 bytes says "would be
#    refused" and why, not "would send"; it sends nothing.
# 15. A 200 whose body is 1 MiB is a delivery (ok), not "response too
#    large", and raises no notify_failed.
# 17. A webhook sent with `json` reports no template message in its result.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u
: "${RUNBOOK:?}" "${RB_SOURCE_DIR:?}"
tmp=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "$tmp"
peer_pid= run_pid=
cleanup() {
    [ -n "$run_pid" ] && kill -9 "$run_pid" 2>/dev/null
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
. "$RB_SOURCE_DIR/tests/e2e/lib_notify.sh"
# the steps of a runbook that only notifies: one that succeeds
one_step() { printf 'steps:\n  - name: s\n    run: [sh, -c, "true"]\n'; }
# waits (at most 60 s) until FILE holds STRING
await() {
    i=0
    while ! grep -q -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && return 1
        sleep 0.1
    done
}

smtp_pw=smtp-Pw-4e8d1c77
notify_peer_start "$smtp_pw"
req=requests.jsonl

# ---- 1. a transformed secret is masked everywhere ----
cat >leak.yaml <<EOF
apiVersion: runbook/v1
name: leak
title: leak
params:
  tok: { secret: true }
  pad: { default: "" }
  pw: { secret: true }
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { url: "http://127.0.0.1:$hp/chat/a", vars: { title: "t {{ params.tok }}", summary: "token {{ params.tok }} end" } }
  - on: [resolved]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/hook/b", vars: { summary: ["{{ params.tok }}"] } }
  - on: [resolved]
    action: notify
    with: { url: "http://127.0.0.1:$hp/chat/c", vars: { summary: "{{ params.pad }}{{ params.tok }}" } }
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", ca_file: "$tmp/cert.pem", from: a@example.org,
            to: b@example.org, username: alerts, password: "{{ params.pw }}", vars: { title: "t {{ params.tok }}" } }
EOF
tok=$(printf 'S3cr&t<Tok>en\tWX\nYZsecretTail')
# 4096 bytes of message value in all: the cut falls after "S3cr&t" (&amp; in Slack)
pad=$(head -c 4085 /dev/zero | tr '\0' p)
"$RUNBOOK" run --db j.db --yes --format json leak.yaml -p "tok=$tok" -p "pad=$pad" -p "pw=$smtp_pw" \
    >leak.json 2>leak.err
rc=$?
[ $rc -eq 0 ] && ok || { bad "leak run exit $rc"; cat leak.err; }
"$RUNBOOK" show --db j.db 1 >leak-show.out 2>&1 || bad "show"
"$RUNBOOK" show --db j.db --format json 1 >leak-show.json 2>&1 || bad "show --format json"
check "the receiver got the escaped secret" '[.[] | select(.path == "/chat/a") | .body | fromjson | .text
    | contains("token S3cr&amp;t&lt;Tok&gt;en WX YZsecretTail end")] == [true]' $req
check "the cut message ends in the marker" '[.[] | select(.path == "/chat/c") | .body | fromjson | .text
    | contains("S3cr&amp;t[…]")] == [true]' $req
check "four notifications sent" '[.[0].events[] | select(.type == "notification_sent") | .data.result.ok] == [true, true, true, true]' leak-show.json
for f in leak.json leak-show.out leak-show.json j.db j.db-wal; do
    [ -e "$f" ] || continue
    if strings -n 3 "$f" | grep -q -e 'S3c' -e 'Tok' -e 'YZsecret' -e "$smtp_pw"; then
        bad "a secret, whole or transformed or in part, is in $f:"
        strings -n 3 "$f" | grep -o -e '.\{0,20\}S3c.\{0,30\}' -e '.\{0,20\}YZsecret.\{0,10\}' | head -5
    else
        ok
    fi
done
check "show --format json masks it" '[.[0].events[] | select(.type == "notification_sent") | .data.result.text
    | select(contains("***"))] | length == 4' leak-show.json

# ---- 2, 13. limits refused at load, at the key ----
cat >zero.yaml <<EOF
apiVersion: runbook/v1
name: zero
title: zero
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { url: "http://127.0.0.1:$hp/x", timeout: 0s }
  - on: [resolved]
    action: notify
    with: { url: "http://127.0.0.1:$hp/x", retry_delay: 5m }
  - on: [resolved]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/x", json: { a: 1 }, template: incident }
  - on: []
    action: notify
    with: { url: "http://127.0.0.1:$hp/x" }
EOF
"$RUNBOOK" validate zero.yaml >zero.out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "validate of timeout 0s exits $rc, not 2"
grep -q 'zero.yaml:10:[0-9]*:.*timeout must be longer than 0s' zero.out && ok || { bad "timeout: 0s not refused at its key"; cat zero.out; }
grep -q 'zero.yaml:13:[0-9]*:.*retry_delay must be at most 1m' zero.out && ok || { bad "retry_delay: 5m not refused"; cat zero.out; }
grep -q 'zero.yaml:16:[0-9]*:.*json is the whole body' zero.out && ok || { bad "json with template not refused"; cat zero.out; }
grep -q 'zero.yaml:17:[0-9]*:.*"on" must not be empty' zero.out && ok || { bad "on: [] not refused"; cat zero.out; }

# ---- 3. SIGTERM while the end waits for a notification ----
cat >hang.yaml <<EOF
apiVersion: runbook/v1
name: hang
title: hang
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/hang/end", timeout: 60s, attempts: 1 }
  - on: [notify_failed]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/fallback/x" }
EOF
"$RUNBOOK" run --db h.db --yes hang.yaml >hang.out 2>&1 &
run_pid=$!
if await $req '"/hang/end"'; then
    t0=$(date +%s)
    kill -TERM $run_pid
    wait $run_pid
    rc=$?
    run_pid=
    t1=$(date +%s)
    [ $((t1 - t0)) -lt 20 ] && ok || bad "SIGTERM took $((t1 - t0)) s to end the run"
    [ $rc -eq 0 ] && ok || { bad "run exit $rc after SIGTERM (the outcome was resolved)"; cat hang.out; }
    "$RUNBOOK" show --db h.db --format json 1 >hang.json 2>&1
    check "the notification in flight is cancelled" '[.[0].events[] | select(.type == "notification_sent")
        | .data.result.outcome] == ["cancelled"]' hang.json
    check "the run stays resolved" '.[0].status == "resolved"' hang.json
    grep -q '"/fallback/' $req && bad "notify_failed was raised by a cancelled notification" || ok
else
    bad "the hanging notification never arrived"
fi

# ---- 4. long run keys: one dedup_key per run ----
cat >pd.yaml <<EOF
apiVersion: runbook/v1
name: pd
title: pd
params:
  k: { default: "" }
concurrency: "{{ params.k }}"
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { channel: pagerduty, routing_key: rk-123456, url: "http://127.0.0.1:$hp/pd/long", event_action: trigger }
EOF
long=$(head -c 400 /dev/zero | tr '\0' k)
for n in 1 2; do
    "$RUNBOOK" run --db pd.db --yes pd.yaml -p "k=$long" >pd$n.out 2>&1 || { bad "pd run $n"; cat pd$n.out; }
done
check "two runs, two dedup_keys of at most 255 bytes ending in the run id" '[.[] | select(.path == "/pd/long")
    | .body | fromjson | .dedup_key] | length == 2 and (map(utf8bytelength <= 255) | all)
    and (.[0] | endswith("/1")) and (.[1] | endswith("/2")) and .[0] != .[1]
    and (.[0] | startswith("runbook/kkkk"))' $req

# ---- 8, 15, 17. Unicode breaks, a big answer, a json webhook's result ----
cat >uni.yaml <<EOF
apiVersion: runbook/v1
name: uni
title: uni
params:
  v: { default: "" }
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { url: "http://127.0.0.1:$hp/uni/a", vars: { summary: "{{ params.v }}" } }
  - on: [resolved]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/big/b" }
  - on: [resolved]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/js/c", json: { name: "x" } }
  - on: [notify_failed]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/fallback/uni" }
EOF
v=$(printf 'a\302\205b\342\200\250c\342\200\251d\342\200\256e')
"$RUNBOOK" run --db u.db --yes uni.yaml -p "v=$v" >uni.out 2>&1 || { bad "uni run"; cat uni.out; }
"$RUNBOOK" show --db u.db --format json 1 >uni.json 2>&1
check "Unicode line breaks and controls are spaces" '[.[] | select(.path == "/uni/a") | .body | fromjson | .text
    | contains("a b c d e")] == [true]' $req
check "a 1 MiB answer is a delivery" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.target | length > 0) | .ok] | all' uni.json
grep -q '"/fallback/uni' $req && bad "notify_failed raised for a delivered notification" || ok
check "a json webhook reports no template message" '[.[0].events[] | select(.type == "notification_sent")
    | .data.result | select(.channel == "webhook" and .status == 200 and (.body | length) < 100)
    | has("text") or has("template")] == [false]' uni.json

# ---- 6. long headers are folded; 11. an empty templated password ----
to=$(jq -n -c '[range(40) | "Person Number \(.) <person\(.)@example.org>"]')
cat >long.yaml <<EOF
apiVersion: runbook/v1
name: long
title: long
params:
  t: { default: "" }
  pw: { default: "" }
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", ca_file: "$tmp/cert.pem", from: a@example.org,
            to: $to, username: alerts, password: "$smtp_pw", vars: { title: "{{ params.t }}" } }
  - on: [notify_failed]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", starttls: false, from: a@example.org,
            to: b@example.org, password: "{{ params.pw }}" }
EOF
"$RUNBOOK" validate long.yaml >long-validate.out 2>&1 && ok || { bad "starttls: false with an empty templated password"; cat long-validate.out; }
title=$(for i in $(seq 400); do printf '\303\274'; done)
rm -f mail-*.eml
"$RUNBOOK" run --db l.db --yes long.yaml -p "t=$title" >long.out 2>&1 || { bad "long run"; cat long.out; }
m=$(ls mail-*.eml 2>/dev/null | head -n 1)
if [ -n "$m" ]; then
    ok
    awk 'length($0) > 998 { bad = 1 } END { exit bad }' "$m" && ok || bad "a mail line over 998 bytes"
    "$py" "$RB_SOURCE_DIR/tests/e2e/notify_peer.py" mail "$m" >long-mail.json || bad "the long mail does not parse"
    check "the folded To lists the 40" '.[0].headers.To | split(", ") | length == 40' long-mail.json
    check "a Message-ID at the sender's domain" '.[0].headers["Message-ID"] | test("^<[0-9a-f]{32}@example.org>$")' long-mail.json
    grep -q '=0A' "$m" && bad "the text part's line breaks are encoded =0A" || ok
    grep -q '^Status: resolved' "$m" && ok || bad "the text part's lines are not lines"
    check "the folded Subject decodes whole" '.[0].headers.Subject | startswith("INCIDENT RESOLVED: üüü") and (length > 300)' long-mail.json
else
    bad "the mail with long headers was not delivered"
    "$RUNBOOK" show --db l.db 1 | grep -i "error" | head -3
fi

# ---- 7. an SMTP failure in the server's words; a missing ca_file ----
cat >smtperr.yaml <<EOF
apiVersion: runbook/v1
name: smtperr
title: smtperr
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", ca_file: "$tmp/cert.pem", from: a@example.org,
            to: tempfail@example.org, username: alerts, password: "$smtp_pw", attempts: 1 }
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", from: a@example.org,
            to: b@example.org, attempts: 1 }
  - on: [resolved]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", ca_file: "$tmp/no-such.pem", from: a@example.org,
            to: b@example.org, attempts: 1 }
  - on: [resolved]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/down/x", attempts: 2, retry_delay: 100ms }
EOF
"$RUNBOOK" run --db se.db --yes smtperr.yaml >smtperr.out 2>&1
"$RUNBOOK" show --db se.db --format json 1 >smtperr.json 2>&1
check "a 451 says the server's words" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.target == "tempfail@example.org") | [.status, .error]] == [[451, "451 4.3.0 try again later"]]' smtperr.json
check "a TLS failure after the greeting has no SMTP status" '[.[0].events[] | select(.type == "notification_sent") | .data.result
    | select(.target == "b@example.org" and (.error | test("certificate"))) | .status] == [0]' smtperr.json
"$RUNBOOK" show --db se.db 1 >smtperr-show.out 2>&1
grep -q 'notify resolved: webhook to http://127.0.0.1:[0-9]*: failed (status 500, 2 attempts' smtperr-show.out && ok || { bad "show does not count a notification's tries"; grep notify smtperr-show.out; }
grep -q "ca_file: $tmp/no-such.pem: No such file" smtperr.out && ok || { bad "a missing ca_file is not named"; cat smtperr.out; }

# ---- 10. a drill says what a real run would refuse ----
cat >drill.yaml <<EOF
apiVersion: runbook/v1
name: drill
title: drill
params:
  k: { default: "" }
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { channel: pagerduty, routing_key: rk-123456, url: "http://127.0.0.1:$hp/pd/drill", dedup_key: "{{ params.k }}" }
  - on: [resolved]
    action: notify
    with: { url: "http://127.0.0.1:$hp/chat/drill" }
EOF
"$RUNBOOK" run --db d.db --dry-run drill.yaml -p "k=$long" >drill.out 2>&1 || { bad "drill"; cat drill.out; }
"$RUNBOOK" show --db d.db 1 >drill-show.out 2>&1
grep -q 'notify resolved: would be refused: dedup_key must be a string of 1 to 255 bytes' drill-show.out && ok ||
    { bad "a drill does not say the dedup_key would be refused"; grep notify drill-show.out; }
grep -q 'notify resolved: would send' drill-show.out && ok || bad "a drill no longer says would send"
grep -q '/drill"' $req && bad "a drill sent something" || ok

# ---- 18. a message on notify_failed names what was not sent ----
cat >nf.yaml <<EOF
apiVersion: runbook/v1
name: nf
title: nf
$(one_step)
notify:
  - on: [resolved]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/down/nf", attempts: 1 }
  - on: [notify_failed]
    action: notify
    with: { channel: webhook, url: "http://127.0.0.1:$hp/fb/nf" }
EOF
"$RUNBOOK" run --db nf.db --yes nf.yaml >nf.out 2>&1 || { bad "nf run"; cat nf.out; }
check "the fallback names the notification not sent" "[.[] | select(.path == \"/fb/nf\") | .body | fromjson | .summary]
    == [\"the resolved notification (webhook to http://127.0.0.1:$hp) was not sent: the receiver answered 500\"]" $req

echo "notify_fixes: $pass passed, $fail failed"
[ $fail -eq 0 ]
