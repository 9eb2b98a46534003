import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { hex, unhex } from '../src/hash.js';
import * as w from '../src/wire.js';

const ID = 'q3Vx0dB1a9Zk7Yt2mWcE5rLp';
const HASH = createHash('sha256').update('abc').digest('hex');

test('header layout is the one of docs/PROTOCOL.md "Peer wire"', () => {
  const m = w.encode(w.CHUNK, ID, unhex(HASH), 0x01020304, 0x0a0b0c0d, new Uint8Array([9, 8, 7]));
  assert.equal(m.length, 71);
  assert.deepEqual([...m.subarray(0, 4)], [1, 2, 0, 0]);
  assert.equal(Buffer.from(m.subarray(4, 28)).toString('ascii'), ID);
  assert.equal(hex(m.subarray(28, 60)), HASH);
  assert.deepEqual([...m.subarray(60, 68)], [1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
  assert.deepEqual([...m.subarray(68)], [9, 8, 7]);
});

test('decode gives back what encode wrote, and refuses what is not peer wire', () => {
  const m = w.encode(w.REQUEST, ID, unhex(HASH), 7, 0);
  const d = w.decode(m.buffer);
  assert.equal(d.type, w.REQUEST); assert.equal(d.from, ID); assert.equal(d.hash, HASH);
  assert.equal(d.index, 7); assert.equal(d.count, 0); assert.equal(d.payload.length, 0);
  assert.equal(w.decode(new Uint8Array(67)), null, 'short');
  assert.equal(w.decode(new Uint8Array(w.MAX_MSG + 1)), null, 'long');
  const bad = m.slice(); bad[0] = 2; assert.equal(w.decode(bad), null, 'version');
  bad[0] = 1; bad[1] = 5; assert.equal(w.decode(bad), null, 'type');
  bad[1] = 0; assert.equal(w.decode(bad), null, 'type 0');
  assert.throws(() => w.encode(w.CHUNK, ID, unhex(HASH), 0, 1, new Uint8Array(w.PAYLOAD + 1)), RangeError);
});

test('chunk counts: 16316-byte chunks, an empty resource is one chunk', () => {
  assert.equal(w.PAYLOAD, 16316);
  assert.equal(w.chunkCount(0), 1);
  assert.equal(w.chunkCount(1), 1);
  assert.equal(w.chunkCount(16316), 1);
  assert.equal(w.chunkCount(16317), 2);
  assert.equal(w.chunkCount(1 << 20), 65);
});

function chunks(bytes, from = 0) {
  const n = w.chunkCount(bytes.length), out = [];
  for (let i = from; i < n; i++)
    out.push(w.decode(w.encode(w.CHUNK, ID, unhex(HASH), i, n, bytes.subarray(i * w.PAYLOAD, (i + 1) * w.PAYLOAD))));
  return out;
}

test('Assembler takes chunks in order, and resumes at next with another holder', () => {
  const bytes = new Uint8Array(40000).map((_, i) => i & 0xff);
  const a = new w.Assembler(bytes.length);
  const cs = chunks(bytes);
  assert.equal(a.add(cs[0]), 'more');
  assert.equal(a.next, 1);
  // the first holder dies; the next one is asked from index 1
  const rest = chunks(bytes, a.next);
  assert.equal(a.add(rest[0]), 'more');
  assert.equal(a.add(rest[1]), 'done');
  assert.deepEqual(a.result(), bytes);
});

test('Assembler refuses gaps, repeats, inconsistent counts, short chunks and wrong sizes', () => {
  const bytes = new Uint8Array(40000);
  const cs = chunks(bytes);
  assert.equal(new w.Assembler().add(cs[1]), 'chunk out of sequence');
  const a = new w.Assembler();
  a.add(cs[0]);
  assert.equal(a.add(cs[0]), 'chunk out of sequence');
  assert.equal(a.add({ ...cs[1], count: 4 }), 'inconsistent chunk count');
  assert.equal(a.add({ ...cs[1], payload: cs[1].payload.subarray(1) }), 'short chunk');
  assert.equal(new w.Assembler(39999).add(cs[0]), 'more');
  const b = new w.Assembler(39999); b.add(cs[0]); b.add(cs[1]);
  assert.equal(b.add(cs[2]), 'wrong size');
  assert.equal(new w.Assembler(100).add(cs[0]), 'chunk count does not match the size');
  assert.equal(new w.Assembler().add({ ...cs[0], type: w.NOT_FOUND }), 'unexpected message');
  assert.equal(new w.Assembler().add({ ...cs[0], count: 0 }), 'inconsistent chunk count');
});

test('an empty resource is one empty chunk', () => {
  const a = new w.Assembler(0);
  assert.equal(a.add(chunks(new Uint8Array(0))[0]), 'done');
  assert.equal(a.result().length, 0);
});
