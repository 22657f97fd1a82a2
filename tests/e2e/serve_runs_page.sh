#!/bin/sh
# GET /runs, the page of recent runs (docs/api.md#the-runs-page), and a
# browser's Basic credentials (docs/server.md#tokens-in-a-browser) on a
# real `runbook serve`: newest first, each run linking to its report; the
# filters (status, runbook, severity in any case, drill=no|only) and the
# pages (limit, before); newest first by start time also when a command's
# run beside the server has a larger id; GET / sends the browser to it; served under the
# report's Content-Security-Policy (no script, its own <style> only, forms
# only to itself). Auth: no credentials → 401 with a Basic challenge; Basic
# with any user name and a viewer's or operator's token as the password
# reads pages and the API; a wrong password → 401, a hook token → 403; a
# POST with Basic credentials → 401 (a browser's kept credentials write
# nothing). Real headless Chromium (tests/e2e/browser.py, over the DevTools
# pipe) opens http://USER:TOKEN@…/ as a user would, clicks a run's link and
# gets its report (the DOM checked as serve_report.sh does); a severity
# holding <img onerror> and a filter holding <script> stay text; the page
# renders with JavaScript off; without credentials the browser gets 401.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh"
. "$RB_SOURCE_DIR/tests/e2e/lib_api.sh"
. "$RB_SOURCE_DIR/tests/e2e/lib_report.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
export RUNBOOK_NO_LIVE=1 NO_COLOR=1

api_setup
report_demo
cat >sev.yaml <<'Y'
apiVersion: runbook/v1
name: sev-evil
detect:
  - { name: probe, run: ["false"] }
confirm: "!checks.probe.ok"
severity:
  - { level: "<img src=x onerror=\"document.title='pwned'\">" }
steps:
  - { name: boom, run: ["false"] }
Y
# 1: html-demo, P1, resolved (its alert label is a <script>); 2: sev-evil,
# failed, its level hostile; 3: html-demo again as a drill
"$RUNBOOK" run h.yaml --alert alert.json --db j.db --yes -q >/dev/null 2>&1 && ok || bad "run 1"
"$RUNBOOK" run sev.yaml --db j.db --yes -q >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "run 2 fails"
"$RUNBOOK" run h.yaml --dry-run --db j.db --yes -q >/dev/null 2>&1 && ok || bad "run 3 (drill)"
serve_start srv.log -c server.yaml || { bad "the server did not start"; cat srv.log; exit 1; }
base="http://127.0.0.1:$srv_port"

# G PATH [CURL-ARGS…] → the status; headers in hdr, body in body
G() {
    p=$1
    shift
    curl -s -D hdr -o body -w '%{http_code}' --max-time 60 "$@" "$base$p"
}
header() { sed -n "s/^$1: *//Ip" hdr | tr -d '\r'; }
# the runs the page lists, in its order
listed() { grep -o 'data-run="[0-9]*"' body | tr -dc '0-9\n' | tr '\n' ' '; }

# ---- auth: Basic for what reads ----
[ "$(G /runs)" = 401 ] && ok || bad "no credentials"
header www-authenticate | grep -qx 'Basic realm="runbook"' && ok || bad "no Basic challenge: $(header www-authenticate)"
header www-authenticate | grep -qx 'Bearer realm="runbook"' && ok || bad "no Bearer challenge"
[ "$(G /runs -u "anyone:$RO")" = 200 ] && ok || bad "Basic with a viewer token: $(cat body)"
[ "$(header content-type)" = "text/html; charset=utf-8" ] && ok || bad "type: $(header content-type)"
cp body page.html
[ "$(G /runs -u "x:$OP")" = 200 ] && ok || bad "Basic with an operator token"
[ "$(G /runs -u ":$RO")" = 200 ] && ok || bad "Basic with an empty user name"
[ "$(G /runs -H "Authorization: Bearer $RO")" = 200 ] && ok || bad "Bearer"
[ "$(G /runs -u "anyone:${RO}x")" = 401 ] && ok || bad "a wrong password"
[ "$(G /runs -u "$RO:")" = 401 ] && ok || bad "the token as user name, no password"
[ "$(G /runs -u "anyone:$AM")" = 403 ] && ok || bad "a hook token"
[ "$(G /runs -H 'Authorization: Basic !!!!')" = 401 ] && ok || bad "credentials not base64"
[ "$(G /runs -H "Authorization: Basic $(printf '%s' "$RO" | base64)")" = 401 ] && ok || bad "no colon"
[ "$(G /api/v1/runs/1/report -u "u:$RO")" = 200 ] && grep -q 'Post-Incident Report' body && ok ||
    bad "the report with Basic"
