// client.js — PeertrackClient: what a page uses. Fetches resources by
// SHA-256 from the peers that hold them, verifies them, serves what it holds,
// and keeps the tracker connection (conn.js) and the offload accounting.
import { Connection } from './conn.js';
import { PeertrackError } from './errors.js';
import { isHash, sha256hex, unhex } from './hash.js';
import { Link } from './link.js';
import { Session } from './rtc.js';
import { MemoryStore } from './store.js';
import * as wire from './wire.js';

export const DEFAULTS = {
  maxPeerConnections: 8,     // RTCPeerConnections at once, fetching and serving
  offerTimeoutMs: 5000,      // our offer sent -> the holder's answer
  iceTimeoutMs: 5000,        // answer -> ICE connected
  channelOpenTimeoutMs: 5000, // ICE connected -> data channel open
  stallTimeoutMs: 3000,      // no chunk for this long: the holder is dead, next one
  linkIdleMs: 5000,          // a connection to a holder with no request for this long is closed
  fetchTimeoutMs: 20000,     // the whole budget of one fetchFromPeers
  maxHolders: 5,             // holders asked for per lookup (the tracker caps it too)
  reportIntervalMs: 30000,   // offload `report` while there is something to report
  serveIdleMs: 30000,        // a served session with no request for this long is closed
  highWater: 1 << 20,        // data-channel buffered bytes at which serving pauses
  lowWater: 256 << 10,       // ...and resumes (bufferedAmountLowThreshold)
};

const ev = (type, detail) => new CustomEvent(type, { detail });

export class PeertrackClient extends EventTarget {
  constructor(opts = {}) {
    super();
    if (!opts.url) throw new PeertrackError('bad-option', 'url is required');
    this.opts = { ...DEFAULTS, ...opts };
    this.store = opts.store || new MemoryStore();
    this.RTCPeerConnection = opts.RTCPeerConnection || globalThis.RTCPeerConnection;
    this.candidateFilter = opts.candidateFilter || null;
    this.rtcConfig = opts.rtcConfig || null;
    this.log = opts.log || (() => {});
    this.announced = new Set();   // hashes we hold and told the tracker about
    this.sessions = new Map();    // `${peer} ${sid}` -> Session
    this.links = new Map();       // peer -> Link: our connection to a holder, reused
    this.nsid = 0;
    this.slots = 0;               // sessions counted against maxPeerConnections
    this.waiters = [];            // fetches waiting for a slot
    this.totals = { fromPeers: 0, fromOrigin: 0, toPeers: 0 };
    this.unreported = { from_peers: 0, from_origin: 0, to_peers: 0 };
    this.resources = new Map();   // hash -> {fromPeers, fromOrigin, toPeers}
    this.reportTimer = null;
    this.conn = new Connection(this.opts, {
      state: (s) => this.dispatchEvent(ev('statechange', { state: s, id: this.conn.id })),
      session: (x) => this.onSession(x),
      message: (m) => this.onMessage(m),
      ice: (servers) => { for (const s of this.sessions.values()) s.setIceServers(servers); },
      error: (e) => this.emitError(e),
      // peer-gone: the holder left. unavailable (cluster mode): its node
      // cannot be reached now. Either way that session is over: the fetch
      // moves on to the next holder instead of waiting out a timeout.
      signalFailed: (rid, m) => {
        if (m.code !== 'peer-gone' && m.code !== 'unavailable') return;
        for (const s of [...this.sessions.values()]) if (s.rids.has(rid)) s.fail(m.code);
      },
    });
  }

  get state() { return this.conn.state; }
  get id() { return this.conn.id; }
  get iceServers() { return this.conn.iceServers; }

  start() {
    this.conn.start();
    if (!this.reportTimer && this.opts.reportIntervalMs > 0)
      this.reportTimer = setInterval(() => this.sendReport(), this.opts.reportIntervalMs);
  }

  close() {
    if (this.conn.state === 'closed') return;
    clearInterval(this.reportTimer);
    this.reportTimer = null;
    this.sendReport(); // the last one, before the close frame
    for (const s of [...this.sessions.values()]) s.fail('client closed');
    for (const w of this.waiters.splice(0)) w.reject(new PeertrackError('closed', 'client closed'));
    this.conn.close();
  }

