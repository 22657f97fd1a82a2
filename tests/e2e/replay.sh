#!/bin/sh
# `runbook replay RUN`: a recorded run runs again with every action answered
# from the journal and nothing executed, and every decision compares equal
# (every spec in tests/spec/ also replays its runs: run_spec.sh). Here: the
# runbooks of runbooks/ (drills), retries with until, goto, rollback,
# foreach, a sub-runbook, approvals yes and no, a cancelled run, a resumed
# run, now() and env values; nothing runs (marker files); a changed result
# in a tampered copy is the divergence replay reports (and audit verify
# fails); a journal from before the replay records still replays and names
# what it lacks; what-if with an added step, a removed one, a changed when.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
export RUNBOOK_NO_LIVE=1 NO_COLOR=1
# replays DB DESCRIPTION: every finished top-level run of DB replays identically
replays() {
    for id in $("$RUNBOOK" runs --db "$1" --limit 0 --format json |
                jq -r '.[] | select((.trigger | startswith("runbook:")) | not) | .id'); do
        if "$RUNBOOK" replay --db "$1" "$id" >rp.out 2>&1; then ok; else
            bad "$2: run $id does not replay identically"; sed 's/^/    | /' rp.out | head -12; fi
    done
}

# 1. The runbooks of runbooks/, as drills (their checks run for real and
#    fail here; the steps are simulated). Slow ones wait out their retry
#    delays, so they run side by side.
#    A drill still going after 150 s (a runbook that waits minutes
#    between attempts) is killed and left out, and said so.
mkdir books
for f in "$RB_SOURCE_DIR"/runbooks/*.yaml; do
    n=$(basename "$f" .yaml)
    timeout -s KILL 150 "$RUNBOOK" run "$f" --db "books/$n.db" --dry-run --yes -q >/dev/null 2>&1 &
done
wait
for f in "$RB_SOURCE_DIR"/runbooks/*.yaml; do
    n=$(basename "$f" .yaml)
    [ -f "books/$n.db" ] && ok || bad "no journal for $n"
    st=$("$RUNBOOK" runs --db "books/$n.db" --format json 2>/dev/null | jq -r '.[0].status')
    case $st in running | interrupted | null) echo "note: runbooks/$n: the drill did not finish ($st): left out"; continue ;; esac
    replays "books/$n.db" "runbooks/$n"
done

# 2. Decisions of every kind, with markers that prove nothing runs again.
mkdir w && cd w || exit 1
cat >child.yaml <<'Y'
apiVersion: runbook/v1
name: child
params:
  who: { default: x }
steps:
  - { name: mark, run: [touch, "child-{{ params.who }}"] }
Y
cat >all.yaml <<'Y'
apiVersion: runbook/v1
name: all
params:
  items: { type: list, default: [a, b, c] }
detect:
  - { name: probe, run: ["true"] }
confirm: "checks.probe.ok"
severity:
  - { level: P1, when: "!checks.probe.ok" }
  - { level: P2, when: "now() > 0 && env.RB_REPLAY_ENV == 'yes'" }
  - { level: P3 }
steps:
  - name: counter
    run: [sh, -c, "echo x >> count; wc -l < count | tr -d ' '"]
    retry: { attempts: 5, delay: 1ms, until: "int(stdout) >= 3" }
  - name: flaky
    run: [sh, -c, "touch flaky-ran; [ -f loop-done ]"]
    on_failure: "goto:fix"
  - name: fix
    when: "!steps.flaky.ok"
    run: [sh, -c, "touch loop-done fix-ran"]
    on_failure: continue
  - name: skipped
    when: "false"
    run: [touch, skipped-ran]
  - name: fan
    foreach: "{{ params.items }}"
    max_parallel: 2
    run: [touch, "item-{{ item }}"]
    undo: { run: [touch, "undo-{{ item }}"] }
  - name: sub
    action: runbook
    with: { name: child, params: { who: "{{ params.items[0] }}" } }
  - name: gated
    approval: { timeout: 1h }
    run: [touch, gated-ran]
  - name: breaks
    when: "now() > 1000"
    run: [sh, -c, "touch breaks-ran; exit 3"]
    on_failure: rollback
Y
RB_REPLAY_ENV=yes "$RUNBOOK" run all.yaml --db ../w.db --yes --env RB_REPLAY_ENV >/dev/null 2>&1
st=$("$RUNBOOK" runs --db ../w.db --runbook all --format json | jq -r '.[0].status')
[ "$st" = failed ] && ok || bad "the decisions run ends failed (rollback), got $st"
for m in flaky-ran fix-ran loop-done item-a item-b item-c child-a gated-ran breaks-ran undo-a undo-b undo-c; do
    [ -e "$m" ] && ok || bad "marker $m missing after the run"
done
"$RUNBOOK" show 1 --db ../w.db --format json >show.json
jq -e '[.events[] | select(.type == "step_retry")] | length >= 2' show.json >/dev/null && ok || bad "counter retried"
jq -e '[.events[] | select(.type == "rollback_started")] | length == 1' show.json >/dev/null && ok || bad "a rollback"
jq -e '[.events[] | select(.type == "severity_assigned") | .data.level] == ["P2"]' show.json >/dev/null && ok || bad "P2 through env and now()"
rm -f count flaky-ran fix-ran loop-done item-* child-* gated-ran breaks-ran undo-*
ls >../before.txt
cd .. || exit 1
"$RUNBOOK" replay 1 --db w.db >rp.out 2>&1 && ok || { bad "the decisions run does not replay"; cat rp.out; }
grep -q 'identical' rp.out && grep -q '1 sub-run' rp.out && ok || bad "verdict line: $(head -1 rp.out)"
(cd w && ls) | diff before.txt - >/dev/null && ok || bad "the replay ran something: $(cd w && ls | tr '\n' ' ')"
"$RUNBOOK" replay 1 --db w.db --format json >rp.json
jq -e '.identical and (.runs | length) == 2 and .missing == [] and .status.replayed == "failed"' rp.json >/dev/null \
    && ok || bad "json verdict: $(jq -c '{identical, runs, missing, status}' rp.json)"
for k in confirm severity_assigned step_skipped step_retry rollback_started undo_started approval_granted item_finished run_finished; do
    jq -e --arg k "$k" '[.recorded[] | select(.type == $k)] | length > 0' rp.json >/dev/null && ok || bad "no $k decision compared"
done
child=$("$RUNBOOK" runs --db w.db --trigger runbook --format json | jq -r '.[0].id')
"$RUNBOOK" replay "$child" --db w.db >rp.out 2>&1
[ $? -eq 2 ] && grep -q 'sub-runbook of run 1' rp.out && ok || bad "a sub-run alone: $(cat rp.out)"

# 3. A tampered copy: one recorded result changed (the triggers dropped).
cp w.db t.db
sqlite3 t.db "DROP TRIGGER events_no_update;
  UPDATE events SET data = json_set(data, '\$.raw.stdout', '9')
   WHERE run_id = 1 AND type = 'attempt_finished' AND step = 'counter' AND attempt = 1;"
"$RUNBOOK" replay 1 --db t.db --format json >t.json
[ $? -eq 1 ] && ok || bad "a tampered journal replays identically"
jq -e '.divergence.recorded.type == "attempt_finished" and .divergence.recorded.step == "counter"
       and .divergence.recorded.attempt == 1 and .divergence.recorded.decision.status == "failed"
       and .divergence.replayed.decision.status == "ok"' t.json >/dev/null \
    && ok || bad "the divergence is not the changed result: $(jq -c .divergence t.json)"
"$RUNBOOK" replay 1 --db t.db >t.out 2>&1
grep -q 'first divergence' t.out && grep -q 'recorded:.*counter' t.out && ok || bad "text divergence: $(cat t.out)"
"$RUNBOOK" audit verify --db t.db >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "audit verify passes the tampered journal"

# 4. A journal from before replay records: no started_at, env, clock_read.
cp w.db old.db
sqlite3 old.db "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;
  UPDATE events SET data = json_remove(data, '\$.started_at', '\$.env') WHERE type = 'run_started';
  DELETE FROM events WHERE type = 'clock_read';"
"$RUNBOOK" replay 1 --db old.db --format json >old.json
jq -e '[.missing[].what] | (index("run.started_at") != null) and (index("now()") != null) and (index("env") != null)' old.json >/dev/null \
    && ok || bad "an old journal's missing values are not named: $(jq -c .missing old.json)"

# 5. A cancelled run and a resumed run.
mkdir w2 && cd w2 || exit 1
cat >slow.yaml <<'Y'
apiVersion: runbook/v1
name: slow
steps:
  - { name: first, run: [touch, first-ran] }
  - name: wait
    run: [sh, -c, "i=0; while [ ! -e go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done"]
    idempotent: true
  - { name: after, run: [touch, after-ran] }
Y
"$RUNBOOK" run slow.yaml --db ../c.db >/dev/null 2>&1 &
p=$!
# the run's id (ids are not always 1: docs/journal.md), once it is on record
run_id() { "$RUNBOOK" runs --db "$1" --format json 2>/dev/null | jq -r '.[0].id // empty' 2>/dev/null; }
started() {
    id=$(run_id "$1")
    [ -n "$id" ] && "$RUNBOOK" show "$id" --db "$1" --format json 2>/dev/null |
        jq -e '[.events[] | select(.type == "attempt_started" and .step == "wait")] | length > 0' >/dev/null
}
for i in $(seq 600); do started ../c.db && break; sleep 0.1; done
kill -INT $p; wait $p
"$RUNBOOK" run slow.yaml --db ../r.db >/dev/null 2>&1 &
p=$!
for i in $(seq 600); do started ../r.db && break; sleep 0.1; done
kill -9 $p; wait $p 2>/dev/null
touch go # the step waits for it: the killed run could not have finished it
"$RUNBOOK" resume "$(run_id ../r.db)" --db ../r.db --rerun-started >../resume.log 2>&1
cd .. || exit 1
[ "$("$RUNBOOK" runs --db c.db --format json | jq -r '.[0].status')" = cancelled ] && ok || bad "the run was not cancelled"
st=$("$RUNBOOK" runs --db r.db --format json | jq -r '.[0].status')
[ "$st" = resolved ] && ok || { bad "the run was not resumed: $st"; sed 's/^/    | /' resume.log | head; }
replays c.db "cancelled"
replays r.db "resumed"

# 6. Approvals answered no (nobody at a terminal).
cat >no.yaml <<'Y'
apiVersion: runbook/v1
name: no
steps:
  - { name: ask, approval: { when: "true" }, run: [touch, asked-ran], on_failure: continue }
  - { name: ask-late, approval: { timeout: 10ms, on_timeout: fail }, run: [touch, late-ran], on_failure: continue }
  - { name: fine, run: ["true"] }
Y
setsid -w "$RUNBOOK" run no.yaml --db n.db </dev/null >/dev/null 2>&1
"$RUNBOOK" show 1 --db n.db --format json | jq -e '[.events[] | select(.type == "approval_denied" or .type == "approval_timeout")] | length == 2' >/dev/null \
    && ok || bad "no approvals denied"
replays n.db "approvals denied"

# 7. What-if: an added step, a removed one, a changed when.
sed -e 's/  - name: skipped$/  - name: added\n    run: [touch, added-ran]\n  - name: skipped/' \
    -e 's/when: "false"/when: "true"/' w/all.yaml | awk '
    /^  - name: fan$/ { skip = 1; next }
    skip && /^  - name: / { skip = 0 }
    !skip' >edited.yaml
"$RUNBOOK" replay 1 --db w.db --with edited.yaml --format json >wi.json
[ $? -eq 1 ] && ok || bad "what-if with changes exits 1"
jq -e '[.steps[] | select(.change != "same") | [.step, .change]] ==
       [["added", "added"], ["skipped", "changed"], ["fan", "removed"], ["(final status)", "changed"]]' wi.json >/dev/null \
    && ok || bad "what-if differences: $(jq -c '[.steps[] | select(.change != "same") | [.step, .change]]' wi.json)"
jq -e '[.steps[] | select(.step == "added") | .replayed][0] | test("would run")' wi.json >/dev/null \
    && ok || bad "the added step would run: $(jq -c '.steps' wi.json)"
"$RUNBOOK" replay 1 --db w.db --with edited.yaml --assume added=failed --format json >wf.json
jq -e '[.steps[] | select(.step == "added") | .replayed][0] | startswith("failed")' wf.json >/dev/null \
    && ok || bad "--assume added=failed: $(jq -c '[.steps[] | select(.step == "added")]' wf.json)"
"$RUNBOOK" replay 1 --db w.db --with edited.yaml >wi.txt 2>&1
grep -q '^+ added' wi.txt && grep -q '^- fan' wi.txt && grep -q '^~ skipped' wi.txt && ok || bad "side by side: $(cat wi.txt)"
"$RUNBOOK" replay 1 --db w.db --with w/all.yaml >/dev/null 2>&1 && ok || bad "what-if with the same file differs"
(cd w && ls) | diff before.txt - >/dev/null && ok || bad "a what-if ran something: $(cd w && ls | tr '\n' ' ')"
"$RUNBOOK" replay 1 --db w.db --with nosuch.yaml >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "what-if with a missing file: exit 2"
"$RUNBOOK" replay 99 --db w.db >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "no such run: exit 2"

echo "replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