[ "$(G /api/v1/runs -u "u:$RO")" = 200 ] && jq -e '.runs | length == 3' body >/dev/null && ok ||
    bad "the API with Basic"
# a browser's kept credentials must not write: Basic is for GET and HEAD
[ "$(G /api/v1/runs -u "u:$OP" -H 'Content-Type: application/json' -d '{"runbook":"gate"}')" = 401 ] &&
    ok || bad "POST with Basic: $(cat body)"
header www-authenticate | grep -q Basic && bad "a POST's 401 asks for Basic" || ok
jq -e '.error | test("GET and HEAD only")' body >/dev/null && ok || bad "the POST's 401 says why: $(cat body)"
[ "$(G /api/v1/runs/1/cancel -u "u:$OP" -X POST)" = 401 ] && ok || bad "cancel with Basic"

# ---- the page ----
csp=$(header content-security-policy)
[ "$(G /runs -u "u:$RO")" = 200 ] && csp=$(header content-security-policy)
case "$csp" in
"default-src 'none'; style-src 'sha256-"*"form-action 'self'; frame-ancestors 'none'") ok ;;
*) bad "the policy: '$csp'" ;;
esac
echo "$csp" | grep -q 'script-src\|unsafe' && bad "the policy lets something run: $csp" || ok
[ "$(header x-content-type-options)" = nosniff ] && ok || bad "nosniff"
[ "$(listed)" = "3 2 1 " ] && ok || bad "newest first: $(listed)"
grep -q '<script' body && bad "a script element" || ok
grep -q 'href="api/v1/runs/1/report?format=html"' body && ok || bad "no link to run 1's report"
grep -q '&lt;img src=x onerror=' body && ok || bad "the hostile level is not escaped"
grep -c 'class="badge skip drill"' body | grep -qx 1 && ok || bad "the drill is not marked once"
[ "$(G / -u "u:$RO")" = 302 ] && [ "$(header location)" = runs ] && ok || bad "/ → runs: $(header location)"
[ "$(G /nothing -u "u:$RO")" = 404 ] && ok || bad "an unknown page"

# filters and pages
[ "$(G '/runs?status=failed' -u "u:$RO")" = 200 ] && [ "$(listed)" = "2 " ] && ok || bad "status: $(listed)"
[ "$(G '/runs?runbook=html-demo' -u "u:$RO")" = 200 ] && [ "$(listed)" = "3 1 " ] && ok || bad "runbook: $(listed)"
[ "$(G '/runs?severity=p1' -u "u:$RO")" = 200 ] && [ "$(listed)" = "3 1 " ] && ok || bad "severity p1: $(listed)"
[ "$(G '/runs?drill=no' -u "u:$RO")" = 200 ] && [ "$(listed)" = "2 1 " ] && ok || bad "drill=no: $(listed)"
[ "$(G '/runs?drill=only' -u "u:$RO")" = 200 ] && [ "$(listed)" = "3 " ] && ok || bad "drill=only: $(listed)"
[ "$(G '/runs?status=&runbook=&drill=' -u "u:$RO")" = 200 ] && [ "$(listed)" = "3 2 1 " ] && ok ||
    bad "empty fields filter nothing: $(listed)"
[ "$(G '/runs?status=cancelled' -u "u:$RO")" = 200 ] && grep -q 'id="none"' body && ok || bad "no match"
[ "$(G '/runs?trigger=cli+%28drill%29' -u "u:$RO")" = 200 ] && [ "$(listed)" = "3 " ] && ok ||
    bad "a + is a space: $(listed)"
[ "$(G '/api/v1/runs?trigger=cli+(drill)' -u "u:$RO")" = 200 ] && jq -e '[.runs[].id] == [3]' body >/dev/null &&
    ok || bad "a + is a space in the API: $(cat body)"
[ "$(G '/runs?limit=2&runbook=html-demo' -u "u:$RO")" = 200 ] && [ "$(listed)" = "3 1 " ] &&
    ! grep -q 'id="older"' body && ok || bad "a page that holds all: $(listed)"
[ "$(G '/runs?limit=1&drill=no' -u "u:$RO")" = 200 ] && [ "$(listed)" = "2 " ] && ok || bad "limit=1: $(listed)"
older=$(sed -n 's/.*<a id="older" href="\([^"]*\)".*/\1/p' body | sed 's/&amp;/\&/g')
[ "$older" = "runs?drill=no&limit=1&before=2" ] && ok || bad "the older link: $older"
[ "$(G "/$older" -u "u:$RO")" = 200 ] && [ "$(listed)" = "1 " ] && grep -q 'id="newest"' body && ok ||
    bad "the older page: $(listed)"
