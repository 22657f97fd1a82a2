#!/usr/bin/env python3
"""world.py — a small simulated chain deployment that the runbooks' tests
break and the runbooks repair. Everything listens on 127.0.0.1 on ports the
OS chose; one daemon process holds it all, and `down` (or the test's trap)
stops it.

It owns: the nodes (JSON-RPC and health endpoints, block heights that
advance, real SQLite chain databases and peer files on disk), a stand-in
service manager (start/stop/restart/status/is-active per unit), a database
service (a TCP port and a real SQLite data file), a load balancer (which
node the public RPC endpoint points at), a backup store (a folder of real
tar.gz archives) and a webhook sink that keeps every message it is sent.
It must never touch anything outside its own folder.

usage: world.py up DIR [--nodes N]      start the daemon; prints DIR/world.env
       world.py down DIR                stop it (idempotent)
       world.py break DIR FAULT [UNIT]  break it the way a scenario says
       world.py state DIR               everything as JSON, for assertions
       world.py tool DIR TOOL ARGS...   the stand-in tools in DIR/bin: systemctl,
                                        docker, docker-compose, iptables, kubectl
       world.py serve DIR --nodes N     the daemon itself (used by `up`)

Faults (see FAULTS below and tests/world/README.md): crash, crashloop, hang,
stall, stall-all, peers-lost, behind, fork, corrupt, corrupt-header, leak,
disk-full, cpu, io, db-down, db-corrupt, ddos, breach, key-compromise,
lb-primary-down, all-down.
"""
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

BLOCK_INTERVAL = 0.2        # seconds per block of the simulated network
GENESIS_HEIGHT = 1000
NORMAL_PEERS = 12
LEAK_RATE = 1 << 24         # bytes per second a leaking node grows (16 MiB/s: 10 GiB after 96 s, slow enough for a loaded machine)
LIFETIME = 900              # the daemon exits on its own after this (a bound)

FAULTS = {
    "crash": "the node process died (RPC refuses connections, unit failed)",
    "crashloop": "the node died and its next two starts fail",
    "hang": "the process is up but RPC never answers",
    "bad-release": "the node's next start fails once (a release that does not come up)",
    "stall": "this validator's consensus is stuck (height and view frozen)",
    "stall-all": "every validator's consensus is stuck until a view change",
    "peers-lost": "zero peers: the peer file is poisoned (reset it, restart)",
    "behind": "the node lags the network by 150 blocks until restarted",
    "fork": "the node follows a fork: same heights, different hashes",
    "corrupt": "a page of chain.db is overwritten; the node dies, repairable",
    "corrupt-header": "chain.db is not a database any more; repair fails",
    "leak": "memory at 8.5 GiB and growing 16 MiB/s (OOM kill at 10 GiB or MemoryMax)",
    "oom-kill": "the kernel OOM-killed the node (its memory leaks)",
    "disk-full": "the node's volume is filled with old rotated logs",
    "cpu": "CPU bound: 97% CPU and a growing lag until max_peers is lowered",
    "io": "I/O bound: 60% iowait while chain.db is fragmented (until compacted)",
    "service-down": "the API gateway stopped (a restart fixes it)",
    "service-broken": "the API gateway fails on restart until it is recreated",
    "db-down": "the database service stopped (a restart fixes it)",
    "db-corrupt": "the database service's data file is corrupt (restore it)",
    "ddos": "4000 connections on the P2P port from a few sources",
    "breach": "unauthorized access recorded in the audit log",
    "key-compromise": "the validator's consensus key is marked exposed",
    "lb-primary-down": "the primary behind the load balancer crashed",
    "all-down": "every node and the database service are down",
}


def now():
    return time.time()


def network_height(w):
    return GENESIS_HEIGHT + int((now() - w.genesis) / BLOCK_INTERVAL)


def block_hash(chain, h):
    return "0x" + hashlib.sha256(("%s:%d" % (chain, h)).encode()).hexdigest()


