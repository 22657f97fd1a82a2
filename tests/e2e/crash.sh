#!/bin/sh
# kill -9 at random moments, 100 times, on one journal: every time the
# database passes integrity_check and `audit verify`, the killed run is
# marked interrupted and `runbook resume` takes it to the end, and every
# side effect that happened has its step's intent in the journal (the
# intent is durable before the action starts).
# Env: RUNBOOK (the binary). ROUNDS overrides the 100.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
rounds=${ROUNDS:-100}
pass=0 fail=0 finished=0 resumed=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL round $i: $*"; }

cat >rb.yaml <<'YAML'
apiVersion: runbook/v1
name: crashy
params: { round: { required: true } }
steps:
  - { name: s1, run: [sh, -c, 'echo s1 >> "effects.$1"; sleep 0.01', x, "{{ params.round }}"], idempotent: true }
  - { name: s2, run: [sh, -c, 'echo s2 >> "effects.$1"; sleep 0.02', x, "{{ params.round }}"], idempotent: true }
  - { name: s3, run: [sh, -c, 'echo s3 >> "effects.$1"; sleep 0.01', x, "{{ params.round }}"], idempotent: true }
  - { name: pause, action: sleep, with: { duration: 20ms } }
  - { name: s4, run: [sh, -c, 'echo s4 >> "effects.$1"; sleep 0.02', x, "{{ params.round }}"], idempotent: true }
  - { name: s5, run: [sh, -c, 'echo s5 >> "effects.$1"', x, "{{ params.round }}"], idempotent: true }
YAML

rand_ms() { echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1 )); }

i=0
while [ "$i" -lt "$rounds" ]; do
    i=$((i + 1))
    "$RUNBOOK" run --quiet --db j.db -p round="$i" rb.yaml >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf %03d "$(rand_ms 200)")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ "$(sqlite3 j.db "SELECT count(*) FROM sqlite_master WHERE name = 'runs'" 2>/dev/null)" != 1 ]; then
        # killed before the journal's schema was in: nothing may have run either
        [ ! -e "effects.$i" ] && ok || bad "a step ran before the journal existed"
        continue
    fi
    [ "$(sqlite3 j.db 'PRAGMA integrity_check')" = ok ] && ok || bad "integrity_check"
    "$RUNBOOK" audit verify --db j.db >verify.out 2>&1 && ok || { bad "audit verify"; head -5 verify.out; }
    id=$(sqlite3 j.db "SELECT max(id) FROM runs WHERE json_extract(params, '$.round') = '$i'")
    if [ -z "$id" ]; then
        # killed before this round's run was recorded: nothing may have run
        [ ! -e "effects.$i" ] && ok || bad "a step ran but its run is not in the journal"
        continue
    fi
    # every side effect has its intent on record
    if [ -f "effects.$i" ]; then
        for s in $(sort -u "effects.$i"); do
            n=$(sqlite3 j.db "SELECT count(*) FROM events WHERE run_id=$id AND type='step_started' AND step='$s'")
            [ "$n" -ge 1 ] && ok || bad "step $s ran but its intent is not in the journal"
        done
    fi
    status=$(sqlite3 j.db "SELECT status FROM runs WHERE id=$id")
    if [ "$status" = resolved ]; then
        finished=$((finished + 1))
        ok
        continue
    fi
    # opening for writing marks it interrupted; resume takes it to the end
    resumed=$((resumed + 1))
    "$RUNBOOK" resume --quiet --db j.db "$id" >resume.out 2>&1
    rc=$?
    [ $rc -eq 0 ] && ok || { bad "resume exit $rc (status was $status)"; head -5 resume.out; }
    [ "$(sqlite3 j.db "SELECT status FROM runs WHERE id=$id")" = resolved ] && ok || bad "not resolved after resume"
    n=$(sqlite3 j.db "SELECT count(*) FROM events WHERE run_id=$id AND type='run_interrupted'")
    [ "$n" -ge 1 ] && ok || bad "no run_interrupted event"
    for s in s1 s2 s3 s4 s5; do
        grep -qx "$s" "effects.$i" && ok || bad "step $s never ran"
    done
done
"$RUNBOOK" audit verify --db j.db >/dev/null 2>&1 && ok || bad "final audit verify"

# A step that is not idempotent and was killed after its intent: resume
# stops and says so; --rerun-started runs it again on purpose.
i=once
cat >once.yaml <<'YAML'
apiVersion: runbook/v1
name: once
steps:
  - { name: pay, run: [sh, -c, 'if [ -e paid ]; then echo again >> paid; exit 0; fi; echo first > paid; sleep 30'] }
  - { name: after, run: [touch, after-ran] }
YAML
"$RUNBOOK" run --quiet --db j.db once.yaml >/dev/null 2>&1 &
pid=$!
n=0
while [ ! -e paid ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
kill -9 "$pid"
wait "$pid" 2>/dev/null
id=$(sqlite3 j.db "SELECT max(id) FROM runs")
"$RUNBOOK" resume --db j.db "$id" >resume.out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "resume of a started, non-idempotent step: exit $rc, want 2"
grep -q -- "--rerun-started" resume.out && ok || bad "the refusal does not say how to go on"
[ ! -e after-ran ] && ok || bad "resume went past the unfinished step"
"$RUNBOOK" resume --quiet --db j.db --rerun-started "$id" >resume.out 2>&1 && ok || bad "resume --rerun-started"
grep -q again paid && ok || bad "--rerun-started did not run the step again"
[ -e after-ran ] && ok || bad "the steps after it did not run"
"$RUNBOOK" resume --db j.db "$id" >resume.out 2>&1
[ $? -eq 2 ] && grep -q "not interrupted" resume.out && ok || bad "resuming a resolved run is refused"
echo "crash: $rounds rounds: $resumed killed mid-run and resumed, $finished finished before the kill"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
