#!/bin/sh
# `make demo`: starts the demo service, breaks it (kill -9, and the next two
# start-ups fail), runs the recovery runbook against it, prints the run's
# timeline from the journal, and exits 0 only when the service answers again.
# Usage: demo.sh [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
rb=$build/runbook
bin=$build/demo-target
state=$build/demo
port=${DEMO_PORT:-$((20000 + $$ % 20000))}

rm -rf "$state" && mkdir -p "$state"
db=$state/journal.db
svc() { "$here/scripts/service.sh" "$1" "$state" "$port" "$bin"; }
trap 'svc stop >/dev/null 2>&1 || true' EXIT

echo "== 1. start the demo service on 127.0.0.1:$port"
svc start
"$here/scripts/health.sh" "$port" >/dev/null && echo "   health check: ok"

echo "== 2. break it: kill -9, and make the next two start-ups fail"
kill -9 "$(cat "$state/target.pid")"
echo 2 >"$state/fail-starts"
sleep 0.2
if "$here/scripts/health.sh" "$port" >/dev/null 2>&1; then
    echo "   the service still answers?" >&2; exit 1
fi
echo "   health check: failing"

echo "== 3. runbook run demo.yaml"
status=0
"$rb" run --db "$db" -p port="$port" -p state="$state" -p bin="$bin" "$here/demo.yaml" || status=$?

echo "== 4. the run's timeline, from the journal ($db)"
"$rb" show --db "$db" 1

echo "== 5. is the service back?"
if [ "$status" -eq 0 ] && "$here/scripts/health.sh" "$port"; then
    echo "demo: the service is back (run exit $status)"
else
    echo "demo: the service is NOT back (run exit $status)" >&2
    exit 1
fi
