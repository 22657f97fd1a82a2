#!/bin/sh
# One concurrency key per node, across runbooks (R-key-global,
# docs/semantics.md): while database-corruption holds node/node1 (the node
# stopped, the restore waiting for its approval), a NodeDown alert for
# node1 does not start node-crash (exit 4): nothing restarts the node on
# its corrupt database.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p data_dir=$NODE1_DATA" \
         "-p db_engine=sqlite -p backup_dir=$WORLD_BACKUPS -p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK"
}

CASE="node-crash waits while the database is being recovered"
# database-corruption stopped node1 and waits for the restore's approval;
# a NodeDown alert for node1 meanwhile must not restart it: both hold
# node/node1 (R-key-global), so node-crash is not started (exit 4).
world_up
"$RUNBOOKS/scripts/backup-create" "$NODE1_DATA" "$WORLD_BACKUPS" >/dev/null
brk corrupt-header node1
printf '#!/bin/sh\nexec "%s" run --db "%s" --dir "%s" "$@"\n' "$RUNBOOK" "$DB" "$RUNBOOKS" >"$T/rbrun"
chmod +x "$T/rbrun"
# shellcheck disable=SC2046
/usr/bin/python3 "$RB_SOURCE_DIR/tests/e2e/pty_answer.py" "$T/out.dc" "approve step restore?=wait:$T/go:n" \
    "approve step resync?=n" -- "$T/rbrun" database-corruption $(p) -p instance=node1 >/dev/null 2>&1 &
bg=$!
i=0
until [ "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE type = 'approval_requested'" 2>/dev/null)" = 1 ]; do
    i=$((i + 1)); [ $i -lt 1200 ] || { touch "$T/go"; fail "database-corruption never asked"; }
    sleep 0.1
done
[ "$(wstate .nodes.node1.state)" != active ] || fail "node1 should be stopped by now"
alert "$T/a.json" NodeDown instance=node1 severity=critical
set +e
"$RUNBOOK" run --db "$DB" --dir "$RUNBOOKS" --alert "$T/a.json" -p unit=node1 -p systemctl="$SYSTEMCTL" \
    -p rpc_url="$NODE1_RPC" -p data_dir="$NODE1_DATA" -p db_engine=sqlite -p watch=500ms -p stability=300ms >"$T/out" 2>&1
rc=$?
set -e
touch "$T/go"
wait $bg || true
[ "$rc" = 4 ] || fail "node-crash exited $rc while database-corruption held node/node1, want 4"
grep -q 'of database-corruption is still active for the concurrency key "node/node1"' "$T/out" ||
    fail "the refusal does not name the holder: $(cat "$T/out")"
[ "$(wstate .nodes.node1.state)" != active ] || fail "node1 was restarted on a corrupt database"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM runs WHERE runbook = 'node-crash'")" = 0 ] || fail "node-crash started"
ok "node-crash refused (exit 4) while database-corruption held the node; node1 stays stopped"
