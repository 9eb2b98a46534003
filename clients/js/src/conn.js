// conn.js — the tracker connection (protocol v1): connect, welcome, resume,
// heartbeat and liveness, requests by rid, ICE credential refresh, and
// reconnecting by the close-code table with backoff and jitter, paused while
// the browser says it is offline. No WebRTC here: the client above hears
// about sessions and messages through `hooks`.
//
// Time, randomness, the WebSocket class and the online signal are
// injectable, so node's test runner drives this state machine with a fake
// WebSocket and a fake clock (test/conn.test.js).
import { Backoff, closePolicy } from './backoff.js';
import { PeertrackError } from './errors.js';

const realTimers = {
  setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t), now: () => Date.now(),
};
// setTimeout takes at most a signed 32-bit number of ms.
const MAX_TIMER = 0x7fffffff;
const MAX_PENDING_SIGNALS = 1024;

// When a credential of `ttlS` seconds, got at `t`, should be refreshed: at
// 80% of its life (docs/PROTOCOL.md, welcome), never sooner than 1 s.
export function iceRefreshDelay(ttlS) {
  if (!(ttlS > 0)) return null;
  return Math.min(MAX_TIMER, Math.max(1000, Math.floor(ttlS * 800)));
}

// hooks: {state(s), session({id, resumed}), message(m), ice(servers), error(e), signalFailed(rid, m)}
export class Connection {
  constructor(opts, hooks) {
    this.url = opts.url;
    this.WS = opts.WebSocket || globalThis.WebSocket;
    this.t = opts.timers || realTimers;
    this.online = opts.online || browserOnline();
    this.livenessMs = opts.livenessMs; // default: from heartbeat_ms
    this.backoff = new Backoff({ random: opts.random || Math.random });
    this.hooks = hooks;
    this.state = 'idle';
    this.ws = null;
    this.id = null;
    this.welcome = null;
    this.iceServers = [];
    this.token = null;           // latest resume token
    this.resumeWindowMs = 0;
    this.droppedAt = 0;          // when the connection holding the token went
    this.rid = 0;
    this.pending = new Map();    // rid -> {resolve, reject, timer}
    this.signals = new Map();    // rid -> true, signals whose peer-gone we want
    this.timer = null;           // reconnect timer
    this.ping = null;
    this.dead = null;
    this.iceTimer = null;
    this.openedAt = 0;
    this.welcomed = false;
    this.unwatch = null;
  }

  start() {
    if (this.state !== 'idle') return;
    this.unwatch = this.online.watch((up) => this.onOnline(up));
    this.attempt();
  }

  close() {
    if (this.state === 'closed') return;
    this.t.clearTimeout(this.timer);
    if (this.unwatch) this.unwatch();
    this.drop(1000, 'client closed');
    this.setState('closed');
    this.token = null;
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.hooks.state(s);
  }

  onOnline(up) {
    if (this.state === 'closed') return;
    if (!up) { if (!this.ws) this.setState('offline'); return; }
    // Back online: try now instead of waiting out the backoff.
    if (!this.ws) { this.t.clearTimeout(this.timer); this.backoff.reset(); this.attempt(); }
  }

