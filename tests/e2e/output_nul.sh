#!/bin/sh
# A NUL byte in a step's output survives the journal: the step is shown as
# it ended (ok, exit 0), `show --format json` gives each event's data as an
# object (not the text of one), and the output reads back byte for byte,
# "\u0000" included; the text view shows what follows the NUL too. A log
# line keeps a NUL (written in the runbook or rendered from an output);
# a path or an argument holding one is refused, never cut at it.
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

cat >rb.yaml <<'YAML'
apiVersion: runbook/v1
name: nul-output
steps:
  - { name: out, run: [printf, 'a\0b'] }
  - { name: err, run: [sh, -c, "printf 'x\\000y' >&2; exit 3"], on_failure: continue }
YAML
cat >logs.yaml <<'YAML'
apiVersion: runbook/v1
name: nul-logs
steps:
  - { name: lit, action: log, with: { message: "lit a\0b END" } }
  - { name: x, run: [printf, 'a\0b'] }
  - { name: tmpl, action: log, with: { message: "before {{ steps.x.stdout }} after" } }
  - { name: path, action: fs, with: { path: "{{ steps.x.stdout }}" }, on_failure: continue }
  - { name: arg, run: [echo, "{{ steps.x.stdout }}"], on_failure: continue }
YAML
touch a

"$RUNBOOK" run --db j.db -q rb.yaml >run.out 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "run exit $rc"; cat run.out; }
"$RUNBOOK" show --db j.db --format json 1 >show.json 2>&1 && ok || bad "show --format json failed"
[ "$(jq '[.events[] | .data | type] | unique' -c show.json)" = '["object"]' ] && ok ||
    bad "an event's data is not an object: $(jq -c '[.events[] | .data | type]' show.json)"
[ "$(jq -c '[.events[] | select(.type == "attempt_finished") | .data.result | [.stdout, .stderr, .exit_code]]' show.json)" = '[["a\u0000b","",0],["","x\u0000y",3]]' ] && ok ||
    bad "output did not round-trip: $(jq -c '[.events[] | select(.type == "attempt_finished") | .data.result]' show.json)"
"$RUNBOOK" show --db j.db 1 >show.out 2>&1 && ok || bad "show failed"
grep -q "step out finished: ok (exit 0" show.out && ok || { bad "show does not say ok (exit 0)"; cat show.out; }
grep -q "step err finished: failed (exit 3" show.out && ok || { bad "show does not say failed (exit 3)"; cat show.out; }
grep -q "done" show.out && bad "show says done" || ok
# The text view shows the output past the NUL (as ?), not cut at it.
grep -q "stdout | a?b" show.out && ok || { bad "show cuts stdout at the NUL"; cat show.out; }
grep -q "stderr | x?y" show.out && ok || { bad "show cuts stderr at the NUL"; cat show.out; }

"$RUNBOOK" run --db l.db logs.yaml >logs.out 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "logs run exit $rc"; cat logs.out; }
"$RUNBOOK" show --db l.db --format json 1 >logs.json 2>&1 && ok || bad "show logs failed"
[ "$(jq -c '[.events[] | select(.type == "log" and .data.level == "info") | .data.message]' logs.json)" = '["lit a\u0000b END","before a\u0000b after"]' ] && ok ||
    bad "a log line was cut at a NUL: $(jq -c '[.events[] | select(.type == "log") | .data]' logs.json)"
[ "$(jq -c '[.events[] | select(.type == "step_finished" and .step == "lit") | .data.result.message]' logs.json)" = '["lit a\u0000b END"]' ] && ok ||
    bad "the log result was cut at a NUL"
grep -q "info: lit a?b END" logs.out && ok || { bad "progress cuts the log line"; cat logs.out; }
"$RUNBOOK" show --db l.db 1 >logs.txt 2>&1
grep -q "log: before a?b after" logs.txt && ok || { bad "show cuts the log line"; cat logs.txt; }
[ "$(jq -c '[.events[] | select(.type == "step_finished" and (.step == "path" or .step == "arg")) | .data.result | [.status, .exists]]' logs.json)" = '[["error",null],["error",null]]' ] && ok ||
    bad "a NUL in a path or argument was not refused: $(jq -c '[.events[] | select(.type == "step_finished") | .data.result]' logs.json)"
grep -q "path contains a NUL byte" logs.txt && ok || bad "show does not say the path holds a NUL"
grep -q "argv\[1\] contains a NUL byte" logs.txt && ok || bad "show does not say argv[1] holds a NUL"
"$RUNBOOK" validate logs.yaml >/dev/null 2>&1 && ok || bad "logs.yaml does not validate"
sed 's|path: "{{ steps.x.stdout }}"|path: "a\\0b"|' logs.yaml >lit.yaml
"$RUNBOOK" validate lit.yaml >val.out 2>&1 && bad "a literal path with a NUL validates" || ok
grep -q "path contains a NUL byte" val.out && ok || { bad "validate does not name the NUL"; cat val.out; }

# A parameter's value keeps its NUL: a default (or --param) is not cut short
# on its way into the run, and a template renders all of it.
cat >param.yaml <<'YAML'
apiVersion: runbook/v1
name: nul-param
params: { p: { default: "x\0y" } }
steps:
  - { name: l, action: log, with: { message: "p={{ params.p }}-end" } }
YAML
"$RUNBOOK" run --db p.db -q param.yaml >/dev/null 2>&1 || bad "param.yaml did not run"
"$RUNBOOK" show --db p.db --format json 1 >param.json 2>&1
[ "$(jq -c '.params.p' param.json)" = '"x\u0000y"' ] && ok || bad "the parameter was cut: $(jq -c .params param.json)"
jq -e '[.events[] | select(.type == "log") | .data.message] | any(. == "p=x\u0000y-end")' param.json >/dev/null && ok ||
    bad "the rendered message was cut: $(jq -c '[.events[] | select(.type == "log") | .data]' param.json)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
