#!/bin/sh
# The runbook catalog as a whole: every runbook validates; every runbook is
# run by a world test; every helper script a runbook calls is shipped,
# executable and documented, and keeps the exit-code contract of
# runbooks/scripts/lib.sh (2 on bad usage, 3 when it cannot assess); no
# approval lets a timeout go ahead (on_timeout: continue).
. "$(dirname "$0")/lib.sh"

CASE="validate"
"$RUNBOOK" validate -q "$RUNBOOKS" || fail "runbook validate runbooks/ failed"
ok "runbook validate runbooks/"

CASE="every runbook is tested"
for f in "$RUNBOOKS"/*.yaml; do
    name=$(sed -n 's/^name: *//p' "$f")
    # shellcheck disable=SC2046
    grep -lqw -- "$name" $(ls "$RB_SOURCE_DIR"/tests/world/t_*.sh | grep -v /t_catalog.sh) ||
        fail "$name ($f) is run by no world test"
    grep -q "$name" "$RUNBOOKS/README.md" || fail "$name is not in runbooks/README.md"
done
ok "each of $(ls "$RUNBOOKS"/*.yaml | wc -l) runbooks has a world test and a README entry"

CASE="every script is shipped"
grep -ho '\./scripts/[A-Za-z0-9_.-]*' "$RUNBOOKS"/*.yaml | sort -u >"$T/used"
[ -s "$T/used" ] || fail "no runbook calls a script?"
while read -r s; do
    [ -x "$RUNBOOKS/$s" ] || fail "$s is called but not shipped (or not executable)"
done <"$T/used"
for s in "$RUNBOOKS"/scripts/*; do
    b=$(basename "$s")
    [ "$b" = lib.sh ] && continue
    grep -qx "./scripts/$b" "$T/used" || fail "scripts/$b is shipped but no runbook uses it"
    sed -n 2p "$s" | grep -q "^# $b — " || fail "scripts/$b has no header comment"
    grep -q "$b" "$RUNBOOKS/README.md" || fail "scripts/$b is not in runbooks/README.md"
    set +e; "$s" >/dev/null 2>&1; rc=$?; set -e
    [ "$rc" = 2 ] || fail "scripts/$b without arguments exits $rc, want 2"
done
ok "$(wc -l <"$T/used") scripts called, all shipped, documented, usage exit 2"

CASE="bad arguments are exit 2"
mkdir -p "$T/store"
for args in "db-compact bogus sqlite /nonexistent/db" "db-compact check bogus /nonexistent/db" \
            "backup-prune $T/store p x 7" "backup-prune $T/store p -1 7" "backup-prune --list $T/store p 3 x" \
            "disk-usage $T/store abc" "log-window $T/store x 5x"; do
    set +e
    # shellcheck disable=SC2086
    "$RUNBOOKS"/scripts/$args >/dev/null 2>&1; rc=$?
    set -e
    [ "$rc" = 2 ] || fail "scripts/$args exits $rc, want 2"
done
ok "a bad mode, engine or number is usage (2), never a measurement"

CASE="a missing tool is exit 3, never a number"
mkdir -p "$T/nodf"
for t in sh cut tail tr dirname cat; do ln -sf "$(command -v $t)" "$T/nodf/$t"; done
for args in "disk-usage $T/store" "disk-usage $T/store 1000"; do
    set +e
    # shellcheck disable=SC2086
    PATH="$T/nodf" "$RUNBOOKS"/scripts/$args >"$T/outp" 2>"$T/err"; rc=$?
    set -e
    [ "$rc" = 3 ] || fail "scripts/$args without df/du exits $rc (printed '$(cat "$T/outp")'), want 3"
done
ok "disk-usage without df or du cannot assess"

CASE="rocksdb through Debian's ldb"
command -v ldb >/dev/null || fail "ldb (rocksdb-tools) is not installed: make deps"
ldb --db="$T/rdb" --create_if_missing put k v >/dev/null
"$RUNBOOKS"/scripts/db-integrity rocksdb "$T/rdb" >/dev/null || fail "a healthy RocksDB reported corrupt"
"$RUNBOOKS"/scripts/db-compact run rocksdb "$T/rdb" >/dev/null || fail "db-compact run rocksdb failed"
"$RUNBOOKS"/scripts/db-repair rocksdb "$T/rdb" >/dev/null 2>&1 || fail "db-repair on a healthy RocksDB failed"
"$RUNBOOKS"/scripts/db-integrity rocksdb "$T/rdb" >/dev/null || fail "RocksDB corrupt after compact + repair"
printf 'MANIFEST-999999\n' >"$T/rdb/CURRENT"
set +e
"$RUNBOOKS"/scripts/db-integrity rocksdb "$T/rdb" >/dev/null 2>&1; rc=$?
RB_LDB=no-such-ldb "$RUNBOOKS"/scripts/db-integrity rocksdb "$T/rdb" >/dev/null 2>&1; rc2=$?
set -e
[ "$rc" = 1 ] || fail "a RocksDB without its manifest: exit $rc, want 1"
[ "$rc2" = 3 ] || fail "RB_LDB naming a missing tool: exit $rc2, want 3"
ok "healthy RocksDB intact (checkconsistency), broken one corrupt, RB_LDB honoured"

CASE="cannot assess is exit 3"
for args in "db-integrity sqlite /nonexistent/chain.db" "db-repair rocksdb /nonexistent" "backup-restore /nonexistent /tmp/x" \
            "disk-usage /nonexistent" "db-compact check sqlite /nonexistent/db" "backup-prune /nonexistent p 3 7" \
            "chain-rollback rocksdb /nonexistent 5" "log-window /nonexistent/auth.log x 60"; do
    set +e
    # shellcheck disable=SC2086
    "$RUNBOOKS"/scripts/$args >/dev/null 2>"$T/err"; rc=$?
    set -e
    [ "$rc" = 3 ] || fail "scripts/$args exits $rc, want 3"
    grep -q "^cannot assess: " "$T/err" || fail "scripts/$args does not say why"
done
ok "a missing target or tool is exit 3 with the reason"

CASE="one concurrency key per node"
# Every runbook that acts on a node through its unit holds the same key, so
# that node-crash cannot restart a node database-corruption has stopped.
# post-recovery only looks and is started by the others as a sub-runbook.
for f in "$RUNBOOKS"/*.yaml; do
    name=$(sed -n 's/^name: *//p' "$f")
    [ "$name" = post-recovery ] && continue
    grep -q '^  unit:' "$f" || continue
    grep -qx 'concurrency: "node/{{ params.instance }}"' "$f" ||
        fail "$name acts on a node but its key is not node/{{ params.instance }}: $(grep '^concurrency' "$f")"
    grep -q '^  instance:' "$f" || fail "$name has no instance parameter for its key"
