// jsclient.mjs — browser tests of the JS client (clients/js): a real
// peertrackd on 127.0.0.1, headless Chromium pages loading jsclient/index.html
// and the module itself (served from clients/js/src as it ships, no bundler).
//
//   node jsclient.mjs two-pages   page 1 seeds, page 2 fetches it through the
//                                 module; verified; the offload is reported
//
// Env: PT_BIN (absolute). Exits 0 on success; kills all it started.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, sha, until } from './harness.mjs';

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
  // Page 2 now holds it and serves it too: a third visitor may get it from either.
  const s2 = await evalp(p2, () => window.ptState());
  if (s2.stats.fromPeers !== SIZE || s2.stats.resources[hash].fromPeers !== SIZE)
    throw new Error(`page 2 stats: ${JSON.stringify(s2.stats)}`);
  const s1 = await evalp(p1, () => window.ptState());
  if (s1.stats.toPeers !== SIZE) throw new Error(`page 1 served ${s1.stats.toPeers} bytes, not ${SIZE}`);
  // Closing sends the last `report`: the daemon counts the offload.
  await evalp(p2, () => window.ptClose());
  await evalp(p1, () => window.ptClose());
  const st = await until('the offload reports in the daemon', 10000, async () => {
    const s = JSON.parse(await h.ctl('--json', 'stats'));
    return s.from_peers === SIZE && s.to_peers === SIZE ? s : null;
  }, 300);
  h.log(`peertrackctl stats: from_peers ${st.from_peers}, to_peers ${st.to_peers}, reports ${st.reports}`);
}

const tests = { 'two-pages': twoPages };
if (!tests[mode]) { console.error('usage: node jsclient.mjs two-pages'); process.exit(2); }
await h.run(Number(process.env.PT_DEADLINE_MS) || 120000, async () => {
  const pagePort = await servePage();
  url = await h.startDaemon(pagePort);
  pageUrl = `http://127.0.0.1:${pagePort}/index.html`;
  await tests[mode]();
});