class Node:
    """One simulated node: its socket, its files, its faults."""

    def __init__(self, world, name, validator):
        self.w, self.name, self.validator = world, name, validator
        self.home = os.path.join(world.dir, "nodes", name)
        self.data = os.path.join(self.home, "data")
        self.logs = os.path.join(self.home, "log")
        for d in (self.data, self.logs):
            os.makedirs(d, exist_ok=True)
        self.chain_db = os.path.join(self.data, "chain.db")
        self.peers_dat = os.path.join(self.data, "peers.dat")
        self.config = os.path.join(self.home, "config.toml")
        self.running = False
        self.result = "success"     # systemd's Result=: success, exit-code, oom-kill
        self.starts_to_fail = 0
        self.started_at = 0.0
        self.frozen = None          # (height, view) while consensus is stalled
        self.lag = 0
        self.leak = False
        self.cpu = self.io = False
        self.hang = threading.Event()
        self.memory_max = None
        self.view = 0
        self.conns = 0
        self.write_db()
        with open(self.peers_dat, "w") as f:
            f.write("seed1\nseed2\nseed3\n")
        with open(self.config, "w") as f:
            f.write("max_peers = 100\n")
        with open(os.path.join(self.logs, "node.log"), "w") as f:
            f.write("node started\n")
        self.server = RPCServer(self)

    def write_db(self, chain="main", fork_at=0):
        if os.path.exists(self.chain_db):
            os.unlink(self.chain_db)
        db = sqlite3.connect(self.chain_db)
        db.execute("create table meta(k text primary key, v text)")
        db.execute("create table blocks(height integer primary key, hash text, body blob)")
        db.execute("insert into meta values('chain', ?), ('fork_at', ?)", (chain, str(fork_at)))
        db.executemany("insert into blocks values(?, ?, ?)",
                       ((h, block_hash("main", h), os.urandom(200)) for h in range(400)))
        db.commit()
        db.close()

    def read_db(self):
        """(chain, fork_at) from chain.db, or raises: the node's start-up check."""
        if not os.path.exists(self.chain_db):
            return None
        db = sqlite3.connect(self.chain_db)
        try:
            if db.execute("pragma integrity_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            meta = dict(db.execute("select k, v from meta").fetchall())
            return meta["chain"], int(meta["fork_at"])
        finally:
            db.close()

    def log(self, line):
        with open(os.path.join(self.logs, "node.log"), "a") as f:
            f.write("%s %s\n" % (time.strftime("%H:%M:%S"), line))

    # --- the service manager's view -----------------------------------
    def start(self):
        if self.running:
            return 0, ""
        if self.starts_to_fail > 0:
            self.starts_to_fail -= 1
            self.result = "exit-code"
            self.log("start-up failed (simulated)")
            return 1, "Job for %s.service failed because the control process exited with error code." % self.name
        try:
            meta = self.read_db()
        except sqlite3.DatabaseError as e:
            self.result = "exit-code"
            self.log("database error: %s" % e)
            return 1, "Job for %s.service failed: database error: %s" % (self.name, e)
        if meta is None:                      # chain.db removed: resync from the network
            self.write_db()
            self.log("chain.db missing: resynced from the network")
        self.hang.clear()
        self.frozen = None if not self.w.stall_all else self.frozen
        db = sqlite3.connect(self.chain_db)
        self.io = db.execute("pragma freelist_count").fetchone()[0] > 100
        db.close()
        cfg = open(self.config).read()
        if self.cpu and "max_peers = 30" in cfg:
            self.cpu = False
        self.lag = 150 if self.cpu else 0
        self.running, self.result, self.started_at = True, "success", now()
        self.server.listen()
        self.log("started")
        return 0, ""

    def stop(self, result="success"):
        if self.running:
            self.running = False
            self.server.unlisten()
            self.log("stopped (%s)" % result)
        self.result = result
        self.hang.set()  # wake handlers stuck in a hang so they can fail
        self.hang.clear()
        return 0, ""

    def state(self):
        if self.running:
            return "active"
        return "failed" if self.result != "success" else "inactive"

    # --- what the node reports ----------------------------------------
    def chain(self):
        try:
            meta = self.read_db()
        except sqlite3.DatabaseError:
            return "main", 0
        return meta or ("main", 0)

    def height(self):
        if self.frozen:
            return self.frozen[0]
        chain, fork_at = self.chain()
        h = network_height(self.w) - self.lag
        if chain == "fork":
            h = fork_at + (h - fork_at) // 2 + 3
        return max(h, 0)

    def hash_at(self, h):
        chain, fork_at = self.chain()
        return block_hash("fork" if chain == "fork" and h > fork_at else "main", h)

    def peers(self):
        try:
            content = open(self.peers_dat).read()
        except OSError:
            content = ""
        if "poison" in content:
            return []
        return ["127.0.0.1:%d" % (30000 + i) for i in range(NORMAL_PEERS)]

    def memory(self):
        base = 3 << 30
        if self.leak and self.running:
            return base + int((now() - self.started_at) * LEAK_RATE)
        return base

    def tick(self):
        """Called by the world's clock: OOM kill when the leak passes the limit."""
        if self.running and self.leak:
            limit = self.memory_max or (10 << 30)
            if self.memory() > limit:
                self.w.kernel_log("Out of memory: Killed process %d (%s)" % (4000 + self.server.port, self.name))
                self.stop("oom-kill")

    def health(self):
        return {"status": "ok", "node": self.name, "height": self.height(),
                "network_height": network_height(self.w), "peers": len(self.peers()),
                "memory_bytes": self.memory(), "cpu_percent": 97 if self.cpu else 20,
                "iowait_percent": 60 if self.io else 3, "connections": self.conns,
                "validator": self.validator}

    def consensus(self):
        if self.frozen:
            h, v = self.frozen
        else:
            h, v = self.height(), self.height() % 7
        return {"height": h, "view": v, "view_changes": self.view,
                "stalled": bool(self.frozen), "validator": self.validator}


class RPCServer:
    """A node's listening socket: bound once for the world's life, so the port
    never changes; it listens while the node runs and refuses otherwise."""

    def __init__(self, node):
        self.node = node
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.httpd = None

    def listen(self):
        if self.httpd:
            return
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), NodeHandler, bind_and_activate=False)
        srv.socket.close()
        srv.socket = self.sock
        srv.daemon_threads = True
        srv.node = self.node
        self.sock.listen(64)
        self.httpd = srv
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def unlisten(self):
        srv, self.httpd = self.httpd, None
        if not srv:
            return
        srv.shutdown()
        self.sock.close()  # refuse from now on; rebind (not listening) to keep the port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))


class JSONHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {"_text": raw.decode("utf-8", "replace")}


class NodeHandler(JSONHandler):
    def gate(self):
        node = self.server.node
        if node.hang.is_set() or node.w.hung(node):
            node.hang.wait(LIFETIME)  # a hung process: accept, never answer
            return None
        return node

    def do_GET(self):
        node = self.gate()
        if not node:
            return
        with node.w.lock:
            if self.path.startswith("/health"):
                return self.reply(200, node.health())
            if self.path.startswith("/consensus"):
                return self.reply(200, node.consensus())
            if self.path == "/admin/key":
                return self.reply(200, {"state": node.w.key_state})
        self.reply(404, {"error": "no such path"})

    def do_POST(self):
        node = self.gate()
        if not node:
            return
        req = self.body()
        w = node.w
        with w.lock:
            if self.path.startswith("/admin/forceviewchange"):
                w.stall_all = False
                for n in w.nodes.values():
                    if n.validator:
                        n.frozen, n.view = None, n.view + 1
                return self.reply(200, {"result": "view changed"})
            if self.path.startswith("/maintenance/") or self.path.startswith("/admin/"):
                w.admin.append({"node": node.name, "path": self.path})
                if self.path == "/admin/key/rotate":
                    w.key_state = "rotated"
                return self.reply(200, {"result": "ok"})
            m, params = req.get("method"), req.get("params") or []
            res = {
                "getblockcount": lambda: node.height(),
                "getbestblockhash": lambda: node.hash_at(node.height()),
                "getblockhash": lambda: node.hash_at(int(params[0])) if int(params[0]) <= node.height() else None,
                "getpeers": lambda: {"connected": [{"address": p} for p in node.peers()], "unconnected": []},
                "getconnectioncount": lambda: len(node.peers()),
                "getversion": lambda: {"useragent": "/world-node:1.0/", "network": 860833102},
            }.get(m)
            if not res:
                return self.reply(200, {"jsonrpc": "2.0", "id": req.get("id"),
                                        "error": {"code": -32601, "message": "Method not found"}})
            self.reply(200, {"jsonrpc": "2.0", "id": req.get("id"), "result": res()})


