// driver.mjs — browser conformance tests: a real peertrackd on 127.0.0.1,
// the Debian package's headless Chromium (driven by playwright-core, never a
// downloaded browser) loading page/index.html from a server on 127.0.0.1.
//
//   node driver.mjs c-interop   Chromium fetches from a C seeder, and a C
//                                fetcher fetches what Chromium seeds
//   node driver.mjs two-pages   two Chromium pages, no C peer
//   node driver.mjs c-relay     as c-interop, both ways, through a real coturn:
//                                Chromium with iceTransportPolicy "relay", the
//                                C peer with --relay-only, credentials from
//                                the daemon's welcome
//
// Env: PT_BIN (absolute: where peertrackd and peertrack-peer are). Exits 0
// on success; every process it started is killed on any exit.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, exitWithin, sha } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const mode = process.argv[2];
const h = new Harness(mode);
const SIZE = 1 << 20;
let turn = null;
// The driver runs in its own network namespace: coturn's ports are free.
const TURN_PORT = 3478, TURN_SECRET = 'browser-relay-Secret-5e2c';
const log = (...a) => h.log(...a);

function servePage() {
  const files = { '/index.html': 'text/html', '/peertrack.js': 'text/javascript' };
  return new Promise((resolve) => {
    const httpServer = createServer((req, res) => {
      const path = new URL(req.url, 'http://127.0.0.1').pathname;
      if (!files[path]) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': files[path], 'cache-control': 'no-store' });
      res.end(readFileSync(join(here, 'page', path.slice(1))));
    });
    h.servers.push(httpServer);
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer.address().port));
  });
}

