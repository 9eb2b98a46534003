#!/usr/bin/env python3
"""hostile.py — the attacks of issue 18 against a running peertrackd, each
with a bystander on its own address measuring what it gets
(docs/BENCHMARKS.md, "Hostile load"). Loopback only; bounded in time.

  hostile.py --port P --pid PID --db FILE index   [--addresses 40 --conns 16]
      every connection announces fresh hashes, 256 per message, until the
      daemon refuses; peak RSS, index entries, bystander ping p50/p99
  hostile.py ... store [--conns 1] [--seconds 60]
      connections from one address announce, withdraw and look up fresh
      hashes as fast as the rate limit lets them; database growth
  hostile.py ... halfopen [--addresses 1] [--seconds 30]
      sockets that never send their headers, reopened when dropped;
      bystander connect + ping latency p50/p99
  hostile.py ... hsmem [--target 2000]
      what a handshake costs apart from a peer: RSS with N silent sockets,
      N half requests, N idle WebSocket peers
"""
import argparse
import json
import os
import selectors
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak import frame, metrics, proc, db_bytes  # noqa: E402

UPGRADE = ("GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: aG9zdGlsZS1rZXktMTZi\r\nSec-WebSocket-Version: 13\r\n"
           "Origin: http://hostile.localhost\r\n\r\n").encode()


def addr(base, i):
    return socket.inet_ntoa(struct.pack("!I", base + i))


class Blocking:
    """A blocking WebSocket client for the bystander."""

    def __init__(self, port, src, timeout=30):
        self.s = socket.socket()
        self.s.settimeout(timeout)
        self.s.bind((src, 0))
        self.s.connect(("127.0.0.1", port))
        self.s.sendall(UPGRADE)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.split(b"\r\n")[0].decode())
        self.recv_json()  # welcome

    def recv_json(self):
        while True:
            while len(self.buf) < 2 or len(self.buf) < 2 + (self.buf[1] & 0x7F if (self.buf[1] & 0x7F) < 126 else 0):
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            op, n, off = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
            if n == 126:
                while len(self.buf) < 4:
                    self.buf += self.s.recv(65536)
                n, off = struct.unpack("!H", self.buf[2:4])[0], 4
            while len(self.buf) < off + n:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            if op == 9:
                self.s.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif op == 1:
                return json.loads(payload)
            elif op == 8:
                raise ConnectionError("close %s" % (struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else "-"))

    def call(self, obj):
        self.s.sendall(frame(json.dumps(obj)))
        return self.recv_json()

    def close(self):
        self.s.close()


