#!/bin/sh
# `runbook serve` refuses what it cannot do safely, and says so where the
# operator can fix it: a second server on the same journal (exit 4), a
# 404/405 only after the token (401 first: an unauthenticated caller
# learns nothing of the routes), the journal and its -wal/-shm made 0600
# whatever the umask (serve and run), absurd limits (header_size: 12), the
# open-files limit (the soft one raised to the hard one; active_runs
# lowered to what fits, and the runs admitted all finish), tokens read
# from environment variables (env_tokens: a missing or empty one refused
# at file:line:col), and `validate --config` saying every refusal of serve
# (tokens file, folders, journal folder) at the config's file:line:col.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir runbooks marks
export MARKS="$tmp/marks"
cat >runbooks/hold.yaml <<'YAML'
apiVersion: runbook/v1
name: hold
triggers:
  - match: { alertname: Hold }
concurrency: "{{ alert.labels.n }}"
steps:
  - name: wait
    run: "sleep 1; echo {{ alert.labels.n }} >> {{ env.MARKS }}/hold"
YAML
hook_token
server_config

# ---- a second server on the same journal: exit 4, nothing touched ----
serve_start log1 --config server.yaml || { bad "the first server did not start"; cat log1; exit 1; }
first=$srv_pid
"$RUNBOOK" serve --config server.yaml --listen 127.0.0.1:0 >second.log 2>&1
rc=$?
[ $rc -eq 4 ] && ok || { bad "a second server on the journal exits 4 (got $rc)"; cat second.log; }
grep -q 'another `runbook serve` serves from this journal' second.log && ok || { bad "the second server says why"; cat second.log; }
kill -0 "$first" && [ "$(http GET /healthz)" = 200 ] && ok || bad "the first server serves on"
"$RUNBOOK" runs --db j.db >/dev/null 2>&1 && ok || bad "runs --db reads the journal beside the server"

# ---- 404 and 405 come after the token ----
[ "$(http GET /nowhere)" = 401 ] && ok || bad "no route, no token: 401"
[ "$(http GET /api/v1/nowhere)" = 401 ] && ok || bad "no API route, no token: 401"
[ "$(http GET /hooks/alertmanager)" = 401 ] && ok || bad "wrong method, no token: 401"
[ "$(http GET /api/v1/nowhere wrongwrongwrongwrongwrong)" = 401 ] && ok || bad "no route, a wrong token: 401"
[ "$(http GET /api/v1/nowhere "$T")" = 404 ] && ok || bad "no route, a token: 404"
[ "$(http GET /hooks/alertmanager "$T")" = 405 ] && ok || bad "wrong method, a token: 405"
[ "$(http POST /healthz)" = 405 ] && ok || bad "the open /healthz: 405 without a token"

# ---- the journal is its owner's alone ----
[ "$(stat -c %a j.db)" = 600 ] && ok || bad "the journal is 0600 (umask $(umask))"
for f in j.db-wal j.db-shm; do
    [ ! -e $f ] || [ "$(stat -c %a $f)" = 600 ] && ok || bad "$f is 0600"
done
serve_stop
srv_pid=
rm -f j.db j.db-wal j.db-shm
(umask 000 && serve_start log2 --config server.yaml && http GET /healthz >/dev/null &&
    stat -c '%n %a' j.db j.db-wal j.db-shm >modes && serve_stop) || bad "a server under umask 000"
[ "$(awk '$2 != 600' modes)" = "" ] && [ "$(wc -l <modes)" = 3 ] && ok || { bad "umask 000: the journal files are 0600"; cat modes; }
cat >once.yaml <<'YAML'
apiVersion: runbook/v1
name: once
steps:
  - name: hello
    run: "true"
YAML
(umask 000 && "$RUNBOOK" run once.yaml --db run.db >/dev/null 2>&1)
[ "$(stat -c %a run.db)" = 600 ] && ok || bad "runbook run makes its journal 0600 under umask 000"
(umask 077 && "$RUNBOOK" run once.yaml --db run2.db >/dev/null 2>&1) && [ "$(stat -c %a run2.db)" = 600 ] && ok ||
    bad "runbook run under umask 077"

# ---- limits below what any request needs ----
cp server.yaml tiny.yaml
printf 'limits: { header_size: 12, body_size: 10, request_time: 1ms }\n' >>tiny.yaml
"$RUNBOOK" validate --config tiny.yaml >out 2>&1
[ $? -eq 2 ] && grep -q '^tiny.yaml:5:24: error: header_size: too small' out &&
    grep -q '^tiny.yaml:5:39: error: body_size: too small' out &&
    grep -q '^tiny.yaml:5:57: error: request_time: too short' out && ok || { bad "absurd limits are refused at line:col"; cat out; }
"$RUNBOOK" serve --config tiny.yaml >out 2>&1
[ $? -eq 2 ] && ok || bad "serve refuses absurd limits"

# ---- open files: the soft limit is raised to the hard one ----
(ulimit -Sn 200 && serve_start log3 --config server.yaml && serve_stop)
grep -q 'event=listening' log3 && ! grep -q 'event=limits_lowered' log3 && ok || { bad "the soft limit is raised to the hard one"; cat log3; }

# ---- a hard limit too low for active_runs: lowered, and what is admitted runs ----
python3 - >many.json <<'PY'
import json
alerts = [{"status": "firing", "labels": {"alertname": "Hold", "n": str(i)},
           "startsAt": "2026-11-21T23:46:58Z", "fingerprint": "hold-%d" % i} for i in range(200)]
