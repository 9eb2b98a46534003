import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange, rangeHeaders } from '../src/range.js';

test('single ranges', () => {
  assert.deepEqual(parseRange('bytes=0-', 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=10-19', 100), { start: 10, end: 19 });
  assert.deepEqual(parseRange('bytes=90-500', 100), { start: 90, end: 99 });   // clamped
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });      // suffix
  assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange('Bytes = 5 - 5', 100), { start: 5, end: 5 });
});

test('unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=100-', 100), { unsatisfiable: true });
  assert.deepEqual(parseRange('bytes=-0', 100), { unsatisfiable: true });
  assert.deepEqual(parseRange('bytes=0-', 0), { unsatisfiable: true });
});

test('ignored: no header, other units, lists, reversed, garbage', () => {
  for (const h of [undefined, null, '', 'items=0-1', 'bytes=0-1,5-6', 'bytes=5-1', 'bytes=-', 'bytes=a-b',
                   'bytes=99999999999999999999-', 'bytes=0-99999999999999999999'])
    assert.equal(parseRange(h, 100), null, String(h));
});

test('headers', () => {
  assert.deepEqual(rangeHeaders({ start: 10, end: 19 }, 100, 'video/webm'), {
    status: 206, headers: { 'content-type': 'video/webm', 'accept-ranges': 'bytes',
                            'content-length': '10', 'content-range': 'bytes 10-19/100' } });
  assert.equal(rangeHeaders(null, 100, 'x/y').status, 200);
  assert.equal(rangeHeaders(null, 100, 'x/y').headers['content-length'], '100');
  assert.deepEqual(rangeHeaders({ unsatisfiable: true }, 100, 'x/y').headers['content-range'], 'bytes */100');
  assert.equal(rangeHeaders({ unsatisfiable: true }, 100, 'x/y').status, 416);
});
