#!/bin/sh
# The journal's failures from real causes (journal_faults.sh has the others:
# not SQLite, another program's database, read-only, locked, the page cap):
#   - a file-size limit (RLIMIT_FSIZE, `ulimit -f` in the child before
#     exec: a full disk for this process) reached in the middle of a run:
#     the run stops with "File too large" (not killed by SIGXFSZ), no step
#     ran before its intent was journaled, the file verifies, and the next
#     run marks the cut-short run interrupted; reached while a new journal
#     is created: exit 2 with the reason, and the file is usable after;
#   - a journal written by a newer runbook (a higher schema version): every
#     command refuses it with exit 2 and says to upgrade, and changes nothing;
#   - a corrupted page: readers and writers exit 2 with "malformed", never
#     a crash or a success;
#   - a truncated WAL (the newest commits cut off, as a crash of the disk
#     would): the journal opens to the last whole commit, verifies, and
#     takes new runs.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
tmp=$(mktemp -d)
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/    | /' err.log 2>/dev/null | tail -4; }
# expect RC PATTERN DESCRIPTION CMD…: the exit code and a line of stderr.
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

# ---- a file-size limit in the middle of a run ---------------------------------
"$RUNBOOK" run --quiet --db fs.db two.yaml >/dev/null 2>&1 || bad "setting up fs.db"
# the limit: 64 KiB above what the files hold now (ulimit -f counts 512-byte blocks)
size=$(cat fs.db fs.db-wal 2>/dev/null | wc -c)
blocks=$(((size + 65536) / 512))
sh -c 'ulimit -f "$1" && shift && exec "$@"' sh "$blocks" \
    "$RUNBOOK" run --quiet --db fs.db big.yaml >out.log 2>err.log
rc=$?
[ "$rc" = 1 ] && ok || bad "a run past the file-size limit: exit $rc, want 1 (153: killed by SIGXFSZ)"
grep -q "fs.db: .*File too large" err.log && ok || bad "file-size limit: the reason is not said"
ran=$(ls ran_* 2>/dev/null | wc -l)
[ "$ran" -gt 0 ] && [ "$ran" -lt 40 ] && ok || bad "file-size limit: $ran of 40 steps ran (the limit is not mid-run?)"
intents=$(sqlite3 fs.db "SELECT count(*) FROM events WHERE run_id = 2 AND type = 'step_started'")
[ "$ran" -le "$intents" ] && ok || bad "file-size limit: $ran steps ran but only $intents intents were journaled"
[ "$(sqlite3 fs.db 'PRAGMA integrity_check')" = ok ] && ok || bad "integrity_check after the file-size limit"
expect 0 "" "audit verify after the file-size limit" "$RUNBOOK" audit verify --db fs.db
expect 0 "" "a run once the limit is gone" "$RUNBOOK" run --quiet --db fs.db two.yaml
[ "$(sqlite3 fs.db 'SELECT status FROM runs WHERE id = 2')" = interrupted ] && ok ||
    bad "the run cut short by the file-size limit is not marked interrupted"
rm -f ran_*

# ---- a file-size limit while a new journal is created -------------------------
sh -c 'ulimit -f "$1" && shift && exec "$@"' sh 1 "$RUNBOOK" run --quiet --db new.db two.yaml >out.log 2>err.log
rc=$?
[ "$rc" = 2 ] && grep -q "new.db: .*File too large" err.log && ok ||
    bad "a new journal past the file-size limit: exit $rc, want 2 and the reason"
[ ! -e new.db ] || [ "$(sqlite3 new.db 'PRAGMA integrity_check')" = ok ] && ok || bad "new.db is damaged"
expect 0 "" "the new journal once the limit is gone" "$RUNBOOK" run --quiet --db new.db two.yaml
expect 0 "" "audit verify of the new journal" "$RUNBOOK" audit verify --db new.db

# ---- a journal from a newer runbook -------------------------------------------
"$RUNBOOK" run --quiet --db newer.db two.yaml >/dev/null 2>&1 || bad "setting up newer.db"
sqlite3 newer.db 'PRAGMA user_version = 99'
before=$(sqlite3 newer.db 'SELECT count(*) FROM events')
for c in "run two.yaml" "runs" "show 1" "audit verify" "report 1" "journal prune --before 2999-01-01"; do
    # shellcheck disable=SC2086 # the words of $c are the arguments
    expect 2 "newer.db: journal schema version 99 is newer than this runbook" "runbook $c on a newer journal" \
        "$RUNBOOK" $c --db newer.db
done
[ "$(sqlite3 newer.db 'PRAGMA user_version')" = 99 ] && [ "$(sqlite3 newer.db 'SELECT count(*) FROM events')" = "$before" ] &&
    ok || bad "a newer journal was changed"

# ---- a corrupted page -----------------------------------------------------------
"$RUNBOOK" run --quiet --db bad.db big.yaml >/dev/null 2>&1 || bad "setting up bad.db"
rm -f ran_*
sqlite3 bad.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
pages=$(sqlite3 bad.db 'PRAGMA page_count')
# every page but the first (the header and the schema): garbage over its
# b-tree page header, which every read of the page checks (garbage inside a
# row's bytes would be a hash finding instead, or go unread)
p=2
while [ $p -le "$pages" ]; do
    printf 'this page was overwritten by a broken disk' |
        dd of=bad.db bs=1 seek=$(((p - 1) * 4096)) conv=notrunc 2>/dev/null
    p=$((p + 1))
done
for c in "runs" "show 1" "audit verify" "report 1" "run two.yaml"; do
    # shellcheck disable=SC2086
    expect 2 "bad.db: .*malformed" "runbook $c on a corrupted journal" "$RUNBOOK" $c --db bad.db
done

# ---- a truncated WAL ----------------------------------------------------------
# Another connection holds the file open, so the WAL is never checkpointed
# away; then the WAL is cut inside its newest commit, as a disk that lost
# its last writes would leave it.
"$RUNBOOK" run --quiet --db wal.db two.yaml >/dev/null 2>&1 || bad "setting up wal.db"
rm -f ctl
mkfifo ctl
sqlite3 wal.db <ctl >/dev/null 2>&1 &
holder=$!
exec 3>ctl
echo "SELECT count(*) FROM runs;" >&3
n=0 # until it has the file open (its -shm is there only then)
while [ ! -e wal.db-shm ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
"$RUNBOOK" run --quiet --db wal.db two.yaml >/dev/null 2>&1 || bad "run 2 of wal.db"
"$RUNBOOK" run --quiet --db wal.db two.yaml >/dev/null 2>&1 || bad "run 3 of wal.db"
cp wal.db cut.db
cp wal.db-wal cut.db-wal
exec 3>&-
wait "$holder" 2>/dev/null
holder=
walsize=$(wc -c <cut.db-wal)
[ "$walsize" -gt 8192 ] && ok || bad "the WAL holds no commits to cut ($walsize bytes)"
truncate -s $((walsize - 3000)) cut.db-wal
expect 0 "" "audit verify of a journal whose WAL lost its newest commit" "$RUNBOOK" audit verify --db cut.db
runs=$(sqlite3 cut.db 'SELECT count(*) FROM runs')
[ "$runs" -ge 1 ] && [ "$runs" -le 3 ] && ok || bad "a truncated WAL: $runs runs"
expect 0 "" "a run on a journal whose WAL lost its newest commit" "$RUNBOOK" run --quiet --db cut.db two.yaml
expect 0 "" "audit verify after that run" "$RUNBOOK" audit verify --db cut.db

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
