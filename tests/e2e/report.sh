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
cat >h.yaml <<'Y'
apiVersion: runbook/v1
name: html-demo
title: Node <b>crash</b> & recovery
params:
  instance: { default: "{{ alert.labels.instance }}" }
detect:
  - { name: probe, run: [sh, -c, "echo '<script>document.title=\"pwned\"</script>'; exit 1"] }
confirm: "!checks.probe.ok"
severity:
  - { level: P1 }
escalate:
  - { after: 30ms, action: log, with: { message: paged } }
steps:
  - name: drain
    run: [sh, -c, "echo 'draining <img src=x onerror=alert(1)>'"]
  - name: restart
    run: [sh, -c, "echo x >> c; [ $(wc -l < c) -ge 3 ]"]
    retry: { attempts: 4, delay: 20ms }
  - name: gated
    approval: { timeout: 1h }
    run: [sleep, "0.1"]
  - name: never
    when: "false"
    run: ["true"]
Y
cat >alert.json <<'Y'
{"labels": {"alertname": "NodeDown", "instance": "<script>document.title='pwned'</script>"}}
Y
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
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    bad "chromium is not installed (make deps installs it)"
else
    # its own profile: many tests may run browsers at once
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
        --dump-dom "file://$tmp/r.html" >dom.html 2>chromium.log
    [ -s dom.html ] && ok || { bad "chromium rendered nothing"; tail -5 chromium.log; }
    # the DOM as Chromium built it, read with a real HTML parser
    python3 - dom.html <<'PY' >dom.check 2>&1 && ok || { bad "the rendered DOM:"; cat dom.check; }
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.tags = []; s.text = {}; s.rows = []; s.title = ""; s.cur = None
    def handle_starttag(s, tag, attrs):
        a = dict(attrs); s.tags.append(tag)
        if tag == "g" and a.get("class") == "row": s.rows.append(a.get("data-step"))
        if tag == "section": s.cur = a.get("id")
        s.stack.append(tag)
    def handle_endtag(s, tag):
        if s.stack and s.stack[-1] == tag: s.stack.pop()
    def handle_data(s, d):
        if s.stack and s.stack[-1] == "title" and "svg" not in s.stack: s.title += d
        s.text[s.cur] = s.text.get(s.cur, "") + d
p = P(); p.feed(open(sys.argv[1]).read())
errs = []
if p.rows != ["drain", "restart", "gated", "never"]: errs.append("timeline rows %r" % p.rows)
if "svg" not in p.tags or p.tags.count("rect") < 5: errs.append("no SVG timeline with bars")
if "script" in p.tags or "img" in p.tags or "b" in p.tags: errs.append("markup from the journal became elements")
if "pwned" in p.title or not p.title.startswith("Post-incident review: run 1"): errs.append("title %r" % p.title)
if "<script>document.title='pwned'</script>" not in p.text.get("details", ""): errs.append("the alert label is not shown as text")
if "<img src=x onerror=alert(1)>" not in p.text.get("steps", ""): errs.append("the output is not shown as text")
for sec in ["summary", "timeline", "steps", "approvals", "root-cause", "went-well", "went-badly", "action-items"]:
    if sec not in p.text: errs.append("no section " + sec)
for step in ["drain", "restart", "gated", "never"]:
    if step not in p.text.get("steps", ""): errs.append("step %s missing" % step)
if "granted" not in p.text.get("approvals", "") or "--yes" not in p.text.get("approvals", ""): errs.append("approval")
print("\n".join(errs)); sys.exit(1 if errs else 0)
PY
fi
"$RUNBOOK" report 9 --db h.db >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "no such run: exit 2"
"$RUNBOOK" report 1 --db h.db --format pdf >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "bad format: exit 2"
echo "report: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
