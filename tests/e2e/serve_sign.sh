#!/bin/sh
# `runbook serve` signs the journal's head (docs/journal.md, "Signed
# checkpoints"; docs/server.md): the config's signing_key (or
# $RUNBOOK_SIGNING_KEY) and sign_interval, checked by `validate --config`
# and serve at the config's file:line:col (a key others can read, a
# missing one, a bad interval); a run's end is signed, a run still going is
# signed at the interval, and the head at the stop: `audit verify --pubkey`
# then finds no unsigned event.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit
unset RUNBOOK_SIGNING_KEY

mkdir runbooks marks
export MARKS="$tmp/marks"
cat >runbooks/quick.yaml <<'YAML'
apiVersion: runbook/v1
name: quick
triggers:
  - match: { alertname: Quick }
steps:
  - { name: one, run: "echo one" }
YAML
cat >runbooks/held.yaml <<'YAML'
apiVersion: runbook/v1
name: held
triggers:
  - match: { alertname: Held }
steps:
  - name: hold
    run: "echo started >> {{ env.MARKS }}/held; while [ ! -e {{ env.MARKS }}/free ]; do sleep 0.05; done"
YAML
hook_token
alert() {
    printf '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"%s"},"startsAt":"2026-11-21T23:46:58Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s"}]}' "$1" "$2" >"$2.json"
}
sigs() { sqlite3 j.db 'SELECT count(*) FROM signatures'; }
"$RUNBOOK" audit key init --out "$tmp/k" >/dev/null || bad "key init"

# ---- refused at the config's line:col ----
server_config "signing_key: $tmp/k.key" "sign_interval: 0s"
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:6:16: error: sign_interval: must be a duration above zero" out &&
    ok || { bad "a zero sign_interval"; cat out; }
server_config "signing_key: $tmp/k.key" "sign_interval: 10ms"
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:6:16: error: sign_interval: too short (at least 1s)" out &&
    ok || { bad "a sign_interval under 1s"; cat out; }
chmod 644 k.key
server_config "signing_key: $tmp/k.key" "sign_interval: 1s"
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:5:14: error: signing_key: .*k.key: the private key can be read by others" out &&
    ok || { bad "validate: a key others can read"; cat out; }
"$RUNBOOK" serve --config server.yaml --listen 127.0.0.1:0 >out 2>&1
[ $? -eq 2 ] && grep -q "signing_key: .*can be read by others" out && ok || { bad "serve: a key others can read"; cat out; }
chmod 600 k.key
server_config "signing_key: $tmp/nokey.key"
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:5:14: error: signing_key: .*nokey.key: No such file" out &&
    ok || { bad "validate: a missing key"; cat out; }
server_config "signing_key: $tmp/k.key" "sign_interval: 1s"
"$RUNBOOK" validate --config server.yaml >out 2>&1 && ok || { bad "a good signing config"; cat out; }

# ---- signed: run ends, the interval, the stop ----
if serve_start log --config server.yaml; then
    alert Quick q1
    [ "$(http POST /hooks/alertmanager "$T" q1.json)" = 200 ] && ok || bad "alert q1"
    wait_for sh -c '[ "$(sqlite3 j.db "SELECT status FROM runs WHERE runbook = '"'quick'"'")" = resolved ]' ||
        bad "quick never resolved"
    # a run's end is signed (in the same commit as run_finished)
    [ "$(sqlite3 j.db "SELECT count(*) FROM signatures s JOIN events e ON e.id = s.event_id
         WHERE e.type = 'run_finished'")" -ge 1 ] && ok || bad "the run's end is not signed"
    alert Held h1
    [ "$(http POST /hooks/alertmanager "$T" h1.json)" = 200 ] && ok || bad "alert h1"
    wait_for test -s marks/held || bad "held never started"
    # a run still going: the interval signs the head, its step in flight
    wait_for sh -c '[ "$(sqlite3 j.db "SELECT count(*) FROM signatures s JOIN events e ON e.id = s.event_id
         JOIN runs r ON r.id = e.run_id WHERE r.runbook = '"'held'"' AND e.step = '"'hold'"'")" -ge 1 ]' && ok ||
        bad "the interval did not sign the head of a run in flight"
    n=$(sigs)
    touch marks/free
    wait_for sh -c '[ "$(sqlite3 j.db "SELECT status FROM runs WHERE runbook = '"'held'"'")" = resolved ]' ||
        bad "held never resolved"
    serve_stop
    [ "$srv_rc" = 0 ] && ok || bad "serve exit $srv_rc"
    srv_pid=
    [ "$(sigs)" -gt "$n" ] && ok || bad "no signature after the interval's"
    # the interval signs nothing new when the head has not moved: no two
    # signatures in a row name the same head
    [ "$(sqlite3 j.db 'SELECT count(*) FROM signatures a JOIN signatures b ON b.id = a.id + 1
         WHERE a.event_id = b.event_id')" = 0 ] && ok || bad "the same head signed twice in a row"
    "$RUNBOOK" audit verify --db j.db --pubkey k.pub >out 2>&1 && grep -q "unsigned     0 events" out &&
        ok || { bad "verify --pubkey after serve"; cat out; }
else
    bad "serve did not start"; cat log
fi

# ---- $RUNBOOK_SIGNING_KEY when the config names none ----
server_config
n=$(sigs)
if RUNBOOK_SIGNING_KEY=$tmp/k.key serve_start log2 --config server.yaml; then
    alert Quick q2
    [ "$(http POST /hooks/alertmanager "$T" q2.json)" = 200 ] && ok || bad "alert q2"
    wait_for sh -c '[ "$(sqlite3 j.db "SELECT count(*) FROM runs WHERE status = '"'resolved'"'")" = 3 ]' ||
        bad "q2 never resolved"
    serve_stop
    srv_pid=
    [ "$(sigs)" -gt "$n" ] && ok || bad "RUNBOOK_SIGNING_KEY did not sign"
    "$RUNBOOK" audit verify --db j.db --pubkey k.pub >out 2>&1 && grep -q "unsigned     0 events" out &&
        ok || { bad "verify --pubkey after serve with the env key"; cat out; }
else
    bad "serve with RUNBOOK_SIGNING_KEY did not start"; cat log2
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
