#!/bin/bash
# Runs one spec of tests/spec/: a small runbook whose header comments say
# which rule of docs/semantics.md (or key of docs/authoring.md) it proves
# and what the binary must do. The runbook is copied into a fresh folder
# (with its NAME.d/ folder of helper files, if any) and run from another
# folder, so relative paths must resolve against the runbook's own folder.
#
# Directives, one per comment line, in any order (docs: tests/spec/README.md):
#   # rule: R-x [R-y…]        the rules it proves (spec.coverage checks them)
#   # key: steps.retry …      the authoring keys it proves
#   # args: ARGS              extra arguments for `runbook run` (shell words)
#   # cmd: CMD                instead of `runbook run`: a shell command, with
#                             $RUNBOOK, $SPEC (the copied file), $DIR, $DB
#   # exit: N                 the exit code the command must give
#   # status: S               the run's status in `show --format json`
#   # present: F… / # absent: F…   marker files in $DIR after the run
#   # json: JQ                a jq filter over `show --format json` that
#                             must print true (the run's fields: .status …, its events: .events)
#   # stderr: TEXT / # stdout: TEXT    text the command must print
#   # no-stderr: TEXT         text the command must not print
#   # file: NAME TEXT         the file $DIR/NAME must contain TEXT
# Env: RUNBOOK (the binary).
set -u
spec=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
name=$(basename "$spec" .yaml)
# A spec that says nothing proves nothing: it must at least give the exit code.
grep -q '^# exit: ' "$spec" 2>/dev/null || { echo "FAIL $name: no '# exit:' line in $1"; exit 1; }
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
DIR=$top/book
mkdir -p "$DIR" "$top/elsewhere"
cp "$spec" "$DIR/$name.yaml"
[ -d "${spec%.yaml}.d" ] && cp -R "${spec%.yaml}.d/." "$DIR/"
SPEC=$DIR/$name.yaml
DB=$top/journal.db
export RUNBOOK SPEC DIR DB RUNBOOK_NO_LIVE=1 NO_COLOR=1
cd "$top/elsewhere" || exit 1

directive() { sed -n "s/^# $1: //p" "$spec"; }
fail=0
bad() { echo "FAIL $name: $*"; fail=1; }

cmd=$(directive cmd)
if [ -n "$cmd" ]; then
    bash -c "$cmd" >"$top/out" 2>"$top/err" </dev/null
else
    eval "set -- $(directive args)"
    "$RUNBOOK" run --db "$DB" "$@" "$SPEC" >"$top/out" 2>"$top/err" </dev/null
fi
rc=$?

want=$(directive exit)
[ -n "$want" ] && [ "$rc" != "$want" ] && bad "exit $rc, want $want"

# The newest run of the journal, as show --format json gives it.
show() {
    [ -f "$DB" ] || return 1
    id=$("$RUNBOOK" runs --db "$DB" --format json 2>/dev/null | jq -r '.[0].id // .runs[0].id // empty')
    [ -n "$id" ] && "$RUNBOOK" show --db "$DB" --format json "$id" >"$top/show.json" 2>/dev/null
}
if [ -n "$(directive status)$(directive json)" ]; then
    show || bad "no run in the journal to show"
fi
st=$(directive status)
if [ -n "$st" ] && [ -s "$top/show.json" ]; then
    got=$(jq -r '.status' "$top/show.json")
    [ "$got" = "$st" ] || bad "status $got, want $st"
fi
for f in $(directive present); do
    [ -e "$DIR/$f" ] || bad "marker $f is absent"
done
for f in $(directive absent); do
    [ -e "$DIR/$f" ] && bad "marker $f is present"
done
while IFS= read -r q; do
    [ -z "$q" ] && continue
    got=$(jq -r "$q" "$top/show.json" 2>&1)
    [ "$got" = true ] || bad "json: $q gave $got"
done <<<"$(directive json)"
while IFS= read -r t; do
    [ -n "$t" ] && { grep -qF -- "$t" "$top/err" || bad "stderr has no \"$t\""; }
done <<<"$(directive stderr)"
while IFS= read -r t; do
    [ -n "$t" ] && grep -qF -- "$t" "$top/err" && bad "stderr has \"$t\""
done <<<"$(directive no-stderr)"
while IFS= read -r t; do
    [ -n "$t" ] && { grep -qF -- "$t" "$top/out" || bad "stdout has no \"$t\""; }
done <<<"$(directive stdout)"
while IFS= read -r l; do
    [ -z "$l" ] && continue
    f=${l%% *} t=${l#* }
    grep -qF -- "$t" "$DIR/$f" 2>/dev/null || bad "$f has no \"$t\""
done <<<"$(directive file)"

# Every finished top-level run replays identically from the journal
# (docs/review.md), and the replay runs nothing: the runbook's folder, where
# its markers go, is the same before and after.
if [ -f "$DB" ] && [ -z "$(directive no-replay)" ]; then
    before=$(cd "$DIR" && find . -print | sort | md5sum)
    for id in $("$RUNBOOK" runs --db "$DB" --limit 0 --format json 2>/dev/null |
                jq -r '.[] | select((.trigger | startswith("runbook:")) | not)
                           | select(.status as $s | ["running", "interrupted", "waiting_approval"] | index($s) | not) | .id'); do
        "$RUNBOOK" replay --db "$DB" "$id" >"$top/replay" 2>&1 ||
            { bad "replay of run $id is not identical"; sed 's/^/  | /' "$top/replay" | head -20; }
    done
    [ "$(cd "$DIR" && find . -print | sort | md5sum)" = "$before" ] || bad "the replay changed the runbook's folder"
fi

if [ "$fail" != 0 ]; then
    echo "--- stderr"; sed 's/^/  | /' "$top/err" | head -40
    echo "--- stdout"; sed 's/^/  | /' "$top/out" | head -20
    [ -s "$top/show.json" ] && { echo "--- show"; jq -c '.events[] | [.type, .step, .data]' "$top/show.json" 2>/dev/null | head -40; }
    exit 1
fi
echo "ok $name"
