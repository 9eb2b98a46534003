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
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const mode = process.argv[2];
const BIN = process.env.PT_BIN;
const CHROMIUM = process.env.PT_CHROMIUM || '/usr/bin/chromium';
const SIZE = 1 << 20;
const work = mkdtempSync(join(tmpdir(), 'peertrack-browser-'));
const children = new Set();
let browser = null, httpServer = null, daemon = null, turn = null;
// The driver runs in its own network namespace: coturn's ports are free.
const TURN_PORT = 3478, TURN_SECRET = 'browser-relay-Secret-5e2c';

const log = (...a) => console.error(`browser ${mode}:`, ...a);
const sha = (b) => createHash('sha256').update(b).digest('hex');

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) c.kill('SIGKILL');
  if (httpServer) httpServer.close();
  if (!process.env.PT_KEEP) rmSync(work, { recursive: true, force: true });
}

async function fail(msg) {
  log(`FAIL: ${msg}`);
  if (daemon) log(`daemon output:\n${daemon.dump()}`);
  await cleanup();
  process.exit(1);
}

// A child whose output lines can be awaited: proc.line(re, ms).
function start(name, cmd, args, env = process.env) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(p);
  const lines = [], waiters = [];
  const feed = (stream, tag) => {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(`${tag} ${l}`);
        if (process.env.PT_VERBOSE) log(`${name} ${tag}: ${l}`);
        for (const w of [...waiters]) if (w.re.test(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
      }
    });
  };
  feed(p.stdout, 'out');
  feed(p.stderr, 'err');
  p.exited = new Promise((resolve) => p.on('exit', (code, sig) => { children.delete(p); resolve(code ?? sig); }));
  p.line = (re, ms) => {
    const seen = lines.find((l) => re.test(l.slice(4)));
    if (seen) return Promise.resolve(seen.slice(4));
    return new Promise((resolve, reject) => {
      const w = { re, resolve };
      waiters.push(w);
      setTimeout(() => reject(new Error(`${name}: no line ${re} in ${ms} ms:\n${lines.join('\n')}`)), ms);
    });
  };
  p.dump = () => lines.join('\n');
  return p;
}

function servePage() {
  const files = { '/index.html': 'text/html', '/peertrack.js': 'text/javascript' };
  return new Promise((resolve) => {
    httpServer = createServer((req, res) => {
      const path = new URL(req.url, 'http://127.0.0.1').pathname;
      if (!files[path]) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': files[path], 'cache-control': 'no-store' });
      res.end(readFileSync(join(here, 'page', path.slice(1))));
    });
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer.address().port));
  });
}

