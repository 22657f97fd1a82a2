#!/bin/sh
# The report writers (`runbook report RUN --format text|md|html|json`) tell
# the same run the same way, and each shows what the journal holds as it
# was (docs/review.md §5):
# - Markdown, rendered by a real Markdown renderer (lowdown, which the build
#   uses for the man pages): a command and an output show exactly as they
#   ran (no &gt;, no \|, a newline stays a newline, a ``` in the output does
#   not end the block), markup in a title or an alert label stays text, and
#   the alert, the parameters and the sub-runbooks are there;
# - the start time in UTC ISO 8601 in Markdown and HTML (Chromium's DOM),
#   one duration in every format: the one the run's end recorded;
# - a foreach step item by item (its command, result and attempts);
# - output holding a NUL byte is not cut there (md, html, json);
# - an approval nobody answered (the run cancelled during the wait);
# - a drill says that nothing ran; a rollback counts undos, item by item;
# - a run started with --alert is journaled with the trigger `alert`, and
#   `show` and the text report print the alert's labels.
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
export RUNBOOK_NO_LIVE=1 NO_COLOR=1
mkdir rb
cat >rb/all.yaml <<'Y'
apiVersion: runbook/v1
name: all
title: "Pipe | title <i>x</i> ` **b** &amp; #1"
triggers:
  - match: { alertname: FormatAlert }
params:
  hosts: { type: list, default: [a, b, c] }
detect:
  - { name: probe, run: [sh, -c, "exit 1"] }
confirm: "!checks.probe.ok"
severity:
  - { level: P1 }
steps:
  - name: counter
    run: [sh, -c, "n=$(cat m.c 2>/dev/null || echo 0); echo $((n+1)) > m.c; echo count=$n | tr -d '\\n' && echo"]
  - name: lines
    run: [sh, -c, "printf 'one\\n```\\n<b>two</b> | \\\\|\\n'", "multi\nline"]
  - name: binary
    run: [sh, -c, "printf 'a\\000b\\033[31mred\\n'"]
  - name: fan
    foreach: "{{ params.hosts }}"
    run: [sh, -c, "[ $0 != c ] || [ -e c.once ] || { touch c.once; exit 1; }; echo host $0", "{{ item }}"]
    retry: { attempts: 2, delay: 10ms }
    undo:
      run: [echo, "undo {{ item }}"]
  - name: sub
    action: runbook
    with: { name: child, params: { who: "{{ alert.labels.instance }}" } }
  - name: gated
    approval: {}
    run: [echo, gated-ran]
    undo:
      run: [echo, undo-gated]
  - name: breaker
    run: [sh, -c, "echo '<script>alert(1)</script>'; exit 3"]
    on_failure: rollback
Y
cat >rb/child.yaml <<'Y'
apiVersion: runbook/v1
name: child
params:
  who: { default: x }
steps:
  - name: hello
    run: [echo, "child hello"]
Y
cat >rb/wait.yaml <<'Y'
apiVersion: runbook/v1
name: waitappr
steps:
  - name: first
    run: [echo, first]
  - name: ask
    approval: { timeout: 5m }
    run: [echo, asked]
Y
cat >alert.json <<'Y'
{"status": "firing", "labels": {"alertname": "FormatAlert", "instance": "<script>x</script> a|b `t` **bold** & \u00fc\nline2"}, "annotations": {"summary": "<img src=x onerror=alert(1)>"}}
Y

# run 1 (and its sub-run 2): the runbook the alert's labels pick, rolled back
"$RUNBOOK" run --alert alert.json --dir rb --db j.db --yes >run.out 2>run.err
[ $? -eq 1 ] && ok || { bad "run 1 exits 1 (rollback)"; tail -5 run.err; }
"$RUNBOOK" show 1 --db j.db --format json >show.json
"$RUNBOOK" report 1 --db j.db --format json >r.json && ok || bad "json report"
"$RUNBOOK" report 1 --db j.db --format md -o r.md && ok || bad "md report"
"$RUNBOOK" report 1 --db j.db --format html -o r.html && ok || bad "html report"
"$RUNBOOK" report 1 --db j.db >r.txt && ok || bad "text report"

