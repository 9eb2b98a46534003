// site.mjs — the demo site (examples/site/) as visitors see it: nginx with
// the shipped examples/site/nginx.conf.in (the site, the client, the
// manifest, /v1 proxied to a real peertrackd), headless Chromium contexts as
// visitors (each its own profile: service worker, Cache API, HTTP cache),
// nginx's access log as the origin's request log.
//
//   node site.mjs offload    visitor A loads the site from the origin; B gets
//                             every manifest file from A (none of them in the
//                             origin's log for B), SHA-256 checked; the video's
//                             Range request answered 206 from peer bytes;
//                             peertrackctl stats shows the offload; then a
//                             second tab of B takes over when the first closes
//                             a daemon restart: holders re-announce, the
//                             next visitor is served by peers again
//   node site.mjs fallback   the page loads whole from the origin, the worker
//                             saying why (its timeout only where it must
//                             wait one out): no holder; a holder sending
//                             corrupted bytes (caught, reported); a holder
//                             that never answers; WebRTC missing; tracker down
//   node site.mjs bench      PT_SITE_ROUNDS (5) rounds of: a first visitor,
//                             then second visitors via peers, via the origin
//                             through the worker, and without the worker;
//                             navigation -> last picture, in ms
//                             (scripts/bench-site.sh)
//
// Env: PT_BIN (absolute). Runs in its own network namespace (lib.sh): the
// port numbers are free. Exits 0 on success; kills what it started.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, exitWithin, sha, until } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..');
const SITE = join(ROOT, 'examples', 'site');
const mode = process.argv[2];
const h = new Harness(`site ${mode}`);
const NGINX = process.env.PT_NGINX || '/usr/sbin/nginx';
const PORT = 8080, TRACKER_PORT = 8000;   // our own network namespace: free
// The worker's peerTimeoutMs: short where the origin must take over in
// time, long where peers must serve even on a loaded machine (or under ASan).
const TIMEOUT_MS = 3000, PEER_TIMEOUT_MS = 20000;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const log = (...a) => h.log(...a);
let browser = null, nginx = null;

// -- servers -------------------------------------------------------------------
const ctl = async (...args) => JSON.parse(await h.ctl('--json', ...args));

// The daemon behind nginx: it trusts nginx's X-Forwarded-For.
const startDaemon = () => h.startDaemon(PORT, 'trusted_proxies = 127.0.0.1/32\nstore_flush_ms = 100\n', TRACKER_PORT);

// The manifest as `make demo` builds it, and nginx from the shipped template.
let manifest;
async function startNginx() {
  const work = h.work;
  mkdirSync(join(work, 'tmp'), { recursive: true });
  execFileSync(join(h.BIN, 'peertrackctl'), ['manifest', join(SITE, 'assets'), '--prefix', '/assets/', '-o',
                                           join(work, 'peertrack-manifest.json')]);
  manifest = JSON.parse(readFileSync(join(work, 'peertrack-manifest.json'), 'utf8')).resources;
  const conf = readFileSync(join(SITE, 'nginx.conf.in'), 'utf8')
    .replace(/@USER@/g, process.getuid() === 0 ? 'user root;' : '')
    .replace(/@WORK@/g, work).replace(/@PORT@/g, String(PORT)).replace(/@TRACKER_PORT@/g, String(TRACKER_PORT))
    .replace(/@SITE@/g, SITE).replace(/@CLIENT@/g, join(ROOT, 'clients', 'js', 'src'));
  writeFileSync(join(work, 'nginx.conf'), conf);
  writeFileSync(join(work, 'access.log'), '');
  nginx = h.start('nginx', NGINX, ['-p', work, '-e', 'stderr', '-c', join(work, 'nginx.conf'), '-g', 'daemon off;']);
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${ORIGIN}/index.html`)).ok) return; } catch { /* not yet */ }
    if (nginx.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx does not answer:\n${nginx.dump()}`);
}

// The origin's log: [{path, status, range, ua}] from line `from` on.
function originLog(from = 0) {
  return readFileSync(join(h.work, 'access.log'), 'utf8').split('\n').filter(Boolean).slice(from).map((l) => {
    const m = /^\S+ "GET (\S+) [^"]*" (\d+) \d+ "([^"]*)" "([^"]*)"$/.exec(l) || [];
    return { path: m[1], status: Number(m[2]), range: m[3], ua: m[4], line: l };
  });
}
const manifestPaths = () => Object.keys(manifest);

