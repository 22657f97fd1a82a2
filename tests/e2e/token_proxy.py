# A reverse proxy for a browser that cannot send a bearer token: every GET
# goes on to the server with the token added; the answer comes back with
# its status and headers. Prints its port (the OS picks it) on stdout.
import http.server, sys, urllib.request, urllib.error
target, token = sys.argv[1], open(sys.argv[2]).read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        req = urllib.request.Request(target + self.path, headers={"Authorization": "Bearer " + token})
        try:
            res = urllib.request.urlopen(req, timeout=60)
        except urllib.error.HTTPError as e:
            res = e
        body = res.read()
        self.send_response(res.status if hasattr(res, "status") else res.code)
        for k, v in res.headers.items():
            if k.lower() not in ("content-length", "connection", "date", "server", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
