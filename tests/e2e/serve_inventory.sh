#!/bin/sh
# The server config's `inventory:` (docs/server.md): read at start, seen by
# every run the server starts as {{ inventory.* }}; an invalid inventory is
# reported file:line:col and the server does not start (exit 2).
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir -p runbooks
cat >runbooks/node-down.yaml <<'YAML'
apiVersion: runbook/v1
name: node-down
triggers:
  - match: { alertname: NodeDown }
steps:
  - name: where
    action: log
    with: { message: "at {{ inventory.hosts[alert.labels.instance].address }}" }
YAML
cat >inv.yaml <<'YAML'
hosts:
  node1: { address: 10.1.2.3, user: neo }
groups:
  all: [node1]
YAML
hook_token
export MARKS="$tmp"
server_config "inventory: $tmp/inv.yaml"
printf '{"version":"4","status":"firing","receiver":"r","groupKey":"g","alerts":[{"status":"firing","labels":{"alertname":"NodeDown","instance":"node1"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"aa01"}]}' >alert.json

if serve_start log --config server.yaml; then
    [ "$(http POST /hooks/alertmanager "$T" alert.json)" = 200 ] && ok || { bad "delivery"; cat "$tmp/body"; }
    wait_for sh -c "\"$RUNBOOK\" runs --db j.db --format json | jq -e '.[0].status == \"resolved\"' >/dev/null" || bad "the run never resolved"
    got=$("$RUNBOOK" show --db j.db --format json 1 |
        jq -r '[.events[] | select(.type == "attempt_finished" and .step == "where")] | last | .data.result.message')
    [ "$got" = "at 10.1.2.3" ] && ok || { bad "the run saw the inventory as: '$got'"; cat log; }
    serve_stop
else
    bad "server did not start"; cat log
fi

# an invalid inventory: file:line:col, exit 2, never listening
printf 'hosts:\n  node1: { adress: 10.1.2.3 }\n' >inv.yaml
"$RUNBOOK" serve --config server.yaml --listen 127.0.0.1:0 >out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "invalid inventory: exit $rc"
grep -q 'config_invalid file=.*inv.yaml at=2:' out && ok || { bad "invalid inventory: no file:line in the log"; cat out; }
grep -q 'event=listening' out && bad "listened with an invalid inventory" || ok

echo "serve_inventory: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
