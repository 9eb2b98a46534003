// clients.mjs — real bittorrent-tracker websocket clients (the tracker client
// WebTorrent runs) against peertrackd's /announce, with WebRTC from
// node-datachannel: N clients of one torrent find each other through
// peertrack alone and exchange data over data channels, every pair of them.
//
// Usage: node clients.mjs N   (PT_BIN: where peertrackd is), or
// node clients.mjs cluster: two clients on two cluster nodes sharing a
// redis-server (password-protected), so every offer and answer crosses
// nodes through Redis. Runs in a
// network namespace holding only lo (clients.sh), so every socket, ICE
// included, is on 127.0.0.1. Exits 0 on success.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Client from 'bittorrent-tracker';
import * as wrtc from 'node-datachannel/polyfill';

const CLUSTER = process.argv[2] === 'cluster';
const N = CLUSTER ? 2 : Number(process.argv[2] || 2);
const BIN = process.env.PT_BIN;
const work = mkdtempSync(join(tmpdir(), 'peertrack-wt-'));
const log = (...a) => console.error(`webtorrent-clients(${N}):`, ...a);
const sha = (b) => createHash('sha256').update(b).digest('hex');
let daemon = null, daemonOut = '';
const extra = []; // cluster mode: redis-server, the second node
const clients = [];

function finish(code, msg) {
  if (msg) log(msg);
  if (code && daemonOut) log(`daemon output:\n${daemonOut}`);
  for (const c of clients) { try { c.destroy(); } catch { /* closing anyway */ } }
  if (daemon) daemon.kill('SIGTERM');
  for (const p of extra) p.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
  // node-datachannel's threads keep the process alive: leave explicitly.
  setTimeout(() => process.exit(code), 200);
}

