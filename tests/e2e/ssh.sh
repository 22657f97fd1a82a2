#!/bin/sh
# The ssh action against a real OpenSSH server (tests/e2e/lib_sshd.sh: sshd
# on 127.0.0.1, a free port, its own host key, key authentication for this
# user only), through the real binary:
#   - a command runs, its output and host are journaled (ok), a non-zero
#     remote exit is failed — 255 included, which is not ssh's own 255;
#   - an unknown host key, a changed one (pinned or in known_hosts), a key
#     the server refuses, and a port nobody listens on are error, and the
#     remote command did not run;
#   - hostile alert labels and params, through argv, command and env, reach
#     the remote command as the exact bytes sent and run nothing there;
#   - the action's timeout and the step's timeout end the remote command
#     (one that ignores SIGTERM too): its process is gone when the run ends;
#   - the second step on a host reuses the first one's connection (sshd
#     accepts one authentication for both), persist: 0 does not, and the
#     control sockets live in a private (0700) runtime directory.
# The remote side is this machine, so the test looks at remote processes
# and files directly. Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
tmp=$(mktemp -d)
. "$RB_SOURCE_DIR/tests/e2e/lib_sshd.sh"
stop_all() {
    ssh_masters_stop "$tmp/rt/runbook/ssh"
    sshd_stop
    rm -rf "$tmp"
}
trap stop_all EXIT
trap 'exit 130' INT TERM HUP PIPE
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

sshd_start "$tmp/sshd" || { echo "cannot start sshd"; cat "$tmp/sshd/sshd.log"; exit 1; }
mkdir -m 700 rt
export XDG_RUNTIME_DIR="$tmp/rt"
KEY=$SSHD_CLIENT_KEY
PIN=$SSHD_HOSTKEY
ssh-keygen -q -t ed25519 -N '' -f other_host >/dev/null && OTHER=$(cut -d' ' -f1,2 other_host.pub)
ssh-keygen -q -t ed25519 -N '' -f stranger >/dev/null
echo "[127.0.0.1]:$SSHD_PORT $PIN" >kh_good
echo "[127.0.0.1]:$SSHD_PORT $OTHER" >kh_changed
: >kh_empty
FREE=$(sshd_free_port)

# result RUN STEP FIELD: a field of the step's last attempt's result.
result() {
    "$RUNBOOK" show --db j.db --format json "$1" |
        jq -r --arg s "$2" "[.events[] | select(.type == \"attempt_finished\" and .step == \$s)] | last | .data.result.$3"
}
accepts() { grep -c 'Accepted publickey' "$tmp/sshd/sshd.log"; }

# --- ok, failed, exit 255, output and host journaled; reuse ---
cat >basic.yaml <<YAML
apiVersion: runbook/v1
name: basic
steps:
  - name: hello
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN",
            argv: [sh, -c, 'echo "out \$(id -un)"; echo err >&2'] }
  - name: again
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN", command: "echo second" }
  - name: three
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN", argv: [sh, -c, 'exit 3'] }
    on_failure: continue
  - name: two55
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN", command: "echo last; exit 255" }
    on_failure: continue
YAML
a0=$(accepts)
"$RUNBOOK" run --quiet --db j.db basic.yaml >run.log 2>&1
a1=$(accepts)
[ "$(result 1 hello status)" = ok ] && ok || { bad "hello: $(result 1 hello status)"; cat run.log; }
[ "$(result 1 hello stdout)" = "out $(id -un)" ] && ok || bad "hello stdout: $(result 1 hello stdout)"
[ "$(result 1 hello stderr)" = "err" ] && ok || bad "hello stderr: $(result 1 hello stderr)"
[ "$(result 1 hello host)" = "127.0.0.1" ] && ok || bad "hello host: $(result 1 hello host)"
[ "$(result 1 again stdout)" = "second" ] && ok || bad "again stdout: $(result 1 again stdout)"
[ "$(result 1 three status) $(result 1 three exit_code)" = "failed 3" ] && ok ||
    bad "three: $(result 1 three status) $(result 1 three exit_code)"
[ "$(result 1 two55 status) $(result 1 two55 exit_code) $(result 1 two55 stdout)" = "failed 255 last" ] && ok ||
    bad "two55: $(result 1 two55 status) $(result 1 two55 exit_code) $(result 1 two55 error)"
