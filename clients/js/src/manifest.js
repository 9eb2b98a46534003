// manifest.js — the site's manifest: which URLs peers may serve, and the
// SHA-256, size and type each must have. Pure (no DOM, no network): the
// service worker and the page both use it, node's test runner tests it.
//
// The file, as `peertrackctl manifest DIR` writes it:
//   {"version":1,"resources":{"/img/a.png":{"sha256":"<64 hex>","size":123,"type":"image/png"}, ...}}
// A key is a URL, resolved against the manifest's own URL (so "/img/a.png",
// "img/a.png" and "https://cdn.example/img/a.png" all work). Every value is
// bounded; anything else is a ManifestError naming the key and the problem.

export const MANIFEST_VERSION = 1;

// Defaults of the bounds parseManifest enforces (options override them).
export const MANIFEST_LIMITS = Object.freeze({
  maxEntries: 10000,          // resources in one manifest
  maxUrlLength: 2048,         // characters of a key
  maxSize: 256 * 1024 * 1024, // bytes of one resource (it is held whole in memory)
  maxTypeLength: 255,         // characters of a content type
});

export class ManifestError extends Error {
  constructor(code, message, key) {
    super(key === undefined ? message : `${key}: ${message}`);
    this.name = 'ManifestError';
    this.code = code;           // 'bad-json' | 'bad-manifest' | 'bad-version' | 'too-many' | 'bad-entry'
    if (key !== undefined) this.key = key;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
// A content type: type/subtype and optional parameters, printable ASCII.
const TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;[\x20-\x7e]*)?$/;

// The lookup key of a URL: absolute, without its fragment.
export function manifestKey(url, base) {
  const u = new URL(url, base);
  u.hash = '';
  return u.href;
}

// parseManifest(text or parsed object, baseUrl, options) -> Manifest.
// Throws ManifestError. The result is frozen: {version, size (entries),
// get(url) -> entry | undefined, entries() -> entry[]}, with entry =
// {url (absolute), hash, size, type}.
export function parseManifest(input, baseUrl, options = {}) {
  const lim = { ...MANIFEST_LIMITS, ...options };
  let doc = input;
  if (typeof input === 'string') {
    try { doc = JSON.parse(input); } catch (e) { throw new ManifestError('bad-json', `not JSON: ${e.message}`); }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ManifestError('bad-manifest', 'not an object');
  if (doc.version !== MANIFEST_VERSION)
    throw new ManifestError('bad-version', `version ${JSON.stringify(doc.version)}, this code reads ${MANIFEST_VERSION}`);
  const res = doc.resources;
  if (!res || typeof res !== 'object' || Array.isArray(res)) throw new ManifestError('bad-manifest', 'resources: not an object');
  const keys = Object.keys(res);
  if (keys.length > lim.maxEntries) throw new ManifestError('too-many', `${keys.length} resources, at most ${lim.maxEntries}`);
  const map = new Map();
  for (const k of keys) {
    const e = res[k];
    const bad = (why) => new ManifestError('bad-entry', why, k);
    if (k.length === 0 || k.length > lim.maxUrlLength) throw bad(`URL length ${k.length} not in 1..${lim.maxUrlLength}`);
    let url;
    try { url = manifestKey(k, baseUrl); } catch { throw bad('not a URL'); }
    if (!/^https?:$/.test(new URL(url).protocol)) throw bad('not an http(s) URL');
    if (!e || typeof e !== 'object' || Array.isArray(e)) throw bad('not an object');
    if (typeof e.sha256 !== 'string' || !HEX64.test(e.sha256)) throw bad('sha256: not 64 lowercase hex digits');
    if (!Number.isSafeInteger(e.size) || e.size < 0 || e.size > lim.maxSize) throw bad(`size: not an integer in 0..${lim.maxSize}`);
    const type = e.type === undefined ? 'application/octet-stream' : e.type;
    if (typeof type !== 'string' || type.length > lim.maxTypeLength || !TYPE.test(type)) throw bad('type: not a content type');
    if (map.has(url)) throw bad(`same URL as another key (${url})`);
    map.set(url, Object.freeze({ url, hash: e.sha256, size: e.size, type }));
  }
  return Object.freeze({
    version: doc.version,
    size: map.size,
    get: (u) => { try { return map.get(manifestKey(u, baseUrl)); } catch { return undefined; } },
    entries: () => [...map.values()],
  });
}
