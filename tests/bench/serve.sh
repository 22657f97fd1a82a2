#!/bin/sh
# `runbook serve` under load (issue 8's speed figures); prints figures,
# never fails on timing.
#
#   0. The disk: fdatasync of 16 KiB in the journal's directory, 200 times,
#      overwriting (as the WAL is once it has wrapped) and growing the file
#      (as a fresh WAL): every durable answer waits for at least one.
#   1. Webhook ingest: wrk -t1 -c32 for RB_BENCH_SECS (default 10) seconds,
#      each request one new ~1 KB Alertmanager alert (tests/bench/
#      serve_ingest.lua) that no runbook matches, so each is claimed
#      (journaled "unmatched", durable before the 200: the journal at its
#      default synchronous=FULL). Beside it in the same run, Debian's nginx
#      (one worker, its own prefix and config, a free port) answering the
#      same POSTs with a static 200. Requests/s of both, their ratio, p99;
#      the server's CPU time per request, and its journal commits (from
#      /metrics): alerts per commit and the mean commit time.
#   2. From the end of a webhook request to the start of its run's first
#      action: RB_BENCH_LAT (default 200) alerts one after another, each
#      starting a one-step runbook (exec /bin/true). From the journal's
#      monotonic times: run_started (stamped while the request is handled)
#      to the action's attempt_started. From the client's side: when the
#      answer was read (CLOCK_MONOTONIC, the same clock) to the action's
#      start (negative: the action started first).
#   3. RB_BENCH_WAITING (default 10000) runs waiting in an approval, then
#      the ingest of 1. again: the server's RSS idle and with them waiting,
#      and the ingest figure beside the idle one.
#
# Usage: serve.sh BUILD_DIR. Needs wrk, nginx, python3, sqlite3, curl.
# RB_BENCH_SECS=1 RB_BENCH_LAT=20 RB_BENCH_WAITING=200 is the smoke that
# `make test` runs (bench.serve_smoke): it checks that every figure is
# printed, never what it is.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${RB_BENCH_SECS:-10}
nlat=${RB_BENCH_LAT:-200}
nwait=${RB_BENCH_WAITING:-10000}
for t in wrk nginx python3 sqlite3 curl; do
    command -v $t >/dev/null 2>&1 || [ -x /usr/sbin/$t ] || { echo "serve bench: SKIP (no $t)"; exit 0; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
tmp=$(mktemp -d)
srv_pid= ngx_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    [ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- nginx: one worker, static 200, its own prefix ----
mkdir -p ngx/logs ngx/tmp
start_nginx() {
    port=$(free_port)
    cat >ngx/nginx.conf <<NGX
worker_processes 1;
daemon off;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/ngx/tmp/body;
    proxy_temp_path $tmp/ngx/tmp/proxy;
    fastcgi_temp_path $tmp/ngx/tmp/fastcgi;
    uwsgi_temp_path $tmp/ngx/tmp/uwsgi;
    scgi_temp_path $tmp/ngx/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { client_body_buffer_size 16k; return 200 "{}\n"; }
    }
}
NGX
    "$NGINX" -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" 2>ngx/logs/stderr &
    ngx_pid=$!
    i=0
    while [ $i -lt 200 ]; do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && { ngx_port=$port; return 0; }
        kill -0 $ngx_pid 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}
