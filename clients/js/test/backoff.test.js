import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, backoffDelay, closePolicy } from '../src/backoff.js';

test('close codes follow docs/PROTOCOL.md "Reconnecting"', () => {
  for (const c of [1006, undefined]) assert.deepEqual(closePolicy(c), { retry: true, resume: true, minMs: 0, now: true, short: true });
  assert.equal(closePolicy(4000).now, true);
  assert.equal(closePolicy(4000).resume, true);
  assert.deepEqual([closePolicy(1001).resume, closePolicy(1001).minMs], [false, 1000]);
  assert.equal(closePolicy(1011).resume, true);
  assert.equal(closePolicy(1013).retry, true);
  assert.equal(closePolicy(4002).resume, false);
  assert.equal(closePolicy(4029).minMs, 10000);
  for (const c of [1007, 1008, 1009, 4001, 4003]) assert.equal(closePolicy(c).retry, false, String(c));
});

test('delays double with jitter and stop at the cap', () => {
  assert.equal(backoffDelay(0, undefined, () => 0), 1000);
  assert.equal(backoffDelay(0, undefined, () => 0.999), 1999);
  assert.equal(backoffDelay(3, undefined, () => 0), 8000);
  assert.equal(backoffDelay(4, undefined, () => 0.5), 24000);
  assert.equal(backoffDelay(5, undefined, () => 0.5), 30000);
  assert.equal(backoffDelay(200, undefined, () => 0.9), 30000);
  assert.equal(backoffDelay(0, { base: 100, max: 2000 }, () => 0.5), 150);
});

test('a drop retries at once, then the short schedule; failed attempts never retry at once', () => {
  const b = new Backoff({ random: () => 0 });
  b.closed(closePolicy(1006), true, 5000);
  assert.equal(b.next(true), 0);
  b.closed(closePolicy(1006), false, 3); // the retry failed
  assert.equal(b.next(true), 100);
  b.closed(closePolicy(1006), false, 3);
  assert.equal(b.next(true), 200);
  b.closed(closePolicy(1006), false, 3);
  assert.equal(b.next(false), 1000, 'outside the resume window: the long schedule');
  b.closed(closePolicy(1006), false, 3);
  assert.equal(b.next(false), 2000);
});

test('1001 waits at least a second; 4029 ten; a minute of life resets the schedule', () => {
  const b = new Backoff({ random: () => 0, stableMs: 60000 });
  b.closed(closePolicy(1001), true, 100);
  assert.equal(b.next(), 1000);
  b.closed(closePolicy(1001), false, 0);
  assert.equal(b.next(), 2000);
  b.closed(closePolicy(1001), true, 61000);
  assert.equal(b.next(), 1000);
  b.closed(closePolicy(4029), true, 100);
  assert.equal(b.next(), 10000);
});

test('jitter spreads a restart storm', () => {
  let seed = 1;
  const random = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
  const ds = new Set();
  for (let i = 0; i < 50; i++) ds.add(Math.round(backoffDelay(0, undefined, random) / 10));
  assert.ok(ds.size > 30, `only ${ds.size} distinct delays`);
});
