#!/bin/sh
# replay, what-if and report at their edges (the findings of a new-user
# tryout, docs/review.md): a what-if of a step whose parameters hold a
# secret or a URL password uses its recorded result; a what-if refuses a
# file of another runbook and --assume for a step the edit lacks; a step
# the edit has but did not reach is "not reached", not removed; a run that
# has not ended (killed, or still going) or was interrupted is not replayed
# (exit 2, saying why) and its report does not say it ended; a resumed
# run's report counts the resumed step once; `report -o` never writes over
# a database (the journal) and `-o -` is standard output; usage errors end
# with "Try 'runbook CMD --help'."; one zero and one duration for a run
# (escalations count from run_started); a notification not sent is in the
# report with its target and why; a parent cancelled during its sub-run
# replays identically; --with-sub edits a sub-runbook in a what-if.
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
export RUNBOOK_NO_LIVE=1 NO_COLOR=1

# 1. What-if with secrets: the unchanged file gives the same decisions.
cat >sec.yaml <<'Y'
apiVersion: runbook/v1
name: sec
params:
  token: { secret: true, required: true }
steps:
  - name: login
    run: [sh, -c, "echo using $0; exit 1", "{{ params.token }}"]
  - name: url
    run: [echo, "https://u:hunter2pw@host/x"]
Y
"$RUNBOOK" run sec.yaml -p token=S3cr3tValue --db sec.db -q >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "the secret run fails"
"$RUNBOOK" replay 1 --db sec.db --with sec.yaml >wi.out 2>&1
[ $? -eq 0 ] && ok || bad "what-if of the same file with a secret: $(cat wi.out)"
grep -q 'would run' wi.out && bad "a step with a secret would run: $(cat wi.out)" || ok
"$RUNBOOK" replay 1 --db sec.db --with sec.yaml --format json >wi.json
jq -e '.status.replayed == "failed" and ([.steps[] | select(.change != "same")] | length) == 0' wi.json >/dev/null &&
    ok || bad "what-if json: $(jq -c '{status, steps}' wi.json)"
grep -q 'S3cr3tValue\|hunter2pw' wi.out wi.json && bad "a secret in the what-if's output" || ok

# 2. What-if refusals; a step not reached.
cat >all.yaml <<'Y'
apiVersion: runbook/v1
name: all
steps:
  - { name: one, run: ["true"] }
  - { name: two, run: ["true"] }
  - { name: three, run: ["true"] }
Y
sed 's/name: all/name: other/' all.yaml >other.yaml
sed 's/  - { name: two, run: \["true"\] }/  - { name: fresh, run: ["true"] }\n  - { name: two, run: ["true"] }/' all.yaml >edit.yaml
"$RUNBOOK" run all.yaml --db all.db -q >/dev/null 2>&1 && ok || bad "the run of all"
"$RUNBOOK" replay 1 --db all.db --with other.yaml >o.out 2>&1
[ $? -eq 2 ] && grep -q 'is the runbook "other", run 1 ran "all"' o.out && ok || bad "another runbook's file: $(cat o.out)"
"$RUNBOOK" replay 1 --db all.db --with edit.yaml --assume frseh=failed >o.out 2>&1
[ $? -eq 2 ] && grep -q 'no step named "frseh"' o.out && ok || bad "--assume of no step: $(cat o.out)"
"$RUNBOOK" replay 1 --db all.db --with edit.yaml --assume fresh=failed --format json >o.json
[ $? -eq 1 ] && ok || bad "the what-if with fresh failed differs"
jq -e '[.steps[] | [.step, .change]] == [["one", "same"], ["fresh", "added"], ["two", "not reached"], ["three", "not reached"], ["(final status)", "changed"]]' o.json >/dev/null &&
    ok || bad "not reached: $(jq -c '[.steps[] | [.step, .change]]' o.json)"
"$RUNBOOK" replay 1 --db all.db --with edit.yaml --assume fresh=failed >o.out
grep -q '^~ two .*not reached' o.out && ok || bad "not reached in the table: $(cat o.out)"