class Listener:
    """A port that accepts connections while its service is up (the database
    service's and the gateway's); bound once, like the nodes' ports. One
    thread owns the socket, so a close never races an accept."""

    def __init__(self):
        self.port = 0
        self.sock = self.bind()
        self.up = self.want = False
        self.cv = threading.Condition()
        threading.Thread(target=self.loop, daemon=True).start()

    def bind(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(0.05)
        s.bind(("127.0.0.1", self.port))
        self.port = s.getsockname()[1]
        return s

    def loop(self):
        while True:
            with self.cv:
                if self.want != self.up:
                    if self.want:
                        self.sock.listen(16)
                    else:
                        self.sock.close()
                        self.sock = self.bind()
                    self.up = self.want
                    self.cv.notify_all()
                sock, up = self.sock, self.up
            if not up:
                time.sleep(0.02)
                continue
            try:
                c, _ = sock.accept()
                c.close()
            except OSError:
                pass

    def set(self, up):
        with self.cv:
            self.want = up
            self.cv.wait_for(lambda: self.up == up, timeout=10)


class Service:
    """A service of the service layer (002: the API gateway): a port that
    accepts while it runs. `broken` makes restarts fail until it is
    recreated (docker-compose up -d --force-recreate)."""

    def __init__(self, name):
        self.name, self.port = name, Listener()
        self.running, self.result, self.broken, self.recreated = False, "success", False, 0

    def start(self):
        if self.broken:
            self.result = "exit-code"
            return 1, "%s exited with code 1" % self.name
        self.running, self.result = True, "success"
        self.port.set(True)
        return 0, ""

    def stop(self, result="success"):
        self.running, self.result = False, result
        self.port.set(False)
        return 0, ""

    def state(self):
        return "active" if self.running else ("failed" if self.result != "success" else "inactive")


class Database(Service):
    """The service layer's database (002): a real SQLite file behind a port.
    It does not start while the file fails its integrity check."""

    def __init__(self, world):
        super().__init__("neo-postgres")
        self.home = os.path.join(world.dir, "db")
        os.makedirs(self.home, exist_ok=True)
        self.file = os.path.join(self.home, "data.sqlite")
        db = sqlite3.connect(self.file)
        for t in ("users", "sessions", "contracts", "audit"):
            db.execute("create table %s(id integer primary key, v text)" % t)
            db.executemany("insert into %s(v) values(?)" % t, (("r%d" % i,) for i in range(200)))
        db.commit()
        db.close()

    def start(self):
        try:
            db = sqlite3.connect(self.file)
            self.broken = db.execute("pragma integrity_check").fetchone()[0] != "ok"
            db.close()
        except sqlite3.DatabaseError:
            self.broken = True
        return super().start()


class World:
    def __init__(self, d, n):
        self.dir = os.path.abspath(d)
        self.lock = threading.RLock()
        self.genesis = now()
        self.stall_all = False
        self.hung_nodes = set()
        self.props = {}  # unit → its set-property drop-ins
        self.compose_opts, self.compose_files = [], []  # what docker-compose was given
        self.admin, self.messages = [], []
        self.nodes = {}
        for i in range(1, n + 1):
            name = "node%d" % i
            self.nodes[name] = Node(self, name, validator=i <= max(n - 1, 1))
        self.db = Database(self)
        self.gateway = Service("api-gateway")
        self.backups = os.path.join(self.dir, "backups")
        os.makedirs(self.backups, exist_ok=True)
        self.lb_upstream = "node1"
        self.key_state = "ok"
        self.firewall = []
        self.images, self.namespace = ["dinari-blockchain:v1.0.0"], "dinari-production"
        self.audit_log = os.path.join(self.dir, "audit.log")
        open(self.audit_log, "w").close()
        open(os.path.join(self.dir, "kernel.log"), "w").close()
        for n in self.nodes.values():
            n.start()
        self.db.start()
        self.gateway.start()

    def units(self):
        u = dict(self.nodes)
        u["neo-postgres"] = self.db
        u["api-gateway"] = self.gateway
        return u

    def hung(self, node):
        return node.name in self.hung_nodes

    def kernel_log(self, line):
        with open(os.path.join(self.dir, "kernel.log"), "a") as f:
            f.write("[%10.6f] %s\n" % (now() - self.genesis, line))

    def tick(self):
        with self.lock:
            for n in self.nodes.values():
                n.tick()

    # --- the stand-in tools: systemctl, docker, docker-compose, iptables --
    def tool(self, name, args):
        if name == "systemctl":
            return self.svc(args)
        if name == "docker":          # docker restart|start|stop NAME, docker exec NAME pg_isready
            if len(args) >= 3 and args[0] == "exec":
                u = self.units().get(args[1])
                if u is None:
                    return 1, "Error: No such container: %s" % args[1]
                if not u.running:
                    return 1, "Error response from daemon: container %s is not running" % args[1]
                if args[2] == "pg_isready":
                    return 0, "/var/run/postgresql:5432 - accepting connections"
                return 0, ""
            if len(args) == 2 and args[0] in ("restart", "start", "stop"):
                code, out = self.svc([args[0], args[1]])
                return (code, args[1] if code == 0 else "Error: %s" % out)
            return 2, "docker: unsupported: %s" % " ".join(args)
        if name == "docker-compose":  # [-f FILE] ps | logs | restart|stop|start [--] SVC | up -d --force-recreate [--] SVC
            while args and args[0] == "-f":
                self.compose_files.append(args[1] if len(args) > 1 else "")
                args = args[2:]
            # as compose parses them: options until "--", names after it
            cmd, rest, names, opts = (args[0] if args else ""), args[1:], [], []
            for i, a in enumerate(rest):
                if a == "--":
                    names += rest[i + 1:]
                    break
                (opts if a.startswith("-") else names).append(a)
            self.compose_opts += opts
            if cmd == "ps":
                return 0, "\n".join("%s %s" % (n, u.state()) for n, u in self.units().items())
            if cmd == "logs":
                return 0, "(logs)"
            if cmd in ("restart", "stop", "start") and names:
                if names[0] not in self.units():
                    return 1, "no such service: %s" % names[0]
                return self.svc([cmd, names[0]])
            if cmd == "up" and "--force-recreate" in opts:
                names = names or list(self.units())
                for n in names:
                    u = self.units().get(n)
                    if u is None:
                        return 1, "no such service: %s" % n
                    if isinstance(u, Service):
                        u.broken, u.recreated = False, u.recreated + 1
                    u.stop()
                    code, out = u.start()
                    if code:
                        return code, out
                return 0, ""
            return 2, "docker-compose: unsupported: %s" % " ".join(args)
        if name == "kubectl":         # set image deployment/D C=IMAGE | rollout status|undo deployment/D
            args = [a for a in args if not a.startswith("-n") and a != self.namespace]
            node = self.nodes["node1"]
            if args[:2] == ["set", "image"] and len(args) >= 4:
                self.images.append(args[3].split("=", 1)[-1])
                node.stop()
                node.start()   # a failed start shows in rollout status, as in Kubernetes
                return 0, "deployment.apps/%s image updated" % args[2].split("/")[-1]
            if args[:2] == ["rollout", "status"]:
                return (0, "successfully rolled out") if node.running else (1, "rollout failed")
            if args[:2] == ["rollout", "undo"]:
                if len(self.images) > 1:
                    self.images.pop()
                node.stop()
                return node.start()
            return 2, "kubectl: unsupported: %s" % " ".join(args)
        if name == "iptables":        # recorded; a --hitcount rule rate-limits the flood
            self.firewall.append(args)
            if "--hitcount" in args:
                for n in self.nodes.values():
                    n.conns = min(n.conns, 40)
            if args[:1] == ["-L"]:
                return 0, "\n".join(" ".join(r) for r in self.firewall)
            return 0, ""
        return 127, "%s: not a tool of this world" % name

    # --- the service manager (systemctl's verbs) -----------------------
    def svc(self, args):
        args = [a for a in args if a not in ("--quiet", "-q", "--no-pager")]
        if not args:
            return 2, "usage: systemctl CMD UNIT"
        cmd, units = args[0], args[1:]
        if cmd == "daemon-reload":
            return 0, ""
        if not units:
            return 2, "systemctl %s: no unit given" % cmd
        name = units[0].removesuffix(".service")
        u = self.units().get(name)
        if u is None:
            return (4 if cmd == "status" else 5 if cmd != "is-active" else 3), "Unit %s.service could not be found." % name
        if cmd == "is-active":
            s = u.state()
            return (0 if s == "active" else 3), s
        if cmd == "status":
            s = u.state()
            text = "%s.service - world unit\n   Active: %s (Result: %s)" % (name, s, u.result)
            return (0 if s == "active" else 3), text
        if cmd == "start":
            return u.start()
        if cmd == "stop":
            if isinstance(u, Node):
                self.hung_nodes.discard(name)
            return u.stop()
        if cmd in ("restart", "reload", "try-restart"):
            if cmd == "reload" and u.state() == "active":
                return 0, ""
            if isinstance(u, Node):
                self.hung_nodes.discard(name)
                u.frozen = None if not self.stall_all else u.frozen
            u.stop()
            return u.start()
        props = self.props.setdefault(name, {})   # the unit's drop-ins, as systemd keeps them
        if cmd == "revert":                      # removes every drop-in, the operator's own too
            props.clear()
            if isinstance(u, Node):
                u.memory_max = None
            return 0, ""
        if cmd == "set-property":
            for kv in units[1:]:
                k, _, v = kv.partition("=")
                props[k] = v
                if k == "MemoryMax" and isinstance(u, Node):
                    u.memory_max = parse_size(v)
            return 0, ""
        if cmd == "show":                        # show UNIT -p PROP… [--value]
            want = [units[i + 1] for i in range(len(units) - 1) if units[i] == "-p"]
            vals = [(k, props.get(k, "infinity" if k.startswith("Memory") else "")) for k in want]
            if "--value" in units:
                return 0, "\n".join(v for _, v in vals)
            return 0, "\n".join("%s=%s" % kv for kv in vals)
        return 1, "systemctl: unknown command %s" % cmd

    # --- the fault switch ---------------------------------------------
    def brk(self, fault, unit):
        n = self.nodes.get(unit or "node1")
        if fault == "crash":
            n.stop("exit-code")
        elif fault == "crashloop":
            n.stop("exit-code")
            n.starts_to_fail = 2
        elif fault == "bad-release":
            n.starts_to_fail = 1
        elif fault == "hang":
            self.hung_nodes.add(n.name)
        elif fault == "stall":
            n.frozen = (n.height(), n.height() % 7)
        elif fault == "stall-all":
            self.stall_all = True
            for v in self.nodes.values():
                if v.validator:
                    v.frozen = (v.height(), v.height() % 7)
        elif fault == "peers-lost":
            with open(n.peers_dat, "w") as f:
                f.write("poison\n")
        elif fault == "behind":
            n.lag = 150
        elif fault == "fork":
            n.write_db("fork", network_height(self) - 20)
        elif fault in ("corrupt", "corrupt-header"):
            n.stop("exit-code")
            with open(n.chain_db, "r+b") as f:
                if fault == "corrupt-header":
                    f.write(b"\0" * 4096)
                else:
                    f.seek(4096 * 4)          # leaf pages of the blocks table
                    f.write(os.urandom(4096 * 4))
            n.log("database corruption: checksum mismatch in chain.db")
        elif fault == "leak":
            n.leak = True
            n.started_at = now() - (8.5 * (1 << 30) - (3 << 30)) / LEAK_RATE
        elif fault == "oom-kill":
            n.leak = True
            self.kernel_log("Out of memory: Killed process %d (%s)" % (4000 + n.server.port, n.name))
            n.stop("oom-kill")
        elif fault == "disk-full":
            for i in range(1, 9):
                p = os.path.join(n.logs, "node.log.%d" % i)
                with open(p, "wb") as f:
                    f.write(os.urandom(400 * 1024))
                old = now() - 10 * 86400
                os.utime(p, (old, old))
        elif fault == "cpu":
            n.cpu, n.lag = True, 150
        elif fault == "io":
            n.io = True   # a fragmented database: many free pages (VACUUM clears it)
            db = sqlite3.connect(n.chain_db)
            db.executemany("insert into blocks values(?, ?, ?)",
                           ((h, "x", os.urandom(1000)) for h in range(100000, 101500)))
            db.commit()
            db.execute("delete from blocks where height >= 100000")
            db.commit()
            db.close()
        elif fault == "service-down":
            self.gateway.stop("exit-code")
        elif fault == "service-broken":
            self.gateway.stop("exit-code")
            self.gateway.broken = True
        elif fault == "db-down":
            self.db.stop("exit-code")
        elif fault == "db-corrupt":
            self.db.stop("exit-code")
            with open(self.db.file, "r+b") as f:
                f.write(b"\0" * 4096)
        elif fault == "ddos":
            n.conns = 4000
        elif fault == "breach":
            with open(self.audit_log, "a") as f:
                f.write("%d unauthorized login user=admin from=203.0.113.9\n" % now())
        elif fault == "key-compromise":
            self.key_state = "exposed"
        elif fault == "lb-primary-down":
            self.nodes[self.lb_upstream].stop("exit-code")
        elif fault == "all-down":
            for v in self.nodes.values():
                v.stop("exit-code")
            self.db.stop("exit-code")
        else:
            return 2, "unknown fault %r; faults: %s" % (fault, ", ".join(FAULTS))
        return 0, ""

    def state(self):
        nodes = {}
        for name, n in self.nodes.items():
            nodes[name] = {"state": n.state(), "result": n.result, "port": n.server.port,
                           "height": n.height(), "chain": n.chain()[0], "peers": len(n.peers()),
                           "memory_bytes": n.memory(), "memory_max": n.memory_max,
                           "props": self.props.get(name, {}),
                           "hung": name in self.hung_nodes, "stalled": bool(n.frozen),
                           "lag": n.lag, "cpu": n.cpu, "io": n.io, "connections": n.conns,
                           "view_changes": n.view, "data": n.data}
        return {"network_height": network_height(self), "nodes": nodes,
                "compose": {"options": self.compose_opts, "files": self.compose_files},
                "db": {"state": self.db.state(), "port": self.db.port.port},
                "gateway": {"state": self.gateway.state(), "port": self.gateway.port.port,
                            "recreated": self.gateway.recreated},
                "lb": {"upstream": self.lb_upstream}, "key": self.key_state, "images": self.images,
                "firewall": self.firewall, "admin": self.admin, "messages": self.messages}


def parse_size(v):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    v = v.strip().upper()
    if v in ("INFINITY", ""):
        return None
    return int(float(v[:-1]) * mult[v[-1]]) if v and v[-1] in mult else int(v)


class ControlHandler(JSONHandler):
    """The control plane: the service manager, the fault switch, the load
    balancer, the webhook sink, state and shutdown. HEAD answers 200: it
    stands in for the public internet (000 "curl -I https://neo.org")."""

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        w = self.server.world
        with w.lock:
            if self.path == "/state":
                return self.reply(200, w.state())
            if self.path == "/lb":
                return self.reply(200, {"upstream": w.lb_upstream,
                                        "url": "http://127.0.0.1:%d" % w.nodes[w.lb_upstream].server.port})
        self.reply(404, {"error": "no such path"})

    def do_POST(self):
        w = self.server.world
        req = self.body()
        with w.lock:
            if self.path == "/tool":
                code, out = w.tool(req.get("tool"), req.get("args", []))
                return self.reply(200, {"exit": code, "out": out})
            if self.path == "/break":
                code, out = w.brk(req.get("fault"), req.get("unit"))
                return self.reply(200 if code == 0 else 400, {"exit": code, "out": out})
            if self.path == "/lb":
                up = req.get("upstream")
                if up not in w.nodes:
                    return self.reply(400, {"error": "no such node %r" % up})
                w.lb_upstream = up
                return self.reply(200, {"upstream": up})
            if self.path.startswith("/hooks/"):
                w.messages.append({"hook": self.path[7:], "text": req.get("text", req.get("_text", ""))})
                return self.reply(200, {"ok": True})
            if self.path == "/shutdown":
                self.reply(200, {"bye": True})
                threading.Thread(target=self.server.shutdown, daemon=True).start()
                return
        self.reply(404, {"error": "no such path"})


WRAPPER = """#!/bin/sh
# the world's stand-in for TOOL: asks the world's control plane (world.py)
r=$(printf '%s\\n' "$@" | jq -Rnc '{tool: "TOOL", args: [inputs]}' |
    curl -fsS --max-time 60 -H 'Content-Type: application/json' --data-binary @- CTL) ||
    { echo "TOOL: cannot reach the world" >&2; exit 1; }
out=$(printf '%s' "$r" | jq -r .out)
case " $* " in *" --quiet "*|*" -q "*) ;; *) [ -z "$out" ] || printf '%s\\n' "$out" ;; esac
exit "$(printf '%s' "$r" | jq -r .exit)"
"""


def write_env(w, ctl_port):
    script = os.path.abspath(__file__)
    bindir = os.path.join(w.dir, "bin")
    os.makedirs(bindir, exist_ok=True)
    ctl = "http://127.0.0.1:%d/tool" % ctl_port
    for tool in ("systemctl", "docker", "docker-compose", "iptables", "kubectl"):
        p = os.path.join(bindir, tool)
        with open(p, "w") as f:   # curl and jq: a Python start per call is too slow
            f.write(WRAPPER.replace("TOOL", tool).replace("CTL", ctl))
        os.chmod(p, 0o755)
    sysctl = os.path.join(bindir, "systemctl")
    lines = ["WORLD_DIR=%s" % w.dir, "WORLD_CTL=http://127.0.0.1:%d" % ctl_port,
             "WORLD_SYSTEMCTL=%s" % sysctl, "WORLD_BACKUPS=%s" % w.backups,
             "WORLD_WEBHOOK=http://127.0.0.1:%d/hooks/oncall" % ctl_port,
             "WORLD_LB=http://127.0.0.1:%d/lb" % ctl_port,
             "WORLD_BIN=%s" % bindir, "WORLD_GATEWAY_PORT=%d" % w.gateway.port.port,
             "WORLD_DB_PORT=%d" % w.db.port.port, "WORLD_DB_FILE=%s" % w.db.file,
             "WORLD_AUDIT_LOG=%s" % w.audit_log,
             "WORLD_KERNEL_LOG=%s" % os.path.join(w.dir, "kernel.log")]
    for name, n in w.nodes.items():
        up = name.upper()
        lines += ["%s_RPC=http://127.0.0.1:%d" % (up, n.server.port), "%s_HOME=%s" % (up, n.home),
                  "%s_DATA=%s" % (up, n.data), "%s_LOGS=%s" % (up, n.logs), "%s_CONFIG=%s" % (up, n.config)]
    tmp = os.path.join(w.dir, "world.env.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, os.path.join(w.dir, "world.env"))


def serve(d, n):
    w = World(d, n)
    ctl = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ControlHandler)
    ctl.daemon_threads = True
    ctl.world = w
    with open(os.path.join(w.dir, "world.pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    write_env(w, ctl.server_address[1])
    deadline = now() + LIFETIME

    def clock():
        while now() < deadline and os.path.isdir(w.dir):
            w.tick()
            time.sleep(0.1)
        ctl.shutdown()  # a bound: a world whose test died does not outlive it
    threading.Thread(target=clock, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=ctl.shutdown, daemon=True).start())
    ctl.serve_forever(poll_interval=0.1)


def env_of(d):
    env = {}
    with open(os.path.join(d, "world.env")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            env[k] = v
    return env


def call(d, path, obj=None):
    url = env_of(d)["WORLD_CTL"] + path
    data = None if obj is None else json.dumps(obj).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def alive(pid):
    """True while pid runs (a zombie nobody reaped yet counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 else 2
    cmd, d = argv[1], argv[2]
    if cmd == "serve":
        serve(d, int(argv[4]) if len(argv) > 4 else 4)
        return 0
    if cmd == "up":
        n = argv[4] if len(argv) > 4 and argv[3] == "--nodes" else "4"
        os.makedirs(d, exist_ok=True)
        log = open(os.path.join(d, "world.log"), "w")
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", d, "--nodes", n],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        envf = os.path.join(d, "world.env")
        for _ in range(600):                   # bound: 60 s on a loaded machine
            if os.path.exists(envf):
                sys.stdout.write(open(envf).read())
                return 0
            if p.poll() is not None:
                break
            time.sleep(0.1)
        sys.stderr.write("world did not come up; see %s/world.log\n" % d)
        return 1
    if cmd == "down":
        try:
            pid = int(open(os.path.join(d, "world.pid")).read())
        except (OSError, ValueError):
            return 0
        try:
            call(d, "/shutdown", {})
        except OSError:
            pass
        for _ in range(200):
            if not alive(pid):
                return 0
            time.sleep(0.02)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return 0
    if cmd == "break":
        r = call(d, "/break", {"fault": argv[3], "unit": argv[4] if len(argv) > 4 else None})
        if r["out"]:
            sys.stderr.write(r["out"] + "\n")
        return r["exit"]
    if cmd == "state":
        print(json.dumps(call(d, "/state"), indent=1))
        return 0
    if cmd == "tool":
        try:
            r = call(d, "/tool", {"tool": argv[3], "args": argv[4:]})
        except OSError as e:
            sys.stderr.write("%s: cannot reach the world: %s\n" % (argv[3], e))
            return 1
        if r["out"] and "--quiet" not in argv:
            print(r["out"])
        return r["exit"]
    sys.stderr.write("unknown command %s\n" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
