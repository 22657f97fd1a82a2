#!/bin/sh
# Makes the checked-in seeds of fuzz_journal (tests/fuzz/corpus/journal/):
# runs a few spec runbooks for real, then writes each top-level run with
# its sub-runs in fuzz_journal.c's input format. Not part of any test: run
# by hand when the journal's events change (README.md).
#   RUNBOOK=build/runbook sh tests/fuzz/journal_seeds.sh
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$src/tests/fuzz/corpus/journal
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
export RUNBOOK_NO_LIVE=1 NO_COLOR=1
for spec in steps-retry-until foreach-verify-retry rollback-count approval-yes subrun-outcome \
            notify-escalate on-failure-continue steps-undo when-error until; do
  dir=$tmp/$spec
  mkdir -p "$dir"
  cp "$src/tests/spec/$spec.yaml" "$dir/"
  [ -d "$src/tests/spec/$spec.d" ] && cp -r "$src/tests/spec/$spec.d/." "$dir/"
  (cd "$dir" && timeout 60 "$RUNBOOK" run "$spec.yaml" --db j.db --yes -q >/dev/null 2>&1) || true
  [ -f "$dir/j.db" ] || continue
  for id in $("$RUNBOOK" runs --db "$dir/j.db" --limit 0 --format json |
              jq -r '.[] | select((.trigger | startswith("runbook:")) | not) | .id'); do
    kids=$("$RUNBOOK" runs --db "$dir/j.db" --limit 0 --format json |
           jq -r --arg t "runbook:$id" '.[] | select(.trigger == $t) | .id')
    for r in $id $kids; do
      "$RUNBOOK" show --db "$dir/j.db" "$r" --format json >"$tmp/run-$r.json"
      path=$(jq -r '.events[0].data.path // empty' "$tmp/run-$r.json")
      [ -n "$path" ] && [ -f "$path" ] && cp "$path" "$tmp/src-$r.yaml" || : >"$tmp/src-$r.yaml"
      jq --rawfile src "$tmp/src-$r.yaml" --arg top "$id" '
        {runbook, source: $src, params,
         trigger: (if .trigger == ("runbook:" + $top) then "runbook:1" else .trigger end),
         status, events: [.events[] | [.type, .step, .attempt, .data]]}' "$tmp/run-$r.json"
    done | jq -cs '{runs: .}' >"$out/$spec-$id.json"
  done
done
ls -la "$out"
