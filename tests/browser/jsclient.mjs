// jsclient.mjs — browser tests of the JS client (clients/js): a real
// peertrackd on 127.0.0.1, headless Chromium pages loading jsclient/index.html
// and the module itself (served from clients/js/src as it ships, no bundler).
//
//   node jsclient.mjs two-pages   page 1 seeds, page 2 fetches it through the
//                                 module, then three more at once over the
//                                 same peer connection; verified; the
//                                 offload is reported
//   node jsclient.mjs corrupt     a holder serves altered bytes: the fetcher
//                                 drops it, reports it (the daemon withdraws
//                                 the hash from it) and gets the resource from
//                                 the honest holder
//   node jsclient.mjs reconnect   a network blip (a TCP proxy kills the
//                                 connections and refuses new ones for 3 s):
//                                 the client resumes with the same id; then
//                                 the daemon restarts: the client reconnects,
//                                 re-announces, and a new visitor is served
//   node jsclient.mjs c-interop   the module fetches from a peertrack-peer
//                                 seeder, and a peertrack-peer fetcher from it
//
// Env: PT_BIN (absolute). Exits 0 on success; kills all it started.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer, connect as tcpConnect } from 'node:net';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, exitWithin, sha, until } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const jsRoot = join(here, '..', '..', 'clients', 'js', 'src');
const mode = process.argv[2];
const h = new Harness(`js ${mode}`);
const SIZE = 1 << 20;

// The page and the module, on 127.0.0.1.
function servePage() {
  return new Promise((resolve) => {
    const srv = createServer((req, res) => {
      const path = normalize(new URL(req.url, 'http://127.0.0.1').pathname);
      let file = null, type = 'text/javascript';
      if (path === '/index.html') { file = join(here, 'jsclient', 'index.html'); type = 'text/html'; }
      else if (/^\/js\/[a-z]+\.js$/.test(path)) file = join(jsRoot, path.slice(4));
      let body;
      try { body = file && readFileSync(file); } catch (_) { body = null; }
      if (!body) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    });
    h.servers.push(srv);
    srv.listen(0, '127.0.0.1', () => resolve(srv.address().port));
  });
}

let pageUrl, url;

// A page in a browser context of its own: another visitor.
async function openPage(name, opts = {}, at = url) {
  const ctx = await (await h.launch()).newContext();
  const page = await ctx.newPage();
  page.on('console', (m) => { if (process.env.PT_VERBOSE) h.log(`${name} console: ${m.text()}`); });
  page.on('pageerror', (e) => h.log(`${name} page error: ${e}`));
  await page.goto(pageUrl);
  const id = await page.evaluate(([u, o]) => window.ptStart(u, o), [at, opts]);
  h.log(`${name} is ${id}`);
  return { page, id, name, ctx };
}

const evalp = (p, f, a) => p.page.evaluate(f, a);

async function seed(p, bytes) {
  const got = await evalp(p, (b64) => window.ptSeed(b64), bytes.toString('base64'));
  if (got !== sha(bytes)) throw new Error(`${p.name} seeded ${got}`);
  return got;
}

async function fetchOk(p, hash, from, what) {
  const r = await evalp(p, (x) => window.ptFetch(x), hash);
  if (!r.ok) throw new Error(`${what}: fetch failed: ${JSON.stringify(r)}`);
  if (r.hash !== hash || r.bytes !== SIZE) throw new Error(`${what}: got ${r.bytes} bytes hashing to ${r.hash}`);
  if (from && r.peer !== from) throw new Error(`${what}: served by ${r.peer}, not ${from}`);
  h.log(`${what}: ${SIZE} bytes verified in ${r.ms.toFixed(0)} ms from ${r.peer}`);
  return r;
}

