// sw.js — the service-worker half of peertrack: serves the site's manifest
// URLs from peers, through a page.
//
// A service worker cannot hold an RTCPeerConnection, so it asks a page (the
// tab that holds the tracker connection: bridge.js, over a MessagePort) for
// a resource by SHA-256, and falls back to the network when no page answers,
// no peer holds it, the tracker or WebRTC is unavailable, or the answer takes
// longer than its budget (peerBudgetMs). Bytes are checked against the manifest's SHA-256
// and size before use, whichever way they came (a mismatch from the origin is
// passed through unchanged but never cached nor seeded: the manifest is
// stale). Verified bytes go into the Cache API and the page is told to seed
// them, so this visitor becomes a source. Range requests (a <video>) are
// answered 206 from the whole verified bytes.
//
// Use, in the site's service-worker script (a module worker):
//   import { installPeertrackServiceWorker } from './peertrack/sw.js';
//   installPeertrackServiceWorker({ manifestUrl: '/peertrack-manifest.json' });
//
// Only GET requests for URLs in the manifest are intercepted; navigations
// never are (the page must run to hold the connection). Everything else goes
// to the network as if no service worker were there.
//
// Messages (structured clone). Page -> SW, on the worker itself:
//   {type:'peertrack-hello'} with a MessagePort; then on that port:
//   {type:'leader'}                   this tab holds the connection now
//   {type:'result', id, ok:true, bytes: ArrayBuffer} | {type:'result', id, ok:false, code}
// SW -> page, on the port:
//   {type:'fetch', id, hash, size, url, timeoutMs}   get it from peers
//   {type:'cancel', id}                              the SW gave up on it
//   {type:'seed', hash, url, size}                   verified, cached: announce it
//   {type:'origin', hash, url, bytes}                came from the origin (accounting)
//   {type:'served', url, hash, source, bytes, status, ms, why}  source: 'peer'|'origin'|'cache'|'network';
//                                    bytes 0 when it shared another request's transfer; why (from the
//                                    origin): the page's code ('no-holder', 'unavailable', 'all-failed'
//                                    ...), 'timeout' (peerBudgetMs), 'no-page', 'bad-bytes'
// SW -> page, through Client.postMessage: {type:'peertrack-reconnect'}
//   (a restarted worker has lost every port: send a new hello).
import { parseManifest } from './manifest.js';
import { parseRange, rangeHeaders } from './range.js';

export const SW_DEFAULTS = Object.freeze({
  manifestUrl: 'peertrack-manifest.json', // resolved against the worker script's URL
  cacheName: 'peertrack-v1',
  // The whole budget of asking the page for one resource, before going to
  // the origin: peerTimeoutMs if set, else peerSetupMs (lookup, WebRTC
  // connection: seconds on a slow machine) plus the size at
  // peerMinBytesPerSec, so a large file is not cut off mid-transfer.
  peerTimeoutMs: null,
  peerSetupMs: 8000,
  peerMinBytesPerSec: 1 << 20,
  pageWaitMs: 1000,       // of that, how long to wait for a page to say hello
  manifestTtlMs: 60000,   // re-read the manifest at most this often
});

// The budget, in ms, of getting `size` bytes from peers under options `opt`.
export function peerBudgetMs(opt, size) {
  if (opt.peerTimeoutMs > 0) return opt.peerTimeoutMs;
  return opt.peerSetupMs + Math.ceil((size * 1000) / opt.peerMinBytesPerSec);
}