# a bad value: 400 in words, naming it
for q in "limit=0:limit must be a whole number from 1 to 1000, not '0'" \
    "limit=1001:limit must be" "limit=x:limit must be" "limit=99999999999999999999:limit must be" \
    "before=-1:before must be a run id" "before=abc:before must be" "drill=maybe:drill must be no" \
    "status=bogus:status 'bogus' is no run status"; do
    [ "$(G "/runs?${q%%:*}" -u "u:$RO")" = 400 ] && grep -qF "${q#*:}" body &&
        [ "$(header content-type)" = "text/plain; charset=utf-8" ] && ok || bad "?${q%%:*}: $(cat body)"
done
[ "$(G '/runs?drill=NO' -u "u:$RO")" = 200 ] && [ "$(listed)" = "2 1 " ] && ok || bad "drill=NO: $(listed)"
[ "$(G '/?status=failed' -u "u:$RO")" = 302 ] && [ "$(header location)" = "runs?status=failed" ] && ok ||
    bad "/ keeps the query: $(header location)"

# ---- in a real browser ----
ub="http://viewer:$RO@127.0.0.1:$srv_port"
if python3 "$RB_SOURCE_DIR/tests/e2e/browser.py" "$ub/" list.html \
    'tr[data-run="1"] a.report' report.html >browser.out 2>&1; then
    ok
    read -r st url <list.html.status
    [ "$st" = 200 ] && [ "${url%%\?*}" = "$ub/runs" ] && ok || bad "the browser's list: $st $url"
    read -r st url <report.html.status
    [ "$st" = 200 ] && [ "$url" = "$ub/api/v1/runs/1/report?format=html" ] && ok || bad "the followed link: $st $url"
    report_dom_check report.html >dom.check 2>&1 && ok || { bad "the report's DOM:"; cat dom.check; }
    cat list.html.log report.html.log | grep -i 'refused\|content security policy' &&
        bad "the browser refused something" || ok
else
    bad "the browser: $(tail -5 browser.out)"
fi
# the list's DOM: the rows, the links, nothing hostile became an element
dom_check() {
    python3 - "$@" <<'PY'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.rows = []; s.tags = []; s.title = ""; s.stack = []; s.sev = []; s.inputs = {}
        s.links = []
    def handle_starttag(s, tag, attrs):
        a = dict(attrs); s.tags.append(tag); s.stack.append((tag, a))
        if tag == "tr" and "data-run" in a: s.rows.append(a["data-run"])
        if tag == "input": s.inputs[a.get("name")] = a.get("value")
        if tag == "a" and a.get("class") == "report": s.links.append(a.get("href"))
    def handle_endtag(s, tag):
        while s.stack and s.stack.pop()[0] != tag: pass
    def handle_data(s, d):
        if s.stack and s.stack[-1][0] == "title": s.title += d
        if s.stack and s.stack[-1][1].get("class") == "severity": s.sev.append(d)
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read())
want_rows, want_runbook = sys.argv[2].split(), sys.argv[3] if len(sys.argv) > 3 else ""
bad = []
if p.rows != want_rows: bad.append("rows %s, not %s" % (p.rows, want_rows))
if p.links != ["api/v1/runs/%s/report?format=html" % r for r in want_rows]: bad.append("links %s" % p.links)
if p.title != "Runs \u2014 runbook": bad.append("title %r" % p.title)
for t in ("script", "img", "iframe"):
    if t in p.tags: bad.append("a <%s> element" % t)
if "2" in want_rows and "<img src=x onerror=\"document.title='pwned'\">" not in p.sev: bad.append("severities %s" % p.sev)
if p.inputs.get("runbook", "") != want_runbook: bad.append("runbook field %r" % p.inputs.get("runbook"))
print("\n".join(bad)); sys.exit(1 if bad else 0)
PY
}
if [ -s list.html ]; then
    dom_check list.html "3 2 1" >dom.check 2>&1 && ok || { bad "the list's DOM:"; cat dom.check; }