tries=0
until start_nginx; do
    tries=$((tries + 1))
    [ $tries -lt 5 ] || { echo "serve bench: nginx did not start"; cat ngx/logs/*; exit 1; }
done

# ---- the server ----
mkdir runbooks
cat >runbooks/bench-run.yaml <<'YAML'
apiVersion: runbook/v1
name: bench-run
triggers:
  - match: { alertname: BenchRun }
concurrency: "{{ alert.labels.instance }}"
steps:
  - name: first
    run: [/bin/true]
YAML
cat >runbooks/bench-wait.yaml <<'YAML'
apiVersion: runbook/v1
name: bench-wait
triggers:
  - match: { alertname: BenchWait }
concurrency: "{{ alert.labels.instance }}"
steps:
  - name: ask
    approval: { timeout: 1h }
    action: log
    with: { message: "never answered" }
YAML
TOKEN=0123456789abcdef0123456789
printf 'bench hook %s\n' "$TOKEN" >tokens
chmod 600 tokens
cat >server.yaml <<YAML
database: $tmp/j.db
runbooks: $tmp/runbooks
tokens: $tmp/tokens
limits: { active_runs: $((nwait + 1000)), body_size: 8MiB }
metrics: { open: true }
YAML
# 10,000 runs waiting: the server budgets 4 open files a run (their
# actions' pipes and pidfd), so it needs more than the usual 20,000.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || :
"$build/runbook" serve --config server.yaml --listen 127.0.0.1:0 2>serve.log &
srv_pid=$!
i=0
port=
while [ $i -lt 1200 ] && [ -z "$port" ]; do
    port=$(sed -n 's/.*event=listening .*port=\([0-9][0-9]*\).*/\1/p' serve.log | head -1)
    sleep 0.05
    i=$((i + 1))
done
[ -n "$port" ] || { echo "serve bench: the server did not start"; cat serve.log; exit 1; }
rss() { awk '/^VmRSS/ { print $2 / 1024 " MiB" }' /proc/$srv_pid/status; }

export RB_BENCH_TOKEN=$TOKEN
# wrk_run URL PREFIX: requests/s and p99 (ms) as "RPS P99"
wrk_run() {
    RB_BENCH_PREFIX=$2 wrk -t1 -c32 -d"${secs}s" --latency -s "$src/tests/bench/serve_ingest.lua" "$1" >wrk.out 2>&1
    rps=$(awk '/^Requests\/sec:/ { print $2 }' wrk.out)
    p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' wrk.out)
    non2xx=$(awk '/Non-2xx/ { print $NF }' wrk.out)
    echo "${rps:-0} ${p99:-?} ${non2xx:-0}"
}

# ---- 0. the disk ----
python3 - "$tmp" <<'PY' >fsync.txt
import os, sys, time
def probe(path, grow, n=200):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC)
    if not grow:
        os.write(fd, b"\0" * (16384 * n))
        os.fsync(fd)
    ts = []
    for i in range(n):
        os.pwrite(fd, b"y" * 16384, i * 16384)
        t = time.monotonic_ns()
        os.fdatasync(fd)
        ts.append(time.monotonic_ns() - t)
    os.close(fd)
    os.unlink(path)
    ts.sort()
    return "median %.3f ms, p99 %.3f ms" % (ts[n // 2] / 1e6, ts[int(n * 0.99)] / 1e6)
print(probe(sys.argv[1] + "/probe", False), "|", probe(sys.argv[1] + "/probe", True))
PY
echo "serve bench: wrk -t1 -c32 -d${secs}s, ~1 KB alert POSTs (tests/bench/serve_ingest.lua), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "  0. disk: fdatasync of 16 KiB overwriting: $(cut -d'|' -f1 fsync.txt); growing the file: $(cut -d'|' -f2 fsync.txt)"

# scrape: the journal's commits, records, commit seconds (sum) and the
# server's CPU ticks, as "COMMITS RECORDS SECONDS TICKS"
scrape() {
    curl -s "http://127.0.0.1:$port/metrics" | awk -v t="$(awk '{ print $14 + $15 }' /proc/$srv_pid/stat)" '
        $1 == "runbook_journal_commits_total" { c = $2 }
        $1 == "runbook_journal_records_total" { r = $2 }
        $1 == "runbook_journal_commit_seconds_sum" { s = $2 }
        END { print c + 0, r + 0, s + 0, t }'
}
set -- $(wrk_run "http://127.0.0.1:$ngx_port" ngx)
ngx_rps=$1 ngx_p99=$2
m0=$(scrape)
set -- $(wrk_run "http://127.0.0.1:$port" idle)
srv_rps=$1 srv_p99=$2 srv_bad=$3
m1=$(scrape)
claimed=$(sqlite3 j.db "select count(*) from alerts where fingerprint like 'idle-%'")
echo "  1. nginx (1 worker, static 200):        $ngx_rps req/s, p99 $ngx_p99 ms"
echo "     runbook serve (each alert journaled): $srv_rps req/s, p99 $srv_p99 ms, non-2xx $srv_bad, alerts durable $claimed"
awk -v a="$srv_rps" -v b="$ngx_rps" -v p="$srv_p99" 'BEGIN { if (b > 0) printf "     ratio: %.1f%% of nginx (target >= 50%%); p99 %s ms (target < 5 ms)\n", 100 * a / b, p }'
echo "$m0 $m1 $claimed $(getconf CLK_TCK)" | awk '{ c = $5 - $1; r = $6 - $2; s = $7 - $3; t = $8 - $4
    if (c > 0 && $9 > 0) printf "     journal: %d commits, %.1f records per commit, mean commit %.3f ms; server CPU %.0f us per alert\n", c, r / c, 1000 * s / c, 1e6 * t / $10 / $9 }'
echo "     server RSS after ingest: $(rss)"
# The JSON library's share: the benchmark's body parsed and freed by jansson
# alone, beside nginx's whole request (one worker, saturated by -c32), and
# the most alerts/s both cores could take at the server's CPU per alert.
pad=$(printf '%560s' '' | tr ' ' x)
printf '{"version":"4","groupKey":"{}:{alertname=\\"BenchIngest\\"}","truncatedAlerts":0,"status":"firing","receiver":"runbook","groupLabels":{"alertname":"BenchIngest"},"commonLabels":{"alertname":"BenchIngest"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[{"status":"firing","labels":{"alertname":"BenchIngest","instance":"p-1","severity":"warning"},"annotations":{"summary":"%s"},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"p-1"}]}' "$pad" >body.json
if [ -x "$build/bench_engine" ]; then
    parse_us=$("$build/bench_engine" parse body.json 20000 | sed -n 's/.*: \([0-9.]*\) us each.*/\1/p')
    echo "$m0 $m1 $claimed $(getconf CLK_TCK) $ngx_rps $parse_us $(nproc)" | awk '{ t = $8 - $4
        if ($9 > 0 && $11 > 0 && $12 != "") {
            cpu = 1e6 * t / $10 / $9
            printf "     jansson alone, parse + free of this body: %.1f us; nginx: 1 / its rate = %.1f us a request\n", $12, 1e6 / $11
            printf "     ceiling at %.0f us of CPU per alert on %d cores: %.0f alerts/s (%.1f%% of nginx), wrk not counted\n", cpu, $13, $13 * 1e6 / cpu, 100 * $13 * 1e6 / cpu / $11 } }'