async function twoPages() {
  const p1 = await openPage('page 1');
  const p2 = await openPage('page 2');
  const b = randomBytes(SIZE), hash = await seed(p1, b);
  await fetchOk(p2, hash, p1.id, 'page 1 -> page 2');
  // Three more at once from the same holder: one peer connection carries
  // them one after another (the first one's, still open, or a new one).
  const small = [randomBytes(20000), randomBytes(1), randomBytes(70000)];
  const hs = [];
  for (const x of small) hs.push(await seed(p1, x));
  const rs = await evalp(p2, (xs) => Promise.all(xs.map((x) => window.ptFetch(x))), hs);
  rs.forEach((r, i) => {
    if (!r.ok || r.hash !== hs[i] || r.bytes !== small[i].length || r.peer !== p1.id)
      throw new Error(`parallel fetch ${i}: ${JSON.stringify(r)}`);
  });
  const peers = (await evalp(p2, () => window.ptEvents)).filter((e) => e.type === 'peers').map((e) => e.count);
  if (Math.max(...peers) !== 1) throw new Error(`page 2 had ${Math.max(...peers)} peer connections at once: ${peers}`);
  const total = SIZE + small.reduce((n, x) => n + x.length, 0);
  const s2 = await evalp(p2, () => window.ptState());
  if (s2.stats.fromPeers !== total || s2.stats.resources[hash].fromPeers !== SIZE)
    throw new Error(`page 2 stats: ${JSON.stringify(s2.stats)}`);
  const s1 = await evalp(p1, () => window.ptState());
  if (s1.stats.toPeers !== total) throw new Error(`page 1 served ${s1.stats.toPeers} bytes, not ${total}`);
  h.log(`3 more resources at once over one peer connection (connections over time: ${peers.join(' ')})`);
  // Closing sends the last `report`: the daemon counts the offload.
  await evalp(p2, () => window.ptClose());
  await evalp(p1, () => window.ptClose());
  const st = await until('the offload reports in the daemon', 10000, async () => {
    const x = JSON.parse(await h.ctl('--json', 'stats'));
    return x.from_peers === total && x.to_peers === total ? x : null;
  }, 300);
  h.log(`peertrackctl stats: from_peers ${st.from_peers}, to_peers ${st.to_peers}, reports ${st.reports}`);
}

async function status() { return JSON.parse(await h.ctl('--json', 'status')); }

async function corrupt() {
  const honest = await openPage('honest');
  const c = await openPage('fetcher');
  const b = randomBytes(SIZE), hash = await seed(honest, b);
  // The honest holder is handed out first three times: lookups rank the
  // holder handed out least first, so the liar, announced next, comes first.
  for (let i = 0; i < 3; i++) {
    const ids = await evalp(c, (x) => window.ptLookup(x), hash);
    if (ids[0] !== honest.id) throw new Error(`lookup ${i}: ${JSON.stringify(ids)}`);
  }
  const liar = await openPage('liar', { corrupt: true });
  await seed(liar, b);
  const ids = await evalp(c, (x) => window.ptLookup(x), hash);
  if (ids[0] !== liar.id) throw new Error(`the liar is not first: ${JSON.stringify(ids)}`);
  const r = await fetchOk(c, hash, honest.id, 'liar first, then the honest holder');
  const ev = (await evalp(c, () => window.ptEvents)).filter((e) => e.type === 'badpeer');
  if (ev.length !== 1 || ev[0].peer !== liar.id || ev[0].hash !== hash)
    throw new Error(`badpeer events: ${JSON.stringify(ev)}`);
  // bad_peer_reports = 1 here (every page is on 127.0.0.1, one network):
  // the daemon withdrew the hash from the liar.
  const st = await until('the report in peertrackctl status', 5000, async () => {
    const s = await status();
    return s.bad_peer.withdrawn === 1 ? s : null;
  });
  const peer = await h.ctl('peer', liar.id);
  if (!/^hashes\s+0$/m.test(peer)) throw new Error(`the liar still holds it:\n${peer}`);
  const after = await evalp(c, (x) => window.ptLookup(x), hash);
  if (after.includes(liar.id) || !after.includes(honest.id)) throw new Error(`lookup after: ${JSON.stringify(after)}`);
  h.log(`liar ${liar.id} detected and reported (status: ${JSON.stringify(st.bad_peer)}); ` +
        `served by ${r.peer} in ${r.ms.toFixed(0)} ms`);
}

// A TCP proxy on 127.0.0.1 in front of the daemon, under the test's control:
// blip(ms) kills every connection through it (no WebSocket close frame
// either way) and refuses new ones for ms.
function proxy(target) {
  const conns = new Set();
  let refuseUntil = 0;
  const srv = createTcpServer((c) => {
    if (Date.now() < refuseUntil) { c.destroy(); return; }
    const u = tcpConnect(target, '127.0.0.1');
    conns.add(c); conns.add(u);
    c.pipe(u); u.pipe(c);
    const end = () => { c.destroy(); u.destroy(); conns.delete(c); conns.delete(u); };
    c.on('error', end); u.on('error', end); c.on('close', end); u.on('close', end);
  });
  h.servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    url: `ws://127.0.0.1:${srv.address().port}/v1`,
    blip(ms) { refuseUntil = Date.now() + ms; for (const c of conns) c.destroy(); conns.clear(); },
    retarget(p) { target = p; },
  })));
}

