// sw.js against fakes of the service-worker globals (clients, caches, fetch)
// and a page on a real MessageChannel: the decisions the browser tests
// cannot reach cheaply (bytes failing the manifest, one transfer per URL,
// the timeout, a page that goes away, a worker that lost its ports).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { installPeertrackServiceWorker, peerBudgetMs, SW_DEFAULTS } from '../src/sw.js';

const ORIGIN = 'http://127.0.0.1:8080';
const files = {
  '/a.png': { bytes: new Uint8Array(5000).map((_, i) => i * 7), type: 'image/png' },
  '/v.webm': { bytes: new Uint8Array(20000).map((_, i) => i * 13), type: 'video/webm' },
};
const sha = (b) => createHash('sha256').update(b).digest('hex');
const manifest = { version: 1, resources: {} };
for (const [k, f] of Object.entries(files)) manifest.resources[k] = { sha256: sha(f.bytes), size: f.bytes.length, type: f.type };

let origin;   // path -> {status, body} overrides; requests seen
let cacheStore;
console.debug = () => {};

beforeEach(() => {
  origin = { seen: [], override: {} };
  cacheStore = new Map();
  globalThis.fetch = async (input) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    origin.seen.push(url.pathname);
    if (url.pathname === '/m.json') return new Response(JSON.stringify(manifest), { status: 200 });
    const o = origin.override[url.pathname];
    if (o) return new Response(o.body, { status: o.status });
    const f = files[url.pathname];
    return f ? new Response(f.bytes, { status: 200 }) : new Response('no', { status: 404 });
  };
  const cache = {
    put: async (url, r) => { cacheStore.set(String(url), { body: new Uint8Array(await r.arrayBuffer()), headers: r.headers }); },
    match: async (url) => {
      const e = cacheStore.get(String(url));
      return e && new Response(e.body, { headers: e.headers });
    },
    delete: async (url) => cacheStore.delete(String(url)),
  };
  globalThis.caches = { open: async () => cache, match: (url) => cache.match(url) };
});

// A worker with `pages` (id -> {alive}); returns helpers.
function worker(opts = {}) {
  const listeners = {};
  const windows = new Map();
  const sw = {
    location: { href: `${ORIGIN}/sw.js` },
    addEventListener: (t, f) => { listeners[t] = f; },
    skipWaiting: () => {},
    clients: {
      get: async (id) => windows.get(id),
      matchAll: async () => [...windows.values()],
      claim: async () => {},
    },
  };
  installPeertrackServiceWorker({ manifestUrl: '/m.json', peerTimeoutMs: 300, pageWaitMs: 100, ...opts }, sw);
  const w = {
    windows,
    async activate() {
      let p;
      listeners.activate({ waitUntil: (x) => { p = x; } });
      await p;
    },
    // A page whose answer to {fetch} is answer(msg) -> {ok, bytes} | {ok:false, code} | null (never).
    page(id, answer, { leader = true } = {}) {
      const ch = new MessageChannel();
      const got = [];
      const pg = { id, got, port: ch.port1, reconnects: 0, postMessage: (m) => { if (m.type === 'peertrack-reconnect') pg.reconnects++; } };
      windows.set(id, pg);
      ch.port1.onmessage = async (ev) => {
        const m = ev.data;
        got.push(m);
        if (m.type !== 'fetch') return;
        const r = await answer(m);
        if (r) ch.port1.postMessage({ type: 'result', id: m.id, ...r }, r.bytes ? [r.bytes] : []);
      };
      listeners.message({ data: { type: 'peertrack-hello' }, ports: [ch.port2], source: { id } });
      if (leader) ch.port1.postMessage({ type: 'leader' });
      // Open ports must not keep the test process alive (onmessage refs them).
      ch.port1.unref();
      ch.port2.unref();
      return pg;
    },
    close(pg) { windows.delete(pg.id); pg.port.close(); },
    // -> Response, or undefined when the worker let the browser have it.
    async request(path, { headers = {}, clientId = 'p1' } = {}) {
      let r;
      listeners.fetch({ request: new Request(`${ORIGIN}${path}`, { headers }), clientId, respondWith: (x) => { r = x; } });
      return r && await r;
    },
  };
  return w;
}

