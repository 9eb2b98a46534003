// wire.js — the peer wire (docs/PROTOCOL.md "Peer wire"): one binary
// data-channel message of at most 16384 bytes, a 68-byte header then a
// payload, integers big-endian. The same bytes as peertrack-peer (src/peer).
// Pure: no I/O, so node's test runner checks it byte for byte.
import { hex, unhex } from './hash.js';

export const WIRE_VERSION = 1;
export const HEADER = 68;
export const MAX_MSG = 16384;
export const PAYLOAD = MAX_MSG - HEADER; // 16316
export const REQUEST = 1, CHUNK = 2, NOT_FOUND = 3, ERROR = 4;
export const ID_LEN = 24;

// The 32 raw bytes of a hash given as 64 hex characters.
export const hashBytes = (h) => unhex(h);

// Chunks a resource of `size` bytes travels as.
export const chunkCount = (size) => Math.max(1, Math.ceil(size / PAYLOAD));

// One message. `from`: the sender's 24-character id; `hashBytes`: the 32 raw
// bytes of the SHA-256; `payload`: a Uint8Array or nothing.
export function encode(type, from, hashBytes, index, count, payload) {
  const plen = payload ? payload.byteLength : 0;
  if (plen > PAYLOAD) throw new RangeError('payload too large');
  if (from.length !== ID_LEN || hashBytes.length !== 32) throw new RangeError('bad id or hash');
  const buf = new Uint8Array(HEADER + plen);
  const dv = new DataView(buf.buffer);
  buf[0] = WIRE_VERSION;
  buf[1] = type;
  for (let i = 0; i < ID_LEN; i++) buf[4 + i] = from.charCodeAt(i) & 0x7f;
  buf.set(hashBytes, 28);
  dv.setUint32(60, index >>> 0);
  dv.setUint32(64, count >>> 0);
  if (plen) buf.set(payload, HEADER);
  return buf;
}

// -> {type, from, hash (hex), index, count, payload (a view, not a copy)},
// or null when the message is not a peer-wire message (wrong size, version
// or type): the caller ends the attempt or ignores it.
export function decode(data) {
  const b = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (b.byteLength < HEADER || b.byteLength > MAX_MSG) return null;
  if (b[0] !== WIRE_VERSION || b[1] < REQUEST || b[1] > ERROR) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let from = '';
  for (let i = 4; i < 28; i++) from += String.fromCharCode(b[i]);
  return {
    type: b[1], from, hash: hex(b.subarray(28, 60)),
    index: dv.getUint32(60), count: dv.getUint32(64), payload: b.subarray(HEADER),
  };
}

// The fetcher's side of one transfer: accepts only the next chunk in
// sequence with a consistent count and the exact size, and keeps what it
// has so the next holder can go on from `next` (docs "Falling back").
export class Assembler {
  constructor(size) {
    this.size = size ?? null; // expected size when the caller knows it
    this.parts = [];
    this.next = 0;
    this.count = 0;
    this.bytes = 0;
  }

  // -> 'more' | 'done' | an error string (the attempt ends).
  add(m) {
    if (m.type !== CHUNK) return 'unexpected message';
    if (m.index !== this.next) return 'chunk out of sequence';
    if (m.count === 0 || (this.count && m.count !== this.count)) return 'inconsistent chunk count';
    if (this.size !== null && m.count !== chunkCount(this.size)) return 'chunk count does not match the size';
    const last = m.index === m.count - 1;
    if (!last && m.payload.length !== PAYLOAD) return 'short chunk';
    if (this.size !== null && last && this.bytes + m.payload.length !== this.size) return 'wrong size';
    this.count = m.count;
    this.parts.push(m.payload.slice());
    this.bytes += m.payload.length;
    this.next++;
    return last ? 'done' : 'more';
  }

  // Start again from chunk 0 (after a hash mismatch the bytes are worthless).
  reset() { this.parts = []; this.next = 0; this.count = 0; this.bytes = 0; }

  result() {
    const out = new Uint8Array(this.bytes);
    let off = 0;
    for (const p of this.parts) { out.set(p, off); off += p.length; }
    return out;
  }
}
