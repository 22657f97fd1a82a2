#!/bin/sh
# `runbook serve`: --help, the config file checked with file:line:col (also
# by `validate --config`), the tokens file refused when others can read it,
# bearer auth (401 without or with a wrong token, 403 for a role the route
# does not admit, /healthz open), 404/405, one log line per event in logfmt
# or JSON, the no-config start (./runbooks, ./runbook.db, a token kept in
# ./runbook.tokens and one line saying how to use it), and a clean SIGTERM.
# Env: RUNBOOK (the binary).
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

"$RUNBOOK" serve --help >out 2>&1 && grep -q -- "--tokens FILE" out && ok || bad "serve --help"
"$RUNBOOK" serve --bogus >out 2>&1
[ $? -eq 2 ] && ok || bad "an unknown option is a usage error"

# ---- the config file ----
cat >bad.yaml <<'YAML'
listen: 127.0.0.1:99999
limits:
  body_size: lots
  request_tim: 5s
YAML
"$RUNBOOK" validate --config bad.yaml >out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "validate --config of a bad config exits 2 (got $rc)"
grep -q '^bad.yaml:1:9: error: listen: "99999" is not a port' out && ok || { bad "listen diagnostic"; cat out; }
grep -q '^bad.yaml:3:14: error: body_size: must be a size' out && ok || bad "body_size diagnostic"
grep -q '^bad.yaml:4:3: error: unknown key "request_tim" in limits' out && ok || bad "unknown key diagnostic"
"$RUNBOOK" serve --config bad.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "bad.yaml:3:14" out && ok || bad "serve refuses a bad config with its diagnostics"

mkdir runbooks
printf 'am hook 0123456789abcdef0123\nops operator fedcba9876543210fedc\nro viewer aaaaaaaaaaaaaaaaaaaaaa\n' >tokens
chmod 600 tokens
cat >good.yaml <<YAML
listen: 127.0.0.1:0
database: $tmp/j.db
runbooks: $tmp/runbooks
tokens: $tmp/tokens
log_format: json
shutdown_grace: 5s
limits: { body_size: 64KiB, header_size: 8192, request_time: 10s, active_runs: 10 }
YAML
"$RUNBOOK" validate --config good.yaml >out 2>&1 && ok || { bad "a good config validates"; cat out; }

# ---- the tokens file ----
chmod 644 tokens
"$RUNBOOK" serve --listen 127.0.0.1:0 --tokens tokens --db j.db >out 2>&1
[ $? -eq 2 ] && grep -q "chmod 600" out && ok || bad "a tokens file others can read is refused"
chmod 600 tokens
printf 'x hook short\n' >weak
chmod 600 weak
"$RUNBOOK" serve --listen 127.0.0.1:0 --tokens weak --db j.db >out 2>&1
[ $? -eq 2 ] && grep -q 'weak.*1:8.*shorter than 16' out && ok || { bad "a short secret is refused at file:line:col"; cat out; }

# ---- auth, routes, logs (JSON) ----
if serve_start log.json --config good.yaml; then
    [ "$(http GET /healthz)" = 200 ] && ok || bad "/healthz is open"
    [ "$(http POST /hooks/alertmanager "" "$RB_SOURCE_DIR/tests/fixtures/alertmanager/firing.json")" = 401 ] && ok || bad "no token: 401"
    [ "$(http POST /hooks/alertmanager wrongwrongwrongwrong)" = 401 ] && ok || bad "wrong token: 401"
    [ "$(http POST /hooks/alertmanager aaaaaaaaaaaaaaaaaaaaaa)" = 403 ] && ok || bad "viewer on a hook: 403"
    [ "$(http GET /hooks/alertmanager 0123456789abcdef0123)" = 405 ] && ok || bad "GET on a POST route: 405"
    [ "$(http GET /nowhere 0123456789abcdef0123)" = 404 ] && ok || bad "no route: 404"
    serve_stop
    [ "$srv_rc" = 0 ] && ok || bad "SIGTERM exits 0 (got $srv_rc)"
    srv_pid=
    # Every line is one JSON object with ts, level, event; requests say who.
    jq -e -s 'all(.[]; .ts and .level and .event)' log.json >/dev/null && ok || { bad "JSON log lines"; cat log.json; }
    jq -e -s 'any(.[]; .event == "request" and .status == 403 and .who == "ro")' log.json >/dev/null &&
        ok || bad "a request's line names the token"
    # counts, ports, codes and times are JSON numbers; text stays text
    jq -e -s 'all(.[] | select(.event == "request"); (.status | type) == "number" and (.ms | type) == "number")' log.json >/dev/null &&
        jq -e -s 'any(.[]; .event == "listening" and (.port | type) == "number" and (.tokens | type) == "number" and (.address | type) == "string")' log.json >/dev/null &&
        ok || { bad "JSON log numbers are numbers"; grep -E 'listening|request' log.json | head -3; }
    grep -q "0123456789abcdef0123\|aaaaaaaaaaaaaaaaaaaaaa" log.json && bad "a secret is in the log" || ok
    jq -e -s 'any(.[]; .event == "stopped")' log.json >/dev/null && ok || bad "stopped is logged"
else
    bad "the server did not start"; cat log.json
fi

# ---- no config: ./runbooks, ./runbook.db, a local token ----
mkdir plain plain/runbooks
cd plain || exit 1
if serve_start ../plain.log; then
    [ -f runbook.tokens ] && [ "$(stat -c %a runbook.tokens)" = 600 ] && ok || bad "runbook.tokens is made 600"
    [ "$(grep -c 'event=auth' ../plain.log)" = 1 ] && grep -q 'runbook.tokens' ../plain.log && ok ||
        bad "one line says how to authenticate"
    secret=$(awk '$1 == "local" { print $3 }' runbook.tokens)
    grep -q "$secret" ../plain.log && bad "the local secret is in the log" || ok
    printf '{"version":"4","alerts":[]}' >empty.json
    [ "$(http POST /hooks/alertmanager "$secret" empty.json)" = 200 ] && ok || bad "the local token works"
    serve_stop
    srv_pid=
    [ -f runbook.db ] && ok || bad "the journal is ./runbook.db"
    grep -q 'event=listening address=127.0.0.1' ../plain.log && ok || bad "loopback by default"
else
    bad "the no-config server did not start"; cat ../plain.log
fi
cd "$tmp" || exit 1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
