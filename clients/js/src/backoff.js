// backoff.js — what to do when the tracker connection closes, per close code
// (docs/PROTOCOL.md "Reconnecting: what to do per close code"), and the
// randomised growing delay between attempts. Pure: `random` is injectable.

// -> {retry, resume, minMs, now, short}
//   retry:  reconnect by ourselves at all
//   resume: present the last token on the next connection
//   minMs:  floor of the first delay
//   now:    the first attempt may go at once (a drop: the resume window is short)
//   short:  the delays that follow are the short ones (100 ms doubling to 2 s)
export function closePolicy(code) {
  switch (code) {
  case 1006: case 1005: case undefined: case null: // dropped, no close frame
    return { retry: true, resume: true, minMs: 0, now: true, short: true };
  case 4000: // heartbeat timeout: we went silent
    return { retry: true, resume: true, minMs: 0, now: true, short: true };
  case 1001: // server shutting down: tokens die with it
    return { retry: true, resume: false, minMs: 1000, now: false, short: false };
  case 1011: case 1013:
    return { retry: true, resume: true, minMs: 0, now: false, short: false };
  case 4002: // slow reader: not kept
    return { retry: true, resume: false, minMs: 0, now: false, short: false };
  case 4029: // too many connections from this address
    return { retry: true, resume: false, minMs: 10000, now: false, short: false };
  case 1007: case 1008: case 1009: case 4001: case 4003:
    return { retry: false, resume: false, minMs: 0, now: false, short: false };
  default: // 1000, 1002 and anything unknown: a plain backoff, nothing kept
    return { retry: true, resume: code !== 1000, minMs: 0, now: false, short: false };
  }
}

// Attempt n (0-based) delay: uniform in [base*2^n, 2*base*2^n), capped at
// `max`. The long schedule is 1-2 s doubling to 30 s, the short one (inside
// the resume window after a drop) 100-200 ms doubling to 2 s.
export const LONG = { base: 1000, max: 30000 };
export const SHORT = { base: 100, max: 2000 };

export function backoffDelay(n, { base, max } = LONG, random = Math.random) {
  const lo = Math.min(max, base * 2 ** Math.min(n, 30));
  return Math.min(max, lo + lo * random());
}

// The schedule of one outage. closed() after every close (a connection
// that never got its welcome included), next() before every attempt.
export class Backoff {
  constructor({ random = Math.random, long = LONG, short = SHORT, stableMs = 60000 } = {}) {
    Object.assign(this, { random, long, short, stableMs });
    this.reset();
  }

  reset() { this.nLong = 0; this.nShort = 0; this.policy = null; this.immediate = false; }

  // `welcomed`: the connection got as far as its welcome; `livedMs`: for
  // how long. Only a live connection that dropped earns an immediate retry
  // (a failed attempt never does, or a dead network would spin), and only
  // one that lasted `stableMs` resets the schedule.
  closed(policy, welcomed, livedMs) {
    if (welcomed && livedMs >= this.stableMs) { this.nLong = 0; this.nShort = 0; }
    if (welcomed && policy.now) this.nShort = 0;
    this.policy = policy;
    this.immediate = welcomed && policy.now;
  }

  // Delay before the next attempt, in ms. `inWindow`: the resume window of
  // the drop is still open (the short schedule applies only then).
  next(inWindow = true) {
    const p = this.policy || { minMs: 0, short: false };
    if (this.immediate) { this.immediate = false; return p.minMs; }
    let d;
    if (p.short && inWindow) d = backoffDelay(this.nShort++, this.short, this.random);
    else d = backoffDelay(this.nLong++, this.long, this.random);
    return Math.max(d, p.minMs);
  }
}
