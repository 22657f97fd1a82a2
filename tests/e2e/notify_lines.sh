#!/bin/sh
# notify_lines.sh — every notification line says which channel and target
# it is about (docs/notifications.md, "Journal"): three `notify` entries on
# `declared` and one with an empty url, against the receivers of
# tests/e2e/notify_peer.py on 127.0.0.1 (ports chosen by the OS), print
#   notify declared: slack to http://127.0.0.1:P: sent
#   notify declared: pagerduty trigger to http://127.0.0.1:P: sent
#   notify declared: email to oncall@example.org: sent
#   notify declared: webhook: error — url is empty
# in live progress (not a terminal, and a terminal: tests/e2e/pty_answer.py)
# and in `runbook show`; a secret webhook URL shows only its origin, never
# its path.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u
: "${RUNBOOK:?}" "${RB_SOURCE_DIR:?}"
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # $tmp, ok, bad
peer_pid=
trap '[ -n "$peer_pid" ] && kill $peer_pid 2>/dev/null; rm -rf "$tmp"' EXIT
. "$RB_SOURCE_DIR/tests/e2e/lib_notify.sh"
smtp_pw=smtp-Pw-71c0
notify_peer_start "$smtp_pw"

cat >r.yaml <<EOF
apiVersion: runbook/v1
name: lines
title: lines
params:
  hook: { secret: true }
  empty: { default: "" }
steps:
  - name: s
    run: [sh, -c, "true"]
notify:
  - on: [declared]
    action: notify
    with: { url: "{{ params.hook }}" }
  - on: [declared]
    action: notify
    with: { channel: pagerduty, routing_key: rk-1, url: "http://127.0.0.1:$hp/pd/lines" }
  - on: [declared]
    action: notify
    with: { channel: email, url: "smtp://127.0.0.1:$sp", ca_file: "$tmp/cert.pem", from: a@example.org,
            to: oncall@example.org, username: alerts, password: "$smtp_pw" }
  - on: [declared]
    action: notify
    with: { channel: webhook, url: "{{ params.empty }}", attempts: 1 }
EOF
hook="http://127.0.0.1:$hp/chat/SECRETPATH-9f1"
# the four lines, in any order (they go at once)
# lines FILE: the notify lines of FILE, colours taken out, sorted. On a
# terminal the spinner is drawn between lines and wiped by the next one's
# "\r\033[K": a CR starts a line as it does on the screen.
lines() {
    sed 's/\x1b\[[0-9;]*[mK]//g' "$1" | tr '\r' '\n' | sed 's/^ *+[0-9.]*s  //; s/^ *//' |
        grep '^notify declared:' | sort
}
want=$(printf '%s\n' \
    "notify declared: email to oncall@example.org: sent" \
    "notify declared: pagerduty trigger to http://127.0.0.1:$hp: sent" \
    "notify declared: slack to http://127.0.0.1:$hp: sent" \
    "notify declared: webhook: error — url is empty" | sort)

"$RUNBOOK" run --db j.db --yes r.yaml -p "hook=$hook" >run.out 2>&1 || { bad "run"; cat run.out; }
got=$(lines run.out)
[ "$got" = "$want" ] && ok || { bad "live progress (not a terminal) says:"; echo "$got"; }

"$RUNBOOK" show --db j.db 1 >show.out 2>&1 || bad "show"
# show adds each one's status and time: "sent (status 202, 12ms)", "error (…): url is empty"
got=$(lines show.out | sed 's/: \(sent\|error\) (status [0-9]*, [^)]*)/: \1/; s/: error: /: error — /')
[ "$got" = "$want" ] && ok || { bad "show says:"; echo "$got"; }

"$RUNBOOK" show --db j.db --format json 1 >show.json
check "the result of the empty url names its channel" '[.[0].events[] | select(.type == "notification_sent")
    | .data.result | select(.outcome == "error") | [.channel, .target, .error]]
    == [["webhook", "", "url is empty"]]' show.json

python3 "$RB_SOURCE_DIR/tests/e2e/pty_answer.py" tty.out -- \
    "$RUNBOOK" run --db t.db --yes r.yaml -p "hook=$hook" || { bad "run on a terminal"; cat tty.out; }
got=$(lines tty.out)
[ "$got" = "$want" ] && ok || { bad "live progress on a terminal says:"; echo "$got"; }

for f in run.out show.out show.json tty.out; do
    grep -q SECRETPATH "$f" && bad "the secret webhook's path is in $f" || ok
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
