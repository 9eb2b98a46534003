// peertrack.js — a small browser client of peertrackd (protocol v1) that
// seeds and fetches resources over WebRTC data channels, speaking the same
// peer wire as peertrack-peer (docs/PROTOCOL.md, "Peer wire").
//
// Test page rule: every ICE candidate not on 127.0.0.1 is dropped, local
// and remote, trickled and inside SDP, so WebRTC traffic stays on loopback.

const WIRE_VERSION = 1, HEADER = 68, MAX_MSG = 16384, PAYLOAD = MAX_MSG - HEADER;
const T_REQUEST = 1, T_CHUNK = 2, T_NOT_FOUND = 3, T_ERROR = 4;
const HIGH_WATER = 1 << 20, LOW_WATER = 256 << 10;

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function unhex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

export async function sha256hex(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

// "candidate:F C TRANSPORT PRIO ADDRESS PORT typ ..." on 127.0.0.0/8?
export function loopbackCandidate(c) {
  const f = c.replace(/^a=/, '').split(' ');
  return f.length >= 6 && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(f[4]);
}

function filterSdp(sdp) {
  return sdp.split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || loopbackCandidate(l))
    .join('\r\n');
}

function encode(type, from, hashBytes, index, count, payload) {
  const plen = payload ? payload.byteLength : 0;
  const buf = new Uint8Array(HEADER + plen);
  const dv = new DataView(buf.buffer);
  buf[0] = WIRE_VERSION;
  buf[1] = type;
  for (let i = 0; i < 24; i++) buf[4 + i] = from.charCodeAt(i);
  buf.set(hashBytes, 28);
  dv.setUint32(60, index);
  dv.setUint32(64, count);
  if (plen) buf.set(payload, HEADER);
  return buf;
}

function decode(ab) {
  if (ab.byteLength < HEADER || ab.byteLength > MAX_MSG) throw new Error('bad message size');
  const b = new Uint8Array(ab), dv = new DataView(ab);
  if (b[0] !== WIRE_VERSION || b[1] < T_REQUEST || b[1] > T_ERROR) throw new Error('bad header');
  return {
    type: b[1],
    from: String.fromCharCode(...b.subarray(4, 28)),
    hash: hex(b.subarray(28, 60)),
    index: dv.getUint32(60),
    count: dv.getUint32(64),
    payload: b.subarray(HEADER),
  };
}

// The addresses of the ICE candidate pair in use, e.g. for checking that
// traffic stayed on loopback: {local: "127.0.0.1:PORT", remote: ...}.
async function selectedPath(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
  if (!pair) return null;
  const addr = (id) => { const c = stats.get(id); return c ? `${c.address || c.ip}:${c.port}` : null; };
  const type = (id) => { const c = stats.get(id); return c ? c.candidateType : null; };
  return { local: addr(pair.localCandidateId), remote: addr(pair.remoteCandidateId),
           localType: type(pair.localCandidateId), remoteType: type(pair.remoteCandidateId) };
}

