// hash.js — SHA-256 as 64 lowercase hex (crypto.subtle), and hex helpers.
const HEX = /^[0-9a-f]{64}$/;

export const isHash = (h) => typeof h === 'string' && HEX.test(h);

export function hex(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return s;
}

// `s` must be even-length hex (callers check isHash first).
export function unhex(s) {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

export async function sha256hex(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}
