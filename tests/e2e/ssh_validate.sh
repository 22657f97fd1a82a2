#!/bin/sh
# ssh_validate.sh — `runbook validate` reports every problem of an `ssh`
# step in one pass, each at its own key (validate_all in the action ABI,
# as notify's entries do), and loading an inventory reports every problem
# of a host, each at its value, not only the first. A host looked up in
# the inventory by an alert label that names no host fails its step
# naming the lookup and the missing host, not only "host is required".
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root).
set -u
: "${RUNBOOK:?}" "${RB_SOURCE_DIR:?}"
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # $tmp, ok, bad

cat >s.yaml <<'EOF'
apiVersion: runbook/v1
name: sshv
steps:
  - name: s
    action: ssh
    with: { host: "-evil", user: "-x", port: 0, timeout: 0s, argv: [true], command: "x" }
EOF
"$RUNBOOK" validate s.yaml >s.out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "validate exits $rc, not 2"
says s.out 's.yaml:6:13: .*host: "-evil" is not a host name or address' \
    's.yaml:6:28: .*user: "-x" is not a user name' 's.yaml:6:40: .*port must be from 1 to 65535' \
    's.yaml:6:49: .*timeout must be more than 0s' 's.yaml:6:76: .*give either argv or command, not both' \
    '(5 errors)'

cat >inv.yaml <<'EOF'
hosts:
  a:
    address: "-oProxyCommand=x"
    user: "-bad"
    host_key: "not a key"
  b:
    address: ok.example
EOF
cat >r.yaml <<'EOF'
apiVersion: runbook/v1
name: inv
steps:
  - name: s
    action: ssh
    with: { host: "{{ inventory.hosts.b }}", argv: [true] }
EOF
"$RUNBOOK" run --dry-run --db j.db --inventory inv.yaml r.yaml >inv.out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "an invalid inventory: exit $rc, not 2"
says inv.out 'inv.yaml:3:14: .*host "a": host: "-oProxyCommand=x" is not a host name' \
    'inv.yaml:4:11: .*host "a": user: "-bad" is not a user name' \
    'inv.yaml:5:15: .*host "a": host_key: .*is not a public key'

# ---- a host the inventory does not have ----
cat >node.yaml <<'EOF'
apiVersion: runbook/v1
name: node
steps:
  - name: s
    action: ssh
    with: { host: "{{ inventory.hosts[alert.labels.node] }}", argv: [true] }
EOF
printf '{"labels":{"alertname":"Down","node":"nope"}}' >alert.json
printf 'hosts:\n  b: { address: ok.example }\n' >good.yaml
"$RUNBOOK" run --db n.db --yes --inventory good.yaml --alert alert.json node.yaml >node.out 2>&1
rc=$?
[ $rc -eq 1 ] && ok || { bad "a missing host: exit $rc, not 1"; cat node.out; }
"$RUNBOOK" show --db n.db 1 >node-show.out 2>&1
says node-show.out 'step s finished: error .*host is required (host: {{ inventory.hosts\[alert.labels.node\] }} gave nothing: inventory.hosts has no "nope")'
grep -q 'ssh on )' node.out && bad "live progress names an empty host" || ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
