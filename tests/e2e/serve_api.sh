#!/bin/sh
# /api/v1 (docs/api.md): runbooks (list; one with its versions and its
# last validation, an edit that does not validate shown with file:line:col
# while the last good version stays in force), runs (start with params,
# list with filters, show, events, cancel), approvals (list pending,
# approve and deny with who and a comment, journaled and shown by
# `runbook show`; the declared timeout still applies). Roles: a viewer
# reads and is refused 403 on every write; a hook token reaches no API.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

. "$RB_SOURCE_DIR/tests/e2e/lib_api.sh"
api_setup
cat >runbooks/shortgate.yaml <<'YAML'
apiVersion: runbook/v1
name: shortgate
notify:
  - on: [approval_requested]
    action: log
    with: { message: "answer with: runbook approve {{ run.id }} {{ run.approval_step }} --server URL" }
steps:
  - name: ask
    approval: { timeout: 1s, on_timeout: fail }
    action: log
    with: { message: "never" }
YAML
waiting() { api_status_is "$1" waiting_approval; }

if serve_start log --config server.yaml; then
    # ---- runbooks ----
    [ "$(http GET /api/v1/runbooks $RO)" = 200 ] && [ "$(jq -r '[.runbooks[].name] | sort | join(",")' body)" = gate,nap,shortgate ] &&
        ok || { bad "list runbooks"; cat body; }
    [ "$(http GET /api/v1/runbooks $AM)" = 403 ] && ok || bad "a hook token reads no API: 403"
    [ "$(http GET /api/v1/runbooks)" = 401 ] && ok || bad "no token: 401"
    [ "$(http GET /api/v1/runbooks/nope $RO)" = 404 ] && ok || bad "unknown runbook: 404"

    # ---- start with params; approve with who and a comment ----
    printf '{"runbook":"gate","params":{"who":"alice"}}' >start.json
    [ "$(http POST /api/v1/runs $RO start.json)" = 403 ] && ok || bad "a viewer starts nothing: 403"
    [ "$(http POST /api/v1/runs $OP start.json)" = 201 ] && ok || { bad "start: 201"; cat body; }
    g1=$(jq -r .id body)
    wait_for waiting "$g1" && ok || bad "the run waits for approval"
    [ "$(http GET /api/v1/approvals $RO)" = 200 ] &&
        [ "$(jq -r ".approvals[] | select(.run == $g1) | .step + \" \" + (.timeout_ms|tostring)" body)" = "ask 3600000" ] &&
        jq -e ".approvals[] | select(.run == $g1) | .expires_at > .asked_at" body >/dev/null &&
        ok || { bad "pending approvals list it with its timeout"; cat body; }
    printf '{"comment":"looks safe"}' >yes.json
    [ "$(http POST /api/v1/runs/$g1/approve $RO yes.json)" = 403 ] && ok || bad "a viewer approves nothing: 403"
    [ "$(http POST /api/v1/runs/$g1/approve $OP yes.json)" = 200 ] &&
        [ "$(jq -r '.by + "/" + .answer + "/" + .comment' body)" = "ops/approved/looks safe" ] &&
        ok || { bad "approve: 200 with who"; cat body; }
    wait_for api_status_is "$g1" resolved && ok || bad "the approved run resolves"
    [ "$(http POST /api/v1/runs/$g1/approve $OP yes.json)" = 409 ] && ok || bad "approving a finished run: 409"
    [ "$(http POST /api/v1/runs/99999/approve $OP yes.json)" = 404 ] && ok || bad "approving no run: 404"

    # ---- deny ----
    printf '{"runbook":"gate"}' >start2.json
    http POST /api/v1/runs $OP start2.json >/dev/null
    g2=$(jq -r .id body)
    wait_for waiting "$g2" || bad "the second run waits"
    printf '{"step":"other","comment":"no"}' >wrong.json
    [ "$(http POST /api/v1/runs/$g2/deny $OP wrong.json)" = 409 ] && ok || bad "denying a step that does not wait: 409"
    printf '{"step":"ask","comment":"not during the freeze"}' >no.json
    [ "$(http POST /api/v1/runs/$g2/deny $OP no.json)" = 200 ] && ok || { bad "deny: 200"; cat body; }
    wait_for api_status_is "$g2" failed && ok || bad "a denied step fails the run"

    # ---- the declared timeout still applies ----
    printf '{"runbook":"shortgate"}' >start3.json
    http POST /api/v1/runs $OP start3.json >/dev/null
    g3=$(jq -r .id body)
    wait_for api_status_is "$g3" failed && ok || bad "the approval timeout ends the wait"
    [ "$(http GET /api/v1/runs/$g3/events $RO)" = 200 ] &&
        jq -e --arg m "answer with: runbook approve $g3 ask --server URL" '[.events[] | select(.type == "log") | .data.message] | index($m) != null' body >/dev/null &&
        ok || { bad "notify on approval_requested says where to answer"; cat body; }

    # ---- list with filters, show, events ----
    [ "$(http GET "/api/v1/runs?runbook=gate&status=resolved" $RO)" = 200 ] &&
        [ "$(jq -r '[.runs[].id] | join(",")' body)" = "$g1" ] && ok || { bad "runs filtered"; cat body; }
    [ "$(http GET "/api/v1/runs?trigger=api&limit=2" $RO)" = 200 ] && [ "$(jq '.runs | length' body)" = 2 ] &&
        [ "$(jq -r .next_before body)" = "$g2" ] && ok || { bad "runs paged"; cat body; }
    [ "$(http GET "/api/v1/runs?limit=0" $RO)" = 400 ] && ok || bad "a bad limit: 400"
    [ "$(http GET /api/v1/runs/$g1/events $RO)" = 200 ] &&
        jq -e '.events[] | select(.type == "approval_granted") | .data.by == "ops" and .data.comment == "looks safe"' body >/dev/null &&
        ok || { bad "the answer is journaled with who and comment"; cat body; }
    [ "$(http GET "/api/v1/runs/$g1/events?after=3" $RO)" = 200 ] && [ "$(jq '.events[0].seq' body)" = 4 ] &&
        ok || { bad "events after a seq"; cat body; }
    [ "$(http GET /api/v1/runs/abc $RO)" = 404 ] && ok || bad "a bad id: 404"
    [ "$(http GET /api/v1/runs/99999 $RO)" = 404 ] && ok || bad "no such run: 404"

    # ---- start errors ----
    printf '{"runbook":"nope"}' >bad1.json
    [ "$(http POST /api/v1/runs $OP bad1.json)" = 404 ] && ok || bad "start an unknown runbook: 404"
    printf '{"runbook":' >bad2.json
    [ "$(http POST /api/v1/runs $OP bad2.json)" = 400 ] && ok || bad "malformed JSON: 400"
    printf '{"runbook":"gate","params":[1]}' >bad3.json
    [ "$(http POST /api/v1/runs $OP bad3.json)" = 400 ] && ok || bad "params not an object: 400"

    # ---- cancel ----
    printf '{"runbook":"nap"}' >start4.json
    http POST /api/v1/runs $OP start4.json >/dev/null
    n1=$(jq -r .id body)
    [ "$(http POST /api/v1/runs/$n1/cancel $RO)" = 403 ] && ok || bad "a viewer cancels nothing: 403"
    [ "$(http POST /api/v1/runs/$n1/cancel $OP)" = 202 ] && ok || { bad "cancel: 202"; cat body; }
    wait_for api_status_is "$n1" cancelled && ok || bad "the run ends cancelled"
    [ "$(http POST /api/v1/runs/$n1/cancel $OP)" = 409 ] && ok || bad "cancel a finished run: 409"

    # ---- show a runbook: versions, and the last validation ----
    [ "$(http GET /api/v1/runbooks/gate $RO)" = 200 ] &&
        [ "$(jq -r '.versions[0].runs' body)" = 2 ] && [ "$(jq -r .validation.ok body)" = true ] &&
        ok || { bad "a runbook with its versions"; cat body; }
    printf 'apiVersion: runbook/v1\nname: gate\nsteps:\n  - name: x\n    action: nope\n' >runbooks/gate.yaml
    [ "$(http GET /api/v1/runbooks/gate $RO)" = 200 ] && [ "$(jq -r .validation.ok body)" = false ] &&
        [ "$(jq -r .validation.in_force body)" = false ] &&
        jq -e '.validation.diagnostics[0] | .line == 5 and (.file | endswith("gate.yaml"))' body >/dev/null &&
        ok || { bad "an edit that does not validate is shown"; cat body; }

    serve_stop
    srv_pid=
    [ "$srv_rc" = 0 ] && ok || { bad "the server exits 0 (got $srv_rc)"; tail -20 log*; }
    # ---- `runbook show` says who answered and why ----
    "$RUNBOOK" show "$g1" --db j.db >show.txt 2>&1
    grep -q 'approved by ops: "looks safe"' show.txt && ok || { bad "show prints the approval"; cat show.txt; }
    "$RUNBOOK" show "$g2" --db j.db >show.txt 2>&1
    grep -q 'denied by ops: "not during the freeze"' show.txt && ok || { bad "show prints the denial"; cat show.txt; }
else
    bad "the server did not start"; cat log
fi

echo "serve_api: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
