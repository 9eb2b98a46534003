// bridge.js — the page half of peertrack's service worker (sw.js): registers
// the worker, gives it a MessagePort, and serves its requests from peers with
// a PeertrackClient.
//
// One tab per site holds the tracker connection (the Web Locks API elects
// it; a browser without it makes every tab hold its own). That tab answers
// the worker's {fetch} with client.fetchFromPeers and announces what the
// worker cached — also after a reload, from the Cache API. When it closes the
// lock passes to another open tab, which connects, re-seeds the cache and
// tells the worker it leads now. Without service workers, WebRTC or a
// tracker the page still works: the worker (or the browser) fetches from the
// origin.
//
//   import { startPeertrack } from './peertrack/bridge.js';
//   const pt = startPeertrack({ tracker: 'wss://tracker.example/v1', serviceWorker: '/sw.js' });
//   await pt.ready;               // the worker controls the page (or never will): load assets now
//   pt.addEventListener('change', () => render(pt.stats()));
//
// Contract: startPeertrack(options) -> PeertrackBridge (an EventTarget).
//   options.tracker        ws(s):// URL of peertrackd's /v1 (required)
//   options.serviceWorker  URL of the site's worker script (module); null: none
//   options.scope          its scope (default: the script's directory)
//   options.client         PeertrackClient options (url is options.tracker)
//   options.controlTimeoutMs  how long `ready` waits for the worker to take
//                          control of this page (3000)
//   options.connectWaitMs  how long a request waits for the tracker connection
//                          before the worker is told 'unavailable' (2000)
//   options.cacheName      the worker's cache (sw.js SW_DEFAULTS.cacheName)
// Events (CustomEvent): 'served' {url, hash, source, bytes, status, ms},
//   'leader' {leader}, 'badpeer' {peer, hash}, 'change' {} after any of them
//   or a client event.
// The bridge owns its client: close() closes it.
import { PeertrackClient } from './client.js';

const DEFAULTS = { controlTimeoutMs: 3000, connectWaitMs: 2000, cacheName: 'peertrack-v1' };

export function startPeertrack(options) {
  return new PeertrackBridge(options);
}

export class PeertrackBridge extends EventTarget {
  constructor(options = {}) {
    super();
    if (!options.tracker) throw new TypeError('startPeertrack: options.tracker is required');
    this.options = { ...DEFAULTS, ...options };
    this.client = null;
    this.leader = false;
    this.controlled = false;
    this.resources = new Map();   // url -> {hash, source, bytes, status, ms, count}
    this.counts = { peer: 0, origin: 0, cache: 0, network: 0 };
    this.bytes = { peer: 0, origin: 0 };
    this.badPeers = [];           // {peer, hash} the client caught sending bad bytes
    this._port = null;
    this._inflight = new Map();   // worker request id -> AbortController
    this._closed = false;
    this._release = null;
    // Leaving: the client's last `report` and a clean close, and the lock
    // passes to another tab at once.
    if (typeof addEventListener === 'function') addEventListener('pagehide', () => this.close(), { once: true });
    this.ready = this._start();
  }

  async _start() {
    const sw = typeof navigator !== 'undefined' && navigator.serviceWorker;
    if (!sw || !this.options.serviceWorker) {
      this._elect();
      return { controlled: false, reason: 'no service worker' };
    }
    sw.addEventListener('message', (ev) => {
      if (ev.data && ev.data.type === 'peertrack-reconnect') this._hello();
    });
    sw.addEventListener('controllerchange', () => this._hello());
    try {
      const reg = await sw.register(this.options.serviceWorker,
        { type: 'module', ...(this.options.scope ? { scope: this.options.scope } : {}) });
      this._reg = reg;
      await sw.ready;
      this._hello();
      this._elect();
      if (!sw.controller) {
        // A first visit: the worker claims this page when it activates.
        await new Promise((resolve) => {
          const t = setTimeout(resolve, this.options.controlTimeoutMs);
          sw.addEventListener('controllerchange', () => { clearTimeout(t); resolve(); }, { once: true });
        });
      }
      this.controlled = !!sw.controller;
      this._changed();
      return { controlled: this.controlled, reason: this.controlled ? '' : 'the worker did not take control in time' };
    } catch (e) {
      this._elect();
      return { controlled: false, reason: `service worker: ${e.message}` };
    }
  }

  // A new port to the active worker (first time, after the worker restarted
  // or was replaced).
  _hello() {
    if (this._closed) return;
    const target = (this._reg && this._reg.active) || navigator.serviceWorker.controller;
    if (!target) return;
    if (this._port) this._port.close();
    const ch = new MessageChannel();
    this._port = ch.port1;
    this._port.onmessage = (ev) => this._onWorker(ev.data || {});
    target.postMessage({ type: 'peertrack-hello' }, [ch.port2]);
    if (this.leader) this._port.postMessage({ type: 'leader' });
  }

  _elect() {
    const name = `peertrack:${new URL(this.options.scope || this.options.serviceWorker || '/', location.href).href}`;
    if (typeof navigator !== 'undefined' && navigator.locks) {
      navigator.locks.request(name, () => {
        if (this._closed) return undefined;
        this._lead();
        return new Promise((resolve) => { this._release = resolve; });
      }).catch(() => {});
    } else {
      this._lead();
    }
  }