# four steps, one authentication: the connection was reused.
[ $((a1 - a0)) -eq 1 ] && ok || bad "reuse: $((a1 - a0)) authentications for 4 steps"
echo "latency: first step $(result 1 hello duration_ms) ms, second $(result 1 again duration_ms) ms"
# the control sockets' directory is private
[ "$(stat -c %a rt/runbook/ssh)" = 700 ] && [ "$(stat -c %a rt/runbook)" = 700 ] && ok ||
    bad "runtime dir mode $(stat -c %a rt/runbook/ssh)"
ls rt/runbook/ssh | grep -q . && ok || bad "no control socket"

# persist: 0 connects every time
sed 's/host_key: "/persist: 0, host_key: "/' basic.yaml >nopersist.yaml
a0=$(accepts)
"$RUNBOOK" run --quiet --db j.db nopersist.yaml >run.log 2>&1
a1=$(accepts)
[ $((a1 - a0)) -eq 4 ] && ok || bad "persist 0: $((a1 - a0)) authentications for 4 steps"

# env reaches the remote command but no remote command line: a `ps` on the
# host shows it nowhere (it travels on the session's stdin)
cat >envps.yaml <<YAML
apiVersion: runbook/v1
name: envps
steps:
  - name: look
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN", env: { V: "zq-env-7731" },
            argv: [sh, -c, 'echo "\$V"; for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "\$f"; echo; done | awk "index(\\\$0, ENVIRON[\\"V\\"]) { n++ } END { print n + 0 }"'] }
YAML
"$RUNBOOK" run --quiet --db j.db envps.yaml >run.log 2>&1
id=$("$RUNBOOK" runs --db j.db --format json | jq -r '.[0].id')
got=$(result "$id" look stdout | tr -s '\n' ' ')
[ "$got" = "zq-env-7731 0 " ] && ok || { bad "env on a remote command line: $got"; cat run.log; }

# --- could not connect: error, and the remote command did not run ---
# step: the name, then the connection's `with` keys
refused() {
    rm -f ran
    cat >e.yaml <<YAML
apiVersion: runbook/v1
name: e
detect:
  - name: probe
    action: ssh
    with: { host: 127.0.0.1, $2, argv: [touch, $tmp/ran] }
confirm: "!checks.probe.ok"
steps:
  - { name: act, action: log, with: { message: acting } }
YAML
    "$RUNBOOK" run --db j.db e.yaml >run.log 2>&1
    rc=$?
    id=$("$RUNBOOK" runs --db j.db --format json | jq -r '.[0].id')
    st=$("$RUNBOOK" show --db j.db --format json "$id" |
        jq -r '[.events[] | select(.type == "attempt_finished")] | last | .data.result | "\(.status) \(.exit_code)"')
    status=$("$RUNBOOK" show --db j.db --format json "$id" | jq -r .status)
    if [ "$st" = "error null" ] && [ "$status" = inconclusive ] && [ ! -e ran ]; then ok; else
        bad "$1: result $st, run $status, exit $rc, ran: $([ -e ran ] && echo yes || echo no)"; cat run.log; fi
    grep -q "$3" run.log && ok || { bad "$1: no \"$3\" in the output"; cat run.log; }
}
refused "unknown host key" "port: $SSHD_PORT, identity: $KEY, known_hosts: kh_empty" "Host key verification failed"
refused "changed known_hosts" "port: $SSHD_PORT, identity: $KEY, known_hosts: kh_changed" "Host key verification failed"
refused "changed pinned key" "port: $SSHD_PORT, identity: $KEY, host_key: \"$OTHER\"" "Host key verification failed"
refused "refused client key" "port: $SSHD_PORT, identity: $tmp/stranger, host_key: \"$PIN\"" "Permission denied"
# (should another process take the free port meanwhile, ssh fails otherwise:
# the outcome is checked all the same, the message less precisely)
refused "unreachable port" "port: $FREE, identity: $KEY, host_key: \"$PIN\"" "Connection refused\|the command did not run"

# a kept connection follows its known_hosts file's content: once the file
# no longer trusts the host's key, the next step is refused, not run over the
# connection made under the old file
cp kh_good kh_edit
cat >khedit.yaml <<YAML
apiVersion: runbook/v1
name: khedit
detect:
  - name: probe
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, known_hosts: kh_edit, argv: [true] }
steps:
  - { name: act, action: log, with: { message: acting } }
