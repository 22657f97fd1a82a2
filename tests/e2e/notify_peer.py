#!/usr/bin/env python3
"""notify_peer.py — the far ends of notify's channels, for tests/e2e/notify*.sh.

serve DIR FIFO: on 127.0.0.1, ports chosen by the OS,
  - an HTTP receiver (http.server) that appends every request to
    DIR/requests.jsonl ({"path", "headers", "body"}) and answers by path:
      /flaky/...  500, 500, then 202                /busy/...  429, then 202
      (counted per path and body: per notification, whose tries send the
      same body)
      /down/...   500 always                       /hang/...  never answers
      /pd/...     202 and PagerDuty's JSON          /big/...   200 and a 1 MiB body
      /slowpd/... the first request never answers, the next ones as /pd/
      (a receiver slow enough to kill the engine while it waits)
      anything else: 200 "ok"
  - an SMTP server (aiosmtpd) that requires STARTTLS (DIR/cert.pem,
    DIR/key.pem) and AUTH (user "alerts", password from $SMTP_PASSWORD), and
    writes each message to DIR/mail-N.eml with DIR/mail-N.json (envelope,
    whether it came over TLS, the login). RCPT to tempfail@... answers 451
    the first time.
  A second SMTP server speaks TLS from the first byte (smtps://), with the
  same handler and AUTH. Writes "HTTP_PORT SMTP_PORT SMTPS_PORT" to FIFO
  once all listen, then serves until killed (SIGTERM).

mail FILE.eml: prints the message as JSON: headers, and each MIME part's
  content type and decoded text.
"""
import asyncio
import email
import email.policy
import http.server
import json
import os
import ssl
import sys
import threading


def serve(d, fifo):
    lock = threading.Lock()
    counts = {}
    hang = threading.Event()
    slow_seen = set()  # /slowpd/ paths asked once already

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace")
            with lock:
                with open(os.path.join(d, "requests.jsonl"), "a") as f:
                    f.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                        "body": body}) + "\n")
                key = (self.path, body)  # one notification's tries send the same body
                c = counts[key] = counts.get(key, 0) + 1
                kind = self.path.split("/")[1]
                first_slow = kind == "slowpd" and self.path not in slow_seen
                slow_seen.add(self.path)
            if kind == "hang" or first_slow:
                hang.wait(120)
                return
            if kind == "slowpd":
                kind = "pd"
            if kind == "flaky":
                code = 500 if c <= 2 else 202
            elif kind == "busy":
                code = 429 if c <= 1 else 202
            elif kind == "down":
                code = 500
            else:
                code = 202 if kind == "pd" else 200
            if kind == "pd" and code == 202:
                dk = json.loads(body).get("dedup_key", "made-by-pd")
                out = json.dumps({"status": "success", "message": "Event processed",
                                  "dedup_key": dk}).encode()
                ctype = "application/json"
            elif kind == "big":
                out, ctype = b"x" * (1024 * 1024), "text/plain"
            else:
                out, ctype = (b"ok", "text/plain") if code < 300 else (b"try later", "text/plain")
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    httpd.daemon_threads = True

    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    nmail = [0]
    tempfailed = set()

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("tempfail@") and address not in tempfailed:
                tempfailed.add(address)
                return "451 4.3.0 try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            nmail[0] += 1
            base = os.path.join(d, "mail-%d" % nmail[0])
            with open(base + ".eml", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            with open(base + ".json", "w") as f:
                json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                           "tls": session.ssl is not None or
                           server.transport.get_extra_info("ssl_object") is not None,
                           "authenticated": bool(session.authenticated)}, f)
            return "250 OK queued"

    def auth(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.login == b"alerts" and \
            data.password == os.environ.get("SMTP_PASSWORD", "").encode()
        return AuthResult(success=ok, handled=False)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    smtp_port = [0, 0]

    def run_smtp():
        asyncio.set_event_loop(loop)

        async def start():
            srv = await loop.create_server(
                lambda: SMTP(Handler(), hostname="mail.test", tls_context=ctx,
                             require_starttls=True, authenticator=auth, auth_require_tls=True),
                host="127.0.0.1", port=0)
            smtp_port[0] = srv.sockets[0].getsockname()[1]
            # smtps: TLS from the first byte, no STARTTLS
            tls = await loop.create_server(
                lambda: SMTP(Handler(), hostname="mail.test", authenticator=auth,
                             auth_require_tls=False),
                host="127.0.0.1", port=0, ssl=ctx)
            smtp_port[1] = tls.sockets[0].getsockname()[1]
            started.set()
        loop.run_until_complete(start())
        loop.run_forever()

    threading.Thread(target=run_smtp, daemon=True).start()
    if not started.wait(60):
        sys.exit("smtp server did not start")
    with open(fifo, "w") as f:
        f.write("%d %d %d\n" % (httpd.server_address[1], smtp_port[0], smtp_port[1]))
    httpd.serve_forever()


def mail(path):
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    parts = []
    for p in m.walk():
        if p.is_multipart():
            parts.append({"type": p.get_content_type(), "multipart": True})
        else:
            parts.append({"type": p.get_content_type(), "charset": p.get_content_charset(),
                          "cte": p.get("Content-Transfer-Encoding"), "text": p.get_content()})
    print(json.dumps({"headers": {k: str(v) for k, v in m.items()},
                      "raw_headers": [k for k in m.keys()], "parts": parts}))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "mail":
        mail(sys.argv[2])
    else:
        sys.exit("usage: notify_peer.py serve DIR FIFO | mail FILE")