async function reconnect() {
  const px = await proxy(h.daemonPort);
  const a = await openPage('holder', {}, px.url);
  const b = randomBytes(SIZE), hash = await seed(a, b);

  // 1. A blip: the same id comes back, with its hashes (no re-announce).
  const t0 = Date.now();
  px.blip(3000);
  await until('the holder back after the blip', 15000, async () => {
    const s = await evalp(a, () => window.ptState());
    return s.state === 'open' && Date.now() - t0 >= 3000 ? s : null;
  }, 200);
  const back = Date.now() - t0;
  const sa = await evalp(a, () => window.ptState());
  if (sa.id !== a.id) throw new Error(`blip: id ${a.id} came back as ${sa.id}`);
  const states = (await evalp(a, () => window.ptEvents)).filter((e) => e.type === 'statechange').map((e) => e.state);
  if (!states.includes('offline')) throw new Error(`blip: never went offline: ${states}`);
  const m = await h.ctl('--json', 'status');
  if (!/"peers":\s*1\b/.test(m)) throw new Error(`blip: status ${m}`);
  const v1 = await openPage('visitor 1');
  await fetchOk(v1, hash, a.id, `3 s blip, same id back after ${back} ms`);
  await evalp(v1, () => window.ptClose());

  // 2. The daemon restarts on the same port: a fresh id, re-announced.
  const port = h.daemonPort;
  await h.stopDaemon();
  url = await h.startDaemon(pagePortOf, 'bad_peer_reports = 1\n', port);
  const s2 = await until('the holder on the restarted daemon', 20000, async () => {
    const s = await evalp(a, () => window.ptState());
    return s.state === 'open' && s.id !== a.id ? s : null;
  }, 200);
  await until('the re-announce', 5000, async () => /^hashes\s+1$/m.test(await h.ctl('peer', s2.id)));
  const v2 = await openPage('visitor 2');
  await fetchOk(v2, hash, s2.id, `after a daemon restart, ${a.id} -> ${s2.id}`);
}

async function cInterop() {
  // 1. The module fetches what peertrack-peer seeds.
  const a = randomBytes(SIZE), ha = sha(a);
  writeFileSync(join(h.work, 'a'), a);
  const seeder = h.startPeer('c-seeder', ['--server', url, 'seed', join(h.work, 'a')]);
  const seederId = (await seeder.line(/^ready /, 20000)).split(' ')[1];
  const p = await openPage('page');
  await fetchOk(p, ha, seederId, 'peertrack-peer -> module');
  // 2. peertrack-peer fetches what the module seeds.
  const b = randomBytes(SIZE), hb = await seed(p, b);
  const out = join(h.work, 'b.got');
  const fetcher = h.startPeer('c-fetcher', ['--server', url, '--timeout', '30000', '--json', 'fetch', hb, '-o', out]);
  const code = await exitWithin(fetcher, 45000);
  if (code !== 0) throw new Error(`C fetcher exited ${code}:\n${fetcher.dump()}`);
  if (!readFileSync(out).equals(b)) throw new Error('C fetcher wrote different bytes');
  const res = JSON.parse(await fetcher.line(/"event":"fetched"/, 1000));
  if (res.peer !== p.id) throw new Error(`C fetcher served by ${res.peer}, not the page ${p.id}`);
  h.log(`module -> peertrack-peer: ${SIZE} bytes verified (${res.mib_per_s} MiB/s)`);
  seeder.kill('SIGTERM');
  if (await exitWithin(seeder, 10000) !== 0) throw new Error(`C seeder exit:\n${seeder.dump()}`);
}

let pagePortOf = 0;
const tests = { 'two-pages': twoPages, corrupt, reconnect, 'c-interop': cInterop };
if (!tests[mode]) { console.error(`usage: node jsclient.mjs ${Object.keys(tests).join('|')}`); process.exit(2); }
await h.run(Number(process.env.PT_DEADLINE_MS) || 120000, async () => {
  const pagePort = pagePortOf = await servePage();
  // Every page is on 127.0.0.1, one network: one report is enough here
  // (test_badpeer checks the threshold across networks).
  url = await h.startDaemon(pagePort, 'bad_peer_reports = 1\n');
  pageUrl = `http://127.0.0.1:${pagePort}/index.html`;
  await tests[mode]();
});
