#!/usr/bin/env python3
"""soak.py — churn against a running peertrackd, bounded in time, and a
table of the daemon's footprint over it (make soak; docs/BENCHMARKS.md).

Peers arrive at a steady rate, each from one of many 127.x.y.z addresses:
connect, announce --hashes hashes (drawn from a population, so they
overlap), look one up, signal the previous arrival, then live --life
seconds and leave in one of three ways, in turn: a clean close (1000), a
reset (RST, SO_LINGER 0) or silence (the socket stays open, nothing is
answered: the daemon's timeout_ms must drop it). Every --every seconds a
line gives the daemon's RSS and open descriptors (/proc), the index size
and sockets (/metrics) and the database size on disk (file + WAL).

After --duration seconds no new peer arrives; the ones left go (silent
ones are closed at the end), and a last sample after --drain seconds must
show the index back to zero. Exit status 0 when it is, and when RSS and
descriptors after warm-up stayed within --tolerance of their first
post-warm-up sample.

Usage: soak.py --port P --pid PID --db FILE [--rate R] [--duration S] ...
"""
import argparse
import base64
import json
import os
import random
import selectors
import socket
import struct
import sys
import time


def frame(text):
    """A masked client text frame."""
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81])
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def metrics(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    out = {}
    for line in buf.decode(errors="replace").split("\n"):
        if line and not line.startswith("#") and " " in line:
            k, v = line.rsplit(" ", 1)
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def proc(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, fds


def db_bytes(path):
    total = 0
    for p in (path, path + "-wal"):
        try:
            total += os.path.getsize(p)
        except OSError:
            pass
    return total


class Peer:
    KEY = base64.b64encode(b"soak-key-16bytes").decode()

    def __init__(self, n, port, src, hashes, fate, life):
        self.n, self.fate, self.hashes = n, fate, hashes
        self.leave_at = time.monotonic() + life
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((src, 0))
        self.sock.connect_ex(("127.0.0.1", port))
        self.state = "connecting"
        self.rx = b""
        self.id = None
        self.out = b""

    def on_writable(self):
        if self.state == "connecting":
            self.out = ("GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nOrigin: http://soak.localhost\r\n\r\n"
                        % self.KEY).encode()
            self.state = "upgrading"
        self.flush()

    def flush(self):
        while self.out:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.state = "dead"
                return
            self.out = self.out[n:]

    def send(self, text):
        self.out += frame(text)
        self.flush()

    def frames(self):
        """Complete server frames in rx: (opcode, payload)."""
        while len(self.rx) >= 2:
            op, n = self.rx[0] & 0x0F, self.rx[1] & 0x7F
            off = 2
            if n == 126:
                if len(self.rx) < 4:
                    return
                n, off = struct.unpack("!H", self.rx[2:4])[0], 4
            elif n == 127:
                if len(self.rx) < 10:
                    return
                n, off = struct.unpack("!Q", self.rx[2:10])[0], 10
            if len(self.rx) < off + n:
                return
            yield op, self.rx[off:off + n]
            self.rx = self.rx[off + n:]

    def on_readable(self, soak):
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.state = "dead"
            return
        if self.state == "silent":
            return  # read and ignored: no pongs, no replies
        self.rx += data
        if self.state == "upgrading":
            end = self.rx.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.rx.startswith(b"HTTP/1.1 101"):
                soak.refused += 1
                self.state = "dead"
                return
            self.rx = self.rx[end + 4:]
            self.state = "open"
        for op, payload in self.frames():
            if op == 9:  # ping: answer, as a browser does
                self.out += bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload
                self.flush()
            elif op == 8:
                self.state = "dead"
                return
            elif op == 1 and self.id is None:
                msg = json.loads(payload)
                if msg.get("type") == "welcome":
                    self.id = msg["id"]
                    soak.welcomed(self)


class Soak:
    def __init__(self, a):
        self.a = a
        self.sel = selectors.DefaultSelector()
        self.peers = set()
        self.n = 0
        self.refused = 0
        self.last_id = None
        self.pop = ["%064x" % random.getrandbits(256) for _ in range(a.population)]
        self.fates = ["close", "reset", "silent"]

    def src(self, n):
        x = 0x7F200001 + (n % (self.a.addresses))
        return socket.inet_ntoa(struct.pack("!I", x))

    def arrive(self):
        fate = self.fates[self.n % 3]
        p = Peer(self.n, self.a.port, self.src(self.n), random.sample(self.pop, self.a.hashes),
                 fate, self.a.life)
        self.n += 1
        self.peers.add(p)
        self.sel.register(p.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, p)

    def welcomed(self, p):
        p.send(json.dumps({"type": "announce", "hashes": p.hashes}))
        p.send(json.dumps({"type": "lookup", "hash": p.hashes[0]}))
        if self.last_id:
            p.send(json.dumps({"type": "signal", "to": self.last_id, "data": {"sdp": "x" * 200}}))
        self.last_id = p.id
        self.sel.modify(p.sock, selectors.EVENT_READ, p)

    def leave(self, p, final=False):
        if p.fate == "silent" and p.state == "open" and not final:
            p.state = "silent"  # stays open, answers nothing
            p.leave_at = float("inf")
            return
        if p.fate == "reset":
            p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif p.state == "open":
            p.out += bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack("!H", 1000)
            p.flush()
        self.drop(p)

    def drop(self, p):
        try:
            self.sel.unregister(p.sock)
        except (KeyError, ValueError):
            pass
        p.sock.close()
        self.peers.discard(p)

    def sample(self, t0, rows):
        m = metrics(self.a.port)
        rss, fds = proc(self.a.pid)
        row = (time.monotonic() - t0, rss, fds, int(m.get("peertrack_index_entries", -1)),
               int(m.get("peertrack_sockets", -1)), db_bytes(self.a.db), len(self.peers))
        rows.append(row)
        print("%6.0f s  rss %7d KiB  fds %6d  index %7d  sockets %6d  db %8.2f MiB  clients %6d"
              % (row[0], row[1], row[2], row[3], row[4], row[5] / 1048576.0, row[6]), flush=True)

    def run(self):
        a = self.a
        t0 = time.monotonic()
        next_arrival = t0
        next_sample = t0
        rows = []
        while True:
            now = time.monotonic()
            if now - t0 < a.duration:
                while next_arrival <= now and len(self.peers) < a.max_clients:
                    self.arrive()
                    next_arrival += 1.0 / a.rate
            elif now - t0 >= a.duration + a.drain:
                break
            if now >= next_sample:
                self.sample(t0, rows)
                next_sample += a.every
            for key, ev in self.sel.select(timeout=0.01):
                p = key.data
                if ev & selectors.EVENT_WRITE:
                    p.on_writable()
                if ev & selectors.EVENT_READ:
                    p.on_readable(self)
                if p.state == "dead":
                    self.drop(p)
            for p in list(self.peers):
                if p.state == "dead":
                    self.drop(p)
                elif time.monotonic() >= p.leave_at or (now - t0 >= a.duration and p.state != "silent"):
                    self.leave(p)
        # Silent peers the daemon did not drop yet are closed now; the index
        # must then drain.
        for p in list(self.peers):
            self.leave(p, final=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and int(metrics(a.port).get("peertrack_index_entries", 1)):
            time.sleep(0.2)
        self.sample(t0, rows)
        return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--rate", type=float, default=200, help="arrivals per second")
    ap.add_argument("--life", type=float, default=5, help="seconds a peer stays")
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--drain", type=float, default=15, help="seconds after the last arrival")
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--hashes", type=int, default=10)
    ap.add_argument("--population", type=int, default=5000)
    ap.add_argument("--addresses", type=int, default=2000)
    ap.add_argument("--max-clients", type=int, default=4000)
    ap.add_argument("--tolerance", type=float, default=0.10)
    a = ap.parse_args()
    rows = Soak(a).run()
    steady = [r for r in rows if a.warmup <= r[0] <= a.duration]
    ok = rows[-1][3] == 0
    if not ok:
        print("FAIL: index not empty after the peers left (%d entries)" % rows[-1][3])
    if len(steady) >= 2:
        for name, col in (("RSS", 1), ("fds", 2)):
            base = steady[0][col]
            worst = max(abs(r[col] - base) / base for r in steady)
            print("%s after warm-up: first %d, max deviation %.1f%%" % (name, base, 100 * worst))
            if worst > a.tolerance:
                print("FAIL: %s not flat within %.0f%%" % (name, 100 * a.tolerance))
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
