// The client's fetch logic with a scripted tracker (FakeWS) and scripted
// peer connections (FakePC): holders tried in turn, a bye moves on at once,
// a liar is reported with bad-peer and the next holder starts from chunk 0,
// requests to one holder share its connection.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { PeertrackClient } from '../src/index.js';
import * as w from '../src/wire.js';
import { FakeWS, welcome } from './fakes.js';

const ME = 'M'.repeat(24), P1 = 'P'.repeat(23) + '1', P2 = 'P'.repeat(23) + '2';
const sha = (b) => createHash('sha256').update(b).digest('hex');

class FakePC {
  constructor(cfg) { this.cfg = cfg; this.closed = false; FakePC.made.push(this); }
  createDataChannel() {
    this.dc = { readyState: 'open', sent: [], send(m) { this.sent.push(w.decode(m)); }, close() {} };
    return this.dc;
  }
  async createOffer() { return { type: 'offer', sdp: 'v=0\r\n' }; }
  async setLocalDescription(d) { this.localDescription = d; }
  async setRemoteDescription() {}
  async addIceCandidate() {}
  getConfiguration() { return this.cfg; }
  setConfiguration(c) { this.cfg = c; }
  close() { this.closed = true; }
}

const tick = () => new Promise((r) => setImmediate(r));
async function until(what, f) {
  for (let i = 0; i < 500; i++) { const v = f(); if (v) return v; await tick(); }
  throw new Error(`never: ${what}`);
}

async function setup() {
  FakeWS.made = []; FakePC.made = [];
  const c = new PeertrackClient({ url: 'ws://127.0.0.1:1/v1', WebSocket: FakeWS, RTCPeerConnection: FakePC,
    online: { up: () => true, watch: () => () => {} }, reportIntervalMs: 0, linkIdleMs: 200 });
  c.start();
  const ws = FakeWS.made[0];
  ws.open();
  ws.recv(welcome(ME));
  return { c, ws };
}

// Answers the next lookup with `peers`.
async function lookup(ws, hash, peers) {
  const m = await until('lookup', () => ws.sent.find((x) => x.type === 'lookup' && x.hash === hash && !x.done));
  m.done = true;
  ws.recv({ type: 'peers', rid: m.rid, hash, peers });
}

// The offer to `peer` (a new signal since `from`): its session id.
async function offer(ws, peer) {
  const m = await until(`offer to ${peer}`, () => ws.sent.find((x) => x.type === 'signal' && x.to === peer && x.data.sdp && !x.seen));
  m.seen = true;
  return m.data.sid;
}

function chunks(peer, bytes, hash) {
  const n = w.chunkCount(bytes.length), out = [];
  for (let i = 0; i < n; i++)
    out.push(w.encode(w.CHUNK, peer, w.hashBytes(hash), i, n, bytes.subarray(i * w.PAYLOAD, (i + 1) * w.PAYLOAD)));
  return out;
}

// The holder side of one request on pc's channel.
async function serve(pc, peer, bytes, hash, expectIndex = 0) {
  const req = await until('request', () => pc.dc.sent.find((x) => x.type === w.REQUEST && x.hash === hash && !x.seen));
  req.seen = true;
  assert.equal(req.index, expectIndex);
  assert.equal(req.from, ME);
  for (const m of chunks(peer, bytes, hash).slice(expectIndex)) pc.dc.onmessage({ data: m.buffer });
}

test('a holder that says bye is left at once for the next; all fail -> all-failed', async () => {
  const { c, ws } = await setup();
  const hash = sha(Buffer.from('x'));
  const t0 = Date.now();
  const p = c.fetchFromPeers(hash, { timeoutMs: 5000 });
  await lookup(ws, hash, [P1, P2]);
  for (const peer of [P1, P2]) ws.recv({ type: 'signal', from: peer, data: { sid: await offer(ws, peer), bye: true } });
  await assert.rejects(p, (e) => e.code === 'all-failed' && e.attempts.length === 2 &&
    e.attempts.every((a) => a.result === 'the peer said bye'));
  assert.ok(Date.now() - t0 < 2000, 'moved on without waiting for a timeout');
  assert.ok(FakePC.made.every((pc) => pc.closed));
  c.close();
});

// The tracker answers the offer to `peer` with an error (as for a holder on
// another node while the cluster's Redis is down).
async function refuseOffer(ws, peer, code) {
  const m = await until(`offer to ${peer}`, () => ws.sent.find((x) => x.type === 'signal' && x.to === peer && x.data.sdp && !x.seen));
  m.seen = true;
  ws.recv({ type: 'error', rid: m.rid, code, message: 'the holder cannot be reached now' });
}

