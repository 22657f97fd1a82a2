# lib_api.sh — what the /api/v1 e2e scripts share (sourced after
# lib_serve.sh; ctest skips tests/e2e/lib*.sh). api_setup writes, in $tmp:
# runbooks/gate.yaml (one step that waits for an approval, timeout 1h),
# runbooks/nap.yaml (a 60 s sleep), a tokens file with a hook (am), an
# operator (ops) and a viewer (ro) token, whose secrets are $AM, $OP, $RO,
# and server.yaml serving them with the journal j.db.
AM=0123456789abcdef0123 OP=fedcba9876543210fedc RO=aaaaaaaaaaaaaaaaaaaaaa

api_setup() {
    mkdir -p runbooks
    cat >runbooks/gate.yaml <<'YAML'
apiVersion: runbook/v1
name: gate
params:
  who: { default: nobody }
steps:
  - name: ask
    approval: { timeout: 1h }
    action: log
    with: { message: "approved for {{ params.who }}" }
YAML
    cat >runbooks/nap.yaml <<'YAML'
apiVersion: runbook/v1
name: nap
steps:
  - name: wait
    action: sleep
    with: { duration: 60s }
YAML
    printf 'am hook %s\nops operator %s\nro viewer %s\n' "$AM" "$OP" "$RO" >tokens
    chmod 600 tokens
    cat >server.yaml <<YAML
database: $tmp/j.db
runbooks: $tmp/runbooks
tokens: $tmp/tokens
YAML
}

# api_status_is RUN STATUS: the run's status (read with a viewer token) is STATUS
api_status_is() {
    [ "$(http GET /api/v1/runs/$1 $RO)" = 200 ] && [ "$(jq -r .status body)" = "$2" ]
}
