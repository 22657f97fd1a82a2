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

# serve_start LOG ARGS…: starts `runbook serve --listen 127.0.0.1:0 ARGS…`
# in the background, its stderr in LOG; sets srv_pid and srv_port (the OS
# picks the port; the server logs it). Waits for the "listening" line, at
# most 60 s; returns 1 if the server exits or never listens.
serve_start() {
    srv_log=$1
    shift
    "$RUNBOOK" serve --listen 127.0.0.1:0 "$@" 2>"$srv_log" &
    srv_pid=$!
    srv_port=
    i=0
    while [ $i -lt 1200 ]; do
        srv_port=$(sed -n 's/.*event=listening .*port=\([0-9][0-9]*\).*/\1/p; s/.*"event":"listening".*"port":"\([0-9][0-9]*\)".*/\1/p' "$srv_log" | head -1)
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
