#!/bin/sh
# The hash-chain line of `runbook report RUN`: it checks the run's own part
# of the chain (rb_journal_verify_run: its events, their links, its version
# and status, the head), not the whole journal, and says what `runbook audit
# verify` says about that run: a tampered event of the run breaks it, with
# the same finding; tampering with another run's events does not.
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
for i in 1 2 3; do
    "$RUNBOOK" run c.yaml --db c.db -q >/dev/null 2>&1 && ok || bad "run $i"
done
for i in 1 2 3; do
    "$RUNBOOK" report "$i" --db c.db --format json >r$i.json && jq -e '.chain.ok and .chain.problems == []' r$i.json >/dev/null &&
        ok || bad "run $i of a clean journal: $(jq -c .chain r$i.json)"
done

# One recorded output of run 2 changed, the triggers dropped first.
cp c.db t.db
sqlite3 t.db "DROP TRIGGER events_no_update;
  UPDATE events SET data = replace(data, 'two', 'TWO')
  WHERE id = (SELECT max(id) FROM events WHERE run_id = 2 AND type = 'step_finished')" && ok || bad "tampering"
bad_id=$(sqlite3 t.db "SELECT max(id) FROM events WHERE run_id = 2 AND type = 'step_finished'")
"$RUNBOOK" report 2 --db t.db --format json >t2.json && ok || bad "report 2 of the tampered journal"
jq -e --argjson id "$bad_id" '(.chain.ok | not) and .chain.problems[0].event_id == $id and .chain.problems[0].run_id == 2
       and (.chain.problems[0].what | test("does not match its hash"))' t2.json >/dev/null &&
    ok || bad "report 2 does not name event #$bad_id: $(jq -c .chain t2.json)"
# the same findings as audit verify's about run 2
"$RUNBOOK" audit verify --db t.db --format json >v.json
[ $? -eq 1 ] && ok || bad "audit verify passes the tampered journal"
jq -e --slurpfile r t2.json '[.problems[] | select(.run_id == 2)] == $r[0].chain.problems' v.json >/dev/null &&
    ok || bad "report 2 and audit verify disagree: $(jq -c .problems v.json) vs $(jq -c .chain.problems t2.json)"
"$RUNBOOK" report 2 --db t.db --format html -o t2.html && grep -q 'BROKEN for this run' t2.html && ok ||
    bad "the html of report 2 does not say BROKEN"
# runs 1 and 3 are intact: their events (and links) were not touched
for i in 1 3; do
    "$RUNBOOK" report "$i" --db t.db --format json >t$i.json && jq -e '.chain.ok' t$i.json >/dev/null &&
        ok || bad "report $i of the tampered journal: $(jq -c .chain t$i.json)"
done

# Run 2's first event deleted: the gap is run 2's finding, at its next event.
cp c.db d.db
sqlite3 d.db "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = (SELECT min(id) FROM events WHERE run_id = 2)"
"$RUNBOOK" report 2 --db d.db --format json >d2.json
jq -e '(.chain.ok | not) and (.chain.problems[0].what | test("missing"))' d2.json >/dev/null &&
    ok || bad "a deleted event of run 2: $(jq -c .chain d2.json)"

echo "report_chain: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