YAML
"$RUNBOOK" run --quiet --db j.db khedit.yaml >run.log 2>&1
id=$("$RUNBOOK" runs --db j.db --format json | jq -r '.[0].id')
[ "$(result "$id" probe status)" = ok ] && ok || { bad "known_hosts edit: first run not ok"; cat run.log; }
cp kh_changed kh_edit
"$RUNBOOK" run --quiet --db j.db khedit.yaml >run.log 2>&1
id=$("$RUNBOOK" runs --db j.db --format json | jq -r '.[0].id')
got=$(result "$id" probe status)
[ "$got" = error ] && ok || { bad "known_hosts edited to another key: probe $got over the kept connection"; cat run.log; }

# --- hostile labels and params: inert on the remote side ---
cat >inj.yaml <<YAML
apiVersion: runbook/v1
name: inj
params:
  v: { default: "{{ alert.labels.instance }}" }
steps:
  - name: argv
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN",
            argv: [sh, -c, 'printf %s "\$1" > $tmp/argv.out', x, "{{ params.v }}"] }
  - name: command
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN",
            command: "printf %s {{ alert.labels.instance }} > $tmp/command.out" }
  - name: env
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN",
            env: { V: "{{ params.v }}" }, argv: [sh, -c, 'printf %s "\$V" > $tmp/env.out'] }