const copy = (path) => files[path].bytes.slice().buffer;
const tick = () => new Promise((r) => setTimeout(r, 20));
const body = async (r) => new Uint8Array(await r.arrayBuffer());

test('from the page (peers): verified, cached, seeded; Range 206 from those bytes', async () => {
  const w = worker();
  await w.activate();
  const pg = w.page('p1', (m) => ({ ok: true, bytes: copy(new URL(m.url).pathname) }));
  const r = await w.request('/v.webm', { headers: { range: 'bytes=100-199' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), 'bytes 100-199/20000');
  assert.deepEqual(await body(r), files['/v.webm'].bytes.slice(100, 200));
  assert.ok(!origin.seen.includes('/v.webm'));
  await tick();
  assert.ok(cacheStore.has(`${ORIGIN}/v.webm`));
  assert.ok(pg.got.some((m) => m.type === 'seed' && m.hash === manifest.resources['/v.webm'].sha256));
  assert.equal(pg.got.find((m) => m.type === 'served').source, 'peer');
  // The next request: from the cache, the page not asked again.
  const n = pg.got.filter((m) => m.type === 'fetch').length;
  const again = await w.request('/v.webm');
  assert.equal(again.status, 200);
  assert.deepEqual(await body(again), files['/v.webm'].bytes);
  assert.equal(pg.got.filter((m) => m.type === 'fetch').length, n);
});

test('bytes from the page that fail the manifest: the origin serves', async () => {
  const w = worker();
  await w.activate();
  w.page('p1', () => { const b = new Uint8Array(copy('/a.png')); b[9] ^= 1; return { ok: true, bytes: b.buffer }; });
  const r = await w.request('/a.png');
  assert.deepEqual(await body(r), files['/a.png'].bytes);
  assert.ok(origin.seen.includes('/a.png'));
});

test('no holder: at once to the origin, verified, cached, accounted, seeded', async () => {
  const w = worker({ peerTimeoutMs: 60000 });
  await w.activate();
  const pg = w.page('p1', () => ({ ok: false, code: 'no-holder' }));
  const t0 = Date.now();
  const r = await w.request('/a.png');
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(await body(r), files['/a.png'].bytes);
  await tick();
  assert.ok(pg.got.some((m) => m.type === 'origin' && m.bytes === 5000));
  assert.equal(pg.got.find((m) => m.type === 'served').why, 'no-holder');
  assert.ok(pg.got.some((m) => m.type === 'seed'));
  assert.ok(cacheStore.has(`${ORIGIN}/a.png`));
});

test('a page that never answers: the origin after peerTimeoutMs, and the page told to stop', async () => {
  const w = worker({ peerTimeoutMs: 200 });
  await w.activate();
  const pg = w.page('p1', () => null);
  const t0 = Date.now();
  const r = await w.request('/a.png');
  const ms = Date.now() - t0;
  assert.ok(ms >= 190 && ms < 3000, `${ms} ms`);
  assert.equal(r.status, 200);
  await tick();
  assert.ok(pg.got.some((m) => m.type === 'cancel'));
  assert.equal(pg.got.find((m) => m.type === 'served').why, 'timeout');
});

test('the default budget: setup time plus the size at the slowest rate waited for', () => {
  assert.equal(SW_DEFAULTS.peerTimeoutMs, null);
  assert.equal(peerBudgetMs(SW_DEFAULTS, 0), 8000);
  assert.equal(peerBudgetMs(SW_DEFAULTS, 1 << 20), 9000);
  assert.equal(peerBudgetMs(SW_DEFAULTS, 50 << 20), 58000);
  assert.equal(peerBudgetMs({ ...SW_DEFAULTS, peerTimeoutMs: 3000 }, 50 << 20), 3000);
});

test('without peerTimeoutMs a larger file gets a longer budget before the origin', async () => {
  // 100 ms setup, 100 KB/s: a.png (5000 B) 150 ms, v.webm (20000 B) 300 ms.
  const w = worker({ peerTimeoutMs: null, peerSetupMs: 100, peerMinBytesPerSec: 100000, pageWaitMs: 50 });
  await w.activate();
  const pg = w.page('p1', () => null);
  for (const [path, budget] of [['/a.png', 150], ['/v.webm', 300]]) {
    const t0 = Date.now();
    const r = await w.request(path);
    const ms = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.ok(ms >= budget - 10 && ms < budget + 3000, `${path}: ${ms} ms for a ${budget} ms budget`);
    const asked = pg.got.filter((m) => m.type === 'fetch' && m.url.endsWith(path));
    assert.equal(asked.length, 1);
    assert.ok(asked[0].timeoutMs <= budget && asked[0].timeoutMs > budget - 100, `timeoutMs ${asked[0].timeoutMs}`);
  }
  await tick();
  assert.deepEqual(pg.got.filter((m) => m.type === 'served').map((m) => m.why), ['timeout', 'timeout']);
});

test('origin bytes that fail the manifest: passed on, never cached nor seeded', async () => {
  const w = worker();
  await w.activate();
  const pg = w.page('p1', () => ({ ok: false, code: 'no-holder' }));
  origin.override['/a.png'] = { status: 200, body: 'stale file' };
  const r = await w.request('/a.png');
  assert.equal(await r.text(), 'stale file');
  await tick();
  assert.ok(!cacheStore.has(`${ORIGIN}/a.png`));
  assert.ok(!pg.got.some((m) => m.type === 'seed'));
  assert.equal(pg.got.find((m) => m.type === 'served').source, 'network');
  // An HTTP error is passed on as it is.
  origin.override['/v.webm'] = { status: 503, body: 'busy' };
  assert.equal((await w.request('/v.webm')).status, 503);
});

test('requests for one URL at once share one transfer', async () => {
  const w = worker();
  await w.activate();
  let asked = 0;
  w.page('p1', async (m) => { asked++; await tick(); return { ok: true, bytes: copy(new URL(m.url).pathname) }; });
  const [x, y] = await Promise.all([w.request('/v.webm', { headers: { range: 'bytes=0-' } }),
                                    w.request('/v.webm', { headers: { range: 'bytes=19990-' } })]);
  assert.equal(asked, 1);
  assert.equal(x.status, 206);
  assert.equal((await body(y)).length, 10);
});

test('no page at all: the origin after pageWaitMs; URLs outside the manifest are not touched', async () => {
  const w = worker({ pageWaitMs: 50 });
  await w.activate();
  const r = await w.request('/a.png');
  assert.deepEqual(await body(r), files['/a.png'].bytes);
  assert.equal(await w.request('/index.html'), undefined);
  assert.equal(await w.request('/a.png?v=2'), undefined);
});

test('the leading page goes: requests go to the next leader; a worker without ports asks pages for one', async () => {
  const w = worker({ peerTimeoutMs: 2000, pageWaitMs: 1000 });
  await w.activate();
  const p1 = w.page('p1', () => null);                 // stuck, then closes
  const pending = w.request('/a.png', { clientId: 'p1' });
  await tick();
  w.close(p1);
  const p2 = w.page('p2', (m) => ({ ok: true, bytes: copy(new URL(m.url).pathname) }));
  const r = await pending;
  assert.deepEqual(await body(r), files['/a.png'].bytes);
  assert.ok(!origin.seen.includes('/a.png'), 'went to the origin');
  assert.ok(p2.got.some((m) => m.type === 'fetch'));

  // A fresh worker (the browser stopped the old one) knows no port: it asks
  // the open windows to say hello, and uses the one that does.
  const w2 = worker({ peerTimeoutMs: 2000, pageWaitMs: 1000 });
  const win = { id: 'p3', reconnects: 0, postMessage: (m) => { if (m.type === 'peertrack-reconnect') { win.reconnects++; setTimeout(() => w2.page('p3', (x) => ({ ok: true, bytes: copy(new URL(x.url).pathname) })), 10); } } };
  w2.windows.set('p3', win);
  const r2 = await w2.request('/v.webm', { clientId: 'p3' });   // the manifest is read first
  assert.equal(win.reconnects, 1);
  assert.deepEqual(await body(r2), files['/v.webm'].bytes);
  assert.ok(!origin.seen.includes('/v.webm'));
});
