#!/bin/sh
# The journal cannot take an alert (a full disk, here a page cap): the
# webhook is answered 503, so Alertmanager sends it again later, never 200;
# /healthz says 503 from then on, and the server exits 1 on SIGTERM
# (docs/server.md, status codes and exit codes).
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir runbooks
hook_token
RUNBOOK_JOURNAL_MAX_PAGES=48 serve_start log --tokens tokens --dir runbooks --db j.db ||
    { bad "start"; cat log; exit 1; }
codes=
i=0
while [ $i -lt 40 ]; do
    python3 -c 'import json, sys
n = int(sys.argv[1])
print(json.dumps({"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "Fill", "pad": "x" * 20000},
    "startsAt": "2026-11-21T23:46:58Z", "fingerprint": "fill-%d-%d" % (n, k)} for k in range(4)]}))' "$i" >fill.json
    code=$(http POST /hooks/alertmanager $T fill.json)
    codes="$codes $code"
    [ "$code" = 200 ] || break
    i=$((i + 1))
done
case "$codes" in *" 200"*" 503") ok ;; *) bad "accepted, then 503 when the journal is full (got$codes)" ;; esac
[ "$(http POST /hooks/alertmanager $T fill.json)" = 503 ] && ok || bad "503 goes on: never a 200 it cannot keep"
[ "$(http GET /healthz)" = 503 ] && ok || bad "/healthz says 503"
grep -q 'event=journal_failed' log && ok || bad "journal_failed is logged"
serve_stop
[ "$srv_rc" = 1 ] && ok || bad "the server exits 1 (got $srv_rc)"
srv_pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
