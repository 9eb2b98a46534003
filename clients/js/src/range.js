// range.js — HTTP Range requests (RFC 9110, section 14) over bytes held whole:
// what the service worker answers a <video> with. Pure.
//
// One range only (bytes=A-B, bytes=A-, bytes=-N): a multi-range request is
// answered whole (200), which RFC 9110 allows, and no browser media element
// sends one.

// parseRange(header, size) ->
//   null                         no usable Range header: answer 200 with everything
//   {start, end}                 inclusive byte offsets: answer 206
//   {unsatisfiable: true}        answer 416 with Content-Range: bytes */size
export function parseRange(header, size) {
  if (typeof header !== 'string') return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;   // other units, lists, garbage: ignored
  if (m[1] === '') {                                     // suffix: the last N bytes
    const n = Number(m[2]);
    if (n === 0 || size === 0) return { unsatisfiable: true };
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  let end = m[2] === '' ? Infinity : Number(m[2]);
  if (!Number.isSafeInteger(start) || (m[2] !== '' && !Number.isSafeInteger(end))) return null;   // absurd digits
  if (end < start) return null;                          // invalid: ignore the header
  if (start >= size) return { unsatisfiable: true };
  if (end >= size) end = size - 1;
  return { start, end };
}

// rangeHeaders(range, size, type) -> {status, headers} for new Response(body, ...).
export function rangeHeaders(range, size, type) {
  const h = { 'content-type': type, 'accept-ranges': 'bytes' };
  if (range && range.unsatisfiable) return { status: 416, headers: { ...h, 'content-range': `bytes */${size}` } };
  if (!range) return { status: 200, headers: { ...h, 'content-length': String(size) } };
  return {
    status: 206,
    headers: { ...h, 'content-length': String(range.end - range.start + 1),
               'content-range': `bytes ${range.start}-${range.end}/${size}` },
  };
}