// turnserver with TURN REST credentials, its log and database in `work`.
async function startTurn() {
  const t = turn = h.start('coturn', '/usr/bin/turnserver', ['-n', '-v', '--log-file=stdout', '--simple-log',
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${TURN_PORT}`,
    '--min-port=49160', '--max-port=49260', '--use-auth-secret', `--static-auth-secret=${TURN_SECRET}`,
    '--realm=peertrack.test', '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli',
    `--db=${join(h.work, 'turndb')}`, `--pidfile=${join(h.work, 'turn.pid')}`]);
  await t.line(/UDP listener opened on ?: 127\.0\.0\.1:3478/, 10000);
}

async function startDaemon(pagePort) {
  let ice = '';
  if (mode === 'c-relay') {
    await startTurn();
    writeFileSync(join(h.work, 'turn.secret'), `${TURN_SECRET}\n`, { mode: 0o600 });
    ice = `turn_urls = turn:127.0.0.1:${TURN_PORT}?transport=udp\n` +
          `turn_secret_file = ${join(h.work, 'turn.secret')}\n`;
  }
  return h.startDaemon(pagePort, ice);
}

async function openPage(pageUrl, name) {
  const page = await (await h.launch()).newPage();
  page.on('console', (m) => { if (process.env.PT_VERBOSE) log(`${name} console: ${m.text()}`); });
  page.on('pageerror', (e) => log(`${name} page error: ${e}`));
  await page.goto(pageUrl);
  const id = await page.evaluate(() => window.ptStart());
  log(`${name} is ${id}`);
  return { page, id };
}

// A pair is on loopback when its local end is; the remote end of a pair
// can be a peer-reflexive candidate, whose address Chromium does not show,
// so each side's own local end is what proves it.
function checkLoopback(path, what) {
  if (!path || !/^127\./.test(path.local) || !/^(127\.[0-9.]+)?:\d+$/.test(path.remote))
    throw new Error(`${what}: candidate pair not on loopback: ${JSON.stringify(path)}`);
}

async function checkServedLoopback(page, what) {
  const paths = await page.evaluate(() => window.ptServedPaths());
  if (!paths.length) throw new Error(`${what}: the page served nothing`);
  for (const p of paths) checkLoopback(p, what);
}

async function cInterop(url, pageUrl) {
  // 1. Chromium fetches what the C peer seeds.
  const a = randomBytes(SIZE), ha = sha(a);
  writeFileSync(join(h.work, 'a'), a);
  const seeder = h.startPeer('c-seeder', ['--server', url, 'seed', join(h.work, 'a')]);
  const ready = await seeder.line(/^ready /, 20000);
  const seederId = ready.split(' ')[1];
  const b1 = await openPage(pageUrl, 'page');
  const r = await b1.page.evaluate((h) => window.ptFetch(h), ha);
  if (!r.ok) throw new Error(`Chromium fetch failed: ${JSON.stringify(r)}`);
  if (r.hash !== ha || r.bytes !== SIZE) throw new Error(`Chromium got ${r.bytes} bytes hashing to ${r.hash}`);
  if (r.peer !== seederId) throw new Error(`served by ${r.peer}, not the C seeder ${seederId}`);
  checkLoopback(r.path, 'C -> Chromium');
  log(`C -> Chromium: ${SIZE} bytes verified; offer->open ${r.openMs.toFixed(1)} ms, ` +
      `transfer ${r.transferMs.toFixed(1)} ms; path ${r.path.local} <-> ${r.path.remote}`);

  // 2. The C peer fetches what Chromium seeds (the seeder stays: both hold
  // different things, and the C fetcher must pick the page).
  const b = randomBytes(SIZE), hb = sha(b);
  const seeded = await b1.page.evaluate((b64) => window.ptSeed(b64), b.toString('base64'));
  if (seeded !== hb) throw new Error(`page announced ${seeded}, wanted ${hb}`);
  const out = join(h.work, 'b.got');
  const fetcher = h.startPeer('c-fetcher', ['--server', url, '--timeout', '30000', '--json', '-v', 'fetch', hb, '-o', out]);
  const code = await exitWithin(fetcher, 45000);
  if (code !== 0) throw new Error(`C fetcher exited ${code}:\n${fetcher.dump()}`);
  const got = readFileSync(out);
  if (sha(got) !== hb || !got.equals(b)) throw new Error('C fetcher wrote different bytes');
  const res = JSON.parse((await fetcher.line(/"event":"fetched"/, 1000)));
  await checkServedLoopback(b1.page, 'Chromium -> C');
  if (res.peer !== b1.id) throw new Error(`C fetcher served by ${res.peer}, not the page ${b1.id}`);
  log(`Chromium -> C: ${SIZE} bytes verified; offer->open ${res.offer_open_ms} ms, ` +
      `transfer ${res.transfer_ms} ms (${res.mib_per_s} MiB/s)`);
  seeder.kill('SIGTERM');
  const sc = await exitWithin(seeder, 10000);
  if (sc !== 0) throw new Error(`C seeder exit on SIGTERM: ${sc}:\n${seeder.dump()}`);
}

// A relayed pair: our end is a relay candidate of coturn (on 127.0.0.1).
function checkRelayed(path, what) {
  checkLoopback(path, what);
  if (path.localType !== 'relay') throw new Error(`${what}: not relayed: ${JSON.stringify(path)}`);
}

function checkAllocation(id, what) {
  const re = new RegExp(`user <\\d+:${id.replace(/[-]/g, '\\-')}>: incoming packet ALLOCATE processed, success`);
  if (!re.test(turn.dump())) throw new Error(`${what}: coturn made no allocation for ${id}`);
}

async function cRelay(url, pageUrl) {
  // 1. Chromium (relay only) fetches what a relay-only C peer seeds.
  const a = randomBytes(SIZE), ha = sha(a);
  writeFileSync(join(h.work, 'a'), a);
  const seeder = h.startPeer('c-seeder', ['--server', url, '--relay-only', 'seed', join(h.work, 'a')]);
  const seederId = (await seeder.line(/^ready /, 20000)).split(' ')[1];
  const b1 = await openPage(`${pageUrl}&relay=1`, 'page');
  const r = await b1.page.evaluate((h) => window.ptFetch(h), ha);
  if (!r.ok) throw new Error(`Chromium fetch failed: ${JSON.stringify(r)}`);
  if (r.hash !== ha || r.bytes !== SIZE) throw new Error(`Chromium got ${r.bytes} bytes hashing to ${r.hash}`);
  if (r.peer !== seederId) throw new Error(`served by ${r.peer}, not the C seeder ${seederId}`);
  checkRelayed(r.path, 'C -> Chromium');
  checkAllocation(b1.id, 'Chromium');
  checkAllocation(seederId, 'C seeder');
  log(`C -> Chromium via TURN: ${SIZE} bytes verified; offer->open ${r.openMs.toFixed(1)} ms, ` +
      `transfer ${r.transferMs.toFixed(1)} ms; path ${r.path.local} (${r.path.localType}) <-> ${r.path.remote}`);

  // 2. A relay-only C peer fetches what Chromium seeds.
  const b = randomBytes(SIZE), hb = sha(b);
  const seeded = await b1.page.evaluate((b64) => window.ptSeed(b64), b.toString('base64'));
  if (seeded !== hb) throw new Error(`page announced ${seeded}, wanted ${hb}`);
  const out = join(h.work, 'b.got');
  const fetcher = h.startPeer('c-fetcher', ['--server', url, '--relay-only', '--timeout', '30000', '--json',
                                          'fetch', hb, '-o', out]);
  const code = await exitWithin(fetcher, 45000);
  if (code !== 0) throw new Error(`C fetcher exited ${code}:\n${fetcher.dump()}`);
  const got = readFileSync(out);
  if (sha(got) !== hb || !got.equals(b)) throw new Error('C fetcher wrote different bytes');
  const res = JSON.parse((await fetcher.line(/"event":"fetched"/, 1000)));
  if (res.peer !== b1.id) throw new Error(`C fetcher served by ${res.peer}, not the page ${b1.id}`);
  const paths = await b1.page.evaluate(() => window.ptServedPaths());
  if (!paths.length) throw new Error('Chromium -> C: the page served nothing');
  for (const p of paths) checkRelayed(p, 'Chromium -> C');
  log(`Chromium -> C via TURN: ${SIZE} bytes verified; offer->open ${res.offer_open_ms} ms, ` +
      `transfer ${res.transfer_ms} ms (${res.mib_per_s} MiB/s)`);
  seeder.kill('SIGTERM');
  const sc = await exitWithin(seeder, 10000);
  if (sc !== 0) throw new Error(`C seeder exit on SIGTERM: ${sc}:\n${seeder.dump()}`);
}

async function twoPages(url, pageUrl) {
  const p1 = await openPage(pageUrl, 'page 1');
  const p2 = await openPage(pageUrl, 'page 2');
  const b = randomBytes(SIZE), hash = sha(b);
  const seeded = await p1.page.evaluate((b64) => window.ptSeed(b64), b.toString('base64'));
  if (seeded !== hash) throw new Error(`page 1 announced ${seeded}, wanted ${hash}`);
  const r = await p2.page.evaluate((x) => window.ptFetch(x), hash);
  if (!r.ok) throw new Error(`page 2 fetch failed: ${JSON.stringify(r)}`);
  if (r.hash !== hash || r.bytes !== SIZE) throw new Error(`page 2 got ${r.bytes} bytes hashing to ${r.hash}`);
  if (r.peer !== p1.id) throw new Error(`page 2 served by ${r.peer}, not page 1 ${p1.id}`);
  checkLoopback(r.path, 'page 1 -> page 2 (fetcher)');
  await checkServedLoopback(p1.page, 'page 1 -> page 2 (server)');
  log(`page 1 -> page 2: ${SIZE} bytes verified; offer->open ${r.openMs.toFixed(1)} ms, ` +
      `transfer ${r.transferMs.toFixed(1)} ms; path ${r.path.local} <-> ${r.path.remote}`);
}

const tests = { 'c-interop': cInterop, 'two-pages': twoPages, 'c-relay': cRelay };
if (!tests[mode]) {
  console.error('usage: PT_BIN=/abs/bin node driver.mjs c-interop|two-pages|c-relay');
  process.exit(2);
}
await h.run(120000, async () => {
  const pagePort = await servePage();
  const url = await startDaemon(pagePort);
  const pageUrl = `http://127.0.0.1:${pagePort}/index.html?server=${encodeURIComponent(url)}`;
  await tests[mode](url, pageUrl);
});
