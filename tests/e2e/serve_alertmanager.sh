#!/bin/sh
# POST /hooks/alertmanager (docs/webhooks.md), driven with real payloads
# (the shape of tests/fixtures/alertmanager, captured from a real Alertmanager): a firing alert starts the matching runbook
# once (a repeated delivery starts nothing and is answered 200); a resolved
# alert is journaled against its run and cancels a cancel_on_resolve run;
# an alert nothing matches is journaled as unmatched; a cooldown holds
# across a restart; a claimed alert whose run was never recorded is
# started on the next start; hostile input (malformed JSON, the wrong
# version, a bad alert, a body over the limit, 10,000 alerts, a header
# flood, a slow client, a label that tries shell injection) starts nothing
# it should not and never crashes the server.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir runbooks marks
export MARKS="$tmp/marks"
node_down_runbook runbooks/node-down.yaml
slow_runbook runbooks/slow.yaml
cat >runbooks/cool.yaml <<'YAML'
apiVersion: runbook/v1
name: cool
triggers:
  - match: { alertname: Cool }
cooldown: 1h
steps:
  - name: mark
    run: "echo ran >> {{ env.MARKS }}/cool"
YAML
hook_token
server_config 'limits: { body_size: 4MiB, header_size: 8192, request_time: 2s, active_runs: 50 }'

# alert NAME FP STATUS [INSTANCE]: a version 4 body with one alert
alert() {
    ends='0001-01-01T00:00:00Z'
    [ "$3" = resolved ] && ends='2026-11-21T23:50:00Z'
    printf '{"receiver":"engine","status":"%s","version":"4","groupKey":"{}","alerts":[{"status":"%s","labels":{"alertname":"%s","instance":"%s"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"%s","fingerprint":"%s"}]}' \
        "$3" "$3" "$1" "${4:-node-1}" "$ends" "$2"
}
runs() { sqlite3 j.db 'SELECT count(*) FROM runs'; }
status_of() { sqlite3 j.db "SELECT r.status FROM runs r JOIN alert_runs a ON a.run_id = r.id WHERE a.fingerprint = '$1'"; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }

serve_start log1 --config server.yaml || { bad "the server did not start"; cat log1; exit 1; }

# ---- firing, once ----
alert NodeDown fp-a firing node-1 >a.json
[ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] && ok || { bad "firing: 200"; cat body; }
wait_for status_is fp-a resolved && ok || bad "the run of fp-a resolves"
[ "$(cat marks/node-down)" = node-1 ] && ok || bad "the step ran with the alert's label"
for i in 1 2 3; do
    [ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] && ok || bad "a repeat is answered 200"
done
grep -q '"duplicates":1' body && ok || bad "a repeat is a duplicate"
[ "$(lines marks/node-down)" = 1 ] && [ "$(runs)" = 1 ] && ok || bad "a repeat starts nothing"