// -- visitors ------------------------------------------------------------------
// A visitor: a context of its own (profile) with a user agent that marks its
// requests in the origin's log. Chromium gathers a 127.0.0.1 host candidate
// only while the page holds a media permission (fake devices): taken at once.
async function visitor(name, { noWebRTC = false } = {}) {
  const ctx = await browser.newContext({ userAgent: `peertrack-test-${name}` });
  await ctx.addInitScript(({ noWebRTC: off }) => {
    if (typeof window === 'undefined') return;   // a worker
    // A network namespace with only `lo` is "offline" to Chromium, and the
    // client waits for navigator.onLine: this namespace is as online as the
    // test needs (127.0.0.1 is reachable).
    Object.defineProperty(Navigator.prototype, 'onLine', { configurable: true, get: () => true });
    if (off) { delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection; return; }
    navigator.mediaDevices?.getUserMedia({ audio: true }).then((s) => s.getTracks().forEach((t) => t.stop()), () => {});
  }, { noWebRTC });
  ctx.on('weberror', (e) => log(`${name} error: ${e.error()}`));
  return { name, ctx };
}

async function openTab(v, { timeout = PEER_TIMEOUT_MS, query = '' } = {}) {
  const page = await v.ctx.newPage();
  page.on('console', (m) => { if (process.env.PT_VERBOSE) log(`${v.name} console: ${m.text()}`); });
  page.on('pageerror', (e) => log(`${v.name} page error: ${e}`));
  await page.addInitScript(() => {
    window.servedLog = [];
    // app.js sets window.peertrack: record every worker answer from the start.
    let pt;
    Object.defineProperty(window, 'peertrack', {
      configurable: true,
      get: () => pt,
      set: (b) => { pt = b; b.addEventListener('served', (e) => window.servedLog.push(e.detail)); },
    });
  });
  const t0 = Date.now();
  await page.goto(`${ORIGIN}/index.html?timeout=${timeout}${query}`);
  return { page, t0 };
}

// The page's own account: every picture and the video loaded.
async function loaded(tab, what) {
  const r = await tab.page.evaluate(() => window.demoLoaded);
  const bad = [...r.images, r.video].filter((x) => !x.ok);
  if (bad.length) throw new Error(`${what}: not loaded: ${JSON.stringify(bad)}`);
  if (r.images.length !== 6) throw new Error(`${what}: ${r.images.length} pictures`);
  return r;
}

// served events of the page, by manifest path: the last source of each.
async function sources(tab) {
  const log_ = await tab.page.evaluate(() => window.servedLog);
  const by = {};
  for (const s of log_) (by[new URL(s.url).pathname] ||= []).push(s);
  return by;
}