# 3. A run that has not ended, a run interrupted, a resumed one.
cat >slow.yaml <<'Y'
apiVersion: runbook/v1
name: slow
steps:
  - { name: one, run: [touch, one] }
  - { name: nap, run: [sh, -c, "touch napping; sleep 30"] }
  - { name: two, run: ["true"] }
Y
"$RUNBOOK" run slow.yaml --db r.db -q >/dev/null 2>&1 &
p=$!
pids="$pids $p"
i=0
while [ ! -e napping ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
"$RUNBOOK" replay 1 --db r.db >rp.out 2>&1
[ $? -eq 2 ] && grep -q 'run 1 has not ended (running)' rp.out && ok || bad "replay of a live run: $(cat rp.out)"
"$RUNBOOK" report 1 --db r.db | sed -n 3p >rep.out
grep -q 'has not ended (running)' rep.out && ! grep -q 'ended running' rep.out && ok || bad "report of a live run: $(cat rep.out)"
kill -9 $p
wait $p 2>/dev/null
"$RUNBOOK" replay 1 --db r.db >rp.out 2>&1
[ $? -eq 2 ] && grep -q 'was interrupted.*runbook resume 1' rp.out && ok || bad "replay of a killed run: $(cat rp.out)"
# its process is gone: not "running", though no writer marked it yet
"$RUNBOOK" runs --db r.db | grep -q '^1 *slow *interrupted' && ok || bad "runs of a killed run: $("$RUNBOOK" runs --db r.db)"
"$RUNBOOK" runs --db r.db --format json | jq -e '.[0].status == "interrupted" and .[0].process_gone' >/dev/null &&
    ok || bad "runs json of a killed run"
"$RUNBOOK" report 1 --db r.db | sed -n 3p | grep -q 'was interrupted' && ok || bad "report of a killed run"
cp r.db k.db
[ -e r.db-wal ] && cp r.db-wal k.db-wal # what the killed process wrote may be there still
# another writer marks the dead process's run interrupted
printf 'apiVersion: runbook/v1\nname: t\nsteps:\n  - { name: x, run: ["true"] }\n' >t.yaml
"$RUNBOOK" run t.yaml --db k.db -q >/dev/null 2>&1
"$RUNBOOK" runs --db k.db | grep -q 'slow *interrupted' && ok || bad "not marked interrupted: $("$RUNBOOK" runs --db k.db)"
"$RUNBOOK" replay 1 --db k.db >rp.out 2>&1
[ $? -eq 2 ] && grep -q 'was interrupted' rp.out && ok || bad "replay of an interrupted run: $(cat rp.out)"
"$RUNBOOK" report 1 --db k.db | sed -n 3p | grep -q 'was interrupted' && ok || bad "report of an interrupted run"
rm -f napping
sed -i 's/sleep 30/sleep 0/' slow.yaml
"$RUNBOOK" resume 1 --db r.db --rerun-started -q >/dev/null 2>&1 && ok || bad "the resume"
"$RUNBOOK" report 1 --db r.db --format json >res.json
jq -e '(.steps | map(.name)) == ["one", "nap", "two"] and all(.steps[]; .status == "ok")' res.json >/dev/null &&
    ok || bad "a resumed run's steps: $(jq -c '[.steps[] | [.name, .status]]' res.json)"
"$RUNBOOK" report 1 --db r.db | sed -n 3p | grep -q '3 steps ran ok, 0 did not' && ok || bad "resumed summary"
"$RUNBOOK" replay 1 --db r.db >/dev/null 2>&1 && ok || bad "the resumed run replays"

# 4. report -o never writes over a database; -o - is stdout.
cp all.db self.db
[ -e all.db-wal ] && cp all.db-wal self.db-wal
"$RUNBOOK" report 1 --db self.db -o self.db --format html >o.out 2>&1
[ $? -eq 2 ] && grep -q 'a report never writes over one' o.out && ok || bad "-o onto the journal: $(cat o.out)"
"$RUNBOOK" runs --db self.db >/dev/null 2>&1 && ok || bad "the journal was destroyed"
"$RUNBOOK" report 1 --db all.db -o - --format md >dash.out && [ ! -e ./- ] && grep -q '^# Post-Incident Report' dash.out &&
    ok || bad "-o -"
echo old >keep.html
"$RUNBOOK" report 1 --db all.db -o keep.html --format html && grep -q '^<!DOCTYPE html>' keep.html && ok || bad "-o over a file"
ls keep.html.* >/dev/null 2>&1 && bad "a temporary file is left" || ok

# 6. One zero and one duration: escalation delays count from run_started
#    (the loop's cached time is not stale at the start), and the summary,
#    show and the report say the duration run_finished records.
cat >esc.yaml <<'Y'
apiVersion: runbook/v1
name: esc
severity:
  - { level: P1 }
escalate:
  - { after: 300ms, action: log, with: { message: paged } }
steps:
  - { name: wait, run: [sleep, "0.6"] }
Y
"$RUNBOOK" run esc.yaml --db esc.db 2>sum.out >/dev/null && ok || bad "the escalating run"
"$RUNBOOK" show 1 --db esc.db --format json >esc.json
jq -e '(.events | map(select(.type == "escalated"))[0].wall_ms) - .events[0].wall_ms >= 299' esc.json >/dev/null &&
    ok || bad "the escalation fired early: $(jq -c '[.events[] | select(.type == "run_started" or .type == "escalated") | .wall_ms]' esc.json)"
d=$(jq '.events[-1].data.duration_ms' esc.json)
"$RUNBOOK" report 1 --db esc.db --format json | jq -e ".duration_ms == $d" >/dev/null && ok || bad "report's duration is not $d"
"$RUNBOOK" show 1 --db esc.db | grep -q "ended .*(${d}ms)" && ok || bad "show's duration is not $d: $("$RUNBOOK" show 1 --db esc.db | grep ended)"
grep -q "resolved in ${d}ms" sum.out && ok || bad "the summary's duration is not $d: $(grep resolved sum.out)"

# 7. A notification that was not sent: the report says where it went and
#    why, and its summary counts it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >nf.yaml <<Y
apiVersion: runbook/v1
name: nf
steps:
  - { name: s, run: ["true"] }
notify:
  - { on: [resolved], action: notify, with: { url: "http://127.0.0.1:$port/hook", text: done } }
Y
"$RUNBOOK" run nf.yaml --db nf.db -q >/dev/null 2>&1
"$RUNBOOK" report 1 --db nf.db >nf.txt
sed -n 3p nf.txt | grep -q '1 notification was not sent' && ok || bad "the summary: $(sed -n 3p nf.txt)"
grep -q "on resolved: failed (via .* to http://127.0.0.1:$port: .*onnect" nf.txt && ok || bad "text: $(cat nf.txt)"
"$RUNBOOK" report 1 --db nf.db --format md | grep -q "notification on resolved: failed (via .* to http://127.0.0.1:$port" &&
    ok || bad "md notification"
"$RUNBOOK" report 1 --db nf.db --format json | jq -e ".notifications[0] | .target == \"http://127.0.0.1:$port\" and (.error | length > 0)" >/dev/null &&
    ok || bad "json notification"

# 8. A drill is marked as one in the runs list.
"$RUNBOOK" run all.yaml --db all.db --dry-run -q >/dev/null 2>&1
"$RUNBOOK" runs --db all.db >runs.out
grep -q '^2 .*(drill)$' runs.out && ! grep -q '^1 .*(drill)' runs.out && ok || bad "drill mark: $(cat runs.out)"
"$RUNBOOK" runs --db all.db --trigger 'cli (drill)' | grep -c '^[0-9]' | grep -qx 1 && ok || bad "--trigger 'cli (drill)'"

# 9. A parent cancelled while its sub-run is in flight replays identically:
#    its cancel comes where the sub-run's record has it.
mkdir sub
cat >sub/parent.yaml <<'Y'
apiVersion: runbook/v1
name: parent
steps:
  - { name: first, run: ["true"] }
  - { name: call, action: runbook, with: { name: child } }
  - { name: after, run: ["true"] }
Y
cat >sub/child.yaml <<'Y'
apiVersion: runbook/v1
name: child
steps:
  - { name: c1, run: ["true"] }
  - { name: nap, run: [sh, -c, "touch napping; sleep 30"] }
  - { name: c2, run: ["true"] }
Y
(cd sub && exec "$RUNBOOK" run parent.yaml --dir . --db ../p.db -q >/dev/null 2>&1) &
p=$!
pids="$pids $p"
i=0
while [ ! -e sub/napping ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $p
wait $p
"$RUNBOOK" runs --db p.db --format json | jq -e 'map(.status) == ["cancelled", "cancelled"]' >/dev/null &&
    ok || bad "parent and sub-run cancelled: $("$RUNBOOK" runs --db p.db)"
"$RUNBOOK" replay 1 --db p.db >rp.out 2>&1 && ok || bad "a parent cancelled during its sub-run: $(cat rp.out)"
"$RUNBOOK" replay 1 --db p.db --with sub/parent.yaml >rp.out 2>&1 && ok || bad "its what-if: $(cat rp.out)"

# 10. What-if with an edited sub-runbook (--with-sub): the recorded
#     sub-run runs the edit; a new step of it takes --assume.
mkdir q
cp sub/parent.yaml q/parent.yaml
sed 's/sleep 30/sleep 0/' sub/child.yaml >q/child.yaml
(cd q && exec "$RUNBOOK" run parent.yaml --dir . --db ../q.db -q >/dev/null 2>&1) && ok || bad "the parent's run"
cat >child2.yaml <<'Y'
apiVersion: runbook/v1
name: child
steps:
  - { name: c1, run: ["true"] }
  - { name: nap, run: [sh, -c, "touch napping; sleep 0"] }
  - { name: extra, run: [echo, new] }
  - { name: c2, run: ["true"] }
Y
"$RUNBOOK" replay 1 --db q.db --with q/parent.yaml --with-sub child2.yaml >ws.out 2>&1
[ $? -eq 1 ] && grep -q 'replayed resolved' ws.out && ok || bad "an added step taken as ok: $(cat ws.out)"
grep -q 'run 2: would run: main extra' ws.out && ok || bad "the sub-run's new step would run: $(cat ws.out)"
"$RUNBOOK" replay 1 --db q.db --with q/parent.yaml --with-sub child2.yaml --assume extra=failed --format json >ws.json
[ $? -eq 1 ] && jq -e '.status.replayed == "failed" and ([.steps[] | select(.step == "call")][0].change == "changed")' ws.json >/dev/null &&
    ok || bad "extra=failed fails call: $(jq -c '{status, steps}' ws.json)"
"$RUNBOOK" replay 1 --db q.db --with q/parent.yaml --with-sub q/parent.yaml >ws.out 2>&1
[ $? -eq 2 ] && grep -q 'give it as --with' ws.out && ok || bad "--with-sub of the top runbook: $(cat ws.out)"
"$RUNBOOK" replay 1 --db q.db --with-sub child2.yaml >ws.out 2>&1
[ $? -eq 2 ] && ok || bad "--with-sub without --with"
"$RUNBOOK" replay 1 --db q.db --with q/parent.yaml --with-sub sec.yaml >ws.out 2>&1
[ $? -eq 0 ] && grep -q 'the edit was not used' ws.out && ok || bad "an edit no sub-run used: $(cat ws.out)"

# 5. Usage errors end with the Try line.
for cmd in "replay 1 --db all.db --assume failed" "replay 1 --db all.db --verify --with all.yaml" \
           "replay 1 --db all.db --with all.yaml --assume bogus" "replay 1 --db all.db --format xml" \
           "report 1 --db all.db --format pdf" "runs --db all.db --limit abc" "runs --db all.db --since yesterday" \
           "replay 99999999999999999999 --db all.db" "report 99999999999999999999 --db all.db"; do
    # shellcheck disable=SC2086
    "$RUNBOOK" $cmd >u.out 2>u.err
    rc=$?
    c=${cmd%% *}
    [ $rc -eq 2 ] && [ "$(tail -1 u.err)" = "Try 'runbook $c --help'." ] && [ "$(wc -l <u.err)" -eq 2 ] &&
        ok || bad "$cmd: exit $rc, $(cat u.err)"
done
echo "review_edges: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
