// clients.mjs — real bittorrent-tracker websocket clients (the tracker client
// WebTorrent runs) against peertrackd's /announce, with WebRTC from
// node-datachannel: N clients of one torrent find each other through
// peertrack alone and exchange data over data channels, every pair of them.
//
// Usage: node clients.mjs N   (PT_BIN: where peertrackd is). Runs in a
// network namespace holding only lo (clients.sh), so every socket, ICE
// included, is on 127.0.0.1. Exits 0 on success.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Client from 'bittorrent-tracker';
import * as wrtc from 'node-datachannel/polyfill';

const N = Number(process.argv[2] || 2);
const BIN = process.env.PT_BIN;
const work = mkdtempSync(join(tmpdir(), 'peertrack-wt-'));
const log = (...a) => console.error(`webtorrent-clients(${N}):`, ...a);
const sha = (b) => createHash('sha256').update(b).digest('hex');
let daemon = null, daemonOut = '';
const clients = [];

function finish(code, msg) {
  if (msg) log(msg);
  if (code && daemonOut) log(`daemon output:\n${daemonOut}`);
  for (const c of clients) { try { c.destroy(); } catch { /* closing anyway */ } }
  if (daemon) daemon.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
  // node-datachannel's threads keep the process alive: leave explicitly.
  setTimeout(() => process.exit(code), 200);
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
  const port = await startDaemon();
  const url = `ws://127.0.0.1:${port}/announce`;
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
        infoHash, peerId: randomBytes(20), announce: [`${url}?client=${i}`], port: 6881 + i,
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
  // The tracker saw every client: a scrape through one of them.
  const counts = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no scrape reply within 10 s')), 10000);
    clients[0].once('scrape', (d) => { clearTimeout(t); resolve(d); });
    clients[0].scrape();
  });
  if (counts.incomplete + counts.complete !== N)
    throw new Error(`scrape: ${JSON.stringify(counts)}, want ${N} peers`);
  if (/ERROR: \w+Sanitizer|runtime error:/.test(daemonOut)) throw new Error('sanitizer report from the daemon');
  finish(0, `${N} clients: every pair exchanged ${payloads[0].length} bytes, sha256 equal; scrape ${JSON.stringify(counts)}`);
}

main().catch((e) => finish(1, `FAIL: ${e.message}`));
