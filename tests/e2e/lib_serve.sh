# lib_serve.sh — what the `runbook serve` e2e scripts share (sourced, not a
# test: ctest skips tests/e2e/lib*.sh). Needs RUNBOOK and curl. Sourcing it
# makes $tmp (the working directory from then on, removed at exit, with the
# server killed if it still runs) and the pass/fail counters of ok and bad.

tmp=$(mktemp -d)
srv_pid=
trap '[ -n "$srv_pid" ] && kill -9 $srv_pid 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# run_is DB FILTER: true when run 1 of DB (`runbook show --format json`)
# passes the jq FILTER. False when show fails: jq -e over no input would
# say true.
run_is() {
    "$RUNBOOK" show --db "$1" --format json 1 >run_is.json 2>/dev/null && jq -e "$2" run_is.json >/dev/null
}

# says FILE PATTERN…: ok for each grep PATTERN that FILE holds, else bad
# (and FILE shown)
says() {
    _f=$1
    shift
    for _w in "$@"; do
        grep -q -- "$_w" "$_f" && ok || { bad "$_f does not say: $_w"; cat "$_f"; }
    done
}

# serve_start LOG ARGS…: starts `runbook serve --listen 127.0.0.1:0 ARGS…`
# in the background, its stderr in LOG; sets srv_pid and srv_port (the OS
# picks the port; the server logs it). Waits for the "listening" line, at
# most 60 s; returns 1 if the server exits or never listens.
serve_start() {
    srv_log=$1
    shift
    : >"$srv_log"
    "$RUNBOOK" serve --listen 127.0.0.1:0 "$@" 2>"$srv_log" &
    srv_pid=$!
    srv_port=
    i=0
    while [ $i -lt 1200 ]; do
        srv_port=$(sed -n 's/.*event=listening .*port=\([0-9][0-9]*\).*/\1/p; s/.*"event":"listening".*"port":"\{0,1\}\([0-9][0-9]*\).*/\1/p' "$srv_log" | head -1)
        [ -n "$srv_port" ] && return 0
        kill -0 "$srv_pid" 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# serve_stop: SIGTERM, then waits for the exit; its code in srv_rc.
serve_stop() {
    kill -TERM "$srv_pid" 2>/dev/null
    wait "$srv_pid"
    srv_rc=$?
}

# http METHOD PATH [TOKEN [BODYFILE]]: the status code on stdout, the body
# in $tmp/body.
http() {
    if [ -n "${4:-}" ]; then
        set -- "$1" "$2" "${3:-}" --data-binary "@$4"
    else
        set -- "$1" "$2" "${3:-}"
    fi
    m=$1 p=$2 t=$3
    shift 3
    curl -s -o "$tmp/body" -w '%{http_code}' --max-time 30 -X "$m" \
        ${t:+-H "Authorization: Bearer $t"} -H 'Content-Type: application/json' "$@" \
        "http://127.0.0.1:$srv_port$p"
}

# wait_for CMD…: runs CMD until it succeeds, at most 60 s; 1 if it never did.
wait_for() {
    i=0
    while [ $i -lt 1200 ]; do
        "$@" && return 0
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# slow_runbook FILE: a runbook that Slow alerts start, which sleeps two
# minutes and is cancelled when its alert resolves (cancel_on_resolve).
slow_runbook() {
    cat >"$1" <<'YAML'
apiVersion: runbook/v1
name: slow
triggers:
  - match: { alertname: Slow }
cancel_on_resolve: true
steps:
  - name: wait
    action: sleep
    with: { duration: 120s }
YAML
}

# hook_token: ./tokens with one token of role hook named am (mode 600);
# its secret in $T.
hook_token() {
    T=0123456789abcdef0123
    printf 'am hook %s\n' "$T" >tokens
    chmod 600 tokens
}

# server_config [LINE…]: ./server.yaml with the journal, runbooks folder and
# tokens file in $tmp, MARKS readable by runbooks, and the LINEs after.
server_config() {
    printf 'database: %s/j.db\nrunbooks: %s/runbooks\ntokens: %s/tokens\nenv: [MARKS]\n' \
        "$tmp" "$tmp" "$tmp" >server.yaml
    for line in "$@"; do
        printf '%s\n' "$line" >>server.yaml
    done
}

# node_down_runbook FILE: NodeDown alerts start it; it appends the alert's
# instance label to $MARKS/node-down (one run per instance at a time).
node_down_runbook() {
    cat >"$1" <<'YAML'
apiVersion: runbook/v1
name: node-down
triggers:
  - match: { alertname: NodeDown }
concurrency: "{{ alert.labels.instance }}"
steps:
  - name: mark
    run: "printf '%s\n' {{ alert.labels.instance }} >> {{ env.MARKS }}/node-down"
YAML
}

# am_tokens: ./tokens with a hook token named alertmanager and ./am.token
# holding its secret alone (Alertmanager's credentials_file).
am_tokens() {
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
    printf 'alertmanager hook %s\n' "$secret" >tokens
    printf '%s' "$secret" >am.token
    chmod 600 tokens am.token
}

# am_config PORT: ./am.yml, the Alertmanager configuration of
# docs/webhooks.md with only its url (the server on PORT) and its
# credentials_file ($tmp/am.token) changed.
am_config() {
    sed -n '/^<!-- alertmanager.yml/,/^```$/p' "$RB_SOURCE_DIR/docs/webhooks.md" | sed '1,2d;$d' |
        sed "s#http://127.0.0.1:9095/hooks/alertmanager#http://127.0.0.1:$1/hooks/alertmanager#; s#/etc/alertmanager/runbook.token#$tmp/am.token#" >am.yml
    grep -q "127.0.0.1:$1/hooks/alertmanager" am.yml && grep -q "$tmp/am.token" am.yml
}

# free_port: a TCP port free on 127.0.0.1 now (for a program that cannot
# be told port 0; the caller retries when it was taken meanwhile).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ack_runbook FILE: a runbook that Ack alerts start, one run per alert
# (its fingerprint is the concurrency key), whose one step appends the
# fingerprint to $MARKS/ack: a step that ran twice shows twice there.
ack_runbook() {
    cat >"$1" <<'YAML'
apiVersion: runbook/v1
name: ack
triggers:
  - match: { alertname: Ack }
concurrency: "{{ alert.fingerprint }}"
steps:
  - name: mark
    run: "echo {{ alert.fingerprint }} >> {{ env.MARKS }}/ack"
YAML
}

# acked_checks: after crashes, with ./acked.txt (the fingerprints answered
# 200) and ./j.db: every one is in the journal, no Ack step ran twice, no
# alert has two runs, the hash chain verifies (counted with ok and bad).
acked_checks() {
    sqlite3 check.db "CREATE TABLE acked_fps(fp TEXT)" && sqlite3 check.db ".import acked.txt acked_fps"
    missing=$(sqlite3 check.db "ATTACH 'j.db' AS j; SELECT count(*) FROM acked_fps k WHERE NOT EXISTS (SELECT 1 FROM j.alerts a WHERE a.fingerprint = k.fp)" || echo x)
    [ "$missing" = 0 ] && ok || bad "$missing alerts answered 200 are not in the journal"
    twice=$(sort marks/ack 2>/dev/null | uniq -d | wc -l | tr -d ' ')
    [ "$twice" = 0 ] && ok || bad "$twice alerts' steps ran twice"
    runs2=$(sqlite3 j.db "SELECT count(*) FROM (SELECT fingerprint FROM alert_runs GROUP BY fingerprint, starts_at HAVING count(run_id) > 1)")
    [ "$runs2" = 0 ] && ok || bad "$runs2 alerts have two runs"
    "$RUNBOOK" audit verify --db j.db >/dev/null 2>&1 && ok || bad "audit verify"
}
