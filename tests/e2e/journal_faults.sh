#!/bin/sh
# The journal's faults through the real binary: a --db that is not SQLite,
# another program's SQLite database, an empty file (a reader sees an empty
# journal), a journal on a read-only file system,
# a journal locked by another process — each a clear error and exit 2 — and
# a full disk in the middle of a run (RUNBOOK_JOURNAL_MAX_PAGES): the run
# stops with the reason, no step ran whose intent was not journaled first,
# the file passes integrity_check and audit verify, and the next open marks
# the run interrupted.
# Env: RUNBOOK (the binary).
set -u
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
tmp=$(mktemp -d)
lockpid=
cleanup() {
    [ -n "$lockpid" ] && kill "$lockpid" 2>/dev/null
    [ -d "$tmp/ro" ] && chmod u+w "$tmp/ro" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/    | /' err.log 2>/dev/null | head -6; }

# expect RC PATTERN DESCRIPTION CMD…: exit code and a line of stderr.
expect() {
    want=$1 pat=$2 what=$3
    shift 3
    "$@" >out.log 2>err.log
    rc=$?
    if [ "$rc" -ne "$want" ]; then bad "$what: exit $rc, want $want"; return; fi
    if [ -n "$pat" ] && ! grep -q -- "$pat" err.log; then bad "$what: no \"$pat\" on stderr"; return; fi
    ok
}

cat >two.yaml <<'YAML'
apiVersion: runbook/v1
name: two
steps:
  - { name: one, run: [echo, hi] }
  - { name: two, run: [echo, hi] }
YAML

# ---- not a journal ---------------------------------------------------------
i=0
while [ $i -lt 100 ]; do echo "this is a text file, not a journal"; i=$((i + 1)); done >text.db
expect 2 "text.db: file is not a database" "run on a text file" "$RUNBOOK" run --db text.db two.yaml
expect 2 "text.db: file is not a database" "runs on a text file" "$RUNBOOK" runs --db text.db
sqlite3 other.db 'CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT);'
expect 2 "other.db: an SQLite database, but not a runbook journal" "run on another program's database" \
    "$RUNBOOK" run --db other.db two.yaml
expect 2 "not a runbook journal" "runs on another program's database" "$RUNBOOK" runs --db other.db
[ "$(sqlite3 other.db 'SELECT count(*) FROM sqlite_master')" = 1 ] && ok || bad "other.db was changed"

# ---- an empty file: a writer killed before its first commit left it ---------
# Nothing in it was acknowledged: readers see an empty journal (and leave
# the file as it is); the next writer creates the schema in it.
: >empty.db
expect 0 "" "audit verify on an empty file" "$RUNBOOK" audit verify --db empty.db
grep -q "none (0 runs)" out.log && ok || bad "audit verify of an empty file does not say it has no events"
expect 0 "" "runs on an empty file" "$RUNBOOK" runs --db empty.db
grep -q "no runs in empty.db" out.log && ok || bad "runs on an empty file does not say it has no runs"
[ ! -s empty.db ] && ok || bad "a reader wrote to the empty file"
expect 0 "" "run on an empty file" "$RUNBOOK" run --quiet --db empty.db two.yaml
[ "$(sqlite3 empty.db 'SELECT count(*) FROM runs')" = 1 ] && ok || bad "the writer did not create the schema in the empty file"

# ---- read-only ---------------------------------------------------------------
mkdir ro
"$RUNBOOK" run --quiet --db ro/j.db two.yaml >/dev/null 2>&1 || bad "setting up ro/j.db"
rocheck='
    "$RUNBOOK" run --db ro/j.db two.yaml >/dev/null 2>run.err; echo "run $?" >rc.log
    "$RUNBOOK" runs --db ro/j.db >/dev/null 2>runs.err; echo "runs $?" >>rc.log'
if [ "$(id -u)" != 0 ]; then
    chmod a-w ro ro/j.db
    RUNBOOK=$RUNBOOK sh -c "$rocheck"
    chmod u+w ro ro/j.db
    how="chmod"
elif unshare -m true 2>/dev/null; then
    # root ignores permissions: a read-only bind mount in a mount namespace.
    RUNBOOK=$RUNBOOK unshare -m sh -c "mount --bind ro ro && mount -o remount,bind,ro ro && $rocheck"
    how="read-only bind mount"
else
    how=
    echo "SKIP read-only journal: root without mount namespaces (unit tests cover RB_JOURNAL_READONLY)"
fi
if [ -n "$how" ]; then
    if grep -q "run 2" rc.log && grep -q "ro/j.db: cannot write the journal" run.err &&
        grep -q "read-only\|Read-only\|Permission denied" run.err; then ok; else
        bad "run on a read-only journal ($how): $(cat rc.log run.err)"; fi
    if grep -q "runs 2" rc.log && grep -q "ro/j.db: cannot read the journal" runs.err; then ok; else
        bad "runs on a read-only journal ($how): $(cat rc.log runs.err)"; fi
fi

# ---- locked --------------------------------------------------------------------
# hold_lock FILE SQL: another process (the sqlite3 tool) holds a write
# transaction open on FILE until release_lock.
hold_lock() {
    rm -f ctl
    mkfifo ctl
    sqlite3 "$1" <ctl >/dev/null 2>&1 &
    lockpid=$!
    exec 3>ctl
    # .timeout: the probe below may hold the file for an instant; without
    # it BEGIN EXCLUSIVE would fail then and the tool go on unlocked.
    printf '.timeout 10000\n%s\n' "$2" >&3
    n=0 # until the lock is taken
    while sqlite3 "$1" 'BEGIN IMMEDIATE; ROLLBACK;' 2>/dev/null; do
        n=$((n + 1))
        [ $n -gt 100 ] && { bad "the lock was never taken"; break; }
        sleep 0.1
    done
}
release_lock() {
    echo "ROLLBACK;" >&3
    exec 3>&-
    wait "$lockpid" 2>/dev/null
    lockpid=
}

"$RUNBOOK" run --quiet --db lk.db two.yaml >/dev/null 2>&1 || bad "setting up lk.db"
hold_lock lk.db "BEGIN EXCLUSIVE; INSERT INTO alerts(fingerprint, starts_at, received_at, payload) VALUES ('f', 's', 0, '{}');"
expect 2 "lk.db: .*database is locked by another process" "run on a locked journal" \
    "$RUNBOOK" run --db lk.db two.yaml
# A WAL journal is readable while another process writes it.
expect 0 "" "runs on a journal locked for writing (WAL: readers do not wait)" "$RUNBOOK" runs --db lk.db
release_lock
[ "$(sqlite3 lk.db 'SELECT count(*) FROM runs')" = 1 ] && ok || bad "the refused run was recorded"
expect 0 "" "run once the lock is gone" "$RUNBOOK" run --quiet --db lk.db two.yaml

# A file another process holds exclusively before it is a journal (not WAL).
hold_lock new.db "PRAGMA journal_mode = DELETE; BEGIN EXCLUSIVE; CREATE TABLE t(x);"
expect 2 "new.db: database is locked by another process" "runs on an exclusively locked file" \
    "$RUNBOOK" runs --db new.db
expect 2 "new.db: database is locked by another process" "run on an exclusively locked file" \
    "$RUNBOOK" run --db new.db two.yaml
release_lock

# ---- disk full while journaling -------------------------------------------------
{
    echo "apiVersion: runbook/v1"
    echo "name: big"
    echo "steps:"
    i=1
    while [ $i -le 40 ]; do
        echo "  - { name: s$i, run: [sh, -c, 'touch ran_$i; head -c 3000 /dev/zero | tr \"\\\\0\" x'] }"
        i=$((i + 1))
    done
} >big.yaml
"$RUNBOOK" run --quiet --db full.db two.yaml >/dev/null 2>&1 || bad "setting up full.db"
pages=$(sqlite3 full.db 'PRAGMA page_count')
RUNBOOK_JOURNAL_MAX_PAGES=$((pages + 16)) "$RUNBOOK" run --quiet --db full.db big.yaml >out.log 2>err.log
rc=$?
[ "$rc" -ne 0 ] && ok || bad "a run that cannot be journaled succeeded"
grep -q "database or disk is full" err.log out.log && ok || bad "disk full: no reason given"
ran=$(ls ran_* 2>/dev/null | wc -l)
[ "$ran" -gt 0 ] && [ "$ran" -lt 40 ] && ok || bad "disk full: $ran of 40 steps ran (the cap is not mid-run?)"
# Every step that ran had its intent on the disk first.
intents=$(sqlite3 full.db "SELECT count(*) FROM events WHERE run_id = 2 AND type = 'step_started'")
[ "$ran" -le "$intents" ] && ok || bad "disk full: $ran steps ran but only $intents intents were journaled"
[ "$(sqlite3 full.db 'PRAGMA integrity_check')" = ok ] && ok || bad "integrity_check after disk full"
expect 0 "" "audit verify after disk full" "$RUNBOOK" audit verify --db full.db
# The run never got its end written; the next open for writing marks it.
"$RUNBOOK" run --quiet --db full.db two.yaml >/dev/null 2>&1 || bad "run after disk full"
[ "$(sqlite3 full.db 'SELECT status FROM runs WHERE id = 2')" = interrupted ] && ok ||
    bad "the cut-short run is not marked interrupted"
[ "$(sqlite3 full.db "SELECT count(*) FROM events WHERE run_id = 2 AND type = 'run_interrupted'")" = 1 ] &&
    ok || bad "no run_interrupted event"
expect 0 "" "audit verify after recovery" "$RUNBOOK" audit verify --db full.db

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
