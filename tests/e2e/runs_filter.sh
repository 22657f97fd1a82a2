#!/bin/sh
# `runbook runs` filters (--runbook --status --since --severity --trigger
# --drill --no-drill; --severity p1 finds P1),
# alone and combined, in text and JSON; and what a run records for a replay
# (run.started_at, env values, every now() value, escalation_held).
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# ids WANT DESCRIPTION ARGS...: the ids `runs --format json ARGS` lists
ids() {
    want=$1 what=$2
    shift 2
    got=$("$RUNBOOK" runs --db j.db --limit 0 --format json "$@" | jq -r '[.[].id] | join(" ")')
    [ "$got" = "$want" ] && ok || bad "$what: ids '$got', want '$want'"
}
cat >sev.yaml <<'Y'
apiVersion: runbook/v1
name: sev
params:
  level: { default: "P2" }
  code: { default: "0" }
severity:
  - { level: P1, when: "params.level == 'P1'" }
  - { level: P2 }
steps:
  - name: act
    run: [sh, -c, "exit {{ params.code }}"]
Y
cat >other.yaml <<'Y'
apiVersion: runbook/v1
name: other
steps:
  - name: act
    run: ["true"]
Y
"$RUNBOOK" run sev.yaml --db j.db -q --param level=P1 >/dev/null 2>&1          # 1 P1 resolved
"$RUNBOOK" run sev.yaml --db j.db -q --param code=1 >/dev/null 2>&1            # 2 P2 failed
"$RUNBOOK" run other.yaml --db j.db -q >/dev/null 2>&1                         # 3 resolved
"$RUNBOOK" run sev.yaml --db j.db -q --dry-run --param level=P1 >/dev/null 2>&1 # 4 drill
n=$("$RUNBOOK" runs --db j.db --format json | jq length)
[ "$n" = 4 ] && ok || bad "four runs, got $n"
ids "4 2 1" "--runbook" --runbook sev
ids "2" "--status failed" --status failed
ids "4 1" "--severity P1" --severity P1
ids "4 1" "--severity p1 (case does not count)" --severity p1
ids "3 2 1" "--no-drill" --no-drill
ids "4" "--drill" --drill
ids "1" "--no-drill combined" --no-drill --severity P1
"$RUNBOOK" runs --db j.db --drill --no-drill >/dev/null 2>err.txt
[ $? -eq 2 ] && grep -q 'exclude each other' err.txt && ok || bad "--drill --no-drill: $(cat err.txt)"
ids "3" "--runbook other" --runbook other
ids "4 3 2 1" "--trigger cli lists drills too" --trigger cli
ids "4" "--trigger 'cli (drill)'" --trigger "cli (drill)"
ids "" "--trigger alert" --trigger alert
ids "4 3 2 1" "--since 1h" --since 1h
ids "" "--since tomorrow" --since "$(date -d tomorrow +%Y-%m-%d)"
ids "4 3 2 1" "--since a date" --since "$(date -d yesterday '+%Y-%m-%d %H:%M')"
ids "4 1" "combined" --runbook sev --severity P1 --status resolved --trigger cli
ids "2" "combined, none of the drill" --runbook sev --severity P2 --trigger cli
sev=$("$RUNBOOK" runs --db j.db --format json --runbook sev --status failed | jq -r '.[0].severity')
[ "$sev" = P2 ] && ok || bad "json has severity: $sev"
"$RUNBOOK" runs --db j.db --status failed >out.txt 2>&1 && ok || bad "text runs failed"
grep -q '^2 ' out.txt && ! grep -q '^1 ' out.txt && ok || bad "text filter: $(cat out.txt)"
"$RUNBOOK" runs --db j.db --status interrupted >out.txt 2>&1
grep -q 'no runs match' out.txt && ok || bad "empty filter says no runs match: $(cat out.txt)"
"$RUNBOOK" runs --db j.db --status nosuch >out.txt 2>&1
[ $? -eq 2 ] && grep -q "'nosuch' is no run status" out.txt && ok || bad "a status no run has: $(cat out.txt)"
"$RUNBOOK" runs --db j.db --since yesterdayish >/dev/null 2>err.txt
[ $? -eq 2 ] && grep -q -- '--since needs' err.txt && ok || bad "bad --since: $(cat err.txt)"

# What a replay needs is recorded: started_at, env values, every now().
cat >rec.yaml <<'Y'
apiVersion: runbook/v1
name: rec
steps:
  - name: stamp
    action: log
    with: { message: "t={{ now() }} env={{ env.RB_TEST_VALUE }}" }
escalate:
  - { after: 10ms, unless: "true", action: log, with: { message: never } }
  - { after: 5s, action: log, with: { message: never } }
Y
cat >slow.yaml <<'Y'
apiVersion: runbook/v1
name: slow
steps:
  - name: wait
    run: [sleep, "0.3"]
escalate:
  - { after: 10ms, unless: "true", action: log, with: { message: never } }
Y
RB_TEST_VALUE=hello "$RUNBOOK" run rec.yaml --db r.db -q --env RB_TEST_VALUE >/dev/null 2>&1
"$RUNBOOK" show 1 --db r.db --format json >show.json
jq -e '.events[0].data.started_at | type == "number"' show.json >/dev/null && ok || bad "run_started has started_at"
jq -e '.events[0].data.env.RB_TEST_VALUE == "hello"' show.json >/dev/null && ok || bad "run_started has env"
jq -e '([.events[] | select(.type == "clock_read") | .data.values[]]) as $c
       | ($c | length) == 1 and
         ([.events[] | select(.type == "log") | .data.message | capture("t=(?<t>[0-9.]+)").t | tonumber][0]) == $c[0]' \
    show.json >/dev/null && ok || bad "clock_read holds the value now() gave"
"$RUNBOOK" run slow.yaml --db r.db -q >/dev/null 2>&1
"$RUNBOOK" show 2 --db r.db --format json | jq -e '[.events[] | select(.type == "escalation_held")] | length == 1' >/dev/null \
    && ok || bad "a held escalation is recorded"

echo "runs_filter: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
