#!/bin/sh
# Crash safety of the Alertmanager hook (docs/webhooks.md, "What survives a
# crash"): a client posts one new alert per request while the server is
# killed with SIGKILL at a random moment, eight times over. After a last
# start: every alert that was answered 200 is in the journal and has its
# run (started by the request, or on a restart from its claim); no alert's
# step ran twice (marker lines are counted); every run ended, or stayed
# interrupted because its step with side effects may have run; the hash
# chain verifies.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir runbooks marks
export MARKS="$tmp/marks"
ack_runbook runbooks/ack.yaml
hook_token
server_config
cat >client.py <<'PY'
# Posts one new alert per request until the server goes away (or 5 s);
# appends each fingerprint answered 200 to acked.txt at once.
import json, sys, time, urllib.request
port, rnd = sys.argv[1], sys.argv[2]
t0 = time.time()
with open("acked.txt", "a") as out:
    i = 0
    while time.time() - t0 < 5:
        fp = "r%s-%d" % (rnd, i)
        body = json.dumps({"version": "4", "alerts": [{"status": "firing",
            "labels": {"alertname": "Ack", "n": str(i)}, "startsAt": "2026-11-21T23:46:58Z",
            "fingerprint": fp}]}).encode()
        req = urllib.request.Request("http://127.0.0.1:%s/hooks/alertmanager" % port, data=body,
            headers={"Authorization": "Bearer 0123456789abcdef0123",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.status == 200:
                    out.write(fp + "\n")
                    out.flush()
        except Exception as e:
            print("client: %s" % e, file=sys.stderr)
            break
        i += 1
PY
: >acked.txt
for round in 1 2 3 4 5 6 7 8; do
    serve_start "log$round" --config server.yaml || { bad "start $round"; cat "log$round"; exit 1; }
    python3 client.py "$srv_port" "$round" 2>"client$round.err" &
    cpid=$!
    # once the client's stream flows, a random moment in it: the crash is the point
    wait_for grep -q "^r$round-" acked.txt || bad "round $round: no answer"
    sleep "0.$(( $(od -An -N1 -tu1 /dev/urandom) % 4 ))"
    kill -9 "$srv_pid"
    wait "$srv_pid" 2>/dev/null
    wait "$cpid"
done
srv_pid=
acked=$(wc -l <acked.txt | tr -d ' ')
[ "$acked" -gt 0 ] && ok || { bad "no alert was answered"; cat client*.err; }
open_runs() { [ "$(sqlite3 j.db "SELECT count(*) FROM runs WHERE status NOT IN ('resolved', 'interrupted')")" = 0 ]; }
serve_start logf --config server.yaml || { bad "the last start"; cat logf; exit 1; }
wait_for open_runs && ok || bad "every run ended"
serve_stop
srv_pid=

acked_checks
norun=$(sqlite3 check.db "ATTACH 'j.db' AS j; SELECT count(*) FROM acked_fps k WHERE NOT EXISTS (SELECT 1 FROM j.alert_runs r WHERE r.fingerprint = k.fp AND r.run_id IS NOT NULL)")
[ "$norun" = 0 ] && ok || bad "$norun alerts answered 200 have no run"
# an interrupted run stayed so only because its step may have run
bad_int=$(sqlite3 j.db "SELECT count(*) FROM runs r WHERE r.status = 'interrupted' AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.id AND e.type = 'step_started')")
[ "$bad_int" = 0 ] && ok || bad "$bad_int interrupted runs could have been resumed"
echo "acked $acked alerts over 8 crashes; $(sqlite3 j.db "SELECT count(*) FROM runs WHERE status = 'interrupted'") runs left interrupted"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
