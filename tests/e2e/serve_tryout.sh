#!/bin/sh
# Findings of a new-user tryout of the server and the review commands:
# `report -o` never writes over the files SQLite keeps beside a live
# journal (-wal, -shm, -journal); a run cancelled through the API (while it
# waits for an approval, while it sleeps, during a sub-run) replays
# identically, "cancelled by NAME" given back from the record; the API's
# write bodies refuse an unknown key with a 400 naming it (docs/api.md),
# and a 409 for another step names the step that waits.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit
. "$RB_SOURCE_DIR/tests/e2e/lib_api.sh"
api_setup
cat >runbooks/parent.yaml <<'YAML'
apiVersion: runbook/v1
name: parent
steps:
  - { name: call, action: runbook, with: { name: gate } }
YAML
waiting() { api_status_is "$1" waiting_approval; }
ended() { api_status_is "$1" cancelled; }
start() { printf '{"runbook":"%s"}' "$1" >s.json && [ "$(http POST /api/v1/runs $OP s.json)" = 201 ] && jq -r .id body; }

if serve_start log --config server.yaml; then
    # ---- unknown keys in a write's body: 400 naming the key; nothing done ----
    g=$(start gate)
    wait_for waiting "$g" || bad "the run waits for its approval"
    printf '{"stpe":"ask"}' >typo.json
    [ "$(http POST /api/v1/runs/$g/approve $OP typo.json)" = 400 ] && grep -q 'key .*stpe' body &&
        ok || { bad "approve with a typo'd key: 400 naming it"; cat body; }
    printf '{"comment":"x","commment":"why"}' >typo2.json
    [ "$(http POST /api/v1/runs/$g/deny $OP typo2.json)" = 400 ] && grep -q 'key .*commment' body &&
        ok || { bad "deny with a typo'd key: 400"; cat body; }
    printf '{"now":true}' >typo3.json
    [ "$(http POST /api/v1/runs/$g/cancel $OP typo3.json)" = 400 ] && grep -q 'key .*now' body &&
        ok || { bad "cancel with a body key: 400"; cat body; }
    printf '{"runbook":"gate","param":{"who":"x"}}' >typo4.json
    [ "$(http POST /api/v1/runs $OP typo4.json)" = 400 ] && grep -q 'key .*param' body &&
        ok || { bad "start with a typo'd key: 400"; cat body; }
    waiting "$g" && ok || bad "a refused body changed the run"
    printf '{"step":"nope"}' >wrong.json
    [ "$(http POST /api/v1/runs/$g/approve $OP wrong.json)" = 409 ] && grep -q 'step ask' body &&
        ok || { bad "409 names the step that waits"; cat body; }

    # ---- cancels through the API replay identically ----
    [ "$(http POST /api/v1/runs/$g/cancel $OP)" = 202 ] && ok || { bad "cancel a waiting run"; cat body; }
    n=$(start nap)
    wait_for api_status_is "$n" running || bad "the nap runs"
    RUNBOOK_TOKEN=$OP "$RUNBOOK" cancel "$n" --server "http://127.0.0.1:$srv_port" >/dev/null && ok || bad "runbook cancel --server"
    p=$(start parent)
    wait_for waiting "$((p + 1))" || bad "the sub-run waits"
    [ "$(http POST /api/v1/runs/$p/cancel $OP)" = 202 ] && ok || { bad "cancel a parent"; cat body; }
    for id in "$g" "$n" "$p"; do
        wait_for ended "$id" || bad "run $id ends cancelled"
    done

    # ---- report -o never over a live journal's files ----
    [ -e j.db-wal ] && ok || bad "the live journal has a WAL"
    : >j.db-journal
    for f in j.db-wal j.db-shm j.db-journal; do
        before=$(cksum <"$f")
        "$RUNBOOK" report "$g" --db j.db -o "$f" >o.out 2>&1
        [ $? -eq 2 ] && grep -q 'never writes over' o.out && [ "$(cksum <"$f")" = "$before" ] &&
            ok || bad "report -o $f: $(cat o.out)"
    done
    rm -f j.db-journal
    ln -s j.db-wal link-to-wal
    "$RUNBOOK" report "$g" --db j.db -o link-to-wal >o.out 2>&1
    [ $? -eq 2 ] && ok || bad "report -o a symlink to the WAL: $(cat o.out)"
    "$RUNBOOK" report "$g" --db j.db -o j.db-wal.html >/dev/null 2>&1 && ok || bad "-o a name that only starts like one"
    # bounded: a journal whose WAL was replaced can keep the server from stopping
    (sleep 60; kill -9 "$srv_pid" 2>/dev/null) &
    watchdog=$!
    serve_stop
    kill "$watchdog" 2>/dev/null
    [ "$srv_rc" -eq 0 ] && ok || bad "the server stopped with $srv_rc"
    [ "$("$RUNBOOK" runs --db j.db --format json | jq length)" -ge 4 ] && ok || bad "the journal lost runs"
    for id in "$g" "$n" "$p"; do
        "$RUNBOOK" replay "$id" --db j.db >r.out 2>&1 && ok || bad "replay of API-cancelled run $id: $(cat r.out)"
    done
    "$RUNBOOK" show "$g" --db j.db | grep -q 'cancelled by ops' && ok || bad "show says who cancelled"
else
    bad "the server did not start: $(cat log)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