// turnserver with TURN REST credentials, its log and database in `work`.
async function startTurn() {
  const t = turn = start('coturn', '/usr/bin/turnserver', ['-n', '-v', '--log-file=stdout', '--simple-log',
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${TURN_PORT}`,
    '--min-port=49160', '--max-port=49260', '--use-auth-secret', `--static-auth-secret=${TURN_SECRET}`,
    '--realm=peertrack.test', '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli',
    `--db=${join(work, 'turndb')}`, `--pidfile=${join(work, 'turn.pid')}`]);
  await t.line(/UDP listener opened on ?: 127\.0\.0\.1:3478/, 10000);
}

async function startDaemon(pagePort) {
  const conf = join(work, 'peertrack.conf');
  let ice = '';
  if (mode === 'c-relay') {
    await startTurn();
    writeFileSync(join(work, 'turn.secret'), `${TURN_SECRET}\n`, { mode: 0o600 });
    ice = `turn_urls = turn:127.0.0.1:${TURN_PORT}?transport=udp\n` +
          `turn_secret_file = ${join(work, 'turn.secret')}\n`;
  }
  // Browsers send their page's origin; peertrack-peer sends http://127.0.0.1.
  writeFileSync(conf, `state_dir = ${work}\nheartbeat_ms = 2000\ntimeout_ms = 10000\n` +
    `allowed_origins = http://127.0.0.1:${pagePort} http://127.0.0.1\n` + ice);
  const d = daemon = start('daemon', join(BIN, 'peertrackd'), ['--listen', '127.0.0.1:0', '-c', conf]);
  const l = await d.line(/listening on 127\.0\.0\.1:\d+/, 10000);
  return `ws://127.0.0.1:${l.match(/listening on 127\.0\.0\.1:(\d+)/)[1]}/v1`;
}

async function launch() {
  // These flags are the whole command line (ignoreDefaultArgs): the pipe is
  // how playwright talks to the browser.
  const userDir = mkdtempSync(join(work, 'chromium-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    ignoreDefaultArgs: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           `--user-data-dir=${userDir}`, '--allow-loopback-in-peer-connection',
           '--disable-features=WebRtcHideLocalIpsWithMdns', '--use-fake-ui-for-media-stream',
           '--use-fake-device-for-media-stream', '--remote-debugging-pipe', 'about:blank'],
  });
}

async function openPage(pageUrl, name) {
  const page = await browser.newPage();
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

// peertrack-peer, with its own sanitizer settings in a sanitized build.
function startPeer(name, args) {
  const env = { ...process.env };
  if (process.env.PT_PEER_ASAN_OPTIONS) env.ASAN_OPTIONS = process.env.PT_PEER_ASAN_OPTIONS;
  if (process.env.PT_PEER_LSAN_OPTIONS) env.LSAN_OPTIONS = process.env.PT_PEER_LSAN_OPTIONS;
  return start(name, join(BIN, 'peertrack-peer'), args, env);
}

async function exitWithin(p, ms) {
  let timer;
  const code = await Promise.race([p.exited, new Promise((r) => { timer = setTimeout(() => r('hung'), ms); })]);
  clearTimeout(timer);
  return code;
}

async function cInterop(url, pageUrl) {
  // 1. Chromium fetches what the C peer seeds.
  const a = randomBytes(SIZE), ha = sha(a);
  writeFileSync(join(work, 'a'), a);
  const seeder = startPeer('c-seeder', ['--server', url, 'seed', join(work, 'a')]);
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
  const out = join(work, 'b.got');
  const fetcher = startPeer('c-fetcher', ['--server', url, '--timeout', '30000', '--json', '-v', 'fetch', hb, '-o', out]);
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
  writeFileSync(join(work, 'a'), a);
  const seeder = startPeer('c-seeder', ['--server', url, '--relay-only', 'seed', join(work, 'a')]);
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
  const out = join(work, 'b.got');
  const fetcher = startPeer('c-fetcher', ['--server', url, '--relay-only', '--timeout', '30000', '--json',
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
  const b = randomBytes(SIZE), h = sha(b);
  const seeded = await p1.page.evaluate((b64) => window.ptSeed(b64), b.toString('base64'));
  if (seeded !== h) throw new Error(`page 1 announced ${seeded}, wanted ${h}`);
  const r = await p2.page.evaluate((x) => window.ptFetch(x), h);
  if (!r.ok) throw new Error(`page 2 fetch failed: ${JSON.stringify(r)}`);
  if (r.hash !== h || r.bytes !== SIZE) throw new Error(`page 2 got ${r.bytes} bytes hashing to ${r.hash}`);
  if (r.peer !== p1.id) throw new Error(`page 2 served by ${r.peer}, not page 1 ${p1.id}`);
  checkLoopback(r.path, 'page 1 -> page 2 (fetcher)');
  await checkServedLoopback(p1.page, 'page 1 -> page 2 (server)');
  log(`page 1 -> page 2: ${SIZE} bytes verified; offer->open ${r.openMs.toFixed(1)} ms, ` +
      `transfer ${r.transferMs.toFixed(1)} ms; path ${r.path.local} <-> ${r.path.remote}`);
}

const tests = { 'c-interop': cInterop, 'two-pages': twoPages, 'c-relay': cRelay };
if (!tests[mode] || !BIN) {
  console.error('usage: PT_BIN=/abs/bin node driver.mjs c-interop|two-pages|c-relay');
  process.exit(2);
}
const deadline = setTimeout(() => fail('took longer than 120 s'), 120000);
process.on('SIGTERM', () => fail('terminated'));
process.on('SIGINT', () => fail('interrupted'));
try {
  const pagePort = await servePage();
  const url = await startDaemon(pagePort);
  const pageUrl = `http://127.0.0.1:${pagePort}/index.html?server=${encodeURIComponent(url)}`;
  await launch();
  await tests[mode](url, pageUrl);
  // The daemon must stop cleanly (and, in a sanitized build, silently).
  await browser.close();
  browser = null;
  daemon.kill('SIGTERM');
  const code = await exitWithin(daemon, 5000);
  if (code !== 0) throw new Error(`daemon exit on SIGTERM: ${code}`);
  if (/ERROR: \w+Sanitizer|runtime error:/.test(daemon.dump())) throw new Error('sanitizer report from the daemon');
  clearTimeout(deadline);
  await cleanup();
  log('ok');
  process.exit(0);
} catch (e) {
  await fail(e.stack || String(e));
}
