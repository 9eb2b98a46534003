// fakes.js — a virtual clock and a scripted WebSocket for the unit tests.
export class FakeClock {
  constructor() { this.t = 1000; this.timers = []; this.seq = 0; }
  now() { return this.t; }
  setTimeout(f, ms) { const id = ++this.seq; this.timers.push({ id, at: this.t + ms, f }); return id; }
  clearTimeout(id) { this.timers = this.timers.filter((x) => x.id !== id); }
  // Runs every timer due within `ms`, in order, moving the clock.
  advance(ms) {
    const end = this.t + ms;
    for (let guard = 0; guard < 100000; guard++) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.f();
    }
    this.t = end;
  }
  get api() {
    return { setTimeout: (f, ms) => this.setTimeout(f, ms), clearTimeout: (i) => this.clearTimeout(i), now: () => this.now() };
  }
}

// Every socket made is kept in `FakeWS.made`; the test plays the server.
export class FakeWS {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeWS.made.push(this);
  }
  send(s) { if (this.readyState !== 1) throw new Error('not open'); this.sent.push(JSON.parse(s)); }
  close(code, reason) { this.closedWith = { code, reason }; this.readyState = 3; }
  // server side
  open() { this.readyState = 1; if (this.onopen) this.onopen({}); }
  recv(m) { this.onmessage({ data: JSON.stringify(m) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose({ code }); }
  last(type) { return [...this.sent].reverse().find((m) => m.type === type); }
}
FakeWS.made = [];

export const welcome = (id, extra = {}) => ({
  type: 'welcome', v: 1, id, heartbeat_ms: 2000, timeout_ms: 10000,
  limits: { max_hashes_per_message: 2, max_report_bytes: 1000 },
  ice_servers: [{ urls: ['stun:127.0.0.1:3478'] }], ice_ttl_s: 100,
  resume_token: `${id}TOKEN${FakeWS.made.length}`.padEnd(48, 'x'), resume_window_ms: 30000, ...extra,
});
