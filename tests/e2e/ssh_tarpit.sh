#!/bin/sh
# The ssh action against a host that never answers: a tarpit
# (tests/e2e/lib_sshd.sh) accepts the TCP connection and never speaks SSH,
# so the remote command never starts.
#   - a detect probe whose time (the action's `timeout` or the step's) runs
#     out while connecting is error, not timeout: it saw no symptom, the
#     incident is not confirmed and no recovery step runs;
#   - SIGTERM to a run whose step is still connecting ends it at once (the
#     client is signalled: nothing runs on the host yet), not after
#     connect_timeout.
# Times are short (1 s) but every assertion holds however slow the machine.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
tmp=$(mktemp -d)
. "$RB_SOURCE_DIR/tests/e2e/lib_sshd.sh"
stop_all() {
    tarpit_stop
    rm -rf "$tmp"
}
trap stop_all EXIT
trap 'exit 130' INT TERM HUP PIPE
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

tarpit_start "$tmp" || { echo "cannot start the tarpit"; exit 1; }
mkdir -m 700 rt
export XDG_RUNTIME_DIR="$tmp/rt"
ssh-keygen -q -t ed25519 -N '' -f key >/dev/null && PIN=$(cut -d' ' -f1,2 key.pub)
CONN="host: 127.0.0.1, port: $TARPIT_PORT, identity: $tmp/key, host_key: \"$PIN\", connect_timeout: 60s"

# --- a probe that never connected never confirms ---
# probe NAME STEP_TIMEOUT_LINE WITH_TIMEOUT
probe() {
    cat >p.yaml <<YAML
apiVersion: runbook/v1
name: p
detect:
  - name: probe
    action: ssh
    with: { $CONN, $3 argv: ["true"] }
    $2
confirm: "!checks.probe.ok"
steps:
  - { name: recover, action: log, with: { message: recovering } }
YAML
    "$RUNBOOK" run --db j.db p.yaml >run.log 2>&1
    rc=$?
    id=$("$RUNBOOK" runs --db j.db --format json | jq -r '.[0].id')
    js=$("$RUNBOOK" show --db j.db --format json "$id")
    st=$(printf "%s" "$js" | jq -r '[.events[] | select(.type == "attempt_finished" and .step == "probe")] | last | .data.result | "\(.status) \(.exit_code)"')
    recovered=$(printf "%s" "$js" | jq '[.events[] | select(.type == "attempt_finished" and .step == "recover")] | length')
    status=$(printf "%s" "$js" | jq -r .status)
    if [ "$st" = "error null" ] && [ "$status" = inconclusive ] && [ "$recovered" = 0 ] && [ $rc -ne 0 ]; then ok; else
        bad "$1: probe $st, run $status, recover ran $recovered times, exit $rc"; cat run.log; fi
}
probe "the action's timeout" "" "timeout: 1s,"
probe "the step's timeout" "timeout: 1s" ""

# --- SIGTERM while connecting ends the run at once, not after connect_timeout ---
cat >c.yaml <<YAML
apiVersion: runbook/v1
name: c
steps:
  - { name: remote, action: ssh, with: { $CONN, argv: ["true"] } }
YAML
: >tarpit.accepts
t0=$(date +%s)
"$RUNBOOK" run --db j.db c.yaml >cancel.log 2>&1 &
rp=$!
# the client is connecting once the tarpit has accepted it (a bound, not a wait)
n=0
while [ ! -s tarpit.accepts ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done
kill -TERM $rp
wait $rp
rc=$?
took=$(($(date +%s) - t0))
# connect_timeout is 60 s: ending well before it is ending on the signal
if [ -s tarpit.accepts ] && [ $rc -ne 0 ] && [ $took -lt 40 ]; then ok; else
    bad "SIGTERM while connecting: exit $rc after ${took}s"; cat cancel.log; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
