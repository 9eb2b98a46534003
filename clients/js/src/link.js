// link.js — the fetching side's connection to one holder, reused: one
// RTCPeerConnection and its `peertrack` channel carry the page's requests to
// that holder one after another (the peer wire serves one request per
// channel at a time), so a page asking one holder for seven files pays for
// one handshake, not seven. Closed (with `bye`) when idle for idleMs, or
// at the first sign of trouble; a failed link fails every request queued on it.
import * as wire from './wire.js';

export class Link {
  // client: PeertrackClient (addSession, conn, opts); the session's slot
  // was taken by the caller.
  constructor(client, peer, onClosed) {
    this.client = client;
    this.peer = peer;
    this.queue = [];
    this.job = null;
    this.closed = false;
    this.why = null;
    const sid = `${client.conn.id}.${++client.nsid}`;
    const s = this.s = client.addSession(peer, sid, true);
    s.onfail = (why) => this.down(why);
    this.onClosed = onClosed;
    s.offer().then((dc) => {
      this.dc = dc;
      dc.binaryType = 'arraybuffer';
      dc.onopen = () => { this.open = true; this.next(); };
      dc.onclose = () => s.fail('data channel closed');
      dc.onmessage = (e) => this.onMessage(e.data);
    }, (e) => s.fail(`offer: ${e.message || e}`));
  }

  // One request: resolves 'done' when the resource's last chunk is in asm
  // (the caller verifies), or the reason it failed; never rejects.
  run(hash, asm, signal) {
    return new Promise((resolve) => {
      if (this.closed) { resolve(this.why); return; }
      const job = { hash, hb: null, asm, signal, resolve, onAbort: null };
      job.onAbort = () => {
        if (this.job === job) this.s.fail('aborted'); // chunks may still be coming: not reusable
        else { this.queue.splice(this.queue.indexOf(job), 1); resolve('aborted'); }
      };
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.queue.push(job);
      this.next();
    });
  }

  next() {
    if (this.closed || this.job || !this.open) return;
    const job = this.job = this.queue.shift();
    if (!job) { this.s.arm('idle', this.client.opts.linkIdleMs); return; }
    job.hb = wire.hashBytes(job.hash);
    this.s.arm('stall', this.client.opts.stallTimeoutMs);
    this.dc.send(wire.encode(wire.REQUEST, this.client.conn.id, job.hb, job.asm.next, 0));
  }

  finish(why) {
    const job = this.job;
    this.job = null;
    job.signal.removeEventListener('abort', job.onAbort);
    job.resolve(why);
    this.next();
  }

  onMessage(data) {
    const job = this.job;
    if (this.closed) return;
    const m = wire.decode(data);
    if (!m) { this.s.fail('malformed peer-wire message'); return; }
    if (!job || m.from !== this.peer || m.hash !== job.hash) { this.s.fail('unexpected sender or resource'); return; }
    if (m.type === wire.NOT_FOUND) { this.finish('not-found'); return; }
    if (m.type === wire.ERROR) { this.s.fail(`error: ${new TextDecoder().decode(m.payload)}`); return; }
    const r = job.asm.add(m);
    if (r === 'more') { this.s.arm('stall', this.client.opts.stallTimeoutMs); return; }
    if (r === 'done') this.finish('done');
    else this.s.fail(r);
  }

  // The session failed or closed: so does every request on this link.
  down(why) {
    if (this.closed) return;
    this.closed = true;
    this.why = why;
    const jobs = this.job ? [this.job, ...this.queue] : this.queue;
    this.job = null;
    this.queue = [];
    for (const j of jobs) { j.signal.removeEventListener('abort', j.onAbort); j.resolve(why); }
    this.onClosed(this);
  }

  // A liar, or done with it: close now (bye).
  close(why) { this.s.fail(why); }
}
