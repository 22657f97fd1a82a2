#!/bin/sh
# Concurrency keys across runbooks in `runbook serve` (R-key-global,
# docs/semantics.md): a NodeDown alert starts node-crash on node/n1, which
# holds the key; a DatabaseCorruption alert for the same instance matches
# database-corruption, whose key renders the same: it is not started while
# node-crash runs (journaled `busy: …` naming the holder), while one for
# another instance is; node-crash's own sub-run on the same key is not
# refused by it (R-key-subrun).
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir runbooks marks
export MARKS="$tmp/marks"
cat >runbooks/node-crash.yaml <<'YAML'
apiVersion: runbook/v1
name: node-crash
triggers:
  - match: { alertname: NodeDown }
concurrency: "node/{{ alert.labels.instance }}"
steps:
  - name: hold
    run: "touch {{ env.MARKS }}/holding; while [ ! -e {{ env.MARKS }}/release ]; do sleep 0.05; done"
  - name: check
    action: runbook
    with: { name: post-check, params: { instance: "{{ alert.labels.instance }}" } }
YAML
cat >runbooks/post-check.yaml <<'YAML'
apiVersion: runbook/v1
name: post-check
concurrency: "node/{{ params.instance }}"
params:
  instance: { required: true }
steps:
  - name: mark
    run: "touch {{ env.MARKS }}/post-check-{{ params.instance }}"
YAML
cat >runbooks/database-corruption.yaml <<'YAML'
apiVersion: runbook/v1
name: database-corruption
triggers:
  - match: { alertname: DatabaseCorruption }
concurrency: "node/{{ alert.labels.instance }}"
steps:
  - name: stop
    run: "touch {{ env.MARKS }}/db-{{ alert.labels.instance }}"
YAML
hook_token
server_config

alert() {
    printf '{"receiver":"engine","status":"firing","version":"4","groupKey":"{}","alerts":[{"status":"firing","labels":{"alertname":"%s","instance":"%s"},"annotations":{},"startsAt":"2026-11-21T23:46:58.46Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}]}' \
        "$1" "$2" "$3"
}
outcome() { sqlite3 j.db "SELECT outcome FROM alert_runs WHERE fingerprint = '$1'"; }
status_of() { sqlite3 j.db "SELECT r.status FROM runs r JOIN alert_runs a ON a.run_id = r.id WHERE a.fingerprint = '$1'"; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }

serve_start log --config server.yaml || { bad "the server did not start"; cat log; exit 1; }

alert NodeDown n1 fp-crash >crash.json
[ "$(http POST /hooks/alertmanager $T crash.json)" = 200 ] && ok || { bad "NodeDown: 200"; cat body; }
wait_for test -e marks/holding && ok || bad "node-crash holds node/n1"

alert DatabaseCorruption n1 fp-db1 >db1.json
[ "$(http POST /hooks/alertmanager $T db1.json)" = 200 ] && grep -q '"busy":1' body && ok ||
    { bad "database-corruption on node/n1 is busy"; cat body; }
case "$(outcome fp-db1)" in
busy:*"of node-crash is still active for the concurrency key \"node/n1\""*) ok ;;
*) bad "the busy outcome names the holder: $(outcome fp-db1)" ;;
esac
alert DatabaseCorruption n2 fp-db2 >db2.json
[ "$(http POST /hooks/alertmanager $T db2.json)" = 200 ] && ok || bad "DatabaseCorruption n2: 200"
wait_for status_is fp-db2 resolved && [ -e marks/db-n2 ] && ok || bad "database-corruption on node/n2 runs"
[ ! -e marks/db-n1 ] && ok || bad "database-corruption acted on node/n1 while node-crash held it"

touch marks/release
wait_for status_is fp-crash resolved && ok || bad "node-crash resolves (its sub-run shares its key)"
[ -e marks/post-check-n1 ] && ok || bad "the sub-run on node/n1 ran"

# once node-crash ended, the key is free for the other runbook
alert DatabaseCorruption n1 fp-db3 >db3.json
[ "$(http POST /hooks/alertmanager $T db3.json)" = 200 ] && ok || bad "DatabaseCorruption n1 again: 200"
wait_for status_is fp-db3 resolved && [ -e marks/db-n1 ] && ok || bad "database-corruption runs once the key is free"

serve_stop
[ "$srv_rc" = 0 ] && ok || bad "SIGTERM exits 0"
echo "pass=$pass fail=$fail"
[ "$fail" = 0 ]