fi

# ---- 2. webhook end → first action start ----
python3 - "$port" "$TOKEN" "$nlat" <<'PY' >lat.txt
import http.client, json, sys, time
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for i in range(n):
    fp = "lat-%d" % i
    body = json.dumps({"version": "4", "status": "firing", "receiver": "runbook",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://am", "groupKey": "{}", "alerts": [{
                           "status": "firing", "fingerprint": fp,
                           "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                           "labels": {"alertname": "BenchRun", "instance": fp},
                           "annotations": {}}]})
    c.request("POST", "/hooks/alertmanager", body,
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    end = time.monotonic_ns()  # CLOCK_MONOTONIC, as the journal's mono_ns
    if r.status != 200:
        sys.exit("status %d" % r.status)
    print(fp, end)
PY
i=0
while [ $i -lt 600 ]; do # the last runs finish
    left=$(sqlite3 j.db "select count(*) from runs where runbook = 'bench-run' and ended_at is null")
    [ "$left" = 0 ] && break
    sleep 0.1
    i=$((i + 1))
done
sqlite3 -separator ' ' j.db "select a.fingerprint, min(e.mono_ns), (select mono_ns from events where run_id = a.run_id and type = 'run_started') from alert_runs a join events e on e.run_id = a.run_id where a.fingerprint like 'lat-%' and e.type = 'attempt_started' group by a.fingerprint" >act.txt
awk 'NR == FNR { end[$1] = $2; next } ($1 in end) { d = ($2 - end[$1]) / 1e6; r = ($2 - $3) / 1e6; print d, r }' lat.txt act.txt | sort -n >d.txt
awk '{ print $2 }' d.txt | sort -n >r.txt
n=$(wc -l <d.txt)
awk -v n="$n" 'NR == int((n + 1) / 2) { m = $1 } NR == int(n * 0.9) { p = $1 } END {
    printf "  2. webhook request → the first action of its run (%d alerts, one at a time; target median < 1 ms):\n     journal mono_ns, run_started → attempt_started: median %.3f ms, p90 %.3f ms\n", n, m, p }' r.txt
awk -v n="$n" 'NR == int((n + 1) / 2) { m = $1 } NR == int(n * 0.9) { p = $1 } END {
    printf "     client, answer read → attempt_started: median %.3f ms, p90 %.3f ms (negative: the action started first)\n", m, p }' d.txt

# ---- 3. many runs waiting ----
rss_idle=$(rss)
python3 - "$port" "$TOKEN" "$nwait" <<'PY'
import http.client, json, sys
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
for start in range(0, n, 500):
    alerts = [{"status": "firing", "fingerprint": "wait-%d" % i, "startsAt": "2026-01-01T00:00:00Z",
               "endsAt": "0001-01-01T00:00:00Z", "labels": {"alertname": "BenchWait", "instance": "w%d" % i},
               "annotations": {}} for i in range(start, min(n, start + 500))]
    c.request("POST", "/hooks/alertmanager", json.dumps({"version": "4", "status": "firing", "alerts": alerts}),
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("status %d" % r.status)
PY
i=0
while [ $i -lt 1200 ]; do
    w=$(sqlite3 j.db "select count(*) from runs where runbook = 'bench-wait' and status = 'waiting_approval'")
    [ "$w" -ge "$nwait" ] && break
    sleep 0.1
    i=$((i + 1))
done
echo "  3. $w runs waiting in an approval: server RSS $(rss) (after ingest, before them: $rss_idle)"
set -- $(wrk_run "http://127.0.0.1:$port" busy)
echo "     ingest with them waiting: $1 req/s, p99 $2 ms, non-2xx $3 (idle: $srv_rps req/s, p99 $srv_p99 ms)"
