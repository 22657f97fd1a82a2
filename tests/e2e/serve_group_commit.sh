#!/bin/sh
# Group commit keeps the Alertmanager hook's promise (docs/journal.md, "When
# a write is durable"; docs/webhooks.md, "What survives a crash"): twelve
# clients post new alerts at once, each on its own keep-alive connection,
# so that one journal commit carries the alerts of many requests (the
# writer is slowed to 30 ms a commit with RUNBOOK_JOURNAL_COMMIT_DELAY_MS,
# as a slow disk would, so the groups are large and a kill lands while one
# is on its way). Half the alerts start a run whose step leaves a marker,
# half match no runbook.
#   - Each 200 comes only after its group committed: the moment a client
#     reads its 200 it looks for its alert through its own SQLite
#     connection, and finds it.
#   - The server is killed with SIGKILL at a random moment, four times:
#     after a last start every alert answered 200 is in the journal, every
#     matched one with its run; no step ran twice; no alert has two runs;
#     the hash chain verifies.
#   - Groups really formed: more alerts were answered than commits made.
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
server_config "metrics: { open: true }"
cat >clients.py <<'PY'
# N threads, each posting one new alert per request on its own connection
# until the server goes away (or 20 s). Each alert answered 200 is looked
# for at once through the thread's own SQLite connection: found, its
# fingerprint goes to acked.txt; not found, to unseen.txt.
import http.client, json, sqlite3, sys, threading, time
port, rnd, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
acked = open("acked.txt", "a")
unseen = open("unseen.txt", "a")
def client(k):
    db = sqlite3.connect("j.db", timeout=30)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t0, i = time.time(), 0
    while time.time() - t0 < 20:
        name = "Ack" if i % 2 == 0 else "Nobody"
        fp = "g%s-%d-%d-%s" % (rnd, k, i, name[0])
        body = json.dumps({"version": "4", "status": "firing", "alerts": [{"status": "firing",
            "labels": {"alertname": name, "k": str(k)}, "startsAt": "2026-11-21T23:46:58Z",
            "fingerprint": fp}]})
        try:
            c.request("POST", "/hooks/alertmanager", body,
                      {"Authorization": "Bearer 0123456789abcdef0123",
                       "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
        except Exception:
            return  # killed
        if r.status == 200:
            seen = db.execute("SELECT count(*) FROM alerts WHERE fingerprint = ?", (fp,)).fetchone()[0]
            with lock:
                (acked if seen else unseen).write(fp + "\n")
                acked.flush()
                unseen.flush()
        i += 1
ts = [threading.Thread(target=client, args=(k,)) for k in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
PY
: >acked.txt
: >unseen.txt
: >commits.txt
export RUNBOOK_JOURNAL_COMMIT_DELAY_MS=30
for round in 1 2 3 4; do
    serve_start "log$round" --config server.yaml || { bad "start $round"; cat "log$round"; exit 1; }
    python3 clients.py "$srv_port" "$round" 12 2>"client$round.err" &
    cpid=$!
    wait_for grep -q "^g$round-" acked.txt || bad "round $round: no answer"
    sleep "0.$(( $(od -An -N1 -tu1 /dev/urandom) % 6 + 1 ))"
    # what this process committed so far, then the crash
    curl -s "http://127.0.0.1:$srv_port/metrics" | awk '$1 == "runbook_journal_commits_total" { print $2 }' >>commits.txt
    before=$(grep -c "^g$round-" acked.txt)
    kill -9 "$srv_pid"
    wait "$srv_pid" 2>/dev/null
    wait "$cpid"
    echo "round $round: $before alerts answered before the last scrape, $(grep -c "^g$round-" acked.txt) in all"
done
unset RUNBOOK_JOURNAL_COMMIT_DELAY_MS
srv_pid=
acked=$(wc -l <acked.txt | tr -d ' ')
[ "$acked" -gt 0 ] && ok || { bad "no alert was answered"; cat client*.err; }
[ ! -s unseen.txt ] && ok || bad "$(wc -l <unseen.txt | tr -d ' ') alerts were answered 200 before their commit: $(head -3 unseen.txt | tr '\n' ' ')"
commits=$(awk '{ s += $1 } END { print s + 0 }' commits.txt)
# the commits of four lifetimes (counted up to the last scrape of each)
# against every alert answered: groups formed when there are fewer
[ "$commits" -gt 0 ] && [ "$commits" -lt "$acked" ] && ok ||
    bad "no groups: $commits commits for $acked alerts answered"
open_runs() { [ "$(sqlite3 j.db "SELECT count(*) FROM runs WHERE status NOT IN ('resolved', 'interrupted')")" = 0 ]; }
serve_start logf --config server.yaml || { bad "the last start"; cat logf; exit 1; }
wait_for open_runs && ok || bad "every run ended"
serve_stop
srv_pid=

acked_checks
q() { sqlite3 check.db "ATTACH 'j.db' AS j; $1"; }
norun=$(q "SELECT count(*) FROM acked_fps k WHERE k.fp LIKE '%-A' AND NOT EXISTS (SELECT 1 FROM j.alert_runs r WHERE r.fingerprint = k.fp AND r.run_id IS NOT NULL)")
[ "$norun" = 0 ] && ok || bad "$norun matched alerts answered 200 have no run"
unmatched=$(q "SELECT count(*) FROM acked_fps k JOIN j.alerts a ON a.fingerprint = k.fp WHERE a.status = 'unmatched'")
[ "$unmatched" -gt 0 ] && ok || bad "no unmatched alert was journaled"
echo "acked $acked alerts over 4 crashes in $commits commits (counted to each last scrape)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
