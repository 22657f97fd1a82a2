#!/bin/sh
# A run started by an alert and resumed after its engine was killed (-9)
# still sees the alert: the step it runs after the resume renders
# {{ alert.* }} as the first attempt would have, not as empty strings.
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -e "$tmp/held" ] && kill -9 "$(cat "$tmp/held")" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

cat >rb.yaml <<'YAML'
apiVersion: runbook/v1
name: resume-alert
steps:
  - { name: hold, run: [sh, -c, '[ -e go ] && exit 0; echo $$ > held.tmp && mv held.tmp held; exec sleep 60'], idempotent: true }
  - { name: write, run: [sh, -c, 'printf "[%s] [%s]\n" "$1" "$2" > out.txt', x, "{{ alert.labels.instance }}", "{{ alert.fingerprint }}"] }
YAML
printf '{"status":"firing","fingerprint":"f00d","labels":{"alertname":"X","instance":"web-7"}}' >alert.json

"$RUNBOOK" run --quiet --db j.db --alert alert.json rb.yaml >run.log 2>&1 &
pid=$!
# wait (bounded) until the first step runs, then kill the engine outright
n=0
while [ ! -e held ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
[ -e held ] && ok || bad "the first step never started"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
kill -9 "$(cat held)" 2>/dev/null
id=$("$RUNBOOK" runs --db j.db --format json | jq -r '.[0].id')
touch go
"$RUNBOOK" resume --quiet --db j.db "$id" >resume.log 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "resume exit $rc"; cat resume.log; }
got=$(cat out.txt 2>/dev/null)
[ "$got" = "[web-7] [f00d]" ] && ok || { bad "after the resume the step saw: '$got'"; cat resume.log; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
