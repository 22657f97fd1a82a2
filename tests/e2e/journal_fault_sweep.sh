#!/bin/sh
# Every SQLite call of the journal, made to fail one at a time, through the
# real binary: RUNBOOK_JOURNAL_FAULT=N (engine/journal/journal_fault.c, a
# test-only knob) makes the Nth open/prepare/step/exec of the process fail
# with an I/O error. For each command that touches the journal — run into a
# new file, into a journal with runs (with a concurrency key), into a
# version-1 journal (the migration), resume of a crashed run, runs, show,
# audit verify, report, replay and journal prune — N goes 1, 2, 3 … until
# the fault no longer fires (N is past the command's last call), and for
# every N:
#   - no crash: the exit code is one the command documents;
#   - a failure says so in one line naming the file and the cause, exit 2
#     (1 for a run that had started: "the journal could not commit");
#   - success means nothing was lost: a reader prints exactly what it
#     prints without the fault; a run that exits 0 is recorded resolved
#     with its run_finished event;
#   - no step ran whose intent (step_started) was not journaled first;
#   - the file afterwards passes PRAGMA integrity_check and audit verify
#     (a migration that failed leaves the version-1 file as it was);
#   - a reader never changes the file.
# Env: RUNBOOK (the binary); RB_FAULT_SWEEP_FROM and RB_FAULT_SWEEP_STEP
# (default 1 and 1: every call) sample the calls — N = FROM, FROM + STEP, …
# — so that `make test` stays short (tests/tests.cmake sets them: the normal
# build fails the odd calls, the sanitizer build every 8th from the 2nd);
# run the script with neither set to fail every call.
set -u
sweep_from=${RB_FAULT_SWEEP_FROM:-1} sweep_step=${RB_FAULT_SWEEP_STEP:-1}
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export TZ=UTC
pass=0 fail=0 faults=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/    | /' err.log 2>/dev/null | head -8; }

cat >two.yaml <<'YAML'
apiVersion: runbook/v1
name: two
concurrency: two
steps:
  - { name: one, run: [touch, ran_one] }
  - name: two
    run: [sh, -c, 'touch ran_two; test -e go || kill -9 $PPID']
YAML
touch go

# The journals the commands start from, made without faults.
"$RUNBOOK" run --quiet --db runs.db two.yaml >/dev/null 2>&1 || bad "setting up runs.db"
"$RUNBOOK" run --quiet --db runs.db two.yaml >/dev/null 2>&1 || bad "setting up runs.db (2)"
cp runs.db crashed.db
rm go
"$RUNBOOK" run --quiet --db crashed.db two.yaml >/dev/null 2>&1 # killed by its own step
touch go
[ "$(sqlite3 crashed.db "SELECT status FROM runs WHERE id = 3")" = running ] && ok ||
    bad "setting up crashed.db: run 3 is not left running"
sha=2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
{
    echo "PRAGMA journal_mode = WAL;"
    cat "$RB_SOURCE_DIR/tests/fixtures/journal/v1.sql"
    echo "INSERT INTO versions VALUES ('$sha', 'x', NULL, 'hello', 1);"
    echo "INSERT INTO runs(runbook, sha256, status, params, started_at, ended_at)"
    echo "  VALUES ('x', '$sha', 'succeeded', '{}', 1, 2);"
    echo "INSERT INTO events VALUES (1, 1, 11, 21, 'run_started', NULL, 0, '{}');"
    echo "INSERT INTO events VALUES (1, 2, 12, 22, 'step_finished', 'a', 1, '{}');"
} | sqlite3 v1.db >/dev/null || bad "setting up v1.db"
v1rows() { sqlite3 "$1" 'SELECT * FROM runs; SELECT run_id, seq, type, data FROM events ORDER BY rowid'; }
v1rows v1.db >v1.rows

# checks KIND: what every N must leave behind (KIND: run, migrate, read, prune).
checks() {
    kind=$1
    if [ "$(sqlite3 j.db 'PRAGMA integrity_check' 2>&1)" = ok ]; then ok; else
        bad "$what: integrity_check: $(sqlite3 j.db 'PRAGMA integrity_check' 2>&1 | head -2)"; fi
    if [ "$kind" = migrate ] && [ "$(sqlite3 j.db 'PRAGMA user_version')" = 1 ]; then
        # The migration rolled back: the version-1 file as it was.
        v1rows j.db | cmp -s - v1.rows && ok || bad "$what: a failed migration changed the file"
    elif "$RUNBOOK" audit verify --db j.db >verify.log 2>&1; then ok; else
        bad "$what: audit verify fails after the fault: $(tail -2 verify.log)"; fi
    # No side effect without its intent on the disk first.
    for s in one two; do
        [ -e "ran_$s" ] || continue
        last=$(sqlite3 j.db 'SELECT max(id) FROM runs')
        [ "$(sqlite3 j.db "SELECT count(*) FROM events WHERE run_id = $last AND type = 'step_started' AND step = '$s'")" -ge 1 ] &&
            ok || bad "$what: step $s ran but its step_started was not journaled"
    done
}