# --- finding 20: the trigger, and the alert's labels in show and text ---
[ "$(jq -r .trigger show.json)" = alert ] && ok || bad "an --alert run's trigger: $(jq -r .trigger show.json)"
[ "$("$RUNBOOK" runs --db j.db --trigger alert --format json | jq -c '[.[].id]')" = "[1]" ] && ok ||
    bad "runs --trigger alert: $("$RUNBOOK" runs --db j.db --trigger alert --format json | jq -c '[.[].id]')"
"$RUNBOOK" show 1 --db j.db | grep -q '^  alert    {"alertname":"FormatAlert"' && ok || bad "show prints the alert's labels"
grep -q '^alert     alertname=FormatAlert, instance=<script>x</script> a|b `t` \*\*bold\*\* & ü?line2$' r.txt && ok ||
    bad "text report prints the alert's labels: $(grep '^alert' r.txt)"
grep -q '^params    hosts=\["a","b","c"\]$' r.txt && ok || bad "text report prints the params: $(grep '^params' r.txt)"

# --- finding 17/19: one time and one duration, in every format ---
dur=$(jq '.events[-1].data.duration_ms' show.json)
[ "$(jq .duration_ms r.json)" = "$dur" ] && ok || bad "json duration $(jq .duration_ms r.json), the run's end says $dur"
durs=$(jq -r '.duration_ms | if . < 1000 then "\(.)ms" else empty end' r.json)
[ -n "$durs" ] || durs=$(grep -o 'ended failed after [^,]*' r.txt | sed 's/.* after //')
grep -q "ended failed after $durs," r.txt && ok || bad "text: the duration is $durs: $(sed -n 3p r.txt)"
grep -qx "| Duration | $durs |" r.md && ok || bad "md: the duration is $durs: $(grep Duration r.md)"
iso=$(date -u -d "@$(($(jq .started_at show.json) / 1000))" +%Y-%m-%dT%H:%M:%SZ)
grep -qx "| Started | $iso |" r.md && ok || bad "md: started $iso: $(grep Started r.md)"
grep -q "^started   $iso, lasted $durs$" r.txt && ok || bad "text: started $iso: $(grep ^started r.txt)"

# --- findings 5, 6, 18: Markdown shows what ran, as it ran ---
lowdown -Thtml --out-no-smarty --html-no-skiphtml --html-no-escapehtml r.md >md.html 2>lowdown.err && ok || { bad "lowdown renders the md"; cat lowdown.err; }
python3 - md.html r.json <<'PY' >md.check 2>&1 && ok || { bad "the Markdown, rendered:"; cat md.check; }
import json, sys
from html.parser import HTMLParser
rep = json.load(open(sys.argv[2]))
class P(HTMLParser):
    def __init__(s):
        super().__init__(convert_charrefs=True); s.stack = []; s.pres = []; s.h = {}; s.cells = []; s.els = []
        s.row = None; s.text = ""; s.emph = []
    def handle_starttag(s, tag, attrs):
        if tag == "br":
            if s.row: s.row[-1] += "\n"
            return
        s.stack.append(tag); s.els.append((tag, list(s.stack)))
        if tag in ("strong", "em"): s.emph.append("")
        if tag == "pre": s.pres.append("")
        if tag in ("h1", "h2", "h3", "h4"): s.h.setdefault(tag, []).append("")
        if tag == "tr": s.row = []
        if tag in ("td", "th") and s.row is not None: s.row.append("")
    def handle_startendtag(s, tag, attrs):
        s.els.append((tag, list(s.stack) + [tag]))
        if tag == "br" and s.row: s.row[-1] += "\n"
    def handle_endtag(s, tag):
        while s.stack and s.stack[-1] != tag: s.stack.pop()
        if s.stack: s.stack.pop()
        if tag == "tr" and s.row is not None: s.cells.append(s.row); s.row = None
    def handle_data(s, d):
        s.text += d
        if "strong" in s.stack or "em" in s.stack: s.emph[-1] += d
        if "pre" in s.stack: s.pres[-1] += d
        for h in ("h1", "h2", "h3", "h4"):
            if h in s.stack: s.h[h][-1] += d
        if s.row and ("td" in s.stack or "th" in s.stack): s.row[-1] += d
