#!/bin/sh
# Starts, stops or restarts the demo service (demo-target) like an init
# script would: service.sh start|stop|restart|status STATE_DIR PORT BINARY
set -u
cmd=$1 state=$2 port=$3 bin=${4:-}
pidfile=$state/target.pid

# Running: the pid file names a live process (a zombie left by kill -9 is not).
running() {
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

start() {
    if running; then echo "already running (pid $(cat "$pidfile"))"; return 0; fi
    rm -f "$pidfile"
    "$bin" --port "$port" --pidfile "$pidfile" --fail-file "$state/fail-starts" \
        >>"$state/target.log" 2>&1 </dev/null &
    # Wait up to 2 s for the pid file: the service is up when it has one.
    i=0
    while [ $i -lt 20 ]; do
        if running; then echo "started (pid $(cat "$pidfile"))"; return 0; fi
        if ! kill -0 $! 2>/dev/null; then
            echo "service exited during start-up; last log line:" >&2
            tail -n 1 "$state/target.log" >&2
            return 1
        fi
        sleep 0.1; i=$((i + 1))
    done
    echo "service did not write its pid file in 2s" >&2
    return 1
}

stop() {
    if running; then kill "$(cat "$pidfile")"; sleep 0.1; fi
    rm -f "$pidfile"
    echo "stopped"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    restart) stop >/dev/null; start ;;
    status) if running; then echo "running (pid $(cat "$pidfile"))"; else echo "not running"; exit 3; fi ;;
    *) echo "usage: service.sh start|stop|restart|status STATE_DIR PORT BINARY" >&2; exit 2 ;;
esac