// Resolves with the first match of re in p's stream `which`, or rejects.
function waitFor(p, which, re, what, onData) {
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} within 15 s`)), 15000);
    p[which].on('data', (d) => {
      out += d;
      if (onData) onData(d);
      const m = out.match(re);
      if (m) { clearTimeout(t); resolve(m); }
    });
    p.on('exit', (c) => reject(new Error(`${what}: exited (${c})`)));
  });
}

// Cluster mode: redis-server on 127.0.0.1 (the namespace is ours: any port
// is free) with a password, and the nodes' [cluster] section.
async function startRedis() {
  const pw = randomBytes(16).toString('hex');
  writeFileSync(join(work, 'redis.pw'), `${pw}\n`, { mode: 0o600 });
  const r = spawn('redis-server', ['--bind', '127.0.0.1', '--port', '6390', '--requirepass', pw,
                                   '--save', '', '--appendonly', 'no', '--dir', work],
                  { stdio: ['ignore', 'pipe', 'pipe'] });
  extra.push(r);
  await waitFor(r, 'stdout', /Ready to accept connections/, 'redis-server not ready');
  return `[cluster]\ncluster_redis = 127.0.0.1:6390\ncluster_redis_password_file = ${join(work, 'redis.pw')}\n` +
         'cluster_heartbeat_ms = 200\n';
}

async function startNode(tag, cluster) {
  const conf = join(work, `node-${tag}.conf`);
  writeFileSync(conf, `state_dir = ${join(work, tag)}\nallow_missing_origin = yes\nwt_interval_s = 10\n${cluster}cluster_node = ${tag}\n`);
  const d = spawn(join(BIN, 'peertrackd'), ['--listen', '127.0.0.1:0', '-c', conf],
                  { stdio: ['ignore', 'ignore', 'pipe'] });
  extra.push(d);
  const m = await waitFor(d, 'stderr', /listening on 127\.0\.0\.1:(\d+)/, `node ${tag} did not listen`,
                          (x) => { daemonOut += x; });
  return { d, port: Number(m[1]) };
}

function startDaemon() {
  const conf = join(work, 'peertrack.conf');
  // Node clients send no Origin header.
  // A short interval: a client whose WebRTC attempt failed (libdatachannel
  // has client-side races) offers again soon instead of in 120 s.
  writeFileSync(conf, `state_dir = ${work}\nallow_missing_origin = yes\nwt_interval_s = 10\n${process.env.PT_VERBOSE ? "log_level = debug\n" : ""}`);
  daemon = spawn(join(BIN, 'peertrackd'), ['--listen', '127.0.0.1:0', '-c', conf],
                 { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('daemon did not listen within 15 s')), 15000);
    daemon.stderr.on('data', (d) => {
      daemonOut += d;
      const m = daemonOut.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    daemon.on('exit', (c) => reject(new Error(`daemon exited (${c})`)));
  });
}

async function main() {
  let urls;
  if (CLUSTER) {
    const cluster = await startRedis();
    const a = await startNode('Aa', cluster), b = await startNode('Bb', cluster);
    // Both registered and each seen by the other before the clients come.
    await Promise.all([waitFor(a.d, 'stderr', /node 'Bb' is alive/, 'node Aa never saw Bb'),
                       waitFor(b.d, 'stderr', /node 'Aa' is alive/, 'node Bb never saw Aa')]);
    urls = [a.port, b.port].map((p) => `ws://127.0.0.1:${p}/announce`);
  } else {
    urls = [`ws://127.0.0.1:${await startDaemon()}/announce`];
  }
  // Random binary ids: bytes 0x80-0xFF and control bytes reach the wire.
  const infoHash = randomBytes(20).toString('hex');
  const got = Array.from({ length: N }, () => new Set()); // i -> peers i got verified data from
  const payloads = Array.from({ length: N }, () => randomBytes(48 * 1024));

  const done = () => got.every((s) => s.size === N - 1);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `not every pair exchanged data within 90 s: ${got.map((s, i) => `${i}<-[${[...s]}]`).join(' ')}`)), 90000);
    for (let i = 0; i < N; i++) {
      const c = new Client({
        // One socket per client, as in separate pages: the client pools
        // sockets by URL within a process, so each gets its own query.
        infoHash, peerId: randomBytes(20), announce: [`${urls[i % urls.length]}?client=${i}`], port: 6881 + i,
        // libjuice leaves loopback out of its host candidates unless bound to it.
        wrtc, rtcConfig: { iceServers: [], bindAddress: '127.0.0.1' },
      });
      clients.push(c);
      c.on('error', (e) => reject(new Error(`client ${i}: ${e.message}`)));
      // A failure reason from the tracker reaches the app as a warning and
      // fails the test; a peer's WebRTC error is the client's business.
      c.on('warning', (e) => {
        if (/^Connection error/.test(e.message)) log(`client ${i}: ${e.message} (will re-announce)`);
        else reject(new Error(`client ${i} warning: ${e.message}`));
      });
      c.on('peer', (peer) => {
        peer.on('error', (e) => log(`client ${i}: peer error ${e.message}`));
        const send = () => {
          // Who we are, then the payload and its digest: the receiver checks both.
          peer.send(JSON.stringify({ from: i, len: payloads[i].length, sha: sha(payloads[i]) }));
          for (let off = 0; off < payloads[i].length; off += 16 * 1024)
            peer.send(payloads[i].subarray(off, off + 16 * 1024));
        };
        if (peer.connected) send(); else peer.once('connect', send);
        let head = null, parts = [], have = 0;
        peer.on('data', (d) => {
          if (!head) { head = JSON.parse(Buffer.from(d).toString()); return; }
          parts.push(Buffer.from(d));
          have += d.length;
          if (have < head.len) return;
          const body = Buffer.concat(parts);
          if (body.length !== head.len || sha(body) !== head.sha || sha(body) !== sha(payloads[head.from]))
            return reject(new Error(`client ${i}: data from ${head.from} corrupted`));
          got[i].add(head.from);
          log(`client ${i} <- client ${head.from}: ${body.length} bytes, sha256 ok`);
          if (done()) { clearTimeout(timer); resolve(); }
        });
      });
      c.start();
    }
  });
  // The tracker saw every client: a scrape through one of them. In cluster
  // mode it is answered by client 0's node and counts the other node's
  // client too, once that node's count was read (cluster_count_refresh_ms):
  // asked again, bounded, until it does.
  const scrape = () => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no scrape reply within 10 s')), 10000);
    clients[0].once('scrape', (d) => { clearTimeout(t); resolve(d); });
    clients[0].scrape();
  });
  let counts = await scrape();
  for (let i = 0; CLUSTER && i < 40 && counts.incomplete + counts.complete !== N; i++) {
    await new Promise((r) => setTimeout(r, 250));
    counts = await scrape();
  }
  if (counts.incomplete + counts.complete !== N)
    throw new Error(`scrape: ${JSON.stringify(counts)}, want ${N} peers`);
  if (/ERROR: \w+Sanitizer|runtime error:/.test(daemonOut)) throw new Error(`sanitizer report from ${CLUSTER ? 'a node' : 'the daemon'}`);
  if (CLUSTER)
    return finish(0, `2 clients on 2 nodes: both exchanged ${payloads[0].length} bytes through Redis-routed offers, sha256 equal; scrape on one node ${JSON.stringify(counts)}`);
  finish(0, `${N} clients: every pair exchanged ${payloads[0].length} bytes, sha256 equal; scrape ${JSON.stringify(counts)}`);
}

main().catch((e) => finish(1, `FAIL: ${e.message}`));