print(json.dumps({"version": "4", "alerts": alerts}))
PY
python3 - >some.json <<'PY'
import json
alerts = [{"status": "firing", "labels": {"alertname": "Hold", "n": "s%d" % i},
           "startsAt": "2026-11-21T23:46:58Z", "fingerprint": "some-%d" % i} for i in range(40)]
print(json.dumps({"version": "4", "alerts": alerts}))
PY
server_config 'limits: { active_runs: 10000 }'
(
    ulimit -n 300
    serve_start log4 --config server.yaml || exit 1
    curl -s -D hdr -o body -w '%{http_code}\n' --max-time 30 -H "Authorization: Bearer $T" \
        -H 'Content-Type: application/json' --data-binary @many.json \
        "http://127.0.0.1:$srv_port/hooks/alertmanager" >code.many
    curl -s -o body2 -w '%{http_code}\n' --max-time 30 -H "Authorization: Bearer $T" \
        -H 'Content-Type: application/json' --data-binary @some.json \
        "http://127.0.0.1:$srv_port/hooks/alertmanager" >code.some
    wait_for sh -c '[ -f marks/hold ] && [ "$(wc -l <marks/hold)" -ge 40 ]'
    serve_stop
)
grep -q 'event=limits_lowered active_runs=43 configured=10000 open_files=300' log4 && ok || { bad "active_runs is lowered to what 300 files hold"; cat log4; }
[ "$(cat code.many)" = 503 ] && grep -qi '^retry-after: ' hdr && ok || { bad "over the lowered limit: 503 with Retry-After"; cat code.many hdr; }
[ "$(cat code.some)" = 200 ] && ok || { bad "under it: 200"; cat body2; }
[ -f marks/hold ] && [ "$(wc -l <marks/hold)" = 40 ] && ok || bad "every admitted run finished its step"
grep -q 'Too many open files\|EMFILE' log4 && bad "a run ran out of files" || ok

# ---- tokens from environment variables ----
server_config 'env_tokens:' '  pager: { role: operator, secret_env: RB_T_PAGER }' '  am: { role: hook, secret_env: RB_T_AM }'
rm -f tokens
sed -i '/^tokens:/d' server.yaml
env -u RB_T_PAGER RB_T_AM=0123456789abcdef-am "$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:5:40: error: token pager: the environment variable RB_T_PAGER is not set" out && ok ||
    { bad "a missing token variable: file:line:col"; cat out; }
RB_T_PAGER= RB_T_AM=0123456789abcdef-am "$RUNBOOK" serve --config server.yaml --listen 127.0.0.1:0 >out 2>&1
[ $? -eq 2 ] && grep -q 'file=server.yaml at=5:40 message="token pager: the environment variable RB_T_PAGER is empty"' out && ok ||
    { bad "an empty token variable refuses the start"; cat out; }
RB_T_PAGER=short RB_T_AM=0123456789abcdef-am "$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q 'server.yaml:5:40: error: token pager: the secret in RB_T_PAGER is shorter than 16' out && ok || { bad "a short env secret"; cat out; }
export RB_T_PAGER=pager-secret-0123456789 RB_T_AM=0123456789abcdef-am
"$RUNBOOK" validate --config server.yaml >out 2>&1 && ok || { bad "env tokens validate"; cat out; }
if serve_start log5 --config server.yaml; then
    [ "$(http GET /api/v1/runs "$RB_T_PAGER")" = 200 ] && ok || bad "an env token (operator) reads"
    [ "$(http GET /api/v1/runs "$RB_T_AM")" = 403 ] && ok || bad "an env token (hook) has its role"
    grep -q "$RB_T_PAGER\|$RB_T_AM" log5 && bad "a secret is in the log" || ok
    grep -q 'event=listening .*tokens=2' log5 && ok || bad "the listening line counts the env tokens"
    serve_stop
    srv_pid=
else
    bad "the server with env tokens did not start"; cat log5
fi
ps -o args= -p $$ | grep -q "$RB_T_PAGER" && bad "a secret is on a command line" || ok

# ---- validate --config says what serve refuses, at the config's line:col ----
printf 'x hook 0123456789abcdef0123\n' >loose
chmod 644 loose
cat >paths.yaml <<YAML
database: $tmp/nowhere/j.db
runbooks: $tmp/no-runbooks
plugins: $tmp/no-plugins
tokens: $tmp/loose
YAML
"$RUNBOOK" validate --config paths.yaml >out 2>&1
[ $? -eq 2 ] && ok || bad "validate --config refuses what serve refuses"
grep -q '^paths.yaml:1:11: error: database: the journal.s folder .*nowhere does not exist' out && ok || { bad "the journal's folder"; cat out; }
grep -q '^paths.yaml:2:11: error: runbooks: .*no-runbooks: no such folder' out && ok || { bad "the runbooks folder"; cat out; }
grep -q '^paths.yaml:3:10: error: plugins: .*no-plugins: no such folder' out && ok || { bad "the plugins folder"; cat out; }
grep -q '^paths.yaml:4:9: error: tokens: the tokens file may be read .*chmod 600' out && ok || { bad "the tokens file's mode"; cat out; }
"$RUNBOOK" serve --config paths.yaml >out2 2>&1
[ $? -eq 2 ] && grep -q 'at=2:11 message="runbooks: ' out2 && ok || { bad "serve refuses the same"; cat out2; }
printf 'tokens: %s/missing\nrunbooks: %s/runbooks\n' "$tmp" "$tmp" >missing.yaml
"$RUNBOOK" validate --config missing.yaml >out 2>&1
[ $? -eq 2 ] && grep -q '^missing.yaml:1:9: error: tokens: cannot read the tokens file' out && ok || { bad "a missing tokens file"; cat out; }

echo "serve_safety: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