p = P(); p.feed(open(sys.argv[1]).read())
errs = []
steps = {s["name"]: s for s in rep["steps"]}
pres = [x.rstrip("\n") for x in p.pres]
for name in ("counter", "lines", "breaker"):
    if steps[name]["command"] not in pres: errs.append("the command of %s is not shown as it ran: %r not in %r" % (name, steps[name]["command"], pres))
if "one\n```\n<b>two</b> | \\|" not in pres: errs.append("the output of lines is not shown as it was")
if "<script>alert(1)</script>" not in pres: errs.append("the output of breaker")
if "a?b?[31mred" not in pres: errs.append("finding 11: the output after a NUL byte: %r" % [x for x in pres if x.startswith("a")])
for it in steps["fan"]["items"]:
    if it["command"] not in pres: errs.append("finding 22: fan item %s's command" % it["item"])
title = "Post-Incident Report: run 1, Pipe | title <i>x</i> ` **b** &amp; #1"
if p.h.get("h1") != [title]: errs.append("finding 18: the title is %r, not %r" % (p.h.get("h1"), title))
for tag, stack in p.els:
    if tag in ("i", "b", "script", "img") and "pre" not in stack and "code" not in stack:
        errs.append("markup from the journal became an element: <%s>" % tag)
    if tag == "code" and "h1" in stack: errs.append("a backtick in the title made code")
ours = {"missed", "(to fill in)", "(what went wrong and why)", "(how to prevent a recurrence)", "(none)"}
if [e for e in p.emph if e not in ours]: errs.append("markup from the journal became emphasis: %r" % [e for e in p.emph if e not in ours])
rows = {r[0]: r[1:] for r in p.cells if r}
lab = rows.get("Alert labels")
if not lab or len(lab) != 1 or "instance=<script>x</script> a|b `t` **bold** & \u00fc\nline2" not in lab[0]:
    errs.append("finding 6: the alert labels row %r" % lab)
if not rows.get("Parameters") or 'hosts=["a","b","c"]' not in rows["Parameters"][0]: errs.append("finding 6: parameters %r" % rows.get("Parameters"))
if "Sub-runbooks" not in p.h.get("h2", []) or "run 2: child (step sub): resolved" not in p.text: errs.append("finding 6: the sub-runbooks")
if not [h for h in p.h.get("h4", []) if h.startswith("item 2 (c): ok (2 attempts")]: errs.append("finding 22: item c's heading %r" % p.h.get("h4"))
print("\n".join(errs)); sys.exit(1 if errs else 0)
PY
grep -q '&gt;\|&lt;' r.md && bad "md holds HTML entities: $(grep -n '&gt;\|&lt;' r.md | head -3)" || ok

# --- finding 11: NUL bytes in json; 22: foreach in json and text ---
jq -e '(.steps[] | select(.name == "binary") | .output) == "a\u0000b\u001b[31mred"' r.json >/dev/null && ok ||
    bad "json output after a NUL: $(jq -c '.steps[] | select(.name == "binary") | .output' r.json)"
