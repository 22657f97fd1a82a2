#!/bin/sh
# node-crash against the world: a crashed node and a hung node are
# restarted and pass the post-recovery checklist (a sub-run); a healthy
# world is not_confirmed; a service manager that cannot run is
# inconclusive and nothing is touched; a drill reaches the same branch.
. "$(dirname "$0")/lib.sh"

p() { # the node-crash parameters for node $1 of the world
    echo "-p unit=node$1 -p systemctl=$SYSTEMCTL -p rpc_url=$(eval echo \$NODE$1_RPC)" \
         "-p data_dir=$(eval echo \$NODE$1_DATA) -p log_dir=$(eval echo \$NODE$1_LOGS) -p db_engine=sqlite" \
         "-p rpc_timeout=3s -p watch=500ms -p stability=300ms -p webhook_url=$WORLD_WEBHOOK -p backup_dir=$WORLD_BACKUPS"
}

CASE="crash, by alert"
world_up
brk crash node1
[ "$(wstate .nodes.node1.state)" = failed ] || fail "the fault did not take"
alert "$T/a.json" NodeDown instance=node1 severity=critical
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p 1)
[ "$(wstate .nodes.node1.state)" = active ] || fail "node1 is not running again"
status_is resolved; severity_is P1
step_is restart ok; step_is integrity skipped; step_not_ran corruption
jr '.runbook == "node-crash"'
jr '[.events[] | select(.type == "check_finished" and .step == "post_recovery") | .data.ok][0] == true'
messages_have "INCIDENT DECLARED"; messages_have "INCIDENT RESOLVED"
ok "restarted, post-recovery passed, P1, declared and resolved sent"

CASE="hang"
world_up
brk hang node2
# shellcheck disable=SC2046
rb 0 node-crash $(p 2)
[ "$(wstate .nodes.node2.hung)" = false ] || fail "node2 still hangs"
status_is resolved; severity_is P2; step_is restart ok
jr '[.events[] | select(.type == "check_finished" and .step == "rpc") | .data.result.outcome][0] == "timeout"'
ok "a hung RPC (timeout) is P2 and a restart brings it back"

CASE="healthy world"
world_up
# shellcheck disable=SC2046
rb 3 node-crash $(p 1)
status_is not_confirmed; no_step_ran; no_messages
ok "not_confirmed, nothing done, nobody paged"

CASE="service manager missing"
world_up
brk crash node1
# shellcheck disable=SC2046
rb 5 node-crash $(p 1) -p systemctl=/nonexistent/systemctl
status_is inconclusive; no_step_ran
[ "$(wstate .nodes.node1.state)" = failed ] || fail "something acted on node1"
grep -q "command not found" "$T/out" || fail "the output does not say why"
grep -q "CANNOT ASSESS" "$T/out" || fail "no cannot-assess notification"
ok "inconclusive: no restart, the operator is told it cannot assess"

CASE="drill"
world_up
brk crash node1
# shellcheck disable=SC2046
rb 1 node-crash $(p 1) --dry-run
[ "$(wstate .nodes.node1.state)" = failed ] || fail "the drill restarted node1"
status_is failed   # the checklist runs for real, and the node is still down
jr '[.events[] | select(.type == "step_finished" and .step == "restart") | .data.status][0] == "simulated"'
step_is integrity skipped
ok "the drill takes the restart branch and changes nothing"

pr() { echo "-p unit=node1 -p systemctl=$SYSTEMCTL -p rpc_url=$NODE1_RPC -p watch=500ms"; }

CASE="post-recovery on its own"
world_up
# shellcheck disable=SC2046
rb 0 post-recovery $(pr) -p stability=300ms
status_is resolved; step_is stability_watch ok; step_is stability_watch_drill skipped
ok "the checklist passes on a healthy node, the stability watch runs"

CASE="post-recovery drill: no 30-minute watch"
# The default stability watch is 30 minutes (001); a drill must not sit
# through it: it watches for `watch` instead, and still asks whether the
# height advanced.
world_up
s0=$(date +%s)
set +e
# shellcheck disable=SC2046
timeout 600 "$RUNBOOK" run --db "$DB" --dir "$RUNBOOKS" post-recovery $(pr) --dry-run >"$T/out" 2>&1
rc=$?
set -e
last_run >"$T/show.json"
[ "$rc" = 0 ] || fail "the drill exited $rc, want 0"
[ $(($(date +%s) - s0)) -lt 300 ] || fail "the drill took $(($(date +%s) - s0)) s"
step_is stability_watch skipped; step_is stability_watch_drill ok
jr '[.events[] | select(.type == "check_finished" and .step == "still_advancing") | .data.ok][0] == true'
ok "the drill watches for 500ms, not 30 minutes, and validates"
