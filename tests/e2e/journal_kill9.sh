#!/bin/sh
# kill -9 of `runbook run` at random moments, 100 times, on one journal
# (issue 4, faults): after every kill the database passes PRAGMA
# integrity_check and `runbook audit verify`; the next open for writing
# marks the killed run interrupted with a run_interrupted event (no run is
# left "running"); and no step ran whose intent was not journaled first
# (each step touches a marker file; every marker has its step_started).
# Env: RUNBOOK (the binary). KILLS overrides the count.
set -u
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
kills=${KILLS:-100}
pass=0 fail=0
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

{
    echo "apiVersion: runbook/v1"
    echo "name: killme"
    echo "params: { tag: { default: x } }"
    echo "steps:"
    i=1
    while [ $i -le 12 ]; do
        echo "  - { name: s$i, run: [sh, -c, 'touch \"mk_{{ params.tag }}_s$i\"; sleep 0.01'] }"
        i=$((i + 1))
    done
} >killme.yaml

rand_ms() { # 0..$1 ms
    n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    echo $((n % ($1 + 1)))
}

k=1
while [ $k -le "$kills" ]; do
    # Opening for writing also recovers the run the previous kill left open.
    "$RUNBOOK" run --quiet --db j.db --param tag=$k killme.yaml >/dev/null 2>&1 &
    pid=$!
    ms=$(rand_ms 250)
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
    if [ -e j.db ]; then
        ic=$(sqlite3 j.db 'PRAGMA integrity_check' 2>&1)
        [ "$ic" = ok ] || bad "kill $k (after ${ms}ms): integrity_check: $ic"
        "$RUNBOOK" audit verify --db j.db >verify.log 2>&1 || {
            bad "kill $k (after ${ms}ms): audit verify: $(head -3 verify.log)"
        }
    fi
    k=$((k + 1))
done

# One more open for writing recovers the last one.
"$RUNBOOK" journal prune --db j.db --before 2000-01-01 >/dev/null 2>&1 || bad "final open for writing"
"$RUNBOOK" audit verify --db j.db >verify.log 2>&1 || bad "final audit verify: $(head -3 verify.log)"

left=$(sqlite3 j.db "SELECT count(*) FROM runs WHERE ended_at IS NULL")
[ "$left" = 0 ] || bad "$left run(s) left open after recovery"
unmarked=$(sqlite3 j.db "SELECT count(*) FROM runs r WHERE status = 'interrupted' AND NOT EXISTS
    (SELECT 1 FROM events e WHERE e.run_id = r.id AND e.type = 'run_interrupted')")
[ "$unmarked" = 0 ] || bad "$unmarked interrupted run(s) without a run_interrupted event"
interrupted=$(sqlite3 j.db "SELECT count(*) FROM runs WHERE status = 'interrupted'")
# The step a run_interrupted names is the one whose intent has no result.
wrong=$(sqlite3 j.db "SELECT count(*) FROM events e WHERE e.type = 'run_interrupted' AND
    json_extract(e.data, '$.step') IS NOT (SELECT s.step FROM events s WHERE s.run_id = e.run_id
      AND s.type IN ('step_started', 'step_finished', 'step_skipped') AND s.seq < e.seq
      AND (SELECT t.type FROM events t WHERE t.run_id = e.run_id AND t.type IN ('step_started',
           'step_finished', 'step_skipped') AND t.seq < e.seq ORDER BY t.seq DESC LIMIT 1) = 'step_started'
      ORDER BY s.seq DESC LIMIT 1)")
[ "$wrong" = 0 ] || bad "$wrong run_interrupted event(s) name the wrong step in flight"

# Every step that ran had its intent journaled first.
missing=0 markers=0
for m in mk_*; do
    [ -e "$m" ] || continue
    markers=$((markers + 1))
    tag=${m#mk_}
    tag=${tag%_s*}
    step=${m##*_}
    n=$(sqlite3 j.db "SELECT count(*) FROM events e JOIN runs r ON r.id = e.run_id
        WHERE e.type = 'step_started' AND e.step = '$step'
        AND json_extract(r.params, '$.tag') = '$tag'")
    [ "$n" = 1 ] || { missing=$((missing + 1)); [ $missing -le 3 ] && echo "    no intent for $m"; }
done
[ "$missing" = 0 ] || bad "$missing step(s) ran without their intent in the journal"

[ "$fail" -eq 0 ] && pass=1
echo "$kills kills: $interrupted runs interrupted, $markers steps ran, all journaled; $fail failure(s)"
[ "$fail" -eq 0 ]