  emitError(e) { this.dispatchEvent(ev('error', { error: e })); }

  // -- the tracker session ---------------------------------------------------
  onSession({ resumed }) {
    // A resumed session kept its hashes; a fresh one (first connect, daemon
    // restart, window over) must announce everything again.
    if (!resumed) this.reannounce().catch((e) => this.emitError(e));
  }

  async reannounce() {
    const all = [...this.announced];
    const per = (this.conn.welcome && this.conn.welcome.limits && this.conn.welcome.limits.max_hashes_per_message) || 256;
    for (let i = 0; i < all.length; i += per)
      await this.conn.request({ type: 'announce', hashes: all.slice(i, i + per) });
  }

  onMessage(m) {
    if (m.type === 'signal' && typeof m.from === 'string' && m.data && typeof m.data === 'object') {
      this.onSignal(m.from, m.data);
    } else if (m.type === 'peer-left' && typeof m.id === 'string') {
      for (const s of [...this.sessions.values()]) if (s.peer === m.id) s.fail('peer-left');
    }
  }

  signal(to, data) { return this.conn.signal(to, data); }

  removeSession(s) {
    const key = `${s.peer} ${s.sid}`;
    if (this.sessions.get(key) !== s) return;
    this.sessions.delete(key);
    this.slots--;
    this.dispatchEvent(ev('peers', { count: this.sessions.size }));
    const w = this.waiters.shift();
    if (w) w.resolve();
  }

  addSession(peer, sid, ours) {
    const s = new Session(this, peer, sid, ours);
    this.sessions.set(`${peer} ${sid}`, s);
    this.slots++;
    this.dispatchEvent(ev('peers', { count: this.sessions.size }));
    return s;
  }