done
ok "every runbook acting on a node holds node/{{ params.instance }}"

CASE="the steps that switch traffic or change the platform ask first"
# runbook:step pairs runbooks/README.md promises an approval for.
for rs in rpc-failover:switch maintenance-window:drain maintenance-window:upgrade \
          full-infrastructure-failure:deploy_services full-infrastructure-failure:provision \
          full-infrastructure-failure:restore_db hot-standby-failover:failover split-brain:resync_minority \
          security-breach:lockdown security-breach:rotate_credentials point-in-time-restore:restore \
          database-corruption:restore database-corruption:resync backup-verify:retention key-compromise:rotate_key; do
    f=$RUNBOOKS/${rs%%:*}.yaml s=${rs#*:}
    awk -v s="$s" '$0 ~ "^  - name: " s "$" {on = 1; next} on && /^  - name: |^[a-z]/ {on = 0}
                   on && /^    approval: .*on_timeout: fail/ {found = 1} END {exit !found}' "$f" ||
        fail "$rs has no approval with on_timeout: fail"
done
ok "every switch, wipe, restore, deploy and rotation waits for an operator"

CASE="no approval times out into action"
if grep -n "on_timeout: continue" "$RUNBOOKS"/*.yaml; then fail "an approval goes ahead when nobody answers"; fi
if grep -nE "/opt/|scripts_dir" "$RUNBOOKS"/*.yaml; then fail "a runbook calls a script the project does not ship"; fi
ok "every approval fails closed; no unshipped script paths"
