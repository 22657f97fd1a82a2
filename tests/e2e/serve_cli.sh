#!/bin/sh
# The command line as a client of a running server (docs/cli.md, "Talking
# to a server"): runs, show, approve, deny and cancel with --server URL and
# the token from RUNBOOK_TOKEN or --token-file; the answers journaled with
# the token's name and shown by `show`; a clear line and exit 2 for a
# wrong token (401), a viewer's token on a write (403), a run that waits
# for nothing; exit 6 when nothing listens.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

. "$RB_SOURCE_DIR/tests/e2e/lib_api.sh"
api_setup
printf '%s\n' "$OP" >op.token

start() { # start RUNBOOK: a run's id
    printf '{"runbook":"%s"}' "$1" >s.json
    http POST /api/v1/runs $OP s.json >/dev/null
    jq -r .id body
}
state() { "$RUNBOOK" show "$1" --server "$URL" --format json 2>/dev/null | jq -r .status; }
is() { [ "$(state "$1")" = "$2" ]; }

"$RUNBOOK" approve --help >out 2>&1 && grep -q -- "--comment TEXT" out && ok || bad "approve --help"
"$RUNBOOK" cancel --help >out 2>&1 && grep -q -- "--server URL" out && ok || bad "cancel --help"
"$RUNBOOK" deny 1 >out 2>&1
[ $? -eq 2 ] && grep -q "Give --server URL" out && ok || { bad "deny without a server: exit 2"; cat out; }
"$RUNBOOK" approve >out 2>&1
[ $? -eq 2 ] && grep -q "which run" out && ok || bad "approve without a run: exit 2"

if serve_start log --config server.yaml; then
    URL="http://127.0.0.1:$srv_port"
    export RUNBOOK_TOKEN=$RO
    g1=$(start gate)
    wait_for is "$g1" waiting_approval && ok || bad "the run waits"
    "$RUNBOOK" runs --server "$URL" >out 2>&1 && grep -q "gate.*waiting_approval" out && ok || { bad "runs --server"; cat out; }
    "$RUNBOOK" runs --server "$URL" --format json | jq -e ".[0].id == $g1" >/dev/null && ok || bad "runs --server --format json"

    # a viewer's token may read, not answer
    "$RUNBOOK" approve "$g1" --server "$URL" >out 2>&1
    [ $? -eq 2 ] && grep -q "(403)" out && ok || { bad "a viewer's approve: exit 2, 403 said"; cat out; }
    RUNBOOK_TOKEN=wrongwrongwrongwrong "$RUNBOOK" runs --server "$URL" >out 2>&1
    [ $? -eq 2 ] && grep -q "refused the token (401)" out && ok || { bad "a wrong token: exit 2, 401 said"; cat out; }
    grep -q wrongwrong out && bad "the token is printed" || ok
    env -u RUNBOOK_TOKEN "$RUNBOOK" runs --server "$URL" >out 2>&1
    [ $? -eq 2 ] && grep -q "no token" out && ok || { bad "no token: exit 2"; cat out; }

    # approve with --token-file and a comment
    "$RUNBOOK" approve "$g1" ask --server "$URL" --token-file op.token -m "graphs look fine" >out 2>&1 &&
        grep -q "run $g1: step ask approved by ops" out && ok || { bad "approve"; cat out; }
    wait_for is "$g1" resolved && ok || bad "the approved run resolves"
    "$RUNBOOK" show "$g1" --server "$URL" >out 2>&1 && grep -q 'approved by ops: "graphs look fine"' out &&
        ok || { bad "show --server prints who and why"; cat out; }
    # the post-incident review says who and why too, in every format
    "$RUNBOOK" report "$g1" --db j.db --format json | jq -e '.approvals[0] | .by == "ops" and .comment == "graphs look fine"' \
        >/dev/null && ok || bad "report json: the approver's comment"
    "$RUNBOOK" report "$g1" --db j.db | grep -q '^  ask: granted by ops at .*: "graphs look fine"$' && ok || bad "report text: the comment"
    "$RUNBOOK" report "$g1" --db j.db --format md | grep -q '^- step ask: granted by ops at .*: “graphs look fine”$' && ok ||
        bad "report md: the comment"
    "$RUNBOOK" report "$g1" --db j.db --format html | grep -q '<td class="comment">graphs look fine</td>' && ok ||
        bad "report html: the comment"
    "$RUNBOOK" approve "$g1" --server "$URL" --token-file op.token >out 2>&1
    [ $? -eq 2 ] && grep -q "not in flight" out && ok || { bad "approving a finished run: exit 2"; cat out; }

    # deny through RUNBOOK_SERVER and RUNBOOK_TOKEN
    g2=$(start gate)
    wait_for is "$g2" waiting_approval || bad "the second run waits"
    RUNBOOK_SERVER=$URL RUNBOOK_TOKEN=$OP "$RUNBOOK" deny "$g2" --comment "freeze" >out 2>&1 &&
        grep -q "denied by ops" out && ok || { bad "deny"; cat out; }
    wait_for is "$g2" failed && ok || bad "the denied run fails"

    # cancel
    n1=$(start nap)
    "$RUNBOOK" cancel "$n1" --server "$URL" --token-file op.token >out 2>&1 &&
        grep -q "run $n1: cancelling (by ops)" out && ok || { bad "cancel"; cat out; }
    wait_for is "$n1" cancelled && ok || bad "the run ends cancelled"
    "$RUNBOOK" show "$n1" --server "$URL" >out 2>&1 && grep -q "cancelled by ops" out && ok || { bad "show says who cancelled"; cat out; }
    "$RUNBOOK" show 99999 --server "$URL" >out 2>&1
    [ $? -eq 2 ] && grep -q "no such run" out && ok || { bad "show of no run: exit 2"; cat out; }
    serve_stop
    srv_pid=
    [ "$srv_rc" = 0 ] && ok || { bad "the server exits 0 (got $srv_rc)"; tail -20 log*; }
    # nothing listens there now
    "$RUNBOOK" runs --server "$URL" >out 2>&1
    [ $? -eq 6 ] && grep -q "cannot reach the server" out && ok || { bad "connection refused: exit 6"; cat out; }
    "$RUNBOOK" cancel 1 --server "$URL" --token-file op.token >out 2>&1
    [ $? -eq 6 ] && ok || bad "cancel with nothing listening: exit 6"
else
    bad "the server did not start"; cat log
fi

echo "serve_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