jq -e '(.steps[] | select(.name == "fan") | [.items[] | [.item, .status, .attempts, .command]]) ==
       [["a", "ok", 1, "$ sh -c '"'"'[ $0 != c ] || [ -e c.once ] || { touch c.once; exit 1; }; echo host $0'"'"' a"],
        ["b", "ok", 1, "$ sh -c '"'"'[ $0 != c ] || [ -e c.once ] || { touch c.once; exit 1; }; echo host $0'"'"' b"],
        ["c", "ok", 2, "$ sh -c '"'"'[ $0 != c ] || [ -e c.once ] || { touch c.once; exit 1; }; echo host $0'"'"' c"]]' r.json >/dev/null &&
    ok || bad "json foreach items: $(jq -c '.steps[] | select(.name == "fan") | .items' r.json)"
grep -q "^    item 2 (c): ok (2 attempts)  \$ sh -c '\[ \$0 != c \]" r.txt && ok || bad "text foreach items: $(grep -A3 '^  fan' r.txt)"
grep -q "exec {}" r.txt r.md && bad "a foreach step shown as 'exec {}'" || ok

# --- finding 21: a rollback counts undos, item by item ---
grep -q "undo of fan item 2 (c): ok" r.txt && ok || bad "the timeline names the item an undo was for"
grep -q "rollback finished: 4 undos ran for 2 steps, 0 failed" r.txt && ok || bad "rollback finished counts undos: $(grep rollback r.txt)"
grep -q "Why: step breaker failed; rollback: 4 undos ran for 2 steps, 0 failed." r.txt && ok || bad "summary: $(sed -n 3p r.txt)"
grep -q "rolling back: 4 undo(s) to run" run.err && ok || bad "live: $(grep -i 'rolling back' run.err)"
"$RUNBOOK" show 1 --db j.db | grep -q "rollback: 4 undo(s) to run" && ok || bad "show: rollback wording"

# --- HTML, rendered by Chromium: start time, items, NUL output ---
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    bad "chromium is not installed (make deps installs it)"
else
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
        --dump-dom "file://$tmp/r.html" >dom.html 2>chromium.log
    [ -s dom.html ] && ok || { bad "chromium rendered nothing"; tail -5 chromium.log; }
    python3 - dom.html "$iso" "$durs" <<'PY' >dom.check 2>&1 && ok || { bad "the rendered DOM:"; cat dom.check; }
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.ids = {}; s.items = {}; s.cur = []; s.rows = {}; s.th = None
    def handle_starttag(s, tag, attrs):
        a = dict(attrs); s.stack.append((tag, a))
        if a.get("id"): s.cur.append(a["id"]); s.ids[a["id"]] = ""
        if tag == "section" and a.get("class") == "item": s.items[a.get("data-item")] = ""
    def handle_endtag(s, tag):
        while s.stack:
            t, a = s.stack.pop()
            if a.get("id") and s.cur and s.cur[-1] == a["id"]: s.cur.pop()
            if t == tag: break
    def handle_data(s, d):
        for i in s.cur: s.ids[i] += d
        for t, a in s.stack:
            if t == "section" and a.get("class") == "item": s.items[a["data-item"]] += d
            if t == "article" and a.get("data-step") == "binary": s.rows["binary"] = s.rows.get("binary", "") + d
p = P(); p.feed(open(sys.argv[1]).read())
errs = []
if p.ids.get("started") != sys.argv[2]: errs.append("finding 17: started %r, want %r" % (p.ids.get("started"), sys.argv[2]))
if sys.argv[3] not in p.ids.get("details", ""): errs.append("duration %s not in the details" % sys.argv[3])
if sorted(p.items) != ["0", "1", "2"] or "echo host $0' c" not in p.items.get("2", "") or "2 attempts" not in p.items.get("2", ""):
    errs.append("finding 22: foreach items %r" % p.items)
if "a?b?[31mred" not in p.rows.get("binary", ""): errs.append("finding 11: output after a NUL: %r" % p.rows.get("binary"))
print("\n".join(errs)); sys.exit(1 if errs else 0)
PY
fi

# --- an older journal: what it did not record is said, not guessed ---
cp j.db old.db
sqlite3 old.db "DROP TRIGGER events_no_update;
  UPDATE events SET data = json_remove(data, '\$.duration_ms') WHERE run_id = 1 AND type = 'run_finished';
  UPDATE runs SET trigger = 'cli' WHERE id = 1;"