# the same new alert on 16 connections at once (clustered Alertmanagers):
# one run, every copy answered 200
alert NodeDown fp-par firing node-par >par.json
python3 - "$srv_port" par.json >par.out <<'PY'
import sys, threading, urllib.request
port, path = sys.argv[1], sys.argv[2]
body = open(path, "rb").read()
codes = []
def post():
    req = urllib.request.Request("http://127.0.0.1:%s/hooks/alertmanager" % port, data=body,
        headers={"Authorization": "Bearer 0123456789abcdef0123", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        codes.append(r.status)
ts = [threading.Thread(target=post) for _ in range(16)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(str(c) for c in sorted(set(codes))), len(codes))
PY
[ "$(cat par.out)" = "200 16" ] && ok || { bad "16 copies at once: all 200"; cat par.out; }
wait_for status_is fp-par resolved && ok || bad "the parallel alert's run resolves"
[ "$(sqlite3 j.db "SELECT count(*) FROM alert_runs WHERE fingerprint = 'fp-par'")" = 1 ] &&
    [ "$(grep -cx node-par marks/node-down)" = 1 ] && ok || bad "16 copies at once: one run"

# ---- resolved: journaled against the run; cancel_on_resolve cancels ----
alert NodeDown fp-a resolved node-1 >ar.json
[ "$(http POST /hooks/alertmanager $T ar.json)" = 200 ] && ok || bad "resolved: 200"
[ "$(sqlite3 j.db "SELECT count(*) FROM events e JOIN alert_runs a ON a.run_id = e.run_id WHERE a.fingerprint = 'fp-a' AND e.type = 'alert_resolved'")" = 1 ] &&
    ok || bad "the resolution is journaled against the run"
[ "$(sqlite3 j.db "SELECT resolved_at IS NOT NULL FROM alerts WHERE fingerprint = 'fp-a'")" = 1 ] && ok || bad "the claim records the resolution"
alert Slow fp-s firing >s.json
alert Slow fp-s resolved >sr.json
[ "$(http POST /hooks/alertmanager $T s.json)" = 200 ] && ok || bad "slow: 200"
wait_for status_is fp-s running && ok || bad "the slow run runs"
[ "$(http POST /hooks/alertmanager $T sr.json)" = 200 ] && grep -q '"cancelled":1' body && ok || { bad "resolving cancels"; cat body; }
wait_for status_is fp-s cancelled && ok || bad "the slow run ends cancelled"
sid=$(sqlite3 j.db "SELECT run_id FROM alert_runs WHERE fingerprint = 'fp-s'")
[ "$(grep -c "event=alert_resolved run=$sid " log1)" = 1 ] && ok || { bad "alert_resolved is logged once"; grep alert_resolved log1; }

# a resolved notice whose startsAt moved (Alertmanager merges a resolve
# posted with an earlier time) still finds its alert by fingerprint
alert NodeDown fp-m firing node-m >m.json
alert NodeDown fp-m resolved node-m | sed 's/"startsAt":"[^"]*"/"startsAt":"2026-11-21T23:40:00Z"/' >mr.json
[ "$(http POST /hooks/alertmanager $T m.json)" = 200 ] && ok || bad "fp-m: 200"
wait_for status_is fp-m resolved && ok || bad "the run of fp-m resolves"
[ "$(http POST /hooks/alertmanager $T mr.json)" = 200 ] && grep -q '"resolved":1' body && ok || { bad "a moved startsAt resolves"; cat body; }
[ "$(sqlite3 j.db "SELECT count(*) FROM events e JOIN alert_runs a ON a.run_id = e.run_id WHERE a.fingerprint = 'fp-m' AND e.type = 'alert_resolved'")" = 1 ] &&
    ok || bad "the moved resolution is journaled against the run"

# ---- unmatched ----
alert Nobody fp-u firing >u.json
[ "$(http POST /hooks/alertmanager $T u.json)" = 200 ] && grep -q '"unmatched":1' body && ok || bad "unmatched: 200"
[ "$(sqlite3 j.db "SELECT status FROM alerts WHERE fingerprint = 'fp-u'")" = unmatched ] && ok || bad "unmatched is journaled"

# ---- hostile input: nothing starts ----
before=$(runs)
printf '{"version":"4","alerts":[' >bad1.json
[ "$(http POST /hooks/alertmanager $T bad1.json)" = 400 ] && ok || bad "malformed JSON: 400"
alert NodeDown fp-v firing | sed 's/"version":"4"/"version":"3"/' >bad2.json
[ "$(http POST /hooks/alertmanager $T bad2.json)" = 400 ] && ok || bad "wrong version: 400"
alert NodeDown fp-w firing | sed 's/"fingerprint":"fp-w"/"fingerprint":7/' >bad3.json
[ "$(http POST /hooks/alertmanager $T bad3.json)" = 422 ] && ok || bad "a bad alert: 422"
# startsAt is an RFC 3339 time, named when it is not
for sa in 'yesterday' '2026-13-01T00:00:00Z' '2026-02-30T00:00:00Z' '2026-11-21 23:46:58Z' '2026-11-21T23:46:58'; do
    alert NodeDown fp-t firing | sed "s/\"startsAt\":\"[^\"]*\"/\"startsAt\":\"$sa\"/" >bad5.json
    [ "$(http POST /hooks/alertmanager $T bad5.json)" = 422 ] && grep -q 'alerts\[0\].startsAt must be an RFC 3339 time' body && ok ||
        { bad "startsAt $sa: 422 naming the field"; cat body; }
done
alert NodeDown fp-tz firing node-tz | sed 's/"startsAt":"[^"]*"/"startsAt":"2026-11-22T01:46:58.5+02:00"/' >tz.json
[ "$(http POST /hooks/alertmanager $T tz.json)" = 200 ] && ok || { bad "a startsAt with an offset: 200"; cat body; }
before=$(runs) # its run is on record before the 200
# the body must be JSON by its content type: 415 before it is read
code=$(curl -s -o body -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $T" \
    --data-binary @a.json "http://127.0.0.1:$srv_port/hooks/alertmanager")
[ "$code" = 415 ] && ok || bad "a form body (curl -d): 415 (got $code)"
code=$(curl -s -o body -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $T" -H 'Content-Type: text/plain' \
    --data-binary @a.json "http://127.0.0.1:$srv_port/hooks/alertmanager")
[ "$code" = 415 ] && ok || bad "text/plain: 415 (got $code)"
code=$(curl -s -o body -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $T" -H 'Content-Type: application/jsonx' \
    --data-binary @a.json "http://127.0.0.1:$srv_port/hooks/alertmanager")
[ "$code" = 415 ] && ok || bad "application/jsonx: 415 (got $code)"
code=$(curl -s -o body -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $T" -H 'Content-Type: Application/JSON; charset=utf-8' \
    --data-binary @a.json "http://127.0.0.1:$srv_port/hooks/alertmanager")
[ "$code" = 200 ] && ok || bad "application/json with a charset: 200 (got $code)"
# a good alert beside a bad one: the whole request is refused
printf '{"version":"4","alerts":[%s,%s]}' "$(alert NodeDown fp-x firing node-9 | sed 's/.*"alerts":\[\(.*\)\]}$/\1/')" '{"status":"firing"}' >bad4.json
[ "$(http POST /hooks/alertmanager $T bad4.json)" = 422 ] && ok || bad "one bad alert refuses the request"
python3 -c 'import sys; sys.stdout.write("{\"version\":\"4\",\"alerts\":[],\"pad\":\"" + "x" * (5 << 20) + "\"}")' >big.json
[ "$(http POST /hooks/alertmanager $T big.json)" = 413 ] && ok || bad "over the body limit: 413"
[ "$(runs)" = "$before" ] && ok || bad "a rejected request started a run"
# a label that tries shell injection stays one inert value
inj='$(touch pwned1); `touch pwned2`; echo x > pwned3 #'
alert NodeDown fp-i firing "$inj" >i.json
[ "$(http POST /hooks/alertmanager $T i.json)" = 200 ] && ok || bad "injection alert: 200"
wait_for status_is fp-i resolved && ok || bad "the injection run resolves"
[ ! -e runbooks/pwned1 ] && [ ! -e runbooks/pwned2 ] && [ ! -e runbooks/pwned3 ] && [ ! -e pwned1 ] && ok || bad "the label ran as shell"
grep -qxF "$inj" marks/node-down && ok || bad "the label arrived as its text"
# 10,000 alerts in one payload (unmatched): all claimed, the server lives
python3 - >many.json <<'PY'
import json
alerts = [{"status": "firing", "labels": {"alertname": "Many", "n": str(i)}, "annotations": {},
           "startsAt": "2026-11-21T23:46:58Z", "endsAt": "0001-01-01T00:00:00Z",
           "fingerprint": "many-%d" % i} for i in range(10000)]
print(json.dumps({"version": "4", "status": "firing", "alerts": alerts}))
PY
[ "$(http POST /hooks/alertmanager $T many.json)" = 200 ] && grep -q '"unmatched":10000' body && ok || { bad "10,000 alerts: 200"; head -c 300 body; }
[ "$(sqlite3 j.db "SELECT count(*) FROM alerts WHERE fingerprint LIKE 'many-%'")" = 10000 ] && ok || bad "10,000 alerts journaled"
# more new runs than limits.active_runs (50): 503, nothing claimed, nothing run
python3 - >over.json <<'PY'
import json
alerts = [{"status": "firing", "labels": {"alertname": "NodeDown", "instance": "over-%d" % i},
           "startsAt": "2026-11-21T23:46:58Z", "fingerprint": "over-%d" % i} for i in range(60)]
print(json.dumps({"version": "4", "alerts": alerts}))
PY
before=$(runs)
[ "$(http POST /hooks/alertmanager $T over.json)" = 503 ] && ok || bad "over active_runs: 503"
[ "$(sqlite3 j.db "SELECT count(*) FROM alerts WHERE fingerprint LIKE 'over-%'")" = 0 ] && [ "$(runs)" = "$before" ] &&
    ok || bad "a request over active_runs claims and runs nothing"
# a header flood (h2o: at most 100 headers) and a head over header_size
flood=$(python3 -c 'print(" ".join("-H X-F%d:%d" % (i, i) for i in range(200)))')
# shellcheck disable=SC2086
code=$(curl -s -o /dev/null -w '%{http_code}' $flood "http://127.0.0.1:$srv_port/healthz")
[ "$code" = 400 ] || [ "$code" = 431 ] && ok || bad "a header flood is refused (got $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(python3 -c 'print("y" * 9000)')" "http://127.0.0.1:$srv_port/healthz")
[ "$code" = 431 ] && ok || bad "a head over header_size: 431 (got $code)"
# a slow client (one byte every 0.3 s) is cut off at request_time (2 s)
python3 - "$srv_port" >slow.out <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
msg = b"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b"x" * 200
t0 = time.time()
try:
    for ch in msg:
        s.send(bytes([ch]))
        time.sleep(0.3)
        if time.time() - t0 > 30:
            break
    print("not cut")
except OSError:
    print("cut %.1f" % (time.time() - t0))
PY
grep -q '^cut' slow.out && [ "$(cut -d' ' -f2 slow.out | cut -d. -f1)" -lt 10 ] && ok || { bad "a slow client is cut off"; cat slow.out; }
[ "$(http GET /healthz)" = 200 ] && ok || bad "the server lives after the hostile input"

# ---- a cooldown holds across a restart ----
alert Cool fp-c1 firing >c1.json
alert Cool fp-c2 firing >c2.json
[ "$(http POST /hooks/alertmanager $T c1.json)" = 200 ] && ok || bad "cool: 200"
wait_for status_is fp-c1 resolved && ok || bad "the first cool run resolves"
serve_stop
[ "$srv_rc" = 0 ] && ok || bad "SIGTERM exits 0"
serve_start log2 --config server.yaml || { bad "restart"; cat log2; exit 1; }
[ "$(http POST /hooks/alertmanager $T c2.json)" = 200 ] && grep -q '"busy":1' body && ok || { bad "a new alert in the cooldown is busy"; cat body; }
[ "$(sqlite3 j.db "SELECT outcome LIKE 'busy:%cools down%' FROM alert_runs WHERE fingerprint = 'fp-c2'")" = 1 ] && ok || bad "the busy outcome is journaled"
[ "$(lines marks/cool)" = 1 ] && ok || bad "the cooldown started nothing"
# a repeat of fp-a after the restart is still a duplicate
[ "$(http POST /hooks/alertmanager $T a.json)" = 200 ] && grep -q '"duplicates":1' body && ok || bad "a repeat after a restart is a duplicate"
serve_stop

# ---- a claim whose run was never recorded starts on the next start ----
sqlite3 j.db "INSERT INTO alerts(fingerprint, starts_at, received_at, payload, status, runbooks) VALUES ('fp-lost', 'x', 0, '{\"labels\":{\"alertname\":\"NodeDown\",\"instance\":\"lost-one\"},\"fingerprint\":\"fp-lost\",\"startsAt\":\"x\",\"status\":\"firing\"}', 'claimed', '[\"node-down\"]')"
serve_start log3 --config server.yaml || { bad "restart 2"; cat log3; exit 1; }
wait_for status_is fp-lost resolved && ok || { bad "the lost claim's run is started"; cat log3; }
grep -qx lost-one marks/node-down && ok || bad "the lost claim's run used its alert"
grep -q 'event=claim_started' log3 && ok || bad "claim_started is logged"
serve_stop
serve_start log4 --config server.yaml || { bad "restart 3"; exit 1; }
serve_stop
[ "$(grep -c lost-one marks/node-down)" = 1 ] && ok || bad "the lost claim runs once"
"$RUNBOOK" audit verify --db j.db >/dev/null 2>&1 && ok || bad "audit verify"
srv_pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