// sources(), once the worker's word on every manifest file has arrived (it
// travels apart from the responses).
async function servedAll(tab, what) {
  return until(`${what}: the worker's answer for every file`, 5000, async () => {
    const by = await sources(tab);
    return manifestPaths().every((p) => by[p]) ? by : null;
  }).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await sources(tab))}`); });
}

// Holders of every manifest hash include `id` (the daemon's view), bounded.
async function waitHolding(id, what, ms = 15000) {
  let missing = [];
  await until(`${what}: ${id} holding every file`, ms, async () => {
    missing = [];
    for (const p of manifestPaths())
      if (!(await ctl('who-has', manifest[p].sha256)).peers.some((x) => x.id === id)) missing.push(p);
    return !missing.length;
  }, 200).catch((e) => { throw new Error(`${e.message}; missing ${missing.join(', ')}`); });
}

// The client open again under another id than `old` (a daemon restart).
async function waitNewId(tab, old, what, ms = 20000) {
  return until(`${what}: a new id`, ms, () => tab.page.evaluate((o) => {
    const c = window.peertrack.client;
    return c && c.state === 'open' && c.id && c.id !== o ? c.id : null;
  }, old), 200);
}

const clientId = (tab) => tab.page.evaluate(() => window.peertrack.client && window.peertrack.client.id);
async function waitClientOpen(tab, what, ms = 10000) {
  await tab.page.waitForFunction(() => window.peertrack && window.peertrack.client &&
                                       window.peertrack.client.state === 'open', null, { timeout: ms })
    .catch(async () => {
      const st = await tab.page.evaluate(() => JSON.stringify(window.peertrack && window.peertrack.stats()));
      throw new Error(`${what}: the client never opened: ${st}`);
    });
  return clientId(tab);
}

// In the page: a manifest file fetched (through the worker), hashed.
const pageFetch = (tab, path, headers = {}) => tab.page.evaluate(async ([p, h]) => {
  const r = await fetch(p, { headers: h });
  const b = new Uint8Array(await r.arrayBuffer());
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', b));
  return { status: r.status, range: r.headers.get('content-range'), length: b.length,
           sha256: [...d].map((x) => x.toString(16).padStart(2, '0')).join(''), head: [...b.slice(0, 16)] };
}, [path, headers]);

// Drops `path` from the tab's cache and fetches it again: from a peer.
async function refetchFromPeers(tab, path, what) {
  await tab.page.evaluate((p) => caches.open('peertrack-v1').then((c) => c.delete(p)), path);
  const before = (await sources(tab))[path]?.length || 0;
  const r = await pageFetch(tab, path);
  if (r.sha256 !== manifest[path].sha256) throw new Error(`${what}: ${path}: ${JSON.stringify(r)}`);
  // The worker's word on it travels apart from the response: wait for it.
  const after = await until(`${what}: the worker's answer for ${path}`, 5000, async () => {
    const x = (await sources(tab))[path] || [];
    return x.length > before ? x : null;
  });
  if (after.length !== before + 1 || after[after.length - 1].source !== 'peer')
    throw new Error(`${what}: ${path} not from a peer: ${JSON.stringify(after)}`);
}