# sweep KIND FROM WANT_OK CMD…: runs CMD on a fresh copy of FROM (none:
# no file) as j.db with the Nth SQLite call failing, for N = 1, 2, … until
# the fault does not fire. WANT_OK: the output without a fault (readers:
# their stdout must be that or a failure), or - for none.
sweep() {
    kind=$1 from=$2 want=$3
    shift 3
    n=$sweep_from fired=0
    while [ $n -le 3000 ]; do
        rm -f j.db j.db-wal j.db-shm ran_one ran_two
        [ "$from" = none ] || cp "$from" j.db
        [ "$kind" = read ] && sum=$(cat j.db | sha256sum)
        RUNBOOK_JOURNAL_FAULT=$n "$@" >out.log 2>err.log
        rc=$?
        what="$kind $* (fault at call $n, exit $rc)"
        grep -q "RUNBOOK_JOURNAL_FAULT: SQLite call $n " err.log || break
        faults=$((faults + 1)) fired=$((fired + 1))
        case $kind:$rc in
        run:0 | migrate:0)
            last=$(sqlite3 j.db 'SELECT max(id) FROM runs')
            [ "$(sqlite3 j.db "SELECT status FROM runs WHERE id = $last")" = resolved ] &&
                [ "$(sqlite3 j.db "SELECT count(*) FROM events WHERE run_id = $last AND type = 'run_finished'")" = 1 ] &&
                ok || bad "$what: the run exited 0 but its end is not in the journal" ;;
        read:0 | prune:0)
            [ "$want" = - ] || cmp -s out.log "$want" && ok ||
                bad "$what: exited 0 with output that differs from the run without a fault" ;;
        run:1 | migrate:1)
            # The run had started: the journal's failure is its last word.
            grep -q "j.db: .*(RUNBOOK_JOURNAL_FAULT)" err.log && ok ||
                bad "$what: a run that failed on the journal does not say why" ;;
        *:2)
            # (replay's own journal in memory is ":memory:")
            grep -q "\(j.db\|:memory:\): .*(RUNBOOK_JOURNAL_FAULT)" err.log && ok ||
                bad "$what: exit 2 without the journal's reason" ;;
        *) bad "$what: not an exit code the command documents" ;;
        esac
        [ "$kind" = read ] && { [ "$(cat j.db | sha256sum)" = "$sum" ] && ok || bad "$what: a reader changed the file"; }
        checks "$kind"
        n=$((n + sweep_step))
    done
    [ $fired -gt 0 ] && ok || bad "sweep $kind $*: the fault never fired (is RUNBOOK_JOURNAL_FAULT read?)"
    # Past the last call: the command as it runs without a fault.
    rm -f j.db j.db-wal j.db-shm ran_one ran_two
    [ "$from" = none ] || cp "$from" j.db
    "$@" >out.log 2>err.log
    rc=$?
    case $kind in
    read) [ "$rc" = 0 ] && cmp -s out.log "$want" && ok || bad "$kind $* without a fault: exit $rc" ;;
    *) [ "$rc" = 0 ] && ok || bad "$kind $* without a fault: exit $rc" ;;
    esac
    echo "    $kind $*: $fired of its SQLite calls failed, one at a time (every $sweep_step from $sweep_from)"
}

sweep run none - "$RUNBOOK" run --quiet --db j.db two.yaml
# (with the page cap set, so that setting it can fail too)
sweep run runs.db - env RUNBOOK_JOURNAL_MAX_PAGES=100000 "$RUNBOOK" run --quiet --db j.db two.yaml
sweep migrate v1.db - "$RUNBOOK" run --quiet --db j.db two.yaml
sweep run crashed.db - "$RUNBOOK" resume --quiet --rerun-started --db j.db 3
for c in "runs" "runs --format json --status resolved" "show 2" "show 2 --format json" \
    "audit verify" "report 2 --format json" "replay 2"; do
    rm -f j.db*
    cp runs.db j.db
    # shellcheck disable=SC2086 # the words of $c are the arguments
    "$RUNBOOK" $c --db j.db >"want.$faults.log" 2>err.log || bad "runbook $c without a fault"
    # shellcheck disable=SC2086
    sweep read runs.db "want.$faults.log" "$RUNBOOK" $c --db j.db
done
sweep prune runs.db - "$RUNBOOK" journal prune --db j.db --before 2999-01-01

# The other kinds of failure read as what they are.
rm -f j.db*
cp runs.db j.db
RUNBOOK_JOURNAL_FAULT=3:busy "$RUNBOOK" runs --db j.db >out.log 2>err.log
[ $? = 2 ] && grep -q "j.db: database is locked by another process (RUNBOOK_JOURNAL_FAULT)" err.log &&
    ok || bad "RUNBOOK_JOURNAL_FAULT=3:busy: $(cat err.log)"
RUNBOOK_JOURNAL_FAULT=3:full "$RUNBOOK" runs --db j.db >out.log 2>err.log
[ $? = 2 ] && grep -q "j.db: database or disk is full (RUNBOOK_JOURNAL_FAULT)" err.log &&
    ok || bad "RUNBOOK_JOURNAL_FAULT=3:full: $(cat err.log)"
RUNBOOK_JOURNAL_FAULT=3:readonly "$RUNBOOK" runs --db j.db >out.log 2>err.log
[ $? = 2 ] && grep -q "j.db: attempt to write a readonly database (RUNBOOK_JOURNAL_FAULT)" err.log &&
    ok || bad "RUNBOOK_JOURNAL_FAULT=3:readonly: $(cat err.log)"
RUNBOOK_JOURNAL_FAULT=3:corrupt "$RUNBOOK" runs --db j.db >out.log 2>err.log
[ $? = 2 ] && grep -q "j.db: database disk image is malformed (RUNBOOK_JOURNAL_FAULT)" err.log &&
    ok || bad "RUNBOOK_JOURNAL_FAULT=3:corrupt: $(cat err.log)"

echo "$pass passed, $fail failed ($faults faults injected)"
[ "$fail" -eq 0 ]
