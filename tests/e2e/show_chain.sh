#!/bin/sh
# `runbook show RUN` (docs/cli.md): after the timeline it checks the run's
# part of the hash chain, as `runbook report` does — a record of the run
# changed after it was written (the tamper guards dropped) is said on
# stderr with the finding, and show exits 1 (text and json), while the
# other runs of that journal still show with exit 0; and a run that was
# interrupted (its process killed) and resumed shows both as lines for
# people, not as raw JSON.
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
export RUNBOOK_NO_LIVE=1 NO_COLOR=1
cat >c.yaml <<'Y'
apiVersion: runbook/v1
name: chain-demo
steps:
  - name: one
    run: [echo, one]
  - name: two
    run: [echo, two]
Y
for i in 1 2; do
    "$RUNBOOK" run c.yaml --db c.db -q >/dev/null 2>&1 && ok || bad "run $i"
done
"$RUNBOOK" show 2 --db c.db >out 2>err && [ ! -s err ] && ok || bad "show of an intact run: $(cat err)"

# one recorded output of run 2 changed
sqlite3 c.db "DROP TRIGGER events_no_update;
  UPDATE events SET data = replace(data, 'two', 'TWO')
  WHERE id = (SELECT max(id) FROM events WHERE run_id = 2 AND type = 'step_finished')" && ok || bad "tampering"
bad_id=$(sqlite3 c.db "SELECT max(id) FROM events WHERE run_id = 2 AND type = 'step_finished'")
"$RUNBOOK" show 2 --db c.db >out 2>err
[ $? -eq 1 ] && ok || bad "show of a tampered run: exit $?, want 1"
grep -q 'step two' out && ok || bad "the timeline is still shown: $(cat out)"
grep -q 'warning: run 2 does not verify' err && grep -q "event #$bad_id (run 2 seq" err &&
    grep -q 'does not match its hash' err && ok || bad "the warning: $(cat err)"
"$RUNBOOK" show 2 --db c.db --format json >out.json 2>err
[ $? -eq 1 ] && jq -e '.id == 2' out.json >/dev/null && grep -q 'does not verify' err && ok ||
    bad "json show of a tampered run: $(cat err)"
"$RUNBOOK" show 1 --db c.db >out 2>err && [ ! -s err ] && ok || bad "run 1 is intact: $(cat err)"

# interrupted (kill -9 while a step runs), then resumed
cat >slow.yaml <<'Y'
apiVersion: runbook/v1
name: slow
steps:
  - { name: first, run: ["true"] }
  - { name: wait, run: [sh, -c, "[ -e go ] && exit 0; touch started; sleep 60"], idempotent: true }
  - { name: last, run: ["true"] }
Y
"$RUNBOOK" run slow.yaml --db s.db -q >/dev/null 2>&1 &
pid=$!
n=0
while [ ! -e started ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done
kill -9 $pid
wait $pid 2>/dev/null
touch go
"$RUNBOOK" resume 1 --db s.db -q >/dev/null 2>&1 && ok || bad "resume"
"$RUNBOOK" show 1 --db s.db >out 2>err && ok || bad "show of the resumed run: $(cat err)"
grep -q 'run interrupted: the process that ran it (pid [0-9]*) is gone; step wait was in flight' out &&
    ok || bad "the interrupted line: $(grep -i interrupt out)"
grep -q 'run resumed: goes on at step wait' out && ok || bad "the resumed line: $(grep -i resum out)"
grep -v "^  params " out | grep -q "{" && bad "raw JSON in the timeline: $(grep "{" out)" || ok
echo "show_chain: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