fi
# the filter form submits (to the server itself, as the policy allows):
# drill=only stays selected, the form sends it again
if python3 "$RB_SOURCE_DIR/tests/e2e/browser.py" "$ub/runs?drill=only" form.html \
    'form.filters button[type="submit"]' form2.html >browser.out 2>&1; then
    read -r st url <form2.html.status
    case "$url" in
    "$ub/runs?"*"drill=only"*) [ "$st" = 200 ] && ok || bad "the form's answer: $st" ;;
    *) bad "the form went to $url" ;;
    esac
    dom_check form2.html "3" >dom.check 2>&1 && ok || { bad "the form's page:"; cat dom.check; }
    grep -i 'refused\|content security policy' form.html.log form2.html.log && bad "the browser refused the form" || ok
else
    bad "the browser, the filter form: $(tail -5 browser.out)"
fi
# without JavaScript the page is the same
if python3 "$RB_SOURCE_DIR/tests/e2e/browser.py" --no-js "$ub/runs" nojs.html >browser.out 2>&1; then
    dom_check nojs.html "3 2 1" >dom.check 2>&1 && ok || { bad "the list without JavaScript:"; cat dom.check; }
else
    bad "the browser, no JavaScript: $(tail -5 browser.out)"
fi
# a filter holding markup is a field's value, never an element
evil='"><script>document.title="pwned"</script>'
q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$evil")
if python3 "$RB_SOURCE_DIR/tests/e2e/browser.py" "$ub/runs?runbook=$q" evil.html >browser.out 2>&1; then
    dom_check evil.html "" "$evil" >dom.check 2>&1 && ok || { bad "a hostile filter:"; cat dom.check; }
else
    bad "the browser, hostile filter: $(tail -5 browser.out)"
fi
# no credentials, or a wrong one: the browser gets 401 and no list
for u in "http://127.0.0.1:$srv_port/runs" "http://viewer:wrong-secret-wrong-secret@127.0.0.1:$srv_port/runs"; do
    if python3 "$RB_SOURCE_DIR/tests/e2e/browser.py" "$u" deny.html >browser.out 2>&1; then
        read -r st url <deny.html.status
        [ "$st" = 401 ] && ! grep -q 'data-run' deny.html && ok || bad "the browser without the token: $st"
    else
        bad "the browser, no credentials: $(tail -5 browser.out)"
    fi
done
# A command's run beside the server takes its id from its own block, past
# the server's (docs/journal.md): the server's next run, started later,
# has a smaller id, and is still listed first — newest first is by time.
"$RUNBOOK" run h.yaml --db j.db --yes -q >/dev/null 2>&1 && ok || bad "a run beside the server"
cli_id=$("$RUNBOOK" runs --db j.db --format json --limit 1 | jq '.[0].id')
# a run that waits for an approval is marked as waiting, not as failed
[ "$(G /api/v1/runs -H "Authorization: Bearer $OP" -H 'Content-Type: application/json' -d '{"runbook":"gate"}')" = 201 ] &&
    ok || bad "start gate: $(cat body)"
gate_id=$(jq .id body)
[ "$gate_id" -lt "$cli_id" ] && ok || bad "the premise: the server's run $gate_id has an id below the command's $cli_id"
wait_for sh -c "curl -s -u u:$RO '$base/runs?status=waiting_approval' | grep -q 'data-run=\"$gate_id\"'" &&
    ok || bad "run $gate_id never waits"
G '/runs?status=waiting_approval' -u "u:$RO" >/dev/null
grep -q '<span class="badge status skip">waiting_approval</span>' body && ok || bad "the waiting run's badge: $(grep -o '<span class="badge status[^<]*' body)"
[ "$(G /runs -u "u:$RO")" = 200 ] && [ "$(listed)" = "$gate_id $cli_id 3 2 1 " ] && ok || bad "newest first by time: $(listed)"
[ "$(G '/runs?limit=1' -u "u:$RO")" = 200 ] && [ "$(listed)" = "$gate_id " ] && ok || bad "limit=1: $(listed)"
[ "$(G "/runs?limit=2&before=$gate_id" -u "u:$RO")" = 200 ] && [ "$(listed)" = "$cli_id 3 " ] && ok ||
    bad "the page after run $gate_id: $(listed)"
[ "$(G "/api/v1/runs?limit=2" -u "u:$RO")" = 200 ] && jq -e --argjson g "$gate_id" --argjson c "$cli_id" \
    '[.runs[].id] == [$g, $c] and .next_before == $c' body >/dev/null && ok || bad "the API's order: $(cat body)"
[ "$("$RUNBOOK" runs --db j.db --format json --limit 2 | jq -c '[.[].id]')" = "[$gate_id,$cli_id]" ] && ok ||
    bad "runbook runs' order"
serve_stop
[ "$srv_rc" = 0 ] && ok || { bad "the server exited $srv_rc"; tail -20 srv.log; }
echo "serve_runs_page: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
