#!/bin/sh
# A NUL byte in a step's output survives the journal: the step is shown as
# it ended (ok, exit 0), `show --format json` gives each event's data as an
# object (not the text of one), and the output reads back byte for byte,
# "\u0000" included; the text view shows what follows the NUL too.
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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
