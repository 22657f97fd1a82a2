#!/bin/sh
# GET /api/v1/runs/ID/report (docs/api.md, docs/review.md) on a real
# `runbook serve`: html by default with a Content-Security-Policy that
# allows no script and only the page's own <style> (by its hash), md, text
# and json; 404 for an unknown run, 400 for a bad format, the read role
# (viewer, operator; a hook token is refused). Real headless Chromium loads
# the page from the server (through token_proxy.py, which adds the bearer
# token a browser cannot send): the DOM shows the timeline and every step,
# an alert label holding <script> stays text, and the browser refused
# nothing under the policy. `runbook report RUN --server URL` writes what
# `runbook report RUN --db FILE` writes.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh"
. "$RB_SOURCE_DIR/tests/e2e/lib_api.sh"
. "$RB_SOURCE_DIR/tests/e2e/lib_report.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
export RUNBOOK_NO_LIVE=1 NO_COLOR=1
px_pid=
trap '[ -n "$srv_pid" ] && kill -9 $srv_pid 2>/dev/null; [ -n "$px_pid" ] && kill $px_pid 2>/dev/null; rm -rf "$tmp"' EXIT

api_setup
report_demo
# the run the report is of: run 1 of the journal the server then serves
"$RUNBOOK" run h.yaml --alert alert.json --db j.db --yes -q >/dev/null 2>&1 && ok || bad "the run"
serve_start srv.log -c server.yaml || { bad "the server did not start"; cat srv.log; exit 1; }

# headers: H FORMAT-QUERY TOKEN → the status, headers in hdr, body in body
H() {
    curl -s -D hdr -o body -w '%{http_code}' --max-time 60 ${2:+-H "Authorization: Bearer $2"} \
        "http://127.0.0.1:$srv_port/api/v1/runs/$1"
}
header() { sed -n "s/^$1: *//Ip" hdr | tr -d '\r'; }

[ "$(H 1/report "$RO")" = 200 ] && ok || bad "html report: $(cat body)"
[ "$(header content-type)" = "text/html; charset=utf-8" ] && ok || bad "html type: $(header content-type)"
csp=$(header content-security-policy)
case "$csp" in
"default-src 'none'; style-src 'sha256-"*) ok ;;
*) bad "the policy: '$csp'" ;;
esac
echo "$csp" | grep -q 'script-src\|unsafe' && bad "the policy lets something run: $csp" || ok
[ "$(header x-content-type-options)" = nosniff ] && ok || bad "nosniff"
cp body page.html
# the hash in the policy is the page's own <style>
python3 - page.html "$csp" <<'PY' && ok || bad "the style hash does not match the page"
import base64, hashlib, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
styles = re.findall(r"<style>(.*?)</style>", page, re.S)
want = "'sha256-%s'" % base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
sys.exit(0 if len(styles) == 1 and want in sys.argv[2] else 1)
PY
grep -q '<script' page.html && bad "the page holds a script element" || ok
[ "$(H "1/report?format=html" "$OP")" = 200 ] && cmp -s body page.html && ok || bad "format=html, operator: $(head -c 200 body)"

[ "$(H '1/report?format=md' "$RO")" = 200 ] && [ "$(header content-type)" = "text/markdown; charset=utf-8" ] &&
    grep -q '^# Post-Incident Report' body && ok || bad "md: $(header content-type) $(head -c 100 body)"
[ "$(H '1/report?format=text' "$RO")" = 200 ] && [ "$(header content-type)" = "text/plain; charset=utf-8" ] &&
    grep -q 'post-incident review: run 1' body && ok || bad "text"
[ "$(H '1/report?format=json' "$RO")" = 200 ] && [ "$(header content-type)" = "application/json" ] &&
    jq -e '.run == 1 and (.steps | map(.name)) == ["drain", "restart", "gated", "never"]' body >/dev/null &&
    ok || bad "json: $(head -c 300 body)"
[ -z "$(header content-security-policy)" ] && ok || bad "a policy on json"

[ "$(H '1/report?format=pdf' "$RO")" = 400 ] && jq -e '.error | test("html, md, text or json")' body >/dev/null &&
    ok || bad "bad format: $(cat body)"
[ "$(H '1/report?format=' "$RO")" = 400 ] && ok || bad "empty format"
[ "$(H 99/report "$RO")" = 404 ] && jq -e '.error == "no such run"' body >/dev/null && ok || bad "unknown run: $(cat body)"
[ "$(H 0/report "$RO")" = 404 ] && ok || bad "run 0"
[ "$(H 1/report)" = 401 ] && ok || bad "no token"
[ "$(H 1/report "$AM")" = 403 ] && ok || bad "a hook token"
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" "http://127.0.0.1:$srv_port/api/v1/runs/1/report")
[ "$st" = 404 ] && ok || bad "POST report: $st"

# Chromium loads the page from the server, with the server's headers.
printf '%s\n' "$RO" >ro.token
python3 "$RB_SOURCE_DIR/tests/e2e/token_proxy.py" "http://127.0.0.1:$srv_port" ro.token >px.port 2>px.log &
px_pid=$!
wait_for test -s px.port || bad "the proxy did not start: $(cat px.log)"
px=$(cat px.port)
if report_dom "http://127.0.0.1:$px/api/v1/runs/1/report" dom.html; then
    ok
    report_dom_check dom.html >dom.check 2>&1 && ok || { bad "the rendered DOM:"; cat dom.check; }
    # a policy that refused the page's style (or anything) says so in the console
    grep -i 'refused\|content security policy' dom.html.log && bad "the browser refused something" || ok
else
    bad "no DOM from the server"
fi

# the command line against the server writes what it writes from the journal
export RUNBOOK_TOKEN="$RO"
for f in text md html json; do
    "$RUNBOOK" report 1 --server "http://127.0.0.1:$srv_port" --format $f -o srv.$f && ok || bad "report --server --format $f"
    "$RUNBOOK" report 1 --db j.db --format $f -o db.$f
    cmp -s srv.$f db.$f && ok || bad "--server and --db differ ($f): $(diff srv.$f db.$f | head -5)"
done
"$RUNBOOK" report 99 --server "http://127.0.0.1:$srv_port" >out 2>err
[ $? -eq 2 ] && grep -q 'no such run' err && ok || bad "report --server of no run: $(cat err)"
RUNBOOK_TOKEN=wrongwrongwrongwrong "$RUNBOOK" report 1 --server "http://127.0.0.1:$srv_port" >out 2>err
[ $? -eq 2 ] && grep -q '401' err && ok || bad "a wrong token: $(cat err)"
serve_stop
"$RUNBOOK" report 1 --server "http://127.0.0.1:$srv_port" >out 2>err
[ $? -eq 6 ] && ok || bad "no server: exit 6: $(cat err)"
echo "serve_report: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
