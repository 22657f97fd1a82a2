#!/bin/sh
# `runbook journal prune --before DATE`: removes finished runs, leaves a
# checkpoint, and `runbook audit verify` still passes on what remains —
# and still catches tampering with what remains. Writing goes on after a
# prune (run ids are not reused). Bad dates are refused.
# Env: RUNBOOK (the binary).
set -u
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/    | /' out.log 2>/dev/null | head -6; }
export TZ=UTC

cat >two.yaml <<'YAML'
apiVersion: runbook/v1
name: two
steps:
  - { name: one, run: [echo, hi] }
  - { name: two, run: [echo, hi] }
YAML
run() { "$RUNBOOK" run --quiet --db j.db two.yaml >/dev/null 2>&1 || bad "runbook run failed"; }
run
run
run
events=$(sqlite3 j.db 'SELECT count(*) FROM events')

# Nothing ended before 2001: nothing goes, no checkpoint.
"$RUNBOOK" journal prune --db j.db --before 2001-01-01 >out.log 2>&1 &&
    grep -q "removed 0 runs (0 events) that ended before 2001-01-01 00:00:00" out.log && ok ||
    bad "prune of nothing"
[ "$(sqlite3 j.db 'SELECT count(*) FROM checkpoints')" = 0 ] && ok || bad "no checkpoint for nothing"

# A dry run says what would go and changes nothing.
"$RUNBOOK" journal prune --db j.db --before 2999-01-01T00:00:00Z --dry-run >out.log 2>&1 &&
    grep -q "would remove 3 runs ($events events)" out.log && ok || bad "dry run"
[ "$(sqlite3 j.db 'SELECT count(*) FROM events')" = "$events" ] && ok || bad "dry run changed the journal"

# Everything finished before the date goes.
"$RUNBOOK" journal prune --db j.db --before 2999-01-01T00:00:00+02:00 >out.log 2>&1 &&
    grep -q "removed 3 runs ($events events)" out.log && grep -q "checkpoint 1" out.log && ok ||
    bad "prune all"
[ "$(sqlite3 j.db 'SELECT count(*) FROM events') $(sqlite3 j.db 'SELECT count(*) FROM runs')" = "0 0" ] &&
    ok || bad "events and runs left after prune"
"$RUNBOOK" audit verify --db j.db >out.log 2>&1 && grep -q "checkpoint   1" out.log && ok ||
    bad "verify after prune"
"$RUNBOOK" runs --db j.db >out.log 2>&1 && grep -q "no runs" out.log && ok || bad "runs after prune"

# The journal goes on: new runs after the cut verify, ids are not reused.
run
run
[ "$(sqlite3 j.db 'SELECT min(id) FROM runs')" = 4 ] && ok || bad "run ids reused after prune"
[ "$(sqlite3 j.db 'SELECT min(id) FROM events')" = $((events + 1)) ] && ok || bad "chain ids after prune"
"$RUNBOOK" audit verify --db j.db >out.log 2>&1 && ok || bad "verify after prune and new runs"

# Prune by age: the two new runs ended within the last hour, so 1h keeps them.
"$RUNBOOK" journal prune --db j.db --before 1h >out.log 2>&1 && grep -q "removed 0 runs" out.log &&
    ok || bad "prune --before 1h"

sqlite3 j.db 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
cp j.db clean.db
first=$(sqlite3 j.db 'SELECT min(id) FROM events')
# Tampering after a prune is still caught: an edit …
sqlite3 j.db "DROP TRIGGER events_no_update; UPDATE events SET data = '{}' WHERE id = $((first + 2));"
"$RUNBOOK" audit verify --db j.db >out.log 2>&1
[ $? -eq 1 ] && grep -q "event #$((first + 2))" out.log && ok || bad "edit after prune not caught"
# … an edit of the first event after the cut (no event before it covers it:
# only its own hash and the checkpoint do) …
cp clean.db j.db
sqlite3 j.db "DROP TRIGGER events_no_update; UPDATE events SET data = '{\"forged\":true}' WHERE id = $first;"
"$RUNBOOK" audit verify --db j.db >out.log 2>&1
[ $? -eq 1 ] && grep -q "event #$first (run 4 seq 1" out.log && grep -q "does not match its hash" out.log &&
    ok || bad "edit of the first event after the cut not caught"
# … deleting the first events after the cut (hiding them behind the checkpoint) …
cp clean.db j.db
sqlite3 j.db "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = $first;"
"$RUNBOOK" audit verify --db j.db >out.log 2>&1
[ $? -eq 1 ] && grep -q "event #$first, before it, is missing" out.log && ok ||
    bad "delete after the cut not caught"
# … and moving the checkpoint.
cp clean.db j.db
sqlite3 j.db "DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET cut_event_id = cut_event_id + 1;"
"$RUNBOOK" audit verify --db j.db >out.log 2>&1
[ $? -eq 1 ] && grep -q "checkpoint 1" out.log && ok || bad "edited checkpoint not caught"
# Deleting above the cut is refused while the triggers stand.
cp clean.db j.db
if sqlite3 j.db "DELETE FROM events WHERE id = $first" 2>out.log; then bad "delete above the cut allowed"; else ok; fi

# Usage.
"$RUNBOOK" journal prune --db j.db >out.log 2>&1
[ $? -eq 2 ] && grep -q "before DATE is required" out.log && ok || bad "missing --before"
for d in yesterday 2025-13-01 2025-01-01T25:00 "2025-01-01 00:00:00 +0200"; do
    "$RUNBOOK" journal prune --db j.db --before "$d" >out.log 2>&1
    [ $? -eq 2 ] && grep -q "is not a date" out.log && ok || bad "bad date '$d' accepted"
done
"$RUNBOOK" journal prune --db missing.db --before 2001-01-01 >out.log 2>&1
[ $? -eq 2 ] && [ ! -e missing.db ] && ok || bad "prune of a missing journal"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