  _lead() {
    this.leader = true;
    if (typeof RTCPeerConnection !== 'undefined' || this.options.client?.RTCPeerConnection) {
      this.client = new PeertrackClient({ ...this.options.client, url: this.options.tracker });
      for (const t of ['statechange', 'peers', 'transfer', 'badpeer', 'error'])
        this.client.addEventListener(t, () => this._changed());
      // A peer that sent bytes failing their hash: the client dropped it and
      // told the tracker; the panel shows it.
      this.client.addEventListener('badpeer', (e) => {
        this.badPeers.push(e.detail);
        this.dispatchEvent(new CustomEvent('badpeer', { detail: e.detail }));
      });
      this.client.start();
      this._reseed();
    }
    if (this._port) this._port.postMessage({ type: 'leader' });
    this.dispatchEvent(new CustomEvent('leader', { detail: { leader: true } }));
    this._changed();
  }

  // Everything the worker cached before (this visit or an earlier one).
  async _reseed() {
    if (typeof caches === 'undefined') return;
    try {
      const cache = await caches.open(this.options.cacheName);
      for (const req of await cache.keys()) {
        const r = await cache.match(req);
        const hash = r && r.headers.get('x-peertrack-sha256');
        if (hash && this.client) await this._seed(hash, await r.arrayBuffer());
      }
    } catch { /* no Cache API here: nothing to re-seed */ }
  }

  async _seed(hash, buf) {
    try {
      await this.client.seed(hash, new Uint8Array(buf));
    } catch (e) {
      // 'bad-hash': the cache holds something else now; drop it.
      if (e && e.code === 'bad-hash') this._dropCached(hash);
    }
  }

  async _dropCached(hash) {
    const cache = await caches.open(this.options.cacheName);
    for (const req of await cache.keys()) {
      const r = await cache.match(req);
      if (r && r.headers.get('x-peertrack-sha256') === hash) await cache.delete(req);
    }
  }

  _onWorker(m) {
    switch (m.type) {
    case 'fetch': this._fetch(m); break;
    case 'cancel': { const ac = this._inflight.get(m.id); if (ac) ac.abort(); break; }
    case 'seed':
      if (this.client) caches.match(m.url, { cacheName: this.options.cacheName })
        .then((r) => r && r.arrayBuffer()).then((b) => b && this._seed(m.hash, b)).catch(() => {});
      break;
    case 'origin': if (this.client) this.client.noteOrigin(m.hash, m.bytes); break;
    case 'served': this._served(m); break;
    default: break;
    }
  }

  _reply(msg, transfer) {
    if (this._port) this._port.postMessage({ type: 'result', ...msg }, transfer || []);
  }

  async _fetch({ id, hash, size, timeoutMs }) {
    const c = this.client;
    if (!c) { this._reply({ id, ok: false, code: 'unavailable' }); return; }
    const ac = new AbortController();
    this._inflight.set(id, ac);
    const until = performance.now() + timeoutMs;
    try {
      if (c.state !== 'open') await this._opened(c, Math.min(this.options.connectWaitMs, timeoutMs), ac.signal);
      const bytes = await c.fetchFromPeers(hash, { signal: ac.signal, size,
                                                   timeoutMs: Math.max(1, Math.floor(until - performance.now())) });
      // A copy: the client may keep its own to serve others.
      const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      this._reply({ id, ok: true, bytes: buf }, [buf]);
    } catch (e) {
      this._reply({ id, ok: false, code: (e && e.code) || 'failed' });
    } finally {
      this._inflight.delete(id);
    }
  }

  // Resolves when the client is open; rejects 'unavailable' after ms.
  _opened(c, ms, signal) {
    return new Promise((resolve, reject) => {
      const done = (err) => { clearTimeout(t); c.removeEventListener('statechange', on); err ? reject(err) : resolve(); };
      // 'offline': no network, or backing off after a failed attempt: the
      // origin now beats waiting out the backoff.
      const on = () => {
        if (c.state === 'open') done();
        else if (c.state === 'closed' || c.state === 'offline') done(unavailable());
      };
      const unavailable = () => Object.assign(new Error('no tracker connection'), { code: 'unavailable' });
      const t = setTimeout(() => done(unavailable()), ms);
      c.addEventListener('statechange', on);
      signal.addEventListener('abort', () => done(Object.assign(new Error('aborted'), { code: 'aborted' })), { once: true });
      on();
    });
  }

  _served(m) {
    const r = this.resources.get(m.url) || { count: 0 };
    Object.assign(r, { hash: m.hash, source: m.source, bytes: m.bytes, status: m.status, ms: m.ms, count: r.count + 1 });
    this.resources.set(m.url, r);
    this.counts[m.source] = (this.counts[m.source] || 0) + 1;
    if (m.source === 'peer' || m.source === 'origin') this.bytes[m.source] += m.bytes;
    this.dispatchEvent(new CustomEvent('served', { detail: m }));
    this._changed();
  }

  _changed() {
    this.dispatchEvent(new CustomEvent('change', { detail: {} }));
  }

  // What a live panel shows: this tab's view of the worker's answers, and
  // the client's counters when this tab holds the connection.
  stats() {
    return {
      leader: this.leader,
      controlled: this.controlled,
      client: this.client ? this.client.stats() : null,
      served: { ...this.counts },
      bytes: { ...this.bytes },
      badPeers: [...this.badPeers],
      resources: Object.fromEntries(this.resources),
    };
  }

  close() {
    this._closed = true;
    for (const ac of this._inflight.values()) ac.abort();
    if (this.client) this.client.close();
    this.client = null;
    if (this._port) this._port.close();
    this._port = null;
    if (this._release) this._release();
  }
}
