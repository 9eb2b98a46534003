// rtc.js — one WebRTC session with one peer (docs/PROTOCOL.md "Peer wire"):
// the RTCPeerConnection, its single `peertrack` data channel, trickle ICE
// through the tracker's `signal`, and the hard timeouts of each phase.
// A session either fetches (we offered) or serves (we answered); the
// transfer logic on top is in client.js.

// A candidate line's address, for the caller's candidateFilter.
export function filterSdp(sdp, keep) {
  if (!keep) return sdp;
  return sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:') || keep(l.slice(2))).join('\r\n');
}

// owner: {id, iceServers, signal(to, data) -> rid, log(s), candidateFilter,
//         RTCPeerConnection, rtcConfig, removeSession(s)}
export class Session {
  constructor(owner, peer, sid, ours) {
    this.owner = owner;
    this.peer = peer;
    this.sid = sid;
    this.ours = ours;
    this.rids = new Set();
    this.closed = false;
    this.timer = null;
    this.onfail = () => {};
    this.phase = 'new';
    const cfg = { ...(owner.rtcConfig || {}), iceServers: owner.iceServers };
    this.pc = new owner.RTCPeerConnection(cfg);
    const keep = owner.candidateFilter;
    this.pc.onicecandidate = (e) => {
      const c = e.candidate;
      if (!c || !c.candidate || (keep && !keep(c.candidate))) return;
      this.signal({ ice: { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex ?? 0 } });
    };
    this.pc.onconnectionstatechange = () => {
      const st = this.pc.connectionState;
      if (st === 'failed' || st === 'closed') this.fail(`peer connection ${st}`);
      else if (st === 'connected' && this.phase === 'ice') this.arm('channel', this.owner.opts.channelOpenTimeoutMs);
    };
  }

  // A phase with a deadline: when it passes, the session fails with `why`.
  arm(phase, ms) {
    this.phase = phase;
    clearTimeout(this.timer);
    if (ms > 0) this.timer = setTimeout(() => this.fail(`${phase} timeout (${ms} ms)`), ms);
  }

  signal(data) {
    if (this.closed) return;
    const rid = this.owner.signal(this.peer, { sid: this.sid, ...data });
    if (rid) {
      this.rids.add(rid);
      if (this.rids.size > 64) this.rids.delete(this.rids.values().next().value);
    } else {
      this.fail('tracker unavailable');
    }
  }

  // Fetcher: the data channel, then the offer.
  async offer() {
    const dc = this.pc.createDataChannel('peertrack', { ordered: true });
    this.arm('offer', this.owner.opts.offerTimeoutMs);
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.signal({ sdp: { type: 'offer', sdp: filterSdp(this.pc.localDescription.sdp, this.owner.candidateFilter) } });
    return dc;
  }

  // A signal from our peer for this session.
  async onSignal(data) {
    const keep = this.owner.candidateFilter;
    try {
      if (data.sdp && data.sdp.type === 'offer' && !this.ours) {
        this.arm('ice', this.owner.opts.iceTimeoutMs);
        await this.pc.setRemoteDescription({ type: 'offer', sdp: filterSdp(String(data.sdp.sdp), keep) });
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        this.signal({ sdp: { type: 'answer', sdp: filterSdp(this.pc.localDescription.sdp, keep) } });
      } else if (data.sdp && data.sdp.type === 'answer' && this.ours && this.phase === 'offer') {
        this.arm('ice', this.owner.opts.iceTimeoutMs);
        await this.pc.setRemoteDescription({ type: 'answer', sdp: filterSdp(String(data.sdp.sdp), keep) });
      } else if (data.ice && typeof data.ice.candidate === 'string' && data.ice.candidate) {
        if (keep && !keep(data.ice.candidate)) return;
        await this.pc.addIceCandidate({ candidate: data.ice.candidate, sdpMLineIndex: data.ice.sdpMLineIndex ?? 0 });
      }
    } catch (e) {
      this.fail(`signalling: ${e.message || e}`);
    }
  }

  // Give the new credentials to a live connection (ICE restarts and TURN
  // refreshes use them).
  setIceServers(iceServers) {
    try { this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers }); } catch (_) { /* closed */ }
  }

  // bye: tell the peer, unless it is the one that said bye.
  fail(why, bye = true) {
    if (this.closed) return;
    const f = this.onfail;
    this.close(bye);
    f(why);
  }

  // bye: tell the peer (we gave up or are done); not after it said bye.
  close(bye) {
    if (this.closed) return;
    if (bye) this.signal({ bye: true });
    this.closed = true;
    clearTimeout(this.timer);
    try { this.pc.close(); } catch (_) { /* already closed */ }
    this.owner.removeSession(this);
  }
}
