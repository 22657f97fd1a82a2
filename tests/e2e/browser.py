#!/usr/bin/env python3
"""browser.py — drives real headless Chromium over the DevTools protocol on
a pipe (--remote-debugging-pipe: no port, no websocket library) as a user
would: opens URL, writes the DOM the browser built, then clicks the link a
CSS selector names (a real mouse click on its box, so the browser follows
it with its own credentials) and writes the DOM of the page it led to.

usage: browser.py [--no-js] URL OUT [SELECTOR OUT2]
Each OUT gets the DOM; OUT.status the HTTP status and URL of the page's
document as the browser received it; OUT.log the console messages (a
Content-Security-Policy refusal shows there). Exit 0, or 1 with why.
"""
import json, os, select, subprocess, sys, shutil, tempfile, time

def main():
    args = sys.argv[1:]
    nojs = False
    if args and args[0] == "--no-js":
        nojs = True
        args = args[1:]
    if len(args) not in (2, 4):
        sys.exit(__doc__)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("chromium is not installed (make deps-test installs it)")
    prof = tempfile.mkdtemp(prefix="rb-chromium-", dir=os.getcwd())
    to_r, to_w = os.pipe()      # we write, chromium reads on its fd 3
    from_r, from_w = os.pipe()  # chromium writes on its fd 4, we read
    def child():
        a, b = os.dup(to_r), os.dup(from_w)  # never 3 or 4: dup2 then clears close-on-exec
        os.dup2(a, 3)
        os.dup2(b, 4)
    p = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--remote-debugging-pipe", "--user-data-dir=" + prof,
                          "--no-first-run", "about:blank"],
                         preexec_fn=child, close_fds=False,
                         stdout=subprocess.DEVNULL, stderr=open(args[1] + ".chromium.log", "w"))
    os.close(to_r)
    os.close(from_w)
    buf = b""
    nid = [0]
    events = []
    deadline = time.monotonic() + 120

    def read_msg():
        nonlocal buf
        while b"\0" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([from_r], [], [], left)[0]:
                raise SystemExit("chromium did not answer in time")
            chunk = os.read(from_r, 65536)
            if not chunk:
                raise SystemExit("chromium closed its pipe")
            buf += chunk
        m, buf = buf.split(b"\0", 1)
        return json.loads(m)

    def send(method, params=None, session=None):
        nid[0] += 1
        msg = {"id": nid[0], "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(to_w, json.dumps(msg).encode() + b"\0")
        while True:
            m = read_msg()
            if m.get("id") == nid[0]:
                if "error" in m:
                    raise SystemExit("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            events.append(m)

    def wait_event(name, session):
        while True:
            for i, e in enumerate(events):
                if e.get("method") == name and e.get("sessionId") == session:
                    del events[i]
                    return e["params"]
            events.append(read_msg())

    try:
        t = send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = send("Target.attachToTarget", {"targetId": t, "flatten": True})["sessionId"]
        for m in ("Page.enable", "Network.enable", "Runtime.enable", "Log.enable"):
            send(m, None, s)
        if nojs:
            send("Emulation.setScriptExecutionDisabled", {"value": True}, s)

        def settle(out):
            """Waits for the page's load, writes its DOM, status and console."""
            wait_event("Page.loadEventFired", s)
            doc = send("DOM.getDocument", {"depth": -1}, s)["root"]
            html = send("DOM.getOuterHTML", {"nodeId": doc["nodeId"]}, s)["outerHTML"]
            with open(out, "w", encoding="utf-8") as f:
                f.write(html)
            status, url = None, None
            logs = []
            for e in events:
                m, pr = e.get("method"), e.get("params", {})
                if m == "Network.responseReceived" and pr.get("type") == "Document":
                    status, url = pr["response"]["status"], pr["response"]["url"]
                elif m == "Runtime.consoleAPICalled":
                    logs.append("console: " + " ".join(str(a.get("value")) for a in pr.get("args", [])))
                elif m == "Log.entryAdded":
                    logs.append("%s: %s" % (pr["entry"]["level"], pr["entry"]["text"]))
            events.clear()
            with open(out + ".status", "w") as f:
                f.write("%s %s\n" % (status, url))
            with open(out + ".log", "w") as f:
                f.write("".join(l + "\n" for l in logs))
            return doc

        send("Page.navigate", {"url": args[0]}, s)
        doc = settle(args[1])
        if len(args) == 4:
            node = send("DOM.querySelector", {"nodeId": doc["nodeId"], "selector": args[2]}, s)["nodeId"]
            if not node:
                raise SystemExit("no element matches %s" % args[2])
            send("DOM.scrollIntoViewIfNeeded", {"nodeId": node}, s)
            q = send("DOM.getBoxModel", {"nodeId": node}, s)["model"]["content"]
            x, y = (q[0] + q[4]) / 2, (q[1] + q[5]) / 2
            for kind in ("mousePressed", "mouseReleased"):
                send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                  "clickCount": 1}, s)
            settle(args[3])
        send("Browser.close")
    finally:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(prof, ignore_errors=True)

main()
