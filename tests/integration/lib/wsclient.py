#!/usr/bin/env python3
"""wsclient.py — a small WebSocket client (RFC 6455) on Python's standard
library, for the deployment tests (tests/integration/{tls,nginx}.sh): it
speaks ws:// and wss://, sets any header (Origin, a forged X-Forwarded-For),
binds a chosen loopback source address and can present a client certificate,
which is what those tests need from a client and node's WebSocket cannot do.

Every wait has a deadline. WebSocket pings are answered as they arrive, as a
browser does. Usage (exit status 0 = the scenario held):

  wsclient.py [options] flow URL         two peers: announce, lookup, signal
  wsclient.py [options] hello URL        connect, print "connected ID"
  wsclient.py [options] idle URL SECS    send nothing for SECS (server pings
                                         answered), then ping/pong
  wsclient.py [options] hold URL         connect, print "connected ID FPR",
                                         wait for a line on stdin (sending a
                                         ping every heartbeat_ms), ping/pong
  wsclient.py [options] refused URL      the connection must fail
  wsclient.py [options] ice URL          connect, print "turn USERNAME CREDENTIAL"
                                         from welcome.ice_servers
"""
import argparse
import base64
import hashlib
import json
import os
import select
import socket
import ssl
import struct
import sys
import time
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


class Closed(Exception):
    """The server closed the connection (code, or None for a drop)."""


class WS:
    # Generous: at load 20+ a sanitized daemon behind nginx has taken more
    # than 10 s to answer; only a failing scenario waits this long.
    def __init__(self, url, opts, timeout=30.0):
        u = urlsplit(url)
        if u.scheme not in ("ws", "wss"):
            raise ValueError("not a ws:// or wss:// URL: " + url)
        host, port = u.hostname, u.port or (443 if u.scheme == "wss" else 80)
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        self.deadline_default = timeout
        src = (opts.source, 0) if opts.source else None
        sock = socket.create_connection((host, port), timeout, source_address=src)
        self.cert_sha256 = ""
        if u.scheme == "wss":
            ctx = ssl.create_default_context(cafile=opts.cafile)
            if opts.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if opts.cert:
                ctx.load_cert_chain(opts.cert, opts.key)
            sock = ctx.wrap_socket(sock, server_hostname=opts.servername or host)
            der = sock.getpeercert(binary_form=True)
            self.cert_sha256 = hashlib.sha256(der).hexdigest().upper()
        self.sock = sock
        self.buf = b""
        self.queue = []
        self.pings = 0
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = [
            "GET %s HTTP/1.1" % path,
            "Host: %s:%d" % (host, port),
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: " + key,
            "Sec-WebSocket-Version: 13",
        ]
        if opts.origin:
            hdrs.append("Origin: " + opts.origin)
        hdrs += opts.header or []
        sock.sendall(("\r\n".join(hdrs) + "\r\n\r\n").encode())
        end = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 16384:
                raise Closed("handshake response too long")
            self._fill(end)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise Closed("handshake refused: " + lines[0])
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        accept = [l.split(":", 1)[1].strip() for l in lines[1:]
                  if l.lower().startswith("sec-websocket-accept:")]
        if accept != [want]:
            raise Closed("bad Sec-WebSocket-Accept")

    def _fill(self, end):
        """Reads what is there into self.buf, waiting until end at most."""
        if not self._pending():
            left = max(0.0, end - time.monotonic())
            if not select.select([self.sock], [], [], left)[0]:
                raise TimeoutError("timed out")
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, ssl.SSLError) as e:
            raise Closed("dropped: %s" % e)
        if not data:
            raise Closed("dropped without close frame")
        self.buf += data

    def _pending(self):
        """Bytes already read from the socket (TLS) that select cannot see."""
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def _frame(self):
        """(first byte, payload) of one whole frame taken from self.buf, or
        None: a timeout never leaves half a frame consumed."""
        b = self.buf
        if len(b) < 2:
            return None
        n, off = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return b[0], b[off:off + n]

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, obj):
        self._send_frame(0x1, json.dumps(obj, separators=(",", ":")).encode())

    def _next_message(self, end):
        """The next text message; answers pings on the way."""
        parts = []
        while True:
            f = self._frame()
            if f is None:
                self._fill(end)
                continue
            b0, payload = f
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self.pings += 1
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed("close frame, code %s" % code)
            elif opcode in (0x0, 0x1):
                parts.append(payload)
                if b0 & 0x80:
                    return json.loads(b"".join(parts).decode())

    def recv(self, types, timeout=None):
        """The first queued or incoming message whose type is in types."""
        for i, m in enumerate(self.queue):
            if m.get("type") in types:
                return self.queue.pop(i)
        end = time.monotonic() + (timeout or self.deadline_default)
        while True:
            m = self._next_message(end)
            if m.get("type") in types:
                return m
            self.queue.append(m)

    def call(self, obj):
        """Sends obj and returns its direct reply (same rid)."""
        self.send(obj)
        end = time.monotonic() + self.deadline_default
        while True:
            m = self.recv(("ack", "peers", "pong", "error"), max(0.0, end - time.monotonic()))
            if m.get("rid") == obj.get("rid"):
                return m

    def pump(self, end):
        """Handles what arrives until end: answers pings, queues messages
        (except the pongs of our own heartbeats)."""
        try:
            while True:
                m = self._next_message(end)
                if not (m.get("type") == "pong" and m.get("rid") == "hb"):
                    self.queue.append(m)
        except TimeoutError:
            pass

    def wait_stdin(self, timeout):
        """Until a line arrives on stdin, behaves like a conforming idle
        client: a ping message every heartbeat_ms, server pings answered."""
        end = time.monotonic() + timeout
        next_hb = time.monotonic() + self.heartbeat_s
        while True:
            now = time.monotonic()
            if now >= end:
                raise TimeoutError("no line on stdin")
            if now >= next_hb:
                self.send({"type": "ping", "rid": "hb"})
                next_hb = now + self.heartbeat_s
            if self._pending() or self._frame_ready():
                r = [self.sock]
            else:
                r = select.select([self.sock, sys.stdin], [], [], min(end, next_hb) - now)[0]
            if sys.stdin in r:
                sys.stdin.readline()
                return
            if r:
                self.pump(time.monotonic())

    def _frame_ready(self):
        saved = self.buf
        ready = self._frame() is not None
        self.buf = saved
        return ready

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
            self.sock.close()
        except OSError:
            pass


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def joined(url, opts):
    ws = WS(url, opts)
    w = ws.recv(("welcome",))
    check(len(w.get("id", "")) == 24, "welcome without a 24-char id: %r" % w)
    ws.id = w["id"]
    ws.heartbeat_s = w["heartbeat_ms"] / 1000.0
    ws.welcome = w
    return ws