export function installPeertrackServiceWorker(options = {}, sw = self) {
  const opt = { ...SW_DEFAULTS, ...options };
  const manifestUrl = new URL(opt.manifestUrl, sw.location.href).href;
  const ports = new Map();   // clientId -> MessagePort
  let leader = null;         // clientId of the tab holding the connection
  const pending = new Map(); // request id -> {resolve, clientId, msg}
  const inflight = new Map(); // url -> Promise of obtain(): one fetch per URL at a time
  const helloWaiters = new Set();
  let nextId = 1;
  let manifest = null, manifestAt = 0, manifestLoading = null;

  const log = (...a) => console.debug('peertrack sw:', ...a);

  function loadManifest(force = false) {
    if (!force && manifest && performance.now() - manifestAt < opt.manifestTtlMs) return Promise.resolve(manifest);
    if (manifestLoading) return manifestLoading;
    manifestLoading = (async () => {
      try {
        const r = await fetch(manifestUrl, { cache: 'no-cache', credentials: 'same-origin' });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        manifest = parseManifest(await r.text(), manifestUrl);
        manifestAt = performance.now();
      } catch (e) {
        // Keep the last good manifest; without one nothing is intercepted.
        log(`manifest ${manifestUrl}: ${e.message}`);
      } finally {
        manifestLoading = null;
      }
      return manifest;
    })();
    return manifestLoading;
  }

  // -- pages ---------------------------------------------------------------
  function post(clientId, msg, transfer) {
    const p = ports.get(clientId);
    if (!p) return false;
    try { p.postMessage(msg, transfer || []); return true; } catch { return false; }
  }

  function onPortMessage(clientId, ev) {
    const m = ev.data || {};
    if (m.type === 'leader') {
      leader = clientId;
      // Requests the previous leader never answered go to this one, within
      // their own deadlines.
      for (const [id, p] of pending) {
        if (p.clientId !== clientId) { p.clientId = clientId; post(clientId, { ...p.msg, id }); }
      }
      wakeHelloWaiters();
    } else if (m.type === 'result') {
      const p = pending.get(m.id);
      if (p && p.clientId === clientId) { pending.delete(m.id); p.resolve(m); }
    }
  }

  function wakeHelloWaiters() {
    for (const w of [...helloWaiters]) w();
  }

  // The live tab holding the connection, or null. Tabs that closed are
  // forgotten here (a MessagePort says nothing when its page goes).
  async function livePage() {
    if (leader) {
      const c = await sw.clients.get(leader);
      if (c && ports.has(leader)) return leader;
      ports.delete(leader);
      leader = null;
    }
    for (const id of [...ports.keys()]) if (!(await sw.clients.get(id))) ports.delete(id);
    return null;
  }

  // Waits (up to ms) for a leader, asking every window to say hello if the
  // worker knows none (it was restarted, or the pages came first).
  async function waitForPage(ms) {
    let id = await livePage();
    if (id || ms <= 0) return id;
    if (!ports.size) {
      for (const c of await sw.clients.matchAll({ type: 'window' }))
        c.postMessage({ type: 'peertrack-reconnect' });
    }
    const until = performance.now() + ms;
    while (!id && performance.now() < until) {
      await new Promise((resolve) => {
        const w = () => { helloWaiters.delete(w); clearTimeout(t); resolve(); };
        const t = setTimeout(w, until - performance.now());
        helloWaiters.add(w);
      });
      id = await livePage();
    }
    return id;
  }

  // Asks the leader for `entry` from peers. Bytes (ArrayBuffer) or null.
  async function fromPeers(entry) {
    const t0 = performance.now();
    const budget = peerBudgetMs(opt, entry.size);
    const clientId = await waitForPage(Math.min(opt.pageWaitMs, budget));
    if (!clientId) return { bytes: null, why: 'no-page' };
    const left = budget - (performance.now() - t0);
    if (left <= 0) return { bytes: null, why: 'timeout' };
    const id = nextId++;
    const msg = { type: 'fetch', hash: entry.hash, size: entry.size, url: entry.url, timeoutMs: Math.floor(left) };
    const r = await new Promise((resolve) => {
      const timer = setTimeout(() => {
        const p = pending.get(id);
        pending.delete(id);
        if (p) post(p.clientId, { type: 'cancel', id });
        resolve({ ok: false, code: 'timeout' });
      }, left);
      pending.set(id, { clientId, msg, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      if (!post(clientId, { ...msg, id })) { clearTimeout(timer); pending.delete(id); resolve({ ok: false, code: 'no-page' }); }
    });
    if (!r.ok) return { bytes: null, why: r.code || 'failed' };
    if (!(await verified(r.bytes, entry))) return { bytes: null, why: 'bad-bytes' };
    return { bytes: r.bytes };
  }

  // -- bytes ---------------------------------------------------------------
  async function verified(buf, entry) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength !== entry.size) return false;
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
    let hex = '';
    for (const b of d) hex += b.toString(16).padStart(2, '0');
    return hex === entry.hash;
  }

  async function keep(entry, buf) {
    try {
      const cache = await caches.open(opt.cacheName);
      await cache.put(entry.url, new Response(buf, {
        headers: { 'content-type': entry.type, 'content-length': String(entry.size), 'x-peertrack-sha256': entry.hash },
      }));
    } catch (e) {
      log(`cache ${entry.url}: ${e.message}`);   // quota: still served, not seeded
      return;
    }
    if (leader) post(leader, { type: 'seed', hash: entry.hash, url: entry.url, size: entry.size });
  }

  function respond(entry, buf, req) {
    const range = parseRange(req.headers.get('range'), entry.size);
    const init = rangeHeaders(range, entry.size, entry.type);
    const body = init.status === 206 ? buf.slice(range.start, range.end + 1) : init.status === 416 ? null : buf;
    return new Response(body, init);
  }

  async function handle(req, entry, clientId) {
    const t0 = performance.now();
    const served = (source, status, bytes, why) => {
      const m = { type: 'served', url: entry.url, hash: entry.hash, source, status, bytes,
                  ms: Math.round(performance.now() - t0), ...(why ? { why } : {}) };
      // The requesting tab and the leader (whose panel counts everything).
      post(clientId, m);
      if (leader && leader !== clientId) post(leader, m);
    };
    // 1. Already here.
    try {
      const hit = await caches.match(entry.url, { cacheName: opt.cacheName });
      if (hit) {
        const buf = await hit.arrayBuffer();
        if (buf.byteLength === entry.size && hit.headers.get('x-peertrack-sha256') === entry.hash) {
          const r = respond(entry, buf, req);
          served('cache', r.status, 0);
          return r;
        }
        (await caches.open(opt.cacheName)).delete(entry.url);   // an older version of the file
      }
    } catch { /* no Cache API (private mode, quota): go on */ }
    // 2. Peers, else the origin: once per URL however many ask at once (a
    // <video> sends a second Range request before the first is answered).
    let job = inflight.get(entry.url), joined = true;
    if (!job) {
      joined = false;
      job = obtain(entry).finally(() => inflight.delete(entry.url));
      inflight.set(entry.url, job);
    }
    let got;
    try {
      got = await job;
    } catch (e) {
      // The origin unreachable, or a cross-origin file without CORS (its
      // bytes cannot be read, so not checked): the browser's own fetch, as
      // if there were no worker.
      log(`${entry.url}: ${e.message}; passed to the network`);
      served('network', 0, 0);
      return fetch(req);
    }
    if (got.source === 'network') {   // an HTTP error, or bytes that fail the manifest: as the origin sent them
      served('network', got.status, joined ? 0 : got.buf.byteLength, got.why);
      return new Response(got.status === 204 || got.status === 304 ? null : got.buf,
                          { status: got.status, statusText: got.statusText, headers: got.headers });
    }
    const r = respond(entry, got.buf, req);
    served(got.source, r.status, joined ? 0 : got.buf.byteLength, got.why);
    return r;
  }

  // The bytes of `entry`: {source: 'peer'|'origin', buf} verified and being
  // kept, or {source: 'network', status, statusText, headers, buf} to pass on.
  // Rejects when the origin cannot be reached.
  async function obtain(entry) {
    const p = await fromPeers(entry);
    if (p.bytes) {
      keep(entry, p.bytes);
      return { source: 'peer', buf: p.bytes };
    }
    log(`${entry.url}: from the origin (${p.why})`);
    // The whole file (not the Range asked for), so it can be checked and kept.
    const net = await fetch(entry.url, { credentials: 'same-origin', cache: 'no-cache' });
    if (net.type === 'opaque' || net.status < 200 || net.status > 599) throw new Error(`unreadable response (${net.type})`);
    const buf = await net.arrayBuffer();
    const pass = { source: 'network', status: net.status, statusText: net.statusText, headers: new Headers(net.headers),
                   buf, why: p.why };
    if (!net.ok) return pass;
    if (leader) post(leader, { type: 'origin', hash: entry.hash, url: entry.url, bytes: buf.byteLength });
    if (!(await verified(buf, entry))) {
      log(`${entry.url}: the origin's bytes do not match the manifest; passed on, not cached`);
      return pass;
    }
    keep(entry, buf);
    return { source: 'origin', buf, why: p.why };
  }

  // -- events --------------------------------------------------------------
  sw.addEventListener('install', () => sw.skipWaiting());
  sw.addEventListener('activate', (ev) => ev.waitUntil(Promise.all([sw.clients.claim(), loadManifest(true)])));

  sw.addEventListener('message', (ev) => {
    const m = ev.data || {};
    if (m.type !== 'peertrack-hello' || !ev.ports[0] || !ev.source) return;
    const clientId = ev.source.id, port = ev.ports[0];
    const old = ports.get(clientId);
    if (old && old !== port) old.close();
    ports.set(clientId, port);
    port.onmessage = (e) => onPortMessage(clientId, e);
    wakeHelloWaiters();
    // Ports of tabs that closed meanwhile (a port says nothing when its page
    // goes): one map entry per open tab, not per tab ever opened.
    for (const id of [...ports.keys()]) {
      if (id === clientId) continue;
      sw.clients.get(id).then((c) => { if (!c && ports.has(id)) { ports.get(id).close(); ports.delete(id); } }, () => {});
    }
  });

  sw.addEventListener('fetch', (ev) => {
    const req = ev.request;
    if (req.method !== 'GET' || req.mode === 'navigate') return;
    const clientId = ev.clientId;
    if (manifest && performance.now() - manifestAt < opt.manifestTtlMs) {
      const entry = manifest.get(req.url);
      if (entry) ev.respondWith(handle(req, entry, clientId));
      return;   // not ours: the browser fetches it as if we were not here
    }
    // The worker was restarted, or the manifest is due: decide after reading it.
    if (req.url === manifestUrl) return;
    ev.respondWith(loadManifest().then((m) => {
      const entry = m && m.get(req.url);
      return entry ? handle(req, entry, clientId) : fetch(req);
    }));
  });

  return { options: opt, loadManifest };
}
