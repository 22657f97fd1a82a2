#!/bin/sh
# Hot reload (docs/server.md, "Signals, shutdown and restart"): a runbook
# file changed in the folder is reloaded (inotify) and the next alert runs
# the new version; a file that fails validation is logged with its
# diagnostics (file and line:col) and the last good version stays in force;
# a run in flight keeps the version it started with; every version that
# starts a run is in the journal; SIGHUP reloads what inotify does not see
# (a file in a subfolder); a removed file's runbook is no longer started.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir -p runbooks/sub marks
export MARKS="$tmp/marks"
# version NAME WORD [GATE]: a runbook NAME whose step appends WORD to
# marks/NAME; with GATE, it first waits for marks/GATE to exist
version() {
    gate=
    [ -n "${3:-}" ] && gate="while [ ! -e {{ env.MARKS }}/$3 ]; do sleep 0.05; done; "
    cat >"runbooks/$1.yaml.tmp" <<YAML
apiVersion: runbook/v1
name: $1
triggers:
  - match: { alertname: $1 }
steps:
  - name: mark
    run: "${gate}echo $2 >> {{ env.MARKS }}/$1"
YAML
    mv "runbooks/$1.yaml.tmp" "runbooks/$1.yaml" # one rename: one change
}
hook_token
n=0
# fire NAME: a new alert of that name; the answer's status in $code
fire() {
    n=$((n + 1))
    printf '{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"%s"},"startsAt":"2026-11-21T23:46:58Z","fingerprint":"f%s"}]}' "$1" "$n" >a.json
    code=$(http POST /hooks/alertmanager $T a.json)
}
# last_is NAME WORD: WORD is the last line of marks/NAME and no run of NAME
# is still going (the default concurrency key is the runbook's name: the
# next alert must not find this run active)
last_is() {
    [ -f "marks/$1" ] && [ "$(tail -1 "marks/$1")" = "$2" ] &&
        [ "$(sqlite3 j.db "SELECT count(*) FROM runs WHERE runbook = '$1' AND ended_at IS NULL")" = 0 ]
}
reloads() { grep -c 'event=reloaded' "$srv_log"; }
reloaded_after() { [ "$(reloads)" -gt "$1" ]; }

version r v1
server_config
serve_start log --config server.yaml || { bad "start"; cat log; exit 1; }
fire r && [ "$code" = 200 ] && wait_for last_is r v1 && ok || bad "v1 runs"

# a valid change is picked up
k=$(reloads)
version r v2
wait_for reloaded_after "$k" && ok || bad "the change is reloaded"
grep -q 'event=runbook_reloaded name=r' log && ok || bad "runbook_reloaded is logged"
fire r && [ "$code" = 200 ] && wait_for last_is r v2 && ok || bad "v2 runs after the change"

# an invalid change: diagnostics logged, v2 stays
k=$(reloads)
printf 'apiVersion: runbook/v1\nname: r\nsteps:\n  - name: x\n    bogus: 1\n' >runbooks/r.yaml.tmp
mv runbooks/r.yaml.tmp runbooks/r.yaml
wait_for reloaded_after "$k" && ok || bad "the invalid change is seen"
grep -q 'event=runbook_invalid file=[^ ]*runbooks/r.yaml at=5:5 ' log && ok || { bad "its diagnostic says file and line:col"; grep runbook_invalid log; }
grep -q 'event=runbook_kept name=r' log && ok || bad "runbook_kept is logged"
fire r && [ "$code" = 200 ] && wait_for last_is r v2 && ok || bad "the last good version stays"
[ "$(wc -l <marks/r | tr -d ' ')" = 3 ] && ok || bad "three runs of r"

# a run in flight keeps its version
version g gA gate
k=$(reloads)
wait_for reloaded_after "$k" && ok || bad "g is loaded"
fire g && [ "$code" = 200 ] && ok || bad "g fires"
k=$(reloads)
version g gB
wait_for reloaded_after "$k" && ok || bad "g's change is reloaded"
# the invalid r.yaml, unchanged through these reloads, was said once
[ "$(grep -c 'event=runbook_invalid file=[^ ]*runbooks/r.yaml at=5:5 ' log)" = 1 ] &&
    [ "$(grep -c 'event=runbook_kept name=r' log)" = 1 ] && ok || { bad "an unchanged invalid file is said once, not at every reload"; grep 'name=r\|r.yaml' log; }
touch marks/gate
wait_for last_is g gA && ok || bad "the run in flight kept version gA"
fire g && [ "$code" = 200 ] && wait_for last_is g gB && ok || bad "a new run takes gB"

# every version that started a run is in the journal
[ "$(sqlite3 j.db "SELECT count(DISTINCT sha256) FROM runs WHERE runbook = 'r'")" = 2 ] &&
    [ "$(sqlite3 j.db "SELECT count(*) FROM versions WHERE name = 'r'")" = 2 ] && ok || bad "r's two versions are journaled"
[ "$(sqlite3 j.db "SELECT count(DISTINCT sha256) FROM runs WHERE runbook = 'g'")" = 2 ] && ok || bad "g's two versions are journaled"

# SIGHUP: a file in a subfolder (inotify watches the folder itself)
cat >runbooks/sub/h.yaml <<'YAML'
apiVersion: runbook/v1
name: h
triggers:
  - match: { alertname: h }
steps:
  - name: mark
    run: "echo h1 >> {{ env.MARKS }}/h"
YAML
k=$(reloads)
kill -HUP "$srv_pid"
wait_for reloaded_after "$k" && grep -q 'event=reloaded trigger=sighup' log && ok || bad "SIGHUP reloads"
fire h && [ "$code" = 200 ] && wait_for last_is h h1 && ok || bad "the subfolder's runbook runs after SIGHUP"

# a removed file's runbook is no longer started
k=$(reloads)
rm runbooks/r.yaml
wait_for reloaded_after "$k" && ok || bad "the removal is seen"
grep -q 'event=runbook_removed name=r' log && ok || bad "runbook_removed is logged"
fire r && [ "$code" = 200 ] && grep -q '"unmatched":1' body && ok || bad "r no longer matches"
serve_stop
[ "$srv_rc" = 0 ] && ok || bad "SIGTERM exits 0"
srv_pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
