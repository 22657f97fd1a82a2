#!/bin/sh
# `runbook report RUN`: the post-incident review in the terminal, Markdown,
# JSON and one self-contained HTML file, which a real headless Chromium
# (Debian's `chromium`) opens: the test reads the DOM it rendered — the
# visual timeline with every step, the sections to fill in — and checks that
# an alert label holding <script> stayed text (no element made of it, the
# page's title not changed by it).
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
export RUNBOOK_NO_LIVE=1 NO_COLOR=1
. "$RB_SOURCE_DIR/tests/e2e/lib_report.sh"
report_demo
"$RUNBOOK" run h.yaml --alert alert.json --db h.db --yes -q >/dev/null 2>&1 && ok || bad "the run"

"$RUNBOOK" report 1 --db h.db >r.txt && ok || bad "text report"
grep -q 'post-incident review: run 1' r.txt && grep -q 'restart: ok' r.txt && ok || bad "text: $(cat r.txt)"
"$RUNBOOK" report 1 --db h.db --format md -o r.md && ok || bad "md report"
for s in '# Post-Incident Report' '## Executive Summary' '## Timeline' '## Root Cause Analysis' '## Action Items' \
         '| Severity | P1 (severity rule 1 matched) |' 'approval granted by --yes' 'step never skipped: when is false'; do
    grep -qF -- "$s" r.md && ok || bad "md has no '$s'"
done
grep -q '<script>' r.md && bad "md carries a raw <script>" || ok
"$RUNBOOK" report 1 --db h.db --format json >r.json && ok || bad "json report"
jq -e '.severity.level == "P1" and .severity.rule == 0 and (.steps | map(.name)) == ["drain", "restart", "gated", "never"]
       and (.approvals[0].by == "--yes") and .chain.ok and .targets.respond_met and (.escalations | length) == 1
       and (.steps[1].attempts == 3)' r.json >/dev/null && ok || bad "json: $(jq -c '{severity, steps: [.steps[].name], approvals, chain, targets}' r.json)"
"$RUNBOOK" report 1 --db h.db --format html -o r.html && ok || bad "html report"
grep -Eq '<[a-zA-Z]+[^<>]* (src|href)=' r.html && bad "html refers to an external asset" || ok
grep -q '<script' r.html && bad "html holds a script element" || ok

# Real Chromium renders the file; the test reads the DOM it built.
if report_dom "file://$tmp/r.html" dom.html; then
    ok
    report_dom_check dom.html >dom.check 2>&1 && ok || { bad "the rendered DOM:"; cat dom.check; }
else
    bad "no DOM of r.html"
fi
"$RUNBOOK" report 9 --db h.db >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "no such run: exit 2"
"$RUNBOOK" report 1 --db h.db --format pdf >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "bad format: exit 2"
echo "report: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
