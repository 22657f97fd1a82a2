# lib_report.sh — what the report e2e scripts share (sourced, not a test:
# ctest skips tests/e2e/lib*.sh): the html-demo runbook and its hostile
# alert, and the check of a report page as real headless Chromium renders
# it. report.sh opens the file `runbook report` wrote; serve_report.sh the
# page `runbook serve` answers. Needs RUNBOOK, python3; ok and bad from the
# sourcing script.

# report_demo: ./h.yaml (html-demo: a failed probe confirms, P1, an
# escalation after 30ms, four steps — drain prints an <img onerror>,
# restart succeeds at its third attempt, gated waits for an approval, never
# is skipped) and ./alert.json, whose instance label is a <script>.
report_demo() {
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
}

# report_dom URL DOM: real headless Chromium (Debian's `chromium`) opens
# URL (file:// or http://) and writes the DOM it built to DOM, its log
# (console messages included: a Content-Security-Policy refusal shows
# there) to DOM.log. 1 when no browser is installed or it rendered nothing.
report_dom() {
    browser=$(command -v chromium || command -v chromium-browser || true)
    if [ -z "$browser" ]; then
        echo "chromium is not installed (make deps installs it)"
        return 1
    fi
    # its own profile: many tests may run browsers at once
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$(pwd)/profile.$$" \
        --enable-logging=stderr --v=0 --dump-dom "$1" >"$2" 2>"$2.log"
    [ -s "$2" ] || { echo "chromium rendered nothing:"; tail -5 "$2.log"; return 1; }
}

# report_dom_check DOM: the DOM of html-demo's run 1 report, read with a
# real HTML parser: the timeline's rows are the four steps, an SVG with
# bars, every section and step, the approval, and nothing of the journal
# became an element (the alert label and the output stay text, the title
# is the page's). Prints what is wrong; 1 when anything is.
report_dom_check() {
    python3 - "$1" <<'PY'
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
}
