import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest, ManifestError, manifestKey, MANIFEST_LIMITS } from '../src/manifest.js';

const H = 'a'.repeat(64);
const BASE = 'http://127.0.0.1:8080/manifest.json';
const doc = (resources, extra = {}) => JSON.stringify({ version: 1, resources, ...extra });
const code = (fn) => { try { fn(); } catch (e) { assert.ok(e instanceof ManifestError, e); return e.code; } return 'no error'; };

test('keys resolve against the manifest URL; lookup ignores the fragment', () => {
  const m = parseManifest(doc({
    '/img/a.png': { sha256: H, size: 10, type: 'image/png' },
    'b.webm': { sha256: 'b'.repeat(64), size: 0, type: 'video/webm' },
    'http://other.example/c': { sha256: 'c'.repeat(64), size: 3 },
  }), BASE);
  assert.equal(m.size, 3);
  assert.deepEqual({ ...m.get('http://127.0.0.1:8080/img/a.png#x') },
    { url: 'http://127.0.0.1:8080/img/a.png', hash: H, size: 10, type: 'image/png' });
  assert.equal(m.get('/b.webm').size, 0);                      // relative to the base too
  assert.equal(m.get('http://other.example/c').type, 'application/octet-stream');
  assert.equal(m.get('/img/a.png?v=2'), undefined);            // a query is another URL
  assert.equal(m.get('/nope'), undefined);
  assert.equal(m.get('http://[bad'), undefined);               // never throws on lookup
  assert.equal(m.entries().length, 3);
  assert.ok(Object.isFrozen(m) && Object.isFrozen(m.entries()[0]));
});

test('an already parsed object is accepted', () => {
  assert.equal(parseManifest({ version: 1, resources: {} }, BASE).size, 0);
});

test('malformed documents', () => {
  assert.equal(code(() => parseManifest('{', BASE)), 'bad-json');
  assert.equal(code(() => parseManifest('[]', BASE)), 'bad-manifest');
  assert.equal(code(() => parseManifest('null', BASE)), 'bad-manifest');
  assert.equal(code(() => parseManifest(doc({}, { version: 2 }), BASE)), 'bad-version');
  assert.equal(code(() => parseManifest('{"resources":{}}', BASE)), 'bad-version');
  assert.equal(code(() => parseManifest('{"version":1}', BASE)), 'bad-manifest');
  assert.equal(code(() => parseManifest('{"version":1,"resources":[]}', BASE)), 'bad-manifest');
});

test('every field of an entry is checked, and the error names the key', () => {
  const one = (e, k = '/x') => code(() => parseManifest(doc({ [k]: e }), BASE));
  assert.equal(one({ sha256: H.toUpperCase(), size: 1 }), 'bad-entry');
  assert.equal(one({ sha256: H.slice(1), size: 1 }), 'bad-entry');
  assert.equal(one({ sha256: H, size: -1 }), 'bad-entry');
  assert.equal(one({ sha256: H, size: 1.5 }), 'bad-entry');
  assert.equal(one({ sha256: H, size: '1' }), 'bad-entry');
  assert.equal(one({ sha256: H, size: MANIFEST_LIMITS.maxSize + 1 }), 'bad-entry');
  assert.equal(one({ sha256: H, size: 1, type: 'png' }), 'bad-entry');
  assert.equal(one({ sha256: H, size: 1, type: 'text/html\r\nx: y' }), 'bad-entry');
  assert.equal(one({ sha256: H, size: 1, type: 'text/' + 'x'.repeat(300) }), 'bad-entry');
  assert.equal(one('str'), 'bad-entry');
  assert.equal(one({ sha256: H, size: 1 }, ''), 'bad-entry');
  assert.equal(one({ sha256: H, size: 1 }, '/' + 'x'.repeat(2048)), 'bad-entry');
  assert.equal(one({ sha256: H, size: 1 }, 'data:text/plain,hi'), 'bad-entry');
  try { parseManifest(doc({ '/img/q.png': { sha256: H, size: -2 } }), BASE); assert.fail(); }
  catch (e) { assert.equal(e.key, '/img/q.png'); assert.match(e.message, /^\/img\/q\.png: size/); }
  // Two keys that name the same URL.
  assert.equal(code(() => parseManifest(doc({ '/a': { sha256: H, size: 1 }, 'a': { sha256: H, size: 1 } }), BASE)), 'bad-entry');
  // A charset parameter is a content type.
  assert.equal(parseManifest(doc({ '/t': { sha256: H, size: 1, type: 'text/css; charset=utf-8' } }), BASE).size, 1);
});

test('the entry count is bounded, and the bound is an option', () => {
  const r = {};
  for (let i = 0; i < 5; i++) r[`/f${i}`] = { sha256: H, size: i };
  assert.equal(code(() => parseManifest(doc(r), BASE, { maxEntries: 4 })), 'too-many');
  assert.equal(parseManifest(doc(r), BASE, { maxEntries: 5 }).size, 5);
});

test('manifestKey', () => {
  assert.equal(manifestKey('/a#b', BASE), 'http://127.0.0.1:8080/a');
  assert.equal(manifestKey('https://x.example/p?q=1', BASE), 'https://x.example/p?q=1');
});