def flow(url, opts):
    a, b = joined(url, opts), joined(url, opts)
    r = a.call({"type": "announce", "rid": 1, "hashes": [HASH]})
    check(r == {"type": "ack", "rid": 1, "count": 1, "total": 1}, "announce: %r" % r)
    r = b.call({"type": "lookup", "rid": 2, "hash": HASH})
    check(r.get("type") == "peers" and r.get("peers") == [a.id], "lookup: %r" % r)
    b.send({"type": "signal", "to": a.id, "data": {"candidate": "test"}})
    r = a.recv(("signal",))
    check(r.get("from") == b.id and r.get("data") == {"candidate": "test"}, "signal: %r" % r)
    print("flow ok a=%s b=%s" % (a.id, b.id))
    a.close()
    b.close()


def idle(url, secs, opts):
    ws = joined(url, opts)
    print("connected %s" % ws.id, flush=True)
    ws.pump(time.monotonic() + secs)
    r = ws.call({"type": "ping", "rid": 7})
    check(r == {"type": "pong", "rid": 7}, "ping after idling: %r" % r)
    print("alive after %.1fs, %d server pings" % (secs, ws.pings))
    check(ws.pings > 0, "no server ping while idle")
    ws.close()


def hello(url, opts):
    ws = joined(url, opts)
    r = ws.call({"type": "ping", "rid": 1})
    check(r == {"type": "pong", "rid": 1}, "ping: %r" % r)
    print("connected %s" % ws.id)
    ws.close()


def hold(url, opts):
    ws = joined(url, opts)
    print("connected %s %s" % (ws.id, ws.cert_sha256), flush=True)
    ws.wait_stdin(60)
    r = ws.call({"type": "ping", "rid": 8})
    check(r == {"type": "pong", "rid": 8}, "ping after the wait: %r" % r)
    print("alive", flush=True)
    ws.close()


def ice(url, opts):
    ws = joined(url, opts)
    turn = [s for s in ws.welcome.get("ice_servers", []) if "username" in s]
    check(len(turn) == 1, "welcome.ice_servers has no TURN entry: %r" % ws.welcome)
    print("turn %s %s" % (turn[0]["username"], turn[0]["credential"]), flush=True)
    ws.close()


def refused(url, opts):
    try:
        ws = WS(url, opts)
        ws.recv(("welcome",), timeout=3)
    except (Closed, ConnectionError, ssl.SSLError, TimeoutError, OSError) as e:
        print("refused: %s" % e)
        return
    raise AssertionError("the connection was accepted")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--origin")
    p.add_argument("--header", action="append", help="extra 'Name: value'")
    p.add_argument("--source", help="local address to bind (loopback)")
    p.add_argument("--insecure", action="store_true", help="skip certificate checks")
    p.add_argument("--cafile")
    p.add_argument("--servername")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("what", choices=("flow", "hello", "idle", "hold", "refused", "ice"))
    p.add_argument("url")
    p.add_argument("secs", nargs="?", type=float, default=0)
    o = p.parse_args()
    try:
        if o.what == "flow":
            flow(o.url, o)
        elif o.what == "hello":
            hello(o.url, o)
        elif o.what == "idle":
            idle(o.url, o.secs, o)
        elif o.what == "hold":
            hold(o.url, o)
        elif o.what == "ice":
            ice(o.url, o)
        else:
            refused(o.url, o)
    except (AssertionError, Closed, TimeoutError, OSError, ValueError) as e:
        print("wsclient %s: FAIL: %s" % (o.what, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