  attempt() {
    this.timer = null;
    if (this.state === 'closed') return;
    if (!this.online.up()) { this.setState('offline'); return; }
    this.setState('connecting');
    let ws;
    try {
      ws = new this.WS(this.url);
    } catch (e) {
      this.hooks.error(new PeertrackError('unavailable', `cannot open ${this.url}: ${e.message || e}`));
      this.scheduleRetry(closePolicy(1006), false, 0);
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    this.openedAt = this.t.now();
    ws.onmessage = (e) => { if (this.ws === ws) this.onFrame(e.data); };
    ws.onclose = (e) => { if (this.ws === ws) this.onClose(e.code); };
    ws.onerror = () => {}; // onclose follows with the code
  }

  // The transport is gone (close event, or declared dead): clean up, then
  // reconnect by the policy of `code`.
  onClose(code) {
    const welcomed = this.welcomed, lived = this.t.now() - this.openedAt;
    this.detach();
    const p = closePolicy(code);
    if (welcomed) {
      if (p.resume && this.token) this.droppedAt = this.t.now();
      else this.token = null;
    }
    if (!p.retry) {
      this.setState('closed');
      this.hooks.error(new PeertrackError('refused', `the tracker closed the connection (${code}); not retrying`,
        { closeCode: code }));
      return;
    }
    this.scheduleRetry(p, welcomed, lived);
  }

  scheduleRetry(p, welcomed, lived) {
    this.backoff.closed(p, welcomed, lived);
    const d = this.backoff.next(this.inWindow());
    if (d === 0) { this.attempt(); return; }
    this.setState('offline');
    this.timer = this.t.setTimeout(() => this.attempt(), d);
  }

  inWindow() {
    return !!this.token && this.t.now() - this.droppedAt < this.resumeWindowMs;
  }

  // Forget the socket and everything tied to it (timers, requests in flight).
  detach() {
    const ws = this.ws;
    this.ws = null;
    this.t.clearTimeout(this.ping); this.ping = null;
    this.t.clearTimeout(this.dead); this.dead = null;
    this.t.clearTimeout(this.iceTimer); this.iceTimer = null;
    for (const p of this.pending.values()) {
      this.t.clearTimeout(p.timer);
      p.reject(new PeertrackError('unavailable', 'the tracker connection closed'));
    }
    this.pending.clear();
    this.signals.clear();
    if (ws) { ws.onmessage = ws.onclose = ws.onerror = null; }
    return ws;
  }

  drop(code, reason) {
    const ws = this.detach();
    if (ws) try { ws.close(code, reason); } catch (_) { /* already closing */ }
  }

  onFrame(data) {
    let m;
    try { m = JSON.parse(data); } catch (_) { return; }
    if (!m || typeof m !== 'object') return;
    this.alive();
    if (m.type === 'welcome') { this.onWelcome(m); return; }
    if (m.type === 'resumed') {
      this.id = m.id;
      this.token = m.resume_token || null;
      this.settle(m);
      this.opened(true);
      return;
    }
    if (m.rid !== undefined && this.pending.has(m.rid)) { this.settle(m); return; }
    if (m.rid !== undefined && this.signals.has(m.rid)) {
      this.signals.delete(m.rid);
      if (m.type === 'error') this.hooks.signalFailed(m.rid, m);
      return;
    }
    this.hooks.message(m);
  }

  settle(m) {
    const p = this.pending.get(m.rid);
    if (!p) return;
    this.pending.delete(m.rid);
    this.t.clearTimeout(p.timer);
    if (m.type === 'error') p.reject(new PeertrackError(m.code, m.message));
    else p.resolve(m);
  }

  onWelcome(m) {
    const resumable = this.inWindow();
    const old = this.token;
    this.welcome = m;
    this.welcomed = true;
    this.id = m.id;
    this.setIce(m.ice_servers, m.ice_ttl_s);
    this.resumeWindowMs = m.resume_window_ms || 0;
    this.token = m.resume_token || null;
    const hb = m.heartbeat_ms > 0 ? m.heartbeat_ms : 15000;
    this.pingEvery = Math.max(50, Math.floor(hb / 2));
    // Two heartbeats and a second of silence: a page whose timers ran late
    // (a loaded machine, a background tab) must not take a live tracker for
    // dead, since the close frame it then sends ends the session for good.
    this.deadAfter = this.livenessMs || 2 * hb + 1000;
    this.schedulePing();
    if (!resumable) { this.opened(false); return; }
    // Take the old id back; the fresh one of this welcome is forgotten then.
    this.request({ type: 'resume', token: old }).catch((e) => {
      if (!(this.ws && this.welcomed && this.state === 'connecting')) return;
      // The server has not seen the old connection drop yet (it learns of
      // a silent drop only at its heartbeat timeout): leave this one with a
      // close frame — a clean close is not kept, so its fresh id just goes —
      // and ask again, on the short schedule, while the window lasts.
      if (e.code === 'resume-live' && this.t.now() - this.droppedAt < this.resumeWindowMs) {
        this.token = old;
        this.welcomed = false;
        this.drop(1000, 'resume-live: asking again');
        this.scheduleRetry(closePolicy(1006), false, 0);
        return;
      }
      this.opened(false, e.code);
    });
  }

  opened(resumed, refused) {
    this.setState('open');
    this.hooks.session({ id: this.id, resumed, refused });
  }

  setIce(servers, ttlS) {
    this.iceServers = Array.isArray(servers) ? servers : [];
    this.t.clearTimeout(this.iceTimer);
    const d = iceRefreshDelay(ttlS);
    this.iceTimer = d === null ? null : this.t.setTimeout(() => this.refreshIce(), d);
    this.hooks.ice(this.iceServers);
  }

  refreshIce() {
    this.iceTimer = null;
    this.request({ type: 'refresh-ice' }).then((m) => this.setIce(m.ice_servers, m.ice_ttl_s), (e) => {
      // Not connected: the next welcome carries fresh ones. Otherwise retry soon.
      if (this.ws && e.code !== 'unavailable') this.iceTimer = this.t.setTimeout(() => this.refreshIce(), 5000);
    });
  }

  // Any frame is a heartbeat; pings with a rid also prove the server is
  // there: a connection silent for deadAfter is dropped as dead (no close
  // frame can cross a dead network, so nothing is waited for) and resumed.
  schedulePing() {
    this.t.clearTimeout(this.ping);
    this.ping = this.t.setTimeout(() => {
      if (!this.ws) return;
      this.request({ type: 'ping' }).catch(() => {});
      this.schedulePing();
    }, this.pingEvery);
  }

  alive() {
    if (!this.deadAfter) return;
    this.t.clearTimeout(this.dead);
    this.dead = this.t.setTimeout(() => {
      const ws = this.ws;
      if (!ws) return;
      // 4000 is what the server would say; the frame never arrives, which
      // is what keeps the session resumable on its side.
      this.onClose(4000);
      try { ws.close(4000, 'no answer from the tracker'); } catch (_) { /* gone */ }
    }, this.deadAfter);
  }

  isOpen() { return this.state === 'open' && !!this.ws; }

  send(m) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(m));
    return true;
  }

  // A message with a reply: resolves with it, or rejects a PeertrackError
  // (the server's code, 'unavailable' when not connected, 'timeout').
  request(m, timeoutMs = 15000) {
    const rid = ++this.rid;
    if (!this.send({ ...m, rid })) return Promise.reject(new PeertrackError('unavailable', 'not connected to the tracker'));
    return new Promise((resolve, reject) => {
      const timer = this.t.setTimeout(() => {
        this.pending.delete(rid);
        reject(new PeertrackError('timeout', `no answer to ${m.type}`));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
    });
  }

  // A signal (no reply when relayed): -> its rid, or 0 when not connected.
  // An error for it (peer-gone, unavailable) comes back through hooks.signalFailed(rid).
  signal(to, data) {
    const rid = ++this.rid;
    if (!this.send({ type: 'signal', rid, to, data })) return 0;
    this.signals.set(rid, true);
    if (this.signals.size > MAX_PENDING_SIGNALS) this.signals.delete(this.signals.keys().next().value);
    return rid;
  }
}

// navigator.onLine and the window's online/offline events, where they exist.
export function browserOnline() {
  const nav = globalThis.navigator;
  return {
    up: () => !nav || nav.onLine !== false,
    watch(cb) {
      if (typeof globalThis.addEventListener !== 'function') return () => {};
      const on = () => cb(true), off = () => cb(false);
      globalThis.addEventListener('online', on);
      globalThis.addEventListener('offline', off);
      return () => { globalThis.removeEventListener('online', on); globalThis.removeEventListener('offline', off); };
    },
  };
}