def upgrade_answer(s):
    """Waits for the 101 (frames sent before it are not read as frames)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the upgrade")
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(buf.split(b"\r\n")[0].decode())


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")


class Pinger(threading.Thread):
    """The bystander: a ping every 20 ms, (start, round trip in ms)."""

    def __init__(self, port, src):
        super().__init__(daemon=True)
        self.c = Blocking(port, src)
        self.rtt, self.stop, self.errors = [], False, 0

    def run(self):
        while not self.stop:
            t = time.monotonic()
            try:
                r = self.c.call({"type": "ping"})
                if r.get("type") != "pong":
                    self.errors += 1
            except (OSError, ConnectionError):
                self.errors += 1
                return
            self.rtt.append((t, (time.monotonic() - t) * 1000))
            time.sleep(0.02)


class PingerProc:
    """The bystander in its own process, so the attack's Python loop does
    not hold it up (the GIL): what it measures is the daemon."""

    def __init__(self, port, src):
        import multiprocessing
        self.parent, child = multiprocessing.Pipe()
        self.p = multiprocessing.Process(target=self._run, args=(port, src, child), daemon=True)
        self.rtt, self.errors = [], 0

    @staticmethod
    def _run(port, src, conn):
        p = Pinger(port, src)
        p.start()
        conn.recv()  # stop
        p.stop = True
        p.join(5)
        conn.send((p.rtt, p.errors))

    def start(self):
        self.p.start()

    def finish(self):
        self.parent.send("stop")
        if self.parent.poll(15):
            self.rtt, self.errors = self.parent.recv()
        self.p.join(5)
        if self.p.is_alive():
            self.p.kill()


def sampler(a, out, stop):
    n = 0
    while not stop.is_set():
        rss, fds = proc(a.pid)
        # The index every 2 s (a /metrics request is a handshake).
        idx = -1
        if n % 4 == 0:
            try:
                idx = int(metrics(a.port).get("peertrack_index_entries", -1))
            except OSError:
                pass  # (a stalled daemon: the RSS samples go on)
        out.append((time.monotonic(), rss, fds, idx))
        n += 1
        stop.wait(0.5)


def announce_frame(n):
    """A client frame announcing n fresh hashes, masked with a zero key (the
    bytes stay as they are: masking 17 KB a byte at a time in Python took
    longer than the daemon's timeout_ms once there were hundreds of
    connections, and the daemon rightly closed them all as silent)."""
    raw = os.urandom(32 * n).hex()
    data = ('{"type":"announce","hashes":["' +
            '","'.join(raw[i:i + 64] for i in range(0, 64 * n, 64)) + '"]}').encode()
    head = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(data)) if len(data) > 125 \
        else bytes([0x81, 0x80 | len(data)])
    return head + b"\0\0\0\0" + data


def attack_index(a):
    """Every connection announces fresh hashes, 256 a message, up to
    --per-peer, as fast as the daemon reads; each message is built when its
    connection can take it, so none waits long enough to look silent."""
    sel = selectors.DefaultSelector()
    conns = []
    per_msg = 256
    for i in range(a.addresses):
        for _ in range(a.conns):
            s = socket.socket()
            s.bind((addr(0x7F280001, i), 0))
            s.connect(("127.0.0.1", a.port))
            s.sendall(UPGRADE)
            upgrade_answer(s)
            s.setblocking(False)
            c = {"s": s, "left": a.per_peer // per_msg, "out": b"", "open": True}
            conns.append(c)
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    t0 = time.monotonic()
    busy = refusals = acks = closed = 0
    writing = len(conns)
    sent = 0
    while time.monotonic() - t0 < a.seconds:
        if not writing and acks + busy + refusals >= sent:
            break  # everything sent and answered
        evs = sel.select(timeout=0.5)
        for key, ev in evs:
            c = key.data
            if ev & selectors.EVENT_WRITE:
                if not c["out"] and c["left"]:
                    c["out"] = announce_frame(per_msg)
                    c["left"] -= 1
                    sent += 1
                try:
                    n = c["s"].send(c["out"])
                    c["out"] = c["out"][n:]
                except BlockingIOError:
                    pass
                except OSError:
                    c["out"], c["left"] = b"", 0
                if not c["out"] and not c["left"]:
                    writing -= 1
                    sel.modify(c["s"], selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                try:
                    data = c["s"].recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c["s"])
                    closed += 1
                    c["open"] = False
                    if c["out"] or c["left"]:
                        writing -= 1
                    continue
                acks += data.count(b'"ack"')
                busy += data.count(b'"busy"')
                refusals += data.count(b'"too-many-hashes"')
    return {"connections": len(conns), "announces_sent": sent, "announces_acked": acks, "busy": busy,
            "too_many": refusals, "closed_by_server": closed,
            "seconds": round(time.monotonic() - t0, 1)}, conns


def attack_store(a):
    conns = []
    for _ in range(a.conns):
        s = socket.socket()
        s.bind(("127.0.41.1", 0))
        s.connect(("127.0.0.1", a.port))
        s.sendall(UPGRADE)
        upgrade_answer(s)
        s.setblocking(False)
        conns.append(s)
    size0 = db_bytes(a.db)
    t0 = time.monotonic()
    step = 1.0 / 45  # under the default 50 messages/s
    while time.monotonic() - t0 < a.seconds:
        for s in conns:
            hs = [os.urandom(32).hex() for _ in range(256)]
            for m in ({"type": "announce", "hashes": hs}, {"type": "withdraw", "hashes": hs},
                      {"type": "lookup", "hash": hs[0]}):
                try:
                    s.send(frame(json.dumps(m)))
                except (BlockingIOError, OSError):
                    pass
            try:
                while s.recv(1 << 20):
                    pass
            except (BlockingIOError, OSError):
                pass
        time.sleep(3 * step)
    time.sleep(2)
    grew = db_bytes(a.db) - size0
    return {"connections": a.conns, "seconds": a.seconds, "db_growth_mib": round(grew / 1048576, 2),
            "mib_per_s_per_conn": round(grew / 1048576 / a.seconds / a.conns, 4)}, conns


def attack_halfopen(a):
    socks = []
    opened = dropped = refused = 0
    t0 = time.monotonic()
    by = []
    errors = 0
    last_by = 0
    while time.monotonic() - t0 < a.seconds:
        # Keep the attacker at its target of open sockets, reopening dropped ones.
        alive = []
        for s in socks:
            try:
                got = s.recv(16, socket.MSG_DONTWAIT)
                if got == b"" or got.startswith(b"HTTP/1.1 503"):
                    refused += got != b""
                    s.close()
                    dropped += 1
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                dropped += 1
                continue
            alive.append(s)
        socks = alive
        while len(socks) < a.target:
            s = socket.socket()
            s.setblocking(False)
            s.bind((addr(0x7F2A0001, opened % a.addresses), 0))
            s.connect_ex(("127.0.0.1", a.port))
            socks.append(s)
            opened += 1
        if time.monotonic() - last_by >= 0.1:
            last_by = time.monotonic()
            t = time.monotonic()
            try:
                c = Blocking(a.port, "127.0.43.%d" % (1 + len(by) % 200), timeout=10)
                c.call({"type": "ping"})
                c.close()
                by.append((time.monotonic() - t) * 1000)
            except (OSError, ConnectionError):
                errors += 1
    for s in socks:
        s.close()
    return {"opened": opened, "closed_by_server": dropped, "answered_503": refused,
            "bystander_n": len(by),
            "bystander_errors": errors,
            "bystander_connect_ping_ms": {"p50": round(pct(by, 50), 2), "p99": round(pct(by, 99), 2),
                                          "max": round(max(by), 2) if by else None}}, []


def attack_hsmem(a):
    """Not an attack: what a handshake costs the daemon, apart from a peer.
    RSS (and the handshakes gauge) at rest, with --target sockets that sent
    nothing, with the same sockets holding half a request (the request
    line and a header: lws has a header buffer for each), after they are
    gone, and with --target upgraded WebSocket peers that stay idle. Run
    with max_halfopen and handshake_timeout_ms raised (EXTRA_CONF)."""
    per_addr = 30  # under max_halfopen_per_ip
    out = {}

    def settle(name):
        time.sleep(1.5)
        m = metrics(a.port)
        out[name] = {"rss_kib": proc(a.pid)[0], "handshakes": int(m.get("peertrack_handshakes", -1)),
                     "sockets": int(m.get("peertrack_sockets", -1))}

    def connect(base, i):
        s = socket.socket()
        s.bind((addr(base, i // per_addr), 0))
        s.connect(("127.0.0.1", a.port))
        return s

    settle("baseline")
    socks = [connect(0x7F2D0001, i) for i in range(a.target)]
    settle("silent")
    for s in socks:
        s.sendall(b"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    settle("half_request")
    for s in socks:
        s.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and int(metrics(a.port).get("peertrack_handshakes", 1)) > 1:
        time.sleep(0.2)
    settle("after")
    peers = []
    for i in range(a.target):
        peers.append(connect(0x7F2E0001, i))
        peers[-1].sendall(UPGRADE)
        upgrade_answer(peers[-1])
    settle("idle_peers")
    n = a.target
    base = out["after"]["rss_kib"]
    out["bytes_per_silent_handshake"] = round((out["silent"]["rss_kib"] - out["baseline"]["rss_kib"]) * 1024 / n)
    out["bytes_per_half_request"] = round((out["half_request"]["rss_kib"] - out["baseline"]["rss_kib"]) * 1024 / n)
    out["bytes_per_idle_peer"] = round((out["idle_peers"]["rss_kib"] - base) * 1024 / n)
    return out, peers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("attack", choices=["index", "store", "halfopen", "hsmem"])
    ap.add_argument("--addresses", type=int, default=40)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--per-peer", type=int, default=4096)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--target", type=int, default=2000, help="halfopen: sockets held open")
    a = ap.parse_args()
    samples, stop = [], threading.Event()
    th = threading.Thread(target=sampler, args=(a, samples, stop), daemon=True)
    th.start()
    pinger = PingerProc(a.port, "127.0.44.1") if a.attack in ("index", "store") else None
    if pinger:
        pinger.start()
    res, conns = {"index": attack_index, "store": attack_store, "halfopen": attack_halfopen,
                  "hsmem": attack_hsmem}[a.attack](a)
    m = metrics(a.port)
    t_close = time.monotonic()
    if pinger:
        # The attackers leave at once, the bystander still pinging: what
        # dropping their index entries costs it (until the index is empty,
        # at most 60 s).
        for c in conns:
            (c["s"] if isinstance(c, dict) else c).close()
        conns = []
        while time.monotonic() - t_close < 60:
            try:
                if int(metrics(a.port).get("peertrack_index_entries", -1)) == 0:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        res["teardown_seconds"] = round(time.monotonic() - t_close, 1)
        time.sleep(1)
        pinger.finish()
        for name, sel in (("bystander_ping_ms", lambda t: t < t_close),
                          ("bystander_ping_teardown_ms", lambda t: t >= t_close)):
            v = [r for t, r in pinger.rtt if sel(t)]
            res[name] = {"n": len(v), "p50": round(pct(v, 50), 2), "p99": round(pct(v, 99), 2),
                         "max": round(max(v), 2) if v else None}
        res["bystander_errors"] = pinger.errors
    stop.set()
    th.join(2)
    res["peak_rss_mib"] = round(max(s[1] for s in samples) / 1024, 1)
    res["peak_fds"] = max(s[2] for s in samples)
    res["peak_index_entries"] = max(s[3] for s in samples)
    res["index_entries"] = int(m.get("peertrack_index_entries", -1))
    res["index_memory_mib"] = round(m.get("peertrack_index_memory_bytes", 0) / 1048576, 1)
    res["budget_refusals"] = {k.split('"')[1]: int(v) for k, v in m.items()
                              if k.startswith("peertrack_budget_refusals_total{") and v}
    for c in conns:
        (c["s"] if isinstance(c, dict) else c).close()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
