#!/bin/sh
# `runbook serve` over TLS (docs/server.md, "TLS"): a certificate and key
# from the config (tls: {cert, key}), made here with the openssl CLI (a
# self-signed one for 127.0.0.1): curl with --cacert gets 200, plain HTTP to
# the TLS port gets no answer, curl without the CA refuses the server; a key
# file others can read, a key that is not the certificate's, a missing file
# and a lone cert are refused by serve and by `validate --config` at the
# config's file:line:col. Then a real Alertmanager delivers an alert over
# TLS with the tls_config of docs/webhooks.md.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR.
set -u
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 0; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: no openssl CLI"; exit 0; }
. "$RB_SOURCE_DIR/tests/e2e/lib_serve.sh" # a $tmp to work in, removed at exit

mkdir runbooks marks
export MARKS="$tmp/marks"
node_down_runbook runbooks/node-down.yaml
am_tokens
T=$secret
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem >openssl.out 2>&1 ||
    { echo "FAIL openssl req"; cat openssl.out; exit 1; }
chmod 600 key.pem
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout other.pem -out other-cert.pem >/dev/null 2>&1
chmod 600 other.pem
server_config "tls: { cert: $tmp/cert.pem, key: $tmp/key.pem }"

"$RUNBOOK" validate --config server.yaml >out 2>&1 && ok || { bad "a TLS config validates"; cat out; }
if serve_start log --config server.yaml; then
    grep -q 'event=listening .*scheme=https' log && ok || bad "the listening line says https"
    code=$(curl -s -o body -w '%{http_code}' --max-time 30 --cacert cert.pem "https://127.0.0.1:$srv_port/healthz")
    [ "$code" = 200 ] && [ "$(cat body)" = ok ] && ok || bad "https with the CA: 200 (got $code)"
    code=$(curl -s -o body -w '%{http_code}' --max-time 30 --cacert cert.pem -H "Authorization: Bearer $T" \
        -H 'Content-Type: application/json' --data-binary '{"version":"4","alerts":[]}' \
        "https://127.0.0.1:$srv_port/hooks/alertmanager")
    [ "$code" = 200 ] && ok || bad "a webhook over https: 200 (got $code)"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$srv_port/healthz")
    [ "$code" = 000 ] && ok || bad "plain HTTP to the TLS port is not answered (got $code)"
    curl -s -o /dev/null --max-time 10 "https://127.0.0.1:$srv_port/healthz" && bad "curl trusts an unknown CA" || ok
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 --cacert cert.pem --tls-max 1.1 "https://127.0.0.1:$srv_port/healthz")
    [ "$code" = 000 ] && ok || bad "TLS 1.1 is refused (got $code)"
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 --cacert cert.pem "https://127.0.0.1:$srv_port/healthz")" = 200 ] &&
        ok || bad "the server serves on after the refused handshakes"

    # a real Alertmanager, with the tls_config of docs/webhooks.md
    if command -v prometheus-alertmanager >/dev/null 2>&1; then
        am_config "$srv_port" || bad "am.yml from docs/webhooks.md"
        sed -i "s#http://127.0.0.1:$srv_port/hooks/alertmanager#https://127.0.0.1:$srv_port/hooks/alertmanager#" am.yml
        python3 - am.yml "$tmp/cert.pem" <<'PY'
import sys
p, ca = sys.argv[1], sys.argv[2]
lines = open(p).read().split("\n")
out = []
for line in lines:
    out.append(line)
    if line.strip().startswith("credentials_file:"):
        ind = line[: len(line) - len(line.lstrip())]
        # http_config's level is two less than credentials_file's
        out.append(ind[:-2] + "tls_config:")
        out.append(ind + "ca_file: " + ca)
open(p, "w").write("\n".join(out))
PY
        started=
        for try in 1 2 3 4 5; do
            am_port=$(free_port)
            prometheus-alertmanager --config.file=am.yml --storage.path="$tmp/am-data" \
                --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >am.log 2>&1 &
            am_pid=$!
            if wait_for curl -sf "http://127.0.0.1:$am_port/-/ready" -o /dev/null; then started=1; break; fi
            kill $am_pid 2>/dev/null; wait $am_pid 2>/dev/null
        done
        if [ -n "$started" ]; then
            curl -s -XPOST -H 'Content-Type: application/json' "http://127.0.0.1:$am_port/api/v2/alerts" \
                -d '[{"labels":{"alertname":"NodeDown","instance":"tls-node"}}]' >/dev/null
            wait_for grep -qx tls-node marks/node-down && ok || { bad "Alertmanager's alert over TLS ran the runbook"; cat am.log | tail -5; }
            kill $am_pid 2>/dev/null; wait $am_pid 2>/dev/null
        else
            bad "Alertmanager did not start"; tail -5 am.log
        fi
    fi
    serve_stop
    srv_pid=
else
    bad "the TLS server did not start"; cat log
fi

# ---- refused: at the config's line:col ----
chmod 644 key.pem
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:5:.*error: tls.key: the key file .*key.pem may be read .*chmod 600" out && ok || { bad "a key others can read"; cat out; }
"$RUNBOOK" serve --config server.yaml --listen 127.0.0.1:0 >out 2>&1
[ $? -eq 2 ] && grep -q 'message="tls.key: the key file' out && ok || { bad "serve refuses a key others can read"; cat out; }
chmod 600 key.pem
server_config "tls: { cert: $tmp/cert.pem, key: $tmp/other.pem }"
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:5:.*tls.key: the key .*other.pem is not the certificate's" out && ok || { bad "a key of another certificate"; cat out; }
server_config "tls: { cert: $tmp/nocert.pem, key: $tmp/key.pem }"
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:5:.*tls.cert: cannot read .*nocert.pem" out && ok || { bad "a missing certificate"; cat out; }
server_config "tls: { cert: $tmp/cert.pem }"
"$RUNBOOK" validate --config server.yaml >out 2>&1
[ $? -eq 2 ] && grep -q "^server.yaml:5:1: error: tls: wants both cert and key" out && ok || { bad "a lone certificate"; cat out; }

echo "serve_tls: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