test('a signal answered unavailable moves on to the next holder at once', async () => {
  const { c, ws } = await setup();
  const bytes = new Uint8Array(3000).fill(9);
  const hash = sha(bytes);
  const t0 = Date.now();
  const p = c.fetchFromPeers(hash, { timeoutMs: 5000 });
  await lookup(ws, hash, [P1, P2]);
  await refuseOffer(ws, P1, 'unavailable');
  await offer(ws, P2);
  FakePC.made[1].dc.onopen();
  await serve(FakePC.made[1], P2, bytes, hash);
  assert.equal(sha(await p), hash);
  assert.ok(Date.now() - t0 < 2000, 'moved on without waiting for a timeout');
  assert.ok(FakePC.made[0].closed, 'the unreachable holder\'s connection was dropped');
  c.close();
});

test('every holder unavailable: the fetch fails fast with unavailable, not all-failed', async () => {
  const { c, ws } = await setup();
  const hash = sha(Buffer.from('z'));
  const t0 = Date.now();
  const p = c.fetchFromPeers(hash, { timeoutMs: 5000 });
  await lookup(ws, hash, [P1, P2]);
  for (const peer of [P1, P2]) await refuseOffer(ws, peer, 'unavailable');
  await assert.rejects(p, (e) => e.code === 'unavailable' && e.attempts.length === 2 &&
    e.attempts.every((a) => a.result === 'unavailable'));
  assert.ok(Date.now() - t0 < 2000, 'failed without waiting for a timeout');
  // One unavailable, one gone: the holders are not all cut off, so all-failed.
  const q = c.fetchFromPeers(hash, { timeoutMs: 5000 });
  await lookup(ws, hash, [P1, P2]);
  await refuseOffer(ws, P1, 'unavailable');
  await refuseOffer(ws, P2, 'peer-gone');
  await assert.rejects(q, (e) => e.code === 'all-failed' &&
    e.attempts.map((a) => a.result).join() === 'unavailable,peer-gone');
  c.close();
});

test('no holder, and no tracker', async () => {
  const { c, ws } = await setup();
  const hash = sha(Buffer.from('y'));
  const p = c.fetchFromPeers(hash);
  await lookup(ws, hash, []);
  await assert.rejects(p, { code: 'no-holder' });
  await assert.rejects(c.fetchFromPeers('A'.repeat(64)), { code: 'bad-hash' });
  c.close();
  await assert.rejects(c.fetchFromPeers(hash), { code: 'unavailable' });
});

test('a liar is reported and the next holder starts from chunk 0; verified bytes are announced', async () => {
  const { c, ws } = await setup();
  const good = new Uint8Array(40000).map((_, i) => i * 7);
  const hash = sha(good);
  const bad = good.slice(); bad[20000] ^= 1;
  const events = [];
  c.addEventListener('badpeer', (e) => events.push(e.detail));
  const p = c.fetchFromPeers(hash, { timeoutMs: 5000 });
  await lookup(ws, hash, [P1, P2]);
  await offer(ws, P1);
  FakePC.made[0].dc.onopen();
  await serve(FakePC.made[0], P1, bad, hash);
  const report = await until('bad-peer report', () => ws.sent.find((x) => x.type === 'bad-peer'));
  assert.deepEqual([report.peer, report.hash], [P1, hash]);
  assert.deepEqual(events, [{ peer: P1, hash }]);
  await offer(ws, P2);
  FakePC.made[1].dc.onopen();
  await serve(FakePC.made[1], P2, good, hash, 0);
  const got = await p;
  assert.equal(sha(got), hash);
  const ann = await until('announce', () => ws.sent.find((x) => x.type === 'announce'));
  assert.deepEqual(ann.hashes, [hash]);
  assert.equal(c.stats().fromPeers, good.length);
  c.close();
});

test('requests to one holder share its connection, one after another', async () => {
  const { c, ws } = await setup();
  const files = [new Uint8Array(5).fill(1), new Uint8Array(20000).fill(2), new Uint8Array(0)];
  const hashes = files.map((f) => sha(f));
  const ps = hashes.map((h) => c.fetchFromPeers(h, { timeoutMs: 5000 }));
  for (const h of hashes) await lookup(ws, h, [P1]);
  await offer(ws, P1);
  assert.equal(FakePC.made.length, 1);
  const pc = FakePC.made[0];
  pc.dc.onopen();
  const requests = () => pc.dc.sent.filter((x) => x.type === w.REQUEST).length;
  for (let i = 0; i < files.length; i++) {
    await until(`request ${i}`, () => requests() === i + 1);
    for (let k = 0; k < 5; k++) await tick();
    assert.equal(requests(), i + 1, 'the next request waits for this one to end');
    await serve(pc, P1, files[i], hashes[i]);
  }
  const got = await Promise.all(ps);
  got.forEach((g, i) => assert.equal(sha(g), hashes[i]));
  assert.equal(FakePC.made.length, 1, 'one peer connection for the three');
  // idle for linkIdleMs (200 here): closed, with a bye
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(pc.closed);
  assert.ok(ws.sent.some((x) => x.type === 'signal' && x.to === P1 && x.data.bye));
  c.close();
});
