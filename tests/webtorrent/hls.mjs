// hls.mjs — two headless Chromium processes play the same HLS stream
// through hls.js + p2p-media-loader-hlsjs 2.x, peertrackd's /announce the
// only tracker. The stream is generated here by ffmpeg (a test pattern with
// a tone, H.264 + AAC in 1 s MPEG-TS segments) and served by a static HTTP
// server on 127.0.0.1 that logs every request. The first player loads the
// whole stream over HTTP; the second starts after it and must receive
// segments from the first: the library reports P2P segments and bytes, the
// origin's log shows the second never asked for those segments, and its
// video plays on. Runs in a network namespace holding only lo (hls.sh).
//
// Env: PT_BIN (absolute). Exits 0 on success.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumOptions } from '../lib/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const mod = (...p) => join(here, 'node_modules', ...p);
const BIN = process.env.PT_BIN;
const CHROMIUM = process.env.PT_CHROMIUM || '/usr/bin/chromium';
const SECONDS = 8; // 8 segments of 1 s
const SWARM = 'peertrack-hls-test';
const work = mkdtempSync(join(tmpdir(), 'peertrack-hls-'));
const media = join(work, 'media');
const browsers = [];
const origin = []; // every request the static server answered: [player, file]
let httpServer = null, daemon = null, daemonOut = '', metricsUrl = null;
const log = (...a) => console.error('pml-hls:', ...a);

async function finish(code, msg) {
  log(msg);
  if (code && daemonOut) log(`daemon output:\n${daemonOut}`);
  if (code && metricsUrl) {
    const m = await fetch(metricsUrl).then((r) => r.text()).catch((e) => String(e));
    log(`tracker metrics:\n${m.split('\n').filter((l) => /^peertrack_(wt|frontend)/.test(l)).join('\n')}`);
  }
  if (code) log(`origin log: ${origin.map((r) => r.join('/')).join(' ')}`);
  for (const b of browsers) await b.close().catch(() => {});
  if (httpServer) httpServer.close();
  if (daemon) daemon.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  process.exit(code);
}

function makeStream() {
  const r = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25:duration=${SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${SECONDS}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
    '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-threads', '1',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2',
    '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod',
    '-hls_segment_filename', join(media, 'seg%02d.ts'), join(media, 'index.m3u8'),
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return readdirSync(media).filter((f) => f.endsWith('.ts')).sort();
}

// The page, the libraries and, under /a/ and /b/ (one prefix per player, so
// the log tells them apart), the stream.
function serve() {
  const files = {
    '/hls.html': [join(here, 'page', 'hls.html'), 'text/html'],
    '/hls.mjs': [mod('hls.js', 'dist', 'hls.mjs'), 'text/javascript'],
    '/pml-core.js': [mod('p2p-media-loader-core', 'dist', 'p2p-media-loader-core.es.js'), 'text/javascript'],
    '/pml-hlsjs.js': [mod('p2p-media-loader-hlsjs', 'dist', 'p2p-media-loader-hlsjs.es.js'), 'text/javascript'],
  };
  return new Promise((resolve) => {
    httpServer = createServer((req, res) => {
      const path = new URL(req.url, 'http://127.0.0.1').pathname;
      const m = path.match(/^\/([ab])\/([\w.]+)$/);
      let file = files[path];
      if (m) {
        origin.push([m[1], m[2]]);
        file = [normalize(join(media, m[2])),
                m[2].endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t'];
      }
      let body;
      try { body = file && readFileSync(file[0]); } catch { body = null; }
      if (!body) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
      res.end(body);
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

// One Chromium process per player, as two viewers' browsers would be.
async function openPage(url, name) {
  const userDir = mkdtempSync(join(work, 'chromium-'));
  const b = await chromium.launch(chromiumOptions(CHROMIUM, userDir, ['--autoplay-policy=no-user-gesture-required']));
  browsers.push(b);
  const page = await b.newPage();
  page.on('console', (m) => { if (process.env.PT_VERBOSE) log(`${name}: ${m.text()}`); });
  page.on('pageerror', (e) => log(`${name} page error: ${e}`));
  await page.goto(url);
  await page.waitForFunction(() => window.pmlReady === true, null, { timeout: 20000 });
  await page.evaluate(() => window.pmlPermit());
  return page;
}

// Polls the page's stats until pred holds (every 200 ms, at most ms).
async function until(page, what, ms, pred) {
  const end = Date.now() + ms;
  for (;;) {
    const s = await page.evaluate(() => window.pmlStats());
    if (s.hlsErrors.length || s.trackerErrors.length)
      throw new Error(`${what}: hls.js ${s.hlsErrors} tracker ${s.trackerErrors}`);
    if (pred(s)) return s;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const deadline = setTimeout(() => finish(1, 'FAIL: took longer than 120 s'), 120000);
try {
  const t0 = Date.now();
  mkdirSync(media);
  const segs = makeStream();
  if (segs.length < SECONDS - 1) throw new Error(`ffmpeg made ${segs.length} segments`);
  log(`${segs.length} segments made in ${Date.now() - t0} ms`);
  const pagePort = await serve();
  const port = await startDaemon(pagePort);
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const page = `http://127.0.0.1:${pagePort}/hls.html?tracker=${encodeURIComponent(`ws://127.0.0.1:${port}/announce`)}`;
  const first = await openPage(page, 'first');
  const second = await openPage(page, 'second');

  // The first viewer fetches the whole stream (30 s buffer) over HTTP.
  await first.evaluate(([m, s]) => window.pmlPlay(m, { swarmId: s }),
                       [`http://127.0.0.1:${pagePort}/a/index.m3u8`, SWARM]);
  await until(first, 'first player loading every segment', 40000,
              (s) => s.segments.http.length + s.segments.p2p.length >= segs.length);

  // The second waits for peers before any HTTP fallback and prefers them.
  await second.evaluate(([m, s]) => window.pmlPlay(m, {
    swarmId: s, httpDownloadInitialTimeoutMs: 20000, httpDownloadTimeWindow: 1,
  }), [`http://127.0.0.1:${pagePort}/b/index.m3u8`, SWARM]);
  const s2 = await until(second, 'second player: P2P segments and 3 s of playback', 60000,
                         (s) => s.segments.p2p.length > 0 && s.currentTime > 3);
  const s1 = await first.evaluate(() => window.pmlStats());

  const fromOrigin = new Set(origin.filter((r) => r[0] === 'b' && r[1].endsWith('.ts')).map((r) => r[1]));
  const both = s2.segments.p2p.filter((f) => fromOrigin.has(f));
  log(`second: ${s2.segments.p2p.length} segments (${s2.down.p2p} bytes) over P2P, ` +
      `${s2.segments.http.length} over HTTP, at ${s2.currentTime.toFixed(1)} s; ` +
      `first uploaded ${s1.up} bytes; origin served the second: ${[...fromOrigin].join(' ')}`);
  if (s2.down.p2p <= 0) throw new Error('no P2P bytes reported by the second player');
  if (s1.up <= 0) throw new Error('the first player reports no uploaded bytes');
  if (both.length) throw new Error(`segments both from P2P and the origin: ${both}`);
  if (s2.currentTime <= 3) throw new Error('second player did not play');
  if (/ERROR: \w+Sanitizer|runtime error:/.test(daemonOut)) throw new Error('sanitizer report from the daemon');
  clearTimeout(deadline);
  await finish(0, `ok: ${s2.segments.p2p.length}/${segs.length} segments peer to peer, ` +
                  `origin served the second ${fromOrigin.size}`);
} catch (e) {
  await finish(1, `FAIL: ${e.stack || e}`);
}