export class PeerTrack {
  // relay: ICE transport policy "relay", through the TURN servers of the
  // welcome's ice_servers (RTCConfiguration.iceServers as they come).
  constructor(url, { timeoutMs = 10000, log = () => {}, relay = false } = {}) {
    this.url = url;
    this.relay = relay;
    this.iceServers = [];
    this.timeoutMs = timeoutMs;
    this.log = log;
    this.id = null;
    this.rid = 0;
    this.pending = new Map(); // rid -> {resolve, reject}
    this.held = new Map();    // hash hex -> Uint8Array
    this.sessions = new Map(); // sid -> session (ours: fetch attempts; theirs: serving)
    this.nsid = 0;
    this.servedPaths = []; // candidate pairs of the sessions we served
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onclose = (e) => {
        for (const p of this.pending.values()) p.reject(new Error(`closed ${e.code}`));
        this.pending.clear();
      };
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'welcome') {
          this.id = m.id;
          this.iceServers = m.ice_servers || [];
          // Any frame is a heartbeat; half the period leaves room.
          this.ping = setInterval(() => this.send({ type: 'ping' }), Math.max(50, m.heartbeat_ms / 2));
          resolve(m);
        } else {
          this.onMessage(m);
        }
      };
    });
  }

  close() {
    clearInterval(this.ping);
    for (const s of this.sessions.values()) s.pc.close();
    this.ws.close();
  }

  send(m) { this.ws.send(JSON.stringify(m)); }

  request(m) {
    const rid = ++this.rid;
    return new Promise((resolve, reject) => {
      this.pending.set(rid, { resolve, reject });
      this.send({ ...m, rid });
    });
  }

  onMessage(m) {
    if (m.rid !== undefined && this.pending.has(m.rid) && m.type !== 'signal') {
      const p = this.pending.get(m.rid);
      this.pending.delete(m.rid);
      if (m.type === 'error') p.reject(Object.assign(new Error(m.code), { code: m.code }));
      else p.resolve(m);
      return;
    }
    if (m.type === 'signal') this.onSignal(m.from, m.data || {});
    else if (m.type === 'peer-left') {
      for (const s of this.sessions.values()) if (s.peer === m.id) s.fail('peer-gone');
    } else if (m.type === 'error') {
      if (m.code === 'peer-gone') {
        for (const s of this.sessions.values()) if (s.ours && s.rids.has(m.rid)) s.fail('peer-gone');
      }
    }
  }

  signal(s, data) {
    const rid = ++this.rid;
    s.rids.add(rid);
    this.send({ type: 'signal', rid, to: s.peer, data: { sid: s.sid, ...data } });
  }

  newSession(peer, sid, ours) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers,
                                       iceTransportPolicy: this.relay ? 'relay' : 'all' });
    const s = { peer, sid, ours, pc, rids: new Set(), fail: () => {} };
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate && loopbackCandidate(e.candidate.candidate))
        this.signal(s, { ice: { candidate: e.candidate.candidate, sdpMLineIndex: e.candidate.sdpMLineIndex } });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') s.fail('failed');
    };
    this.sessions.set(sid, s);
    return s;
  }

  dropSession(s) {
    this.sessions.delete(s.sid);
    try { s.pc.close(); } catch (_) { /* already closed */ }
  }

  async onSignal(from, data) {
    let s = this.sessions.get(data.sid);
    if (s && s.peer !== from) return;
    if (data.bye) { if (s) { s.fail('bye'); if (!s.ours) this.dropSession(s); } return; }
    try {
      if (data.sdp && data.sdp.type === 'offer') {
        if (s) this.dropSession(s);
        s = this.newSession(from, data.sid, false);
        this.serve(s);
        await s.pc.setRemoteDescription({ type: 'offer', sdp: filterSdp(data.sdp.sdp) });
        const answer = await s.pc.createAnswer();
        await s.pc.setLocalDescription(answer);
        this.signal(s, { sdp: { type: 'answer', sdp: filterSdp(s.pc.localDescription.sdp) } });
      } else if (s && data.sdp && data.sdp.type === 'answer') {
        await s.pc.setRemoteDescription({ type: 'answer', sdp: filterSdp(data.sdp.sdp) });
      } else if (s && data.ice && data.ice.candidate && loopbackCandidate(data.ice.candidate)) {
        await s.pc.addIceCandidate({ candidate: data.ice.candidate, sdpMLineIndex: data.ice.sdpMLineIndex });
      }
    } catch (e) {
      this.log(`signal from ${from}: ${e}`);
      if (s) s.fail(String(e));
    }
  }

  // -- serving -------------------------------------------------------------
  serve(s) {
    s.fail = () => this.dropSession(s);
    s.pc.ondatachannel = (e) => {
      const dc = e.channel;
      dc.binaryType = 'arraybuffer';
      dc.bufferedAmountLowThreshold = LOW_WATER;
      let job = null;
      const pump = () => {
        while (job && job.next < job.count) {
          if (dc.readyState !== 'open') return;
          if (dc.bufferedAmount > HIGH_WATER) return; // onbufferedamountlow resumes
          const off = job.next * PAYLOAD;
          dc.send(encode(T_CHUNK, this.id, job.hashBytes, job.next, job.count,
                         job.bytes.subarray(off, Math.min(off + PAYLOAD, job.bytes.length))));
          job.next++;
        }
        job = null;
      };
      dc.onbufferedamountlow = pump;
      dc.onmessage = (ev) => {
        let m;
        try { m = decode(ev.data); } catch (_) { return; }
        if (m.type !== T_REQUEST || m.from !== s.peer) return;
        const bytes = this.held.get(m.hash);
        const hashBytes = unhex(m.hash);
        if (!bytes) { dc.send(encode(T_NOT_FOUND, this.id, hashBytes, m.index, 0)); return; }
        const count = Math.max(1, Math.ceil(bytes.length / PAYLOAD));
        if (m.index >= count) {
          dc.send(encode(T_ERROR, this.id, hashBytes, m.index, count, new TextEncoder().encode('first chunk past the end')));
          return;
        }
        selectedPath(s.pc).then((p) => this.servedPaths.push(p), () => this.servedPaths.push(null));
        job = { bytes, hashBytes, next: m.index, count };
        pump();
      };
      dc.onclose = () => this.dropSession(s);
    };
  }

  async seed(bytes) {
    const h = await sha256hex(bytes);
    this.held.set(h, bytes);
    await this.request({ type: 'announce', hashes: [h] });
    return h;
  }

  // -- fetching ------------------------------------------------------------
  async fetch(hash, { max } = {}) {
    const t0 = performance.now();
    const reply = await this.request({ type: 'lookup', hash, ...(max ? { max } : {}) });
    const attempts = [];
    if (!reply.peers.length) throw Object.assign(new Error('no holder'), { attempts });
    for (const peer of reply.peers) {
      const t = performance.now();
      try {
        const r = await this.attempt(peer, hash);
        const got = await sha256hex(r.bytes);
        if (got !== hash) {
          this.log(`${peer}: integrity failure: content hashes to ${got}`);
          attempts.push({ peer, result: 'hash-mismatch' });
          continue;
        }
        attempts.push({ peer, result: 'ok' });
        this.held.set(hash, r.bytes);
        await this.request({ type: 'announce', hashes: [hash] });
        return { bytes: r.bytes, peer, attempts, openMs: r.openMs, transferMs: r.transferMs, path: r.path,
                 totalMs: performance.now() - t0 };
      } catch (e) {
        this.log(`${peer}: ${e.message}; trying the next holder`);
        attempts.push({ peer, result: e.message, ms: performance.now() - t });
      }
    }
    throw Object.assign(new Error('all holders failed'), { attempts });
  }

  attempt(peer, hash) {
    return new Promise((resolve, reject) => {
      const sid = `${this.id}.${++this.nsid}`;
      const s = this.newSession(peer, sid, true);
      const hashBytes = unhex(hash);
      const chunks = [];
      let next = 0, count = 0, size = 0, timer = null, done = false;
      const t0 = performance.now();
      let tOpen = 0;
      const finish = (err, val) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) this.signal(s, { bye: true });
        this.dropSession(s);
        err ? reject(new Error(err)) : resolve(val);
      };
      const arm = () => { clearTimeout(timer); timer = setTimeout(() => finish('timeout'), this.timeoutMs); };
      s.fail = (why) => finish(why);
      arm();
      const dc = s.pc.createDataChannel('peertrack', { ordered: true });
      dc.binaryType = 'arraybuffer';
      let path = null;
      dc.onopen = () => {
        tOpen = performance.now();
        arm();
        dc.send(encode(T_REQUEST, this.id, hashBytes, 0, 0));
        path = selectedPath(s.pc);
      };
      dc.onclose = () => finish('data channel closed');
      dc.onmessage = (ev) => {
        let m;
        try { m = decode(ev.data); } catch (e) { finish('malformed peer-wire message'); return; }
        if (m.from !== peer || m.hash !== hash) { finish('unexpected sender or resource'); return; }
        if (m.type === T_NOT_FOUND) { finish('not-found'); return; }
        if (m.type === T_ERROR) { finish(`error: ${new TextDecoder().decode(m.payload)}`); return; }
        if (m.type !== T_CHUNK || m.index !== next || (count && m.count !== count)) {
          finish('chunk out of sequence'); return;
        }
        count = m.count;
        chunks.push(m.payload.slice());
        size += m.payload.length;
        next++;
        arm();
        if (next === count) {
          const bytes = new Uint8Array(size);
          let off = 0;
          for (const c of chunks) { bytes.set(c, off); off += c.length; }
          const transferMs = performance.now() - tOpen;
          const ok = (p) => finish(null, { bytes, openMs: tOpen - t0, transferMs, path: p });
          path.then(ok, () => ok(null));
        }
      };
      (async () => {
        const offer = await s.pc.createOffer();
        await s.pc.setLocalDescription(offer);
        this.signal(s, { sdp: { type: 'offer', sdp: filterSdp(s.pc.localDescription.sdp) } });
      })().catch((e) => finish(String(e)));
    });
  }
}
