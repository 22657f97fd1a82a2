#!/bin/sh
# Secrets stay secret: a secret parameter and a secret environment variable
# are used in argv, in a shell command and in a log message, and echoed by
# the commands; the journal file (and its WAL), `runbook show` and the
# run's own output must not contain them anywhere, while the commands did
# get the real values. The same holds for the password of a URL's userinfo
# (http://user:PASSWORD@host), secret or not: in an http step's intent and
# result, in a command's argv and output, in a drill's "would run".
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

param_secret="pw-Zq81-correct-horse"
env_secret="tok_9f3b77e2a1c4"
cat >rb.yaml <<'YAML'
apiVersion: runbook/v1
name: secrets
params:
  password: { required: true, secret: true }
  user: { default: admin }
  api: { required: true }
steps:
  - { name: url, run: [sh, -c, 'printf "%s" "$1" > got-url; echo "fetching $1"', x, "{{ params.api }}"] }
  - { name: fetch, action: http, with: { url: "{{ params.api }}", timeout: 2s }, on_failure: continue }
  - { name: argv, run: [sh, -c, 'printf "%s" "$1" > got-param; echo "login $2:$1"', x, "{{ params.password }}", "{{ params.user }}"] }
  - { name: shell, run: "printf %s {{ env.API_TOKEN }} > got-env; echo token={{ env.API_TOKEN }}" }
  - { name: say, action: log, with: { message: "using {{ params.password }} and {{ env.API_TOKEN }}" } }
  - { name: fail-loudly, run: [sh, -c, 'echo "bad password $1" >&2; exit 1', x, "{{ params.password }}"], on_failure: continue }
YAML

api="http://bob:Url-pa55word-7@127.0.0.1:1/x"
API_TOKEN=$env_secret "$RUNBOOK" run --db j.db --secret-env API_TOKEN -p password="$param_secret" \
    -p api="$api" rb.yaml >run.out 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "run exit $rc"; cat run.out; }
# the commands got the real values
[ "$(cat got-param 2>/dev/null)" = "$param_secret" ] && ok || bad "the command did not get the secret param"
[ "$(cat got-env 2>/dev/null)" = "$env_secret" ] && ok || bad "the command did not get the secret env"
[ "$(cat got-url 2>/dev/null)" = "http://bob:Url-pa55word-7@127.0.0.1:1/x" ] && ok ||
    bad "the command did not get the URL's password"
API_TOKEN=$env_secret "$RUNBOOK" run --db j.db --dry-run --secret-env API_TOKEN \
    -p password="$param_secret" -p api="$api" rb.yaml >drill.out 2>&1 || bad "the drill failed"
grep -q 'bob:\*\*\*@' drill.out && ok || { bad "the drill does not show the masked URL"; cat drill.out; }
"$RUNBOOK" show --db j.db 1 >show.out 2>&1 && ok || bad "show failed"
"$RUNBOOK" show --db j.db --format json 1 >show.json 2>&1 && ok || bad "show --format json failed"
grep -q '\*\*\*' show.out && ok || bad "show does not show the mask"
grep -q 'http://bob:\*\*\*@127.0.0.1:1/x' show.out && ok || bad "show does not show the masked URL"
for f in j.db j.db-wal run.out show.out show.json drill.out; do
    [ -e "$f" ] || continue
    if grep -a -q -e "$param_secret" -e "$env_secret" -e Url-pa55word-7 "$f"; then
        bad "a secret is in $f"
    else
        ok
    fi
done
# a non-secret value is still shown
grep -q "admin" show.out && ok || bad "the non-secret user is masked too"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