"$RUNBOOK" report 1 --db old.db --format json >old.json
jq -e '([.missing[].what] | sort) == ["duration", "trigger"] and .duration_ms == (.ended_at - .started_at)' old.json >/dev/null &&
    ok || bad "an older journal's gaps: $(jq -c '{missing, duration_ms, started_at, ended_at}' old.json)"
"$RUNBOOK" report 1 --db old.db --format md | grep -q '^| Not recorded | duration: the run.s end has no duration' && ok ||
    bad "md says what the journal did not record"
"$RUNBOOK" report 1 --db old.db | grep -A2 '^not in this journal' | grep -q '^  trigger: an alert started this run' && ok ||
    bad "text says what the journal did not record"
jq -e '.missing == []' r.json >/dev/null && ok || bad "a new journal lacks: $(jq -c .missing r.json)"

# --- finding 7: an approval nobody answered (cancelled during the wait) ---
"$RUNBOOK" run rb/wait.yaml --db w.db -q </dev/null >/dev/null 2>&1 &
bg=$!
i=0
until [ "$(sqlite3 w.db "select count(*) from events where type = 'approval_requested'" 2>/dev/null)" = 1 ]; do
    i=$((i + 1))
    [ $i -gt 1200 ] && break
    sleep 0.05
done
kill -INT $bg
wait $bg
bg=
"$RUNBOOK" report 1 --db w.db >w.txt
"$RUNBOOK" report 1 --db w.db --format md >w.md
"$RUNBOOK" report 1 --db w.db --format json >w.json
jq -e '.status == "cancelled" and (.approvals | length) == 1 and .approvals[0].answer == "cancelled" and .approvals[0].by == null
       and .approvals[0].at_ms >= .approvals[0].requested_ms and (.approvals[0].reason | test("cancelled while waiting"))' w.json \
    >/dev/null && ok || bad "json: an approval nobody answered: $(jq -c .approvals w.json)"
grep -q '^  ask: cancelled, nobody answered, at +[0-9.]*m\?s (asked at +[0-9.]*m\?s): cancelled while waiting for approval' w.txt &&
    ok || bad "text: $(grep '^  ask' w.txt)"
grep -q '^- step ask: cancelled, nobody answered, at +' w.md && ! grep -q 'waiting by' w.md && ok || bad "md: $(grep 'step ask' w.md)"

# --- finding 10: a drill says that nothing ran ---
rm -f rb/m.c
"$RUNBOOK" run --alert alert.json --dir rb --db d.db --dry-run --assume breaker=failed >/dev/null 2>d.err
"$RUNBOOK" report 1 --db d.db >d.txt
"$RUNBOOK" report 1 --db d.db --format json >d.json
grep -q "A drill: nothing with side effects ran. 7 steps were simulated (1 taken as failed), 0 were skipped." d.txt && ok ||
    bad "drill summary: $(sed -n 3p d.txt)"
grep -q "ran ok" d.txt && bad "a drill's steps 'ran ok': $(sed -n 3p d.txt)" || ok
grep -q "rollback: 4 undos simulated for 2 steps" d.txt && ok || bad "drill undos: $(sed -n 3p d.txt)"
grep -q "^  breaker: simulated (assumed failed)" d.txt && ok || bad "drill step: $(grep breaker d.txt)"
grep -q "rollback: 4 undos simulated (a drill: nothing undone), 0 ran, 0 failed" d.err && ok || bad "live drill summary: $(grep rollback d.err)"
grep -q "rolled back: 4 undo(s) simulated (a drill), 0 failed" d.err && ok || bad "live drill rollback: $(grep 'rolled back' d.err)"
[ "$(jq -r .trigger d.json)" = "alert (drill)" ] && ok || bad "drill trigger: $(jq -r .trigger d.json)"
echo "report_formats: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
