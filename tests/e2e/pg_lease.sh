#!/bin/sh
# Run leases on a PostgreSQL journal (docs/high-availability.md), against a
# real PostgreSQL 15 started by tests/e2e/lib_pg.sh:
#   - pg_lease_check (tests/e2e/pg_lease.c, white-box, several handles as
#     several engines): a take, another engine refused while it is held,
#     the expiry awaited on the database's clock, the takeover at epoch + 1,
#     the old owner fenced (renewing, and writing through the append path's
#     fence) — by its epoch even under the same engine id —, the fence's row
#     lock holding a takeover off until the write's transaction ends,
#     release, the takeover candidates in order, refusals, the engine role,
#     and 8 engines racing for one expired lease 100 times: one wins each
#     round;
#   - a journal of schema version 6 (journal_pg.sql before its version 7
#     section) is read as it is (runs, audit verify), left at 6 by readers,
#     migrated by a writable open, and then has exactly a new journal's
#     tables, columns, constraints, indexes, functions and triggers, its
#     metadata trigger enabled again.
# Skips (exit 77) only when PostgreSQL is not installed or the check
# program was not built (no cmocka).
# Env: RUNBOOK (the binary), RB_SOURCE_DIR, PG_LEASE_CHECK (the program).
set -u
. "$RB_SOURCE_DIR/tests/e2e/lib_pg.sh"
pg_available || { echo "SKIP: PostgreSQL 15 is not installed (make deps-test)"; exit 77; }
[ -x "${PG_LEASE_CHECK:-}" ] || { echo "SKIP: pg_lease_check not built (no cmocka)"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3"; exit 77; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # $tmp, ok, bad
trap 'pg_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
unset RUNBOOK_SIGNING_KEY RUNBOOK_DB

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
pg_journal_dbs journal old || { bad "setup"; exit 1; }
OWNER=$(pg_url runbook_owner journal)
ENGINE=$(pg_url runbook_engine journal)
OLD=$(pg_url runbook_owner old)

# ---- a journal with runs: 8 made by `runbook run`, copied; 1-7 left open ---------------
cat >one.yaml <<'YAML'
apiVersion: runbook/v1
name: one
steps:
  - { name: one, run: [echo, hi] }
YAML
for i in 1 2 3 4 5 6 7 8; do
    "$RUNBOOK" run --quiet --db j.db one.yaml >/dev/null 2>&1 || bad "run $i"
done
"$RUNBOOK" journal copy --from j.db --to "$OWNER" >copy.log 2>&1 && ok ||
    { bad "journal copy"; cat copy.log; }
pg_sql "$OWNER" "UPDATE runs SET ended_at = NULL, status = 'running' WHERE id <= 7" >/dev/null &&
    ok || bad "opening runs 1-7"
# the engine's role, as docs/journal.md grants it
pg_grant_engine "$OWNER" || bad "the grants of docs/journal.md"
[ "$(pg_sql "$OWNER" "SELECT value FROM journal_meta WHERE key = 'schema_version'")" = 7 ] && ok ||
    bad "a new journal is not of version 7"

# ---- a journal of version 6 ------------------------------------------------------------
sed '/^-- ---- version 7:/,$d' "$RB_SOURCE_DIR/schemas/journal_pg.sql" >v6.sql
grep -q run_leases v6.sql && bad "v6.sql has run_leases"
PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -d "$OLD" -f v6.sql >/dev/null 2>&1 && ok ||
    bad "making a journal of version 6"
version_old() { pg_sql "$OLD" "SELECT value FROM journal_meta WHERE key = 'schema_version'"; }
[ "$(version_old)" = 6 ] && ok || bad "the old journal is not of version 6"
"$RUNBOOK" runs --db "$OLD" >runs.log 2>&1 && ok || { bad "runs on version 6"; cat runs.log; }
"$RUNBOOK" audit verify --db "$OLD" >verify.log 2>&1 && ok || { bad "verify on version 6"; cat verify.log; }
[ "$(version_old)" = 6 ] && ok || bad "a reader migrated the journal"

# ---- the leases ---------------------------------------------------------------------------
RB_PG_URL=$OWNER RB_PG_URL_OLD=$OLD RB_PG_URL_ENGINE=$ENGINE timeout 300 "$PG_LEASE_CHECK" \
    >check.log 2>&1 && ok || { bad "pg_lease_check: exit $?"; cat check.log; }
grep -q "PASSED.* 8 test" check.log && ok || { bad "not every check ran"; cat check.log; }

# ---- the migrated journal has a new one's shape --------------------------------------------
[ "$(version_old)" = 7 ] && ok || bad "the old journal was not migrated: $(version_old)"
for q in "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2" \
    "SELECT conrelid::regclass, conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2" \
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1" \
    "SELECT proname, md5(prosrc) FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1" \
    "SELECT tgrelid::regclass, tgname, tgenabled, tgtype FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2"; do
    pg_sql "$OWNER" "$q" >new.txt
    pg_sql "$OLD" "$q" >migrated.txt
    [ -s new.txt ] && cmp -s new.txt migrated.txt && ok ||
        { bad "the migrated journal differs: $q"; diff new.txt migrated.txt | head -5; }
done
pg_sql "$OLD" "SELECT column_name FROM information_schema.columns WHERE table_name = 'run_leases'" |
    grep -qx epoch && ok || bad "no run_leases.epoch after the migration"
pg_sql "$OLD" "UPDATE journal_meta SET value = '8' WHERE key = 'schema_version'" >meta.log 2>&1 &&
    bad "journal_meta could be changed after the migration" ||
    { grep -q "changed by migrations only" meta.log && ok || { bad "meta refusal"; cat meta.log; }; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
