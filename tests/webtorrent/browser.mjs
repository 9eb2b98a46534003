// browser.mjs — real WebTorrent (its browser bundle) in two headless
// Chromium processes with peertrackd's /announce as the only tracker: one
// seeds a generated file, the other downloads it by magnet URI, SHA-256
// equal. Runs in a network namespace holding only lo (browser.sh).
//
// Env: PT_BIN (absolute). Exits 0 on success.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumOptions } from '../lib/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.PT_BIN;
const CHROMIUM = process.env.PT_CHROMIUM || '/usr/bin/chromium';
const SIZE = 1 << 20; // several pieces
const work = mkdtempSync(join(tmpdir(), 'peertrack-wtb-'));
const browsers = [];
let httpServer = null, daemon = null, daemonOut = '';
const log = (...a) => console.error('webtorrent-browser:', ...a);
const sha = (b) => createHash('sha256').update(b).digest('hex');

let metricsUrl = null;
async function finish(code, msg) {
  log(msg);
  if (code && daemonOut) log(`daemon output:\n${daemonOut}`);
  if (code && metricsUrl) {
    const m = await fetch(metricsUrl).then((r) => r.text()).catch((e) => String(e));
    log(`tracker metrics:\n${m.split('\n').filter((l) => /^peertrack_(wt|frontend)/.test(l)).join('\n')}`);
  }
  for (const b of browsers) await b.close().catch(() => {});
  if (httpServer) httpServer.close();
  if (daemon) daemon.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  process.exit(code);
}

function servePage() {
  const files = {
    '/index.html': [join(here, 'page', 'index.html'), 'text/html'],
    '/webtorrent.min.js': [join(here, 'node_modules', 'webtorrent', 'dist', 'webtorrent.min.js'),
                           'text/javascript'],
  };
  return new Promise((resolve) => {
    httpServer = createServer((req, res) => {
      const f = files[new URL(req.url, 'http://127.0.0.1').pathname];
      if (!f) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': f[1], 'cache-control': 'no-store' });
      res.end(readFileSync(f[0]));
    });
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer.address().port));
  });
}

function startDaemon(pagePort) {
  const conf = join(work, 'peertrack.conf');
  writeFileSync(conf, `state_dir = ${work}\nallowed_origins = http://127.0.0.1:${pagePort}\n`);
  daemon = spawn(join(BIN, 'peertrackd'), ['--listen', '127.0.0.1:0', '-c', conf],
                 { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('daemon did not listen within 15 s')), 15000);
    daemon.stderr.on('data', (d) => {
      daemonOut += d;
      const m = daemonOut.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
  });
}

// One Chromium process per page, as two visitors' browsers would be.
async function openPage(url, name) {
  const userDir = mkdtempSync(join(work, 'chromium-'));
  const b = await chromium.launch(chromiumOptions(CHROMIUM, userDir));
  browsers.push(b);
  const page = await b.newPage();
  page.on('console', (m) => log(`${name}: ${m.text()}`));
  page.on('pageerror', (e) => log(`${name} page error: ${e}`));
  await page.goto(url);
  await page.waitForFunction(() => window.wtReady === true, null, { timeout: 20000 });
  await page.evaluate(() => window.wtPermit());
  return page;
}

const deadline = setTimeout(() => finish(1, "FAIL: took longer than 150 s"), Number(process.env.PT_WT_DEADLINE_MS || 150000));
try {
  const pagePort = await servePage();
  const port = await startDaemon(pagePort);
  const tracker = `ws://127.0.0.1:${port}/announce`;
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const url = `http://127.0.0.1:${pagePort}/index.html?tracker=${encodeURIComponent(tracker)}${process.env.PT_VERBOSE ? "&debug=1" : ""}`;
  const seeder = await openPage(url, 'seeder');
  const leecher = await openPage(url, 'leecher');
  const data = randomBytes(SIZE);
  const magnet = await seeder.evaluate((b64) => window.wtSeed(b64), data.toString('base64'));
  log(`seeding ${SIZE} bytes: ${magnet}`);
  if (!magnet.includes(encodeURIComponent(tracker))) throw new Error('magnet without our tracker');
  const r = await leecher.evaluate((m) => window.wtFetch(m), magnet);
  if (r.sha256 !== sha(data) || r.bytes !== SIZE)
    throw new Error(`leecher got ${r.bytes} bytes hashing to ${r.sha256}, want ${sha(data)}`);
  if (r.fromPeers < SIZE) throw new Error(`only ${r.fromPeers} bytes came from peers`);
  if (/ERROR: \w+Sanitizer|runtime error:/.test(daemonOut)) throw new Error('sanitizer report from the daemon');
  clearTimeout(deadline);
  await finish(0, `ok: ${r.bytes} bytes by magnet URI from the seeder's Chromium, sha256 equal (${r.peers} peer)`);
} catch (e) {
  await finish(1, `FAIL: ${e.stack || e}`);
}