YAML
hostile() {
    json=$1 want_fmt=$2
    rm -f ./*.out PWN*
    printf '{"status":"firing","labels":{"alertname":"X","instance":"%s"}}' "$json" >alert.json
    "$RUNBOOK" run --quiet --db j.db --alert alert.json inj.yaml >run.log 2>&1 ||
        { bad "label $json: run failed"; cat run.log; return; }
    printf '%b' "$want_fmt" >want
    for f in argv.out command.out env.out; do
        cmp -s want "$f" && ok || bad "label $json: $f differs: $(od -c "$f" | head -3)"
    done
    if ls PWN* >/dev/null 2>&1; then bad "label $json: a command ran"; else ok; fi
}
hostile "\$(touch $tmp/PWN1)" "\$(touch $tmp/PWN1)"
hostile "\`touch $tmp/PWN2\`" "\`touch $tmp/PWN2\`"
hostile "; touch $tmp/PWN3; echo" "; touch $tmp/PWN3; echo"
hostile "'; touch $tmp/PWN4; '" "'; touch $tmp/PWN4; '"
hostile "a'b\\\"c \\\\' \$HOME" "a'b\"c \\\\' \$HOME"
hostile "line1\\ntouch $tmp/PWN5" "line1\ntouch $tmp/PWN5"
hostile "-oProxyCommand=touch $tmp/PWN6" "-oProxyCommand=touch $tmp/PWN6"

# an alert label as the host cannot become an ssh option
cat >hostinj.yaml <<YAML
apiVersion: runbook/v1
name: hostinj
steps:
  - name: h
    action: ssh
    with: { host: "{{ alert.labels.instance }}", port: $SSHD_PORT, identity: $KEY, argv: ["true"] }
YAML
rm -f PWN*
printf '{"labels":{"alertname":"X","instance":"-oProxyCommand=touch %s/PWN7"}}' "$tmp" >alert.json
"$RUNBOOK" run --db j.db --alert alert.json hostinj.yaml >run.log 2>&1
if ! ls PWN* >/dev/null 2>&1 && grep -q 'not a host name' run.log; then ok; else bad "host option injection"; cat run.log; fi

# --- timeouts end the remote command ---
# gone PIDFILE: the process is no longer running (a zombie awaiting its
# reaper counts as gone); the bound only covers the remote reaper's turn.
gone() {
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] || return 1
    n=0
    while [ $n -lt 100 ]; do
        st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
        [ "$st" = Z ] && return 0
        n=$((n + 1))
        sleep 0.05
    done
    return 1
}
cat >to.yaml <<YAML
apiVersion: runbook/v1
name: to
steps:
  - name: own
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN", timeout: 4s,
            argv: [sh, -c, 'echo \$\$ > $tmp/own.pid; exec sleep 300'] }
    on_failure: continue
  - name: step
    action: ssh
    timeout: 4s
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN",
            argv: [sh, -c, 'echo \$\$ > $tmp/step.pid; exec sleep 300'] }
    on_failure: continue
  - name: stubborn
    action: ssh
    timeout: 4s
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN", grace: 1s,
            command: "trap '' TERM; echo \$\$ > $tmp/stubborn.pid; while :; do sleep 1; done" }
    on_failure: continue
YAML
"$RUNBOOK" run --quiet --db j.db to.yaml >run.log 2>&1
id=$("$RUNBOOK" runs --db j.db --format json | jq -r '.[0].id')
for s in own step stubborn; do
    [ "$(result "$id" $s status)" = timeout ] && ok || bad "$s: $(result "$id" $s status)"
    gone "$tmp/$s.pid" && ok || bad "$s: the remote process $(cat "$tmp/$s.pid" 2>/dev/null) is still running"
done

# --- load-time checks ---
cat >bad.yaml <<YAML
apiVersion: runbook/v1
name: bad
steps:
  - { name: a, action: ssh, with: { host: "-oProxyCommand=x", argv: ["true"] } }
  - { name: b, action: ssh, with: { host: h, argv: ["true"], command: "true" } }
  - { name: c, action: ssh, with: { host: h, argv: ["true"], env: { "A-B": x } } }
  - { name: d, action: ssh, with: { host: h, argv: ["true"], host_key: "@revoked * ssh-ed25519 AAAA" } }
  - { name: e, action: ssh, with: { host: h, command: "echo '{{ alert.labels.x }}'\`{{ alert.labels.y }}\`" } }
YAML
"$RUNBOOK" validate bad.yaml >val.log 2>&1
rc=$?
[ $rc -ne 0 ] && [ "$(grep -c 'bad.yaml:[0-9]*:[0-9]*: error' val.log)" -ge 5 ] && ok || { bad "validate: exit $rc"; cat val.log; }

# --- a stderr past the output cap, then exit 255: failed 255, not a broken
# connection (the end marker is found past the cap) ---
cat >big.yaml <<YAML
apiVersion: runbook/v1
name: big
steps:
  - name: big
    action: ssh
    with: { host: 127.0.0.1, port: $SSHD_PORT, identity: $KEY, host_key: "$PIN",
            argv: [sh, -c, 'head -c 200000 /dev/zero | tr "\\\\0" x >&2; echo done; exit 255'] }
YAML
"$RUNBOOK" run --quiet --db big.db big.yaml >big.log 2>&1
bres() { "$RUNBOOK" show --db big.db --format json 1 | jq -r "[.events[] | select(.type == \"attempt_finished\")] | last | .data.result.$1"; }
[ "$(bres status) $(bres exit_code) $(bres stdout)" = "failed 255 done" ] && ok ||
    bad "a big stderr then 255: $(bres status) $(bres exit_code) $(bres error)"
[ "$(bres stderr | cut -c1-5)" = xxxxx ] && ok || bad "the big stderr is not kept up to the cap"

# --- what validate says: each problem once, at its file:line:col ---
cat >checks.yaml <<YAML
apiVersion: runbook/v1
name: checks
steps:
  - name: nohost
    action: ssh
    with: { argv: ["true"] }
  - name: grace
    action: ssh
    with: { host: h, argv: ["true"], grace: -1 }
  - name: connect
    action: ssh
    with: { host: h, argv: ["true"], connect_timeout: 0 }
  - name: both
    action: ssh
    with: { host: h, argv: ["true"], host_key: "$PIN", host_key_checking: accept-new }
YAML
"$RUNBOOK" validate checks.yaml >checks.log 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "validate checks.yaml: exit $rc"
[ "$(grep -c 'host' checks.log | tr -d ' ')" -ge 1 ] && [ "$(grep -c '^checks.yaml:[0-9]*:[0-9]*: error: .*"host"\|host is required' checks.log)" = 1 ] && ok ||
    { bad "a missing host is not reported exactly once"; cat checks.log; }
for w in 'checks.yaml:9:[0-9]*: error: "grace" must not be negative' \
    'checks.yaml:12:[0-9]*: error: action "ssh": connect_timeout must be more than 0s' \
    'checks.yaml:15:[0-9]*: error: action "ssh": host_key_checking: accept-new never applies with host_key'; do
    grep -q -- "$w" checks.log && ok || { bad "validate does not say: $w"; cat checks.log; }
done
grep -q 'got an integer' checks.log && bad "grace: -1 is called not an integer" || ok

# --- an empty inventory is called an inventory, not a runbook ---
: >empty_inv.yaml
"$RUNBOOK" run --db e.db --inventory empty_inv.yaml basic.yaml >inv.log 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'empty_inv.yaml:1:1: error: empty file: expected an inventory' inv.log &&
    ! grep -q apiVersion inv.log && ok || { bad "empty inventory: exit $rc"; cat inv.log; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