  // A slot for one more peer connection, waiting while all are taken.
  slot(signal) {
    if (this.slots < this.opts.maxPeerConnections) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      this.waiters.push(w);
      signal.addEventListener('abort', () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      }, { once: true });
    });
  }

  // -- fetching ----------------------------------------------------------------
  async fetchFromPeers(hash, { signal, timeoutMs, size } = {}) {
    if (!isHash(hash)) throw new PeertrackError('bad-hash', 'not 64 lowercase hex characters');
    if (!this.RTCPeerConnection) throw new PeertrackError('unavailable', 'no WebRTC here');
    const budget = timeoutMs ?? this.opts.fetchTimeoutMs;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new PeertrackError('timeout', `no verified bytes within ${budget} ms`)), budget);
    const onAbort = () => ctl.abort(new PeertrackError('aborted', 'aborted by the caller'));
    if (signal) { if (signal.aborted) onAbort(); else signal.addEventListener('abort', onAbort, { once: true }); }
    try {
      return await this.fetchWithin(hash, size, ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted) throw ctl.signal.reason;
      throw e;
    } finally {
      clearTimeout(timer);
      if (signal) signal.removeEventListener('abort', onAbort);
    }
  }

  async fetchWithin(hash, size, signal) {
    const aborted = new Promise((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => {});
    const race = (p) => Promise.race([p, aborted]);
    if (this.conn.state === 'closed' || this.conn.state === 'offline' || this.conn.state === 'idle')
      throw new PeertrackError('unavailable', `tracker connection ${this.conn.state}`);
    if (this.conn.state !== 'open') await race(this.opened());
    const reply = await race(this.conn.request({ type: 'lookup', hash, max: this.opts.maxHolders }));
    const peers = (reply.peers || []).filter((p) => typeof p === 'string' && p.length === wire.ID_LEN);
    if (!peers.length) throw new PeertrackError('no-holder', 'no peer holds it');
    const asm = new wire.Assembler(size);
    const attempts = [];
    let from = new Set(); // holders whose chunks are in asm
    for (const peer of peers) {
      if (signal.aborted) break;
      let why, l = null;
      try {
        l = await this.link(peer, signal, race);
        why = await race(l.run(hash, asm, signal));
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        why = e.message || String(e);
      }
      if (asm.next > 0) from.add(peer);
      if (why === 'done') {
        const bytes = asm.result();
        if (await sha256hex(bytes) === hash) {
          attempts.push({ peer, result: 'ok' });
          this.account(hash, 'peer', bytes.length, peer);
          this.keepFetched(hash, bytes); // not awaited: the caller has its bytes now
          return bytes;
        }
        // Worthless whoever lied; when one holder sent it all, it lied.
        attempts.push({ peer, result: 'hash-mismatch' });
        if (from.size === 1) this.badPeer(peer, hash);
        l.close('sent bytes that do not match the hash');
        asm.reset();
        from = new Set();
        continue;
      }
      attempts.push({ peer, result: why });
      this.log(`${peer}: ${why}; trying the next holder`);
    }
    const list = attempts.map((a) => `${a.peer} ${a.result}`).join(', ');
    // None could even be reached (their nodes are cut off from ours): the
    // tracker's fault, not the holders', and worth retrying later.
    if (attempts.length && attempts.every((a) => a.result === 'unavailable'))
      throw new PeertrackError('unavailable', `no holder reachable through the tracker: ${list}`, { attempts });
    throw new PeertrackError('all-failed', `every holder failed: ${list}`, { attempts });
  }

  opened() {
    return new Promise((resolve, reject) => {
      const on = () => {
        if (this.conn.state === 'open') { this.removeEventListener('statechange', on); resolve(); }
        else if (this.conn.state === 'closed' || this.conn.state === 'offline') {
          this.removeEventListener('statechange', on);
          reject(new PeertrackError('unavailable', `tracker connection ${this.conn.state}`));
        }
      };
      this.addEventListener('statechange', on);
    });
  }

  // The link to `peer`: the one already up (requests queue on it), or a
  // new one, which takes a slot.
  async link(peer, signal, race) {
    const up = this.links.get(peer);
    if (up && !up.closed) return up;
    await race(this.slot(signal));
    const l = new Link(this, peer, (x) => { if (this.links.get(peer) === x) this.links.delete(peer); });
    this.links.set(peer, l);
    return l;
  }

  // Tell the tracker `peer` sent bytes that do not hash to `hash`.
  badPeer(peer, hash) {
    this.dispatchEvent(ev('badpeer', { peer, hash }));
    this.conn.request({ type: 'bad-peer', peer, hash }).catch((e) => this.log(`bad-peer report: ${e.code}`));
  }

  async keep(hash, bytes) {
    await this.store.put(hash, bytes);
    await this.announce([hash]);
  }

  // After a verified fetch: the bytes are the caller's whatever happens to
  // the announce (a full index, a full store): that is only an error event.
  async keepFetched(hash, bytes) {
    try { await this.keep(hash, bytes); } catch (e) {
      this.emitError(e instanceof PeertrackError ? e : new PeertrackError('store', String(e && e.message || e)));
    }
  }

  async announce(hashes) {
    const fresh = hashes.filter((h) => !this.announced.has(h));
    for (const h of fresh) this.announced.add(h);
    // Not connected: the next session announces everything anyway.
    if (fresh.length && this.conn.isOpen()) await this.conn.request({ type: 'announce', hashes: fresh }).catch((e) => {
      if (e.code !== 'unavailable') { for (const h of fresh) this.announced.delete(h); throw e; }
    });
  }

  // -- seeding and serving -----------------------------------------------------
  async seed(hash, bytes) {
    if (!isHash(hash)) throw new PeertrackError('bad-hash', 'not 64 lowercase hex characters');
    const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (await sha256hex(b) !== hash) throw new PeertrackError('bad-hash', 'the bytes do not hash to that hash');
    await this.keep(hash, b);
  }

  unseed(hash) {
    if (!this.announced.delete(hash)) return;
    Promise.resolve(this.store.delete(hash)).catch(() => {});
    if (this.conn.isOpen()) this.conn.request({ type: 'withdraw', hashes: [hash] }).catch(() => {});
  }

  onSignal(from, data) {
    if (typeof data.sid !== 'string' || data.sid.length > 128) return;
    const key = `${from} ${data.sid}`;
    let s = this.sessions.get(key);
    // A holder that declines (full) or gives up says bye: our fetch moves on.
    if (data.bye) { if (s) s.fail('the peer said bye', false); return; }
    if (!s) {
      if (!(data.sdp && data.sdp.type === 'offer')) return;
      if (!this.RTCPeerConnection || this.slots >= this.opts.maxPeerConnections) {
        this.conn.signal(from, { sid: data.sid, bye: true });
        return;
      }
      try { s = this.addSession(from, data.sid, false); } catch (e) { return; }
      this.serve(s);
    }
    s.onSignal(data);
  }

  serve(s) {
    s.pc.ondatachannel = (e) => {
      const dc = e.channel;
      dc.binaryType = 'arraybuffer';
      dc.bufferedAmountLowThreshold = this.opts.lowWater;
      s.arm('idle', this.opts.serveIdleMs);
      let job = null;
      const pump = () => {
        while (job && job.next < job.count && !s.closed && dc.readyState === 'open') {
          if (dc.bufferedAmount > this.opts.highWater) return; // onbufferedamountlow resumes
          const off = job.next * wire.PAYLOAD;
          const chunk = job.bytes.subarray(off, Math.min(off + wire.PAYLOAD, job.bytes.length));
          dc.send(wire.encode(wire.CHUNK, this.conn.id, job.hb, job.next, job.count, chunk));
          this.account(job.hash, 'served', chunk.length, s.peer);
          job.next++;
        }
        job = null;
      };
      dc.onbufferedamountlow = pump;
      dc.onclose = () => s.close(false);
      dc.onmessage = async (ev2) => {
        const m = wire.decode(ev2.data);
        if (!m || m.type !== wire.REQUEST || m.from !== s.peer) return;
        s.arm('idle', this.opts.serveIdleMs);
        job = null; // a new request replaces the one being served
        const hb = unhex(m.hash);
        const bytes = this.announced.has(m.hash) ? await this.store.get(m.hash) : undefined;
        if (s.closed || dc.readyState !== 'open') return;
        if (!bytes) { dc.send(wire.encode(wire.NOT_FOUND, this.conn.id, hb, m.index, 0)); return; }
        const count = wire.chunkCount(bytes.length);
        if (m.index >= count) {
          dc.send(wire.encode(wire.ERROR, this.conn.id, hb, m.index, count, new TextEncoder().encode('first chunk past the end')));
          return;
        }
        job = { hash: m.hash, hb, bytes, next: m.index, count };
        pump();
      };
    };
  }

  // -- accounting --------------------------------------------------------------
  noteOrigin(hash, nbytes) { this.account(hash, 'origin', nbytes, null); }

  account(hash, source, bytes, peer) {
    const n = Math.max(0, Math.floor(Number(bytes) || 0));
    let r = this.resources.get(hash);
    if (!r) { r = { fromPeers: 0, fromOrigin: 0, toPeers: 0 }; this.resources.set(hash, r); }
    if (source === 'peer') { r.fromPeers += n; this.totals.fromPeers += n; this.unreported.from_peers += n; }
    else if (source === 'origin') { r.fromOrigin += n; this.totals.fromOrigin += n; this.unreported.from_origin += n; }
    else { r.toPeers += n; this.totals.toPeers += n; this.unreported.to_peers += n; return; }
    this.dispatchEvent(ev('transfer', { hash, source, bytes: n, peer }));
  }

  // The bytes moved since the last report, each capped at the tracker's
  // max_report_bytes (the rest goes in the next one); given back on failure.
  sendReport() {
    const u = this.unreported;
    if (!u.from_peers && !u.from_origin && !u.to_peers) return;
    if (!this.conn.isOpen()) return;
    const max = (this.conn.welcome && this.conn.welcome.limits && this.conn.welcome.limits.max_report_bytes) || 1 << 30;
    const r = {};
    for (const k of Object.keys(u)) { r[k] = Math.min(u[k], max); u[k] -= r[k]; }
    this.conn.request({ type: 'report', ...r }).catch(() => { for (const k of Object.keys(r)) u[k] += r[k]; });
  }

  stats() {
    const resources = {};
    for (const [h, r] of this.resources) resources[h] = { ...r };
    return { state: this.state, id: this.id, peers: this.sessions.size, ...this.totals, resources };
  }
}