// -- tests ---------------------------------------------------------------------
async function offload() {
  // A: the first visitor, everything from the origin; then A seeds it all.
  const A = await visitor('A');
  const a = await openTab(A);
  const ra = await loaded(a, 'A');
  const srcA = await servedAll(a, 'A');
  for (const p of manifestPaths())
    if (!srcA[p] || srcA[p][0].source !== 'origin') throw new Error(`A: ${p} not from the origin first: ${JSON.stringify(srcA[p])}`);
  const idA = await waitClientOpen(a, 'A');
  await waitHolding(idA, 'A');
  log(`A (${idA}) loaded from the origin in ${ra.lastImageMs.toFixed(0)} ms and seeds all ${manifestPaths().length} files; ` +
      `worker ms per file: ${manifestPaths().map((p) => srcA[p][0].ms).join(' ')}`);

  // B: every manifest file from A, none from the origin.
  const mark = originLog().length;
  const B = await visitor('B');
  const b1 = await openTab(B);
  const rb = await loaded(b1, 'B');
  const srcB = await servedAll(b1, 'B');
  for (const p of manifestPaths()) {
    const first = srcB[p] && srcB[p][0];
    if (!first || first.source !== 'peer') throw new Error(`B: ${p} not from a peer: ${JSON.stringify(srcB[p])}`);
  }
  const fromOriginB = originLog(mark).filter((l) => l.ua === 'peertrack-test-B' && manifest[l.path]);
  if (fromOriginB.length) throw new Error(`B asked the origin for ${fromOriginB.map((l) => l.line).join('\n')}`);
  if (!originLog(mark).some((l) => l.ua === 'peertrack-test-B' && l.path.startsWith('/index.html')))
    throw new Error('the origin log does not show B (user agent): the check above proves nothing');
  // Verified: the bytes B's worker holds hash to the manifest and to the files.
  for (const p of manifestPaths()) {
    const r = await pageFetch(b1, p);
    const disk = sha(readFileSync(join(SITE, p)));
    if (r.status !== 200 || r.sha256 !== manifest[p].sha256 || r.sha256 !== disk || r.length !== manifest[p].size)
      throw new Error(`B: ${p}: ${JSON.stringify(r)}, manifest ${manifest[p].sha256}, file ${disk}`);
  }
  log(`B loaded every file from peers in ${rb.lastImageMs.toFixed(0)} ms (navigation -> last picture), ` +
      `none from the origin, SHA-256 verified; worker ms per file: ${manifestPaths().map((p) => srcB[p][0].ms).join(' ')}`);

  // The video: the element's Range request answered 206 from peer bytes, and
  // a Range of our own answered from the same verified bytes.
  const clip = '/assets/clip.webm', size = manifest[clip].size;
  const v = srcB[clip].find((s) => s.source === 'peer');
  if (v.status !== 206) throw new Error(`B: the video's first request was answered ${v.status}, not 206`);
  const file = readFileSync(join(SITE, clip));
  const r = await pageFetch(b1, clip, { Range: 'bytes=1000-2999' });
  if (r.status !== 206 || r.range !== `bytes 1000-2999/${size}` || r.length !== 2000 ||
      r.sha256 !== sha(file.subarray(1000, 3000)))
    throw new Error(`B: Range bytes=1000-2999: ${JSON.stringify(r)}`);
  const tail = await pageFetch(b1, clip, { Range: 'bytes=-100' });
  if (tail.status !== 206 || tail.sha256 !== sha(file.subarray(size - 100))) throw new Error(`B: suffix range: ${JSON.stringify(tail)}`);
  const past = await pageFetch(b1, clip, { Range: `bytes=${size}-` });
  if (past.status !== 416) throw new Error(`B: range past the end: ${past.status}`);
  log(`video: the element's Range request answered 206 from peer bytes; 206/416 for ranges of ours`);

  // The browser stops an idle worker (Chromium does after 30 s): the new one
  // has no port to the page; it asks the page for one and serves from peers.
  const cdp = await B.ctx.newCDPSession(b1.page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach();
  await refetchFromPeers(b1, '/assets/pic2.png', 'B after its worker was stopped');
  log('worker stopped and restarted: it asked the page for a new port, served from peers');

  // Takeover: a second tab of B; the first (holding the connection) closes;
  // the second connects, re-seeds B's cache and serves the worker.
  const idB = await waitClientOpen(b1, 'B');
  await waitHolding(idB, 'B (seeding what it got)');
  const b2 = await openTab(B);
  await loaded(b2, 'B tab 2');
  if (await b2.page.evaluate(() => window.peertrack.leader)) throw new Error('B tab 2 leads while tab 1 is open');
  const mark2 = originLog().length;
  await b1.page.close();
  const idB2 = await waitClientOpen(b2, 'B tab 2 after tab 1 closed');
  if (idB2 === idB) throw new Error('B tab 2 has the closed tab\'s id');
  await waitHolding(idB2, 'B tab 2 (re-seeded from the Cache API)');
  // A file B no longer has: the worker must go through tab 2 to the peers.
  const pic = '/assets/pic3.png';
  await refetchFromPeers(b2, pic, 'B tab 2');
  if (originLog(mark2).some((l) => l.ua === 'peertrack-test-B' && manifest[l.path]))
    throw new Error('B tab 2 went to the origin');
  log(`takeover: tab 2 of B (${idB2}) leads after tab 1 closed, re-seeded B's cache, served ${pic} from peers`);

  // The daemon restarts: the holders reconnect (their resume refused: new
  // ids) and announce everything again; the next visitor gets it all from them.
  await h.stopDaemon();
  await startDaemon();
  const idA2 = await waitNewId(a, idA, 'A after the restart');
  const idB3 = await waitNewId(b2, idB2, 'B tab 2 after the restart');
  await waitHolding(idA2, 'A after the restart');
  await waitHolding(idB3, 'B tab 2 after the restart');
  const mark3 = originLog().length;
  const C = await visitor('C');
  const c = await openTab(C);
  await loaded(c, 'C');
  const srcC = await servedAll(c, 'C');
  for (const p of manifestPaths())
    if (!srcC[p] || srcC[p][0].source !== 'peer') throw new Error(`C (after the restart): ${p}: ${JSON.stringify(srcC[p])}`);
  if (originLog(mark3).some((l) => l.ua === 'peertrack-test-C' && manifest[l.path])) throw new Error('C went to the origin');
  log(`daemon restarted: A and B re-announced under new ids, C got every file from peers`);

  // The daemon's account of it: clients report (the last time as their page
  // goes), the store keeps it across the restart. B got every file once,
  // pic2 again after its worker restarted, pic3 again in tab 2; C every file.
  for (const t of [c, b2, a]) await t.page.close();
  for (const v of [A, B, C]) await v.ctx.close();
  const all = manifestPaths().reduce((n, p) => n + manifest[p].size, 0);
  const want = 2 * all + manifest[pic].size + manifest['/assets/pic2.png'].size;
  const st = await until('the offload in peertrackctl stats', 10000, async () => {
    const x = await ctl('stats');
    return x.from_peers === want && x.to_peers === want ? x : null;
  }, 200).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await ctl('stats'))}, want ${want}`); });
  log(`peertrackctl stats: from_peers ${st.from_peers}, from_origin ${st.from_origin}, to_peers ${st.to_peers}, ` +
      `offload ratio ${st.offload_ratio.toFixed(3)}, ${st.reports} reports`);
}

async function fallback() {
  // Every file from the origin, for the reason the case is about (the
  // worker says why: a reason, not a time, so a loaded machine cannot fool
  // it); where the reason is the worker's timeout, not before it.
  const expectOrigin = async (name, opts, what, { why, timeout = TIMEOUT_MS } = {}) => {
    const whys = [].concat(why);
    const mark = originLog().length;
    const v = await visitor(name, opts);
    const tab = await openTab(v, { timeout });
    const r = await loaded(tab, what);
    const src = await servedAll(tab, what);
    for (const p of manifestPaths()) {
      const s = src[p][0];
      if (s.source !== 'origin') throw new Error(`${what}: ${p}: ${JSON.stringify(src[p])}`);
      if (!whys.includes(s.why)) throw new Error(`${what}: ${p} from the origin because '${s.why}', not ${whys.join('/')}`);
      if (s.why === 'timeout' && s.ms < timeout - 50) throw new Error(`${what}: ${p} timed out after ${s.ms} ms < ${timeout}`);
    }
    if (whys[0] === 'timeout' && !manifestPaths().some((p) => src[p][0].why === 'timeout'))
      throw new Error(`${what}: the worker never waited out its timeout: ` +
                      JSON.stringify(manifestPaths().map((p) => [src[p][0].why, src[p][0].ms])));
    const asked = new Set(originLog(mark).filter((l) => l.ua === `peertrack-test-${name}`).map((l) => l.path));
    for (const p of manifestPaths()) if (!asked.has(p)) throw new Error(`${what}: the origin never saw ${p}`);
    log(`${what}: every file from the origin (${manifestPaths().map((p) => src[p][0].why).join(' ')}); worker ms per file ` +
        `${manifestPaths().map((p) => src[p][0].ms).join(' ')} (timeout ${timeout}); ` +
        `navigation -> last picture ${r.lastImageMs.toFixed(0)} ms`);
    return { v, tab };
  };
  // 1. Nobody holds anything yet.
  const one = await expectOrigin('C1', {}, 'no holder', { why: 'no-holder' });
  const id1 = await waitClientOpen(one.tab, 'C1');
  await waitHolding(id1, 'C1');
  // 2. A holder that never answers an offer (its page stuck): the worker
  // waits out its timeout, then the origin serves. Files asked for at once
  // share the client's one link to that holder: when the first gives up at
  // the timeout, the rest may end with it.
  await one.tab.page.evaluate(() => {
    const proto = RTCPeerConnection.prototype;
    window.realRTC = [proto.setRemoteDescription, proto.addIceCandidate];
    proto.setRemoteDescription = () => new Promise(() => {});
    proto.addIceCandidate = () => new Promise(() => {});
  });
  const two = await expectOrigin('C2', {}, 'holder never answers', { why: ['timeout', 'all-failed'] });
  await two.v.ctx.close();          // it holds good copies now: gone, C1 is the only holder
  await one.tab.page.evaluate(() => {
    [RTCPeerConnection.prototype.setRemoteDescription, RTCPeerConnection.prototype.addIceCandidate] = window.realRTC;
  });
  // 3. The holder serves corrupted bytes: caught by the hash, the peer
  // dropped and reported, the origin serves. The long timeout: the origin
  // serves because the bytes were caught, not because the worker gave up.
  await one.tab.page.evaluate(() => {
    const st = window.peertrack.client.store, get = st.get.bind(st);
    st.get = async (hash) => {
      const b = await get(hash);
      if (!b || !b.length) return b;
      const c = b.slice();
      c[c.length >> 1] ^= 0x5a;
      return c;
    };
  });
  const three = await expectOrigin('C3', {}, 'corrupting holder', { why: 'all-failed', timeout: PEER_TIMEOUT_MS });
  // Caught at least once (a peer caught lying is skipped for what follows).
  const bad = await three.tab.page.evaluate(() => window.peertrack.stats().badPeers);
  const hashes = new Set(manifestPaths().map((p) => manifest[p].sha256));
  if (!bad.some((x) => x.peer === id1 && hashes.has(x.hash)))
    throw new Error(`corrupting holder ${id1} not caught: ${JSON.stringify(bad)}`);
  await three.v.ctx.close();
  // 4. A holder exists, but this visitor has no WebRTC.
  const four = await expectOrigin('C4', { noWebRTC: true }, 'WebRTC missing', { why: 'unavailable' });
  if (await four.tab.page.evaluate(() => window.peertrack.client !== null)) throw new Error('a client without WebRTC');
  // 5. The tracker is down (its holders with it).
  await h.stopDaemon();
  await expectOrigin('C5', {}, 'tracker down', { why: 'unavailable' });
}

// Navigation -> last picture for a second visitor, side by side in each
// round: via peers (a first visitor holds everything); via the origin
// through the worker (no tracker: the worker goes to the origin at once);
// and the site without the worker (the browser fetches the assets itself).
async function bench(rounds) {
  const runs = { peers: [], worker_origin: [], no_worker: [] }, ready = { peers: [], worker_origin: [], no_worker: [] };
  const second = async (name, query, key, from) => {
    const v = await visitor(name);
    const t = await openTab(v, { query });
    const r = await loaded(t, `${key} ${name}`);
    if (from) {
      const src = await servedAll(t, key);
      const bad = manifestPaths().filter((p) => !src[p] || src[p][0].source !== from);
      if (bad.length) throw new Error(`bench ${key}: ${bad.join(', ')} not from ${from}`);
    }
    runs[key].push(r.lastImageMs);
    ready[key].push(r.readyMs);
    await v.ctx.close();
  };
  for (let i = 0; i < rounds; i++) {
    const A = await visitor(`first${i}`);
    const a = await openTab(A);
    await loaded(a, 'first');
    await waitHolding(await waitClientOpen(a, 'first'), 'first');
    await second(`peers${i}`, '', 'peers', 'peer');
    await second(`origin${i}`, '&tracker=' + encodeURIComponent('ws://127.0.0.1:9/v1'), 'worker_origin', 'origin');
    await second(`plain${i}`, '&nosw=1', 'no_worker', null);
    await A.ctx.close();
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const out = { rounds };
  // ready: navigation -> the worker controls the page (the assets are asked for then).
  for (const [k, xs] of Object.entries(runs))
    out[k] = { median_ms: Math.round(med(xs)), runs_ms: xs.map(Math.round), ready_median_ms: Math.round(med(ready[k])) };
  console.log(JSON.stringify(out));
}

const tests = { offload, fallback, bench: () => bench(Number(process.env.PT_SITE_ROUNDS) || 5) };
if (!tests[mode]) {
  console.error('usage: PT_BIN=/abs/bin node site.mjs offload|fallback|bench');
  process.exit(2);
}
await h.run(mode === 'bench' ? 3600000 : 120000, async () => {
  try {
    await startDaemon();
    await startNginx();
    browser = await h.launch();
    await tests[mode]();
  } catch (e) {
    if (nginx) log(`nginx output:\n${nginx.dump()}`);
    throw e;
  }
  nginx.kill('SIGQUIT');
  if ((await exitWithin(nginx, 5000)) !== 0) throw new Error(`nginx exit on SIGQUIT:\n${nginx.dump()}`);
});
