#!/bin/sh
# Approvals of a sub-runbook's step over the API (docs/api.md, "Approvals
# while serving"): a run whose `runbook` step starts a sub-runbook that
# waits for an approval is listed by GET /api/v1/approvals under the
# sub-run's own id (with parent_run), is answered by POST
# /api/v1/runs/SUB/approve and by `runbook approve SUB --server`, and deny
# fails the parent's step; /metrics counts the waiting sub-run.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit
. "$RB_SOURCE_DIR/tests/e2e/lib_api.sh"
api_setup
cat >runbooks/outer.yaml <<'YAML'
apiVersion: runbook/v1
name: outer
steps:
  - name: inner
    action: runbook
    with: { name: gate, params: { who: outer } }
  - name: after
    action: log
    with: { message: "the sub-runbook was approved" }
YAML
printf '%s\n' "$OP" >op.token
chmod 600 op.token

start() { # start RUNBOOK: the run's id
    printf '{"runbook":"%s"}' "$1" >s.json
    http POST /api/v1/runs $OP s.json >/dev/null
    jq -r .id body
}
# sub_of RUN: the id of the run the sub-runbook step of RUN started (from
# the pending approvals), once it waits
sub_of() {
    http GET /api/v1/approvals $RO >/dev/null &&
        sub=$(jq -r ".approvals[] | select(.parent_run == $1) | .run" body) && [ -n "$sub" ]
}

if serve_start log --config server.yaml; then
    URL="http://127.0.0.1:$srv_port"
    p1=$(start outer)
    wait_for sub_of "$p1" && ok || { bad "the sub-run's approval is listed with parent_run"; cat body; }
    [ "$sub" != "$p1" ] && jq -e ".approvals[] | select(.run == $sub) | .step == \"ask\" and .runbook == \"gate\"" body >/dev/null &&
        ok || { bad "listed by the sub-run's id, step and runbook"; cat body; }
    api_status_is "$sub" waiting_approval && ok || bad "the sub-run waits"
    http GET /api/v1/runs/$sub $RO >/dev/null && jq -e '.in_flight and .waiting_step == "ask"' body >/dev/null && ok ||
        { bad "GET the sub-run: in flight, waiting on ask"; cat body; }
    code=$(curl -s -o metrics.txt -w '%{http_code}' -H "Authorization: Bearer $RO" "$URL/metrics")
    grep -q '^runbook_approvals_pending 1$' metrics.txt && ok || { bad "metrics count the waiting sub-run ($code)"; grep approvals metrics.txt; }
    printf '{"comment":"inner ok"}' >yes.json
    [ "$(http POST /api/v1/runs/$sub/approve $OP yes.json)" = 200 ] &&
        jq -e '.answer == "approved" and .by == "ops" and .step == "ask"' body >/dev/null && ok || { bad "approve the sub-run over the API"; cat body; }
    wait_for api_status_is "$p1" resolved && ok || bad "the parent resolves after the sub-run's approval"
    api_status_is "$sub" resolved && ok || bad "the sub-run resolved"
    http GET /api/v1/runs/$sub/events $RO >/dev/null
    jq -e '.events[] | select(.type == "approval_granted") | .data.by == "ops" and .data.comment == "inner ok"' body >/dev/null &&
        ok || { bad "the sub-run's journal has who and why"; cat body; }

    # the CLI answers a sub-run the same way; deny fails the parent's step
    p2=$(start outer)
    wait_for sub_of "$p2" && ok || bad "the second sub-run waits"
    "$RUNBOOK" deny "$sub" --server "$URL" --token-file op.token -m "not now" >out 2>&1 &&
        grep -q "run $sub: step ask denied by ops" out && ok || { bad "runbook deny SUB --server"; cat out; }
    wait_for api_status_is "$p2" failed && ok || bad "a denied sub-run fails the parent"
    p3=$(start outer)
    wait_for sub_of "$p3" && ok || bad "the third sub-run waits"
    "$RUNBOOK" approve "$sub" ask --server "$URL" --token-file op.token >out 2>&1 &&
        grep -q "run $sub: step ask approved by ops" out && ok || { bad "runbook approve SUB STEP --server"; cat out; }
    wait_for api_status_is "$p3" resolved && ok || bad "the CLI's approval resolves the parent"
    "$RUNBOOK" approve "$sub" --server "$URL" --token-file op.token >out 2>&1
    [ $? -eq 2 ] && grep -q "not in flight" out && ok || { bad "approving a finished sub-run: exit 2"; cat out; }
    serve_stop
    srv_pid=
else
    bad "the server did not start"; cat log
fi

echo "serve_subrun_approval: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
