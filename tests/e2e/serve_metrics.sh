#!/bin/sh
# GET /metrics (docs/metrics.md) and the generic hook (docs/webhooks.md):
# the scrape is read by a real Prometheus text parser (python3-prometheus-
# client's), token-protected unless metrics.open says otherwise, and its
# values are checked after known traffic: alerts claimed and duplicate,
# runs and steps by outcome, the step duration and engine-overhead
# histograms, pending approvals, webhook requests by endpoint and status,
# and the journal's commits. The generic hook: a good signature starts the
# runbook with the body as params; a bad, missing, malformed, stale or
# replayed one starts nothing, and each refusal is counted by reason.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 0; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: no openssl"; exit 0; }
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client
$PY -c 'import prometheus_client.parser' 2>/dev/null || { echo "SKIP: no python3-prometheus-client"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

. "$RB_SOURCE_DIR/tests/e2e/lib_api.sh"
api_setup
rm runbooks/nap.yaml
cat >runbooks/node-down.yaml <<'YAML'
apiVersion: runbook/v1
name: node-down
triggers:
  - match: { alertname: NodeDown }
steps:
  - name: note
    action: log
    with: { message: "node {{ alert.labels.instance }} down" }
  - name: check
    run: [true]
YAML
cat >runbooks/deploy.yaml <<'YAML'
apiVersion: runbook/v1
name: deploy
params:
  version: { required: true }
steps:
  - name: say
    action: log
    with: { message: "deploying {{ params.version }}" }
YAML
cat >runbooks/open.yaml <<'YAML'
apiVersion: runbook/v1
name: open
params:
  x: { default: none }
steps:
  - name: say
    action: log
    with: { message: "{{ params.x }}" }
YAML
export DEPLOY_SECRET=s3cret-s3cret-s3cret
cat >>server.yaml <<YAML
generic_hooks:
  deploy: { secret_env: DEPLOY_SECRET, replay_window: 2m }
YAML

# sign TS FILE: the X-Runbook-Signature value for FILE sent at TS
sign() {
    printf '%s.' "$1" >signed
    cat "$2" >>signed
    echo "sha256=$(openssl dgst -sha256 -hmac "$DEPLOY_SECRET" -r signed | cut -d' ' -f1)"
}
# hook FILE TS SIG: POST /hooks/generic/deploy signed (TS or SIG empty: header left out)
hook() {
    curl -s -o "$tmp/body" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $AM" \
        ${2:+-H "X-Runbook-Timestamp: $2"} ${3:+-H "X-Runbook-Signature: $3"} \
        --data-binary "@$1" "http://127.0.0.1:$srv_port/hooks/generic/deploy"
}
# metric NAME LABELS-AS-PYTHON-DICT: the sample's value from the parsed scrape, or "none"
metric() {
    $PY - "$1" "$2" <<'PY'
import sys, ast
from prometheus_client.parser import text_string_to_metric_families
want, labels = sys.argv[1], ast.literal_eval(sys.argv[2])
for fam in text_string_to_metric_families(open("scrape").read()):
    for s in fam.samples:
        if s.name == want and all(s.labels.get(k) == v for k, v in labels.items()):
            print(int(s.value) if s.value == int(s.value) else s.value)
            sys.exit(0)
print("none")
PY
}

if serve_start log --config server.yaml; then
    # ---- known traffic ----
    FIRING="$RB_SOURCE_DIR/tests/fixtures/alertmanager/firing.json"
    [ "$(http POST /hooks/alertmanager $AM "$FIRING")" = 200 ] || bad "alertmanager delivery"
    [ "$(http POST /hooks/alertmanager $AM "$FIRING")" = 200 ] || bad "alertmanager repeat"
    nd=$(sqlite3 j.db "select run_id from alert_runs limit 1" 2>/dev/null || true)

    printf '{"version":"1.2.3"}' >p.json
    now=$(date +%s)
    [ "$(hook p.json "$now" "$(sign "$now" p.json)")" = 201 ] && ok || { bad "a good signature: 201"; cat body; }
    d1=$(jq -r .id body)
    [ "$(hook p.json "$now" "$(sign "$now" p.json)")" = 409 ] && ok || bad "the same signed request again: 409 (replay)"
    [ "$(hook p.json "$now" "sha256=$(printf '%064d' 0)")" = 401 ] && ok || bad "a bad signature: 401"
    [ "$(hook p.json "" "")" = 401 ] && ok || bad "no signature: 401"
    [ "$(hook p.json "$now" "md5=abc")" = 401 ] && ok || bad "a malformed signature: 401"
    old=$((now - 3600))
    [ "$(hook p.json "$old" "$(sign "$old" p.json)")" = 401 ] && ok || bad "a stale timestamp: 401"
    printf '{"version":"9.9.9"}' >q.json
    [ "$(hook q.json "$now" "$(sign "$now" p.json)")" = 401 ] && ok || bad "a signature of another body: 401"
    # a hook without a secret: the body is the params, no signature wanted
    printf '{"x":"hello"}' >x.json
    [ "$(http POST /hooks/generic/open $AM x.json)" = 201 ] && ok || { bad "an unsigned hook: 201"; cat body; }
    o1=$(jq -r .id body)
    [ "$(http POST /hooks/generic/nope $AM x.json)" = 404 ] && ok || bad "a hook for no runbook: 404"
    printf '[1,2]' >arr.json
    [ "$(http POST /hooks/generic/open $AM arr.json)" = 400 ] && ok || bad "a body that is no object: 400"
    [ "$(http POST /hooks/generic/open $RO x.json)" = 403 ] && ok || bad "a viewer calls no hook: 403"
    wait_for api_status_is "$d1" resolved && ok || bad "the signed hook's run resolves"
    wait_for api_status_is "$o1" resolved && ok || bad "the unsigned hook's run resolves"
    [ "$(http GET /api/v1/runs/$d1 $RO)" = 200 ] && [ "$(jq -r .params.version body)" = 1.2.3 ] &&
        [ "$(jq -r .trigger body)" = webhook ] && ok || { bad "the body is the params"; cat body; }
    [ "$(http GET '/api/v1/runs?runbook=deploy' $RO)" = 200 ] && [ "$(jq '.runs | length' body)" = 1 ] &&
        ok || bad "refused hooks started nothing"
    [ -n "$nd" ] && wait_for api_status_is "$nd" resolved || bad "the alert's run resolves"
    printf '{"runbook":"gate"}' >g.json
    http POST /api/v1/runs $OP g.json >/dev/null
    g1=$(jq -r .id body)
    wait_for sh -c "curl -s -H 'Authorization: Bearer $RO' http://127.0.0.1:$srv_port/api/v1/approvals | jq -e '.approvals | length == 1' >/dev/null" ||
        bad "the gate waits"

    # ---- the scrape ----
    [ "$(http GET /metrics)" = 401 ] && ok || bad "/metrics wants a token unless opened"
    [ "$(http GET /metrics $AM)" = 403 ] && ok || bad "a hook token reads no metrics"
    curl -s -D headers -o scrape -H "Authorization: Bearer $RO" "http://127.0.0.1:$srv_port/metrics"
    grep -qi '^content-type: text/plain; version=0.0.4' headers && ok || bad "the exposition content type"
    $PY -c '
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open("scrape").read()))
assert len(fams) >= 12, len(fams)' && ok || { bad "the scrape parses"; cat scrape; }
    check() { # check NAME LABELS WANT
        got=$(metric "$1" "$2")
        [ "$got" = "$3" ] && ok || bad "$1 $2 = $got, want $3"
    }
    check runbook_alerts_total "{'outcome':'claimed'}" 1
    check runbook_alerts_total "{'outcome':'duplicate'}" 1
    check runbook_runs_started_total "{'runbook':'deploy'}" 1
    check runbook_runs_finished_total "{'runbook':'node-down','status':'resolved'}" 1
    check runbook_runs_finished_total "{'runbook':'open','status':'resolved'}" 1
    check runbook_steps_total "{'action':'log','outcome':'ok'}" 3
    check runbook_steps_total "{'action':'exec','outcome':'ok'}" 1
    check runbook_step_duration_seconds_count "{'action':'log'}" 3
    check runbook_step_engine_overhead_seconds_count "{}" 4
    check runbook_runs_active "{}" 1
    check runbook_approvals_pending "{}" 1
    check runbook_runbooks_loaded "{}" 4
    check runbook_hook_rejections_total "{'endpoint':'generic','reason':'signature_bad'}" 2
    check runbook_hook_rejections_total "{'endpoint':'generic','reason':'signature_missing'}" 1
    check runbook_hook_rejections_total "{'endpoint':'generic','reason':'signature_malformed'}" 1
    check runbook_hook_rejections_total "{'endpoint':'generic','reason':'signature_stale'}" 1
    check runbook_hook_rejections_total "{'endpoint':'generic','reason':'signature_replayed'}" 1
    check runbook_hook_rejections_total "{'endpoint':'generic','reason':'unknown_runbook'}" 1
    check runbook_hook_rejections_total "{'endpoint':'generic','reason':'bad_body'}" 1
    check runbook_http_requests_total "{'endpoint':'generic','status':'401'}" 5
    check runbook_http_requests_total "{'endpoint':'generic','status':'201'}" 2
    check runbook_http_requests_total "{'endpoint':'generic','status':'403'}" 1
    check runbook_http_requests_total "{'endpoint':'alertmanager','status':'200'}" 2
    check runbook_http_requests_total "{'endpoint':'metrics','status':'401'}" 1
    c=$(metric runbook_journal_commits_total "{}")
    h=$(metric runbook_journal_commit_seconds_count "{}")
    [ "$c" = "$h" ] && [ "$c" -gt 0 ] && ok || bad "journal commits $c, commit latency count $h"
    # a file: one engine, no leases to lose (docs/high-availability.md)
    check runbook_journal_leases_held "{}" 0
    check runbook_journal_lease_takeovers_total "{}" 0
    check runbook_journal_fenced_writes_total "{}" 0
    serve_stop
    srv_pid=
    [ "$srv_rc" = 0 ] && ok || { bad "the server exits 0 (got $srv_rc)"; tail -20 log*; }
else
    bad "the server did not start"; cat log
fi

# ---- metrics: {open: true} ----
printf 'metrics: { open: true }\n' >>server.yaml
if serve_start log2 --config server.yaml; then
    [ "$(http GET /metrics)" = 200 ] && ok || bad "metrics.open: no token wanted"
    serve_stop
    srv_pid=
    [ "$srv_rc" = 0 ] && ok || { bad "the server exits 0 (got $srv_rc)"; tail -20 log*; }
else
    bad "the server did not start again"; cat log2
fi
printf 'generic_hooks:\n  deploy: { secret_env: NOT_SET_ANYWHERE }\n' >bad.yaml
"$RUNBOOK" validate --config bad.yaml >out 2>&1
[ $? -eq 2 ] && grep -q 'bad.yaml:2:.*secret_env.*not set' out && ok || { bad "an unset secret variable is a config error"; cat out; }

echo "serve_metrics: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
