/* binstr.h — "binary strings" of the WebTorrent tracker protocol: ids
 * (info_hash, peer_id, offer_id) sent as JSON strings of one character per
 * byte, code points U+0000..U+00FF. On the wire a byte is written raw (one
 * UTF-8 byte below 0x80, two from 0x80) or escaped (\u00XX); JSON decoding
 * makes both spellings the same UTF-8 text, which these functions map to
 * bytes and back. Pure functions, no allocation beyond the pt_buf.
 *
 * Nothing is aliased: a code point above U+00FF or a length other than the
 * expected one is an error, never truncated or folded onto another id. */
#ifndef PEERTRACK_BINSTR_H
#define PEERTRACK_BINSTR_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/buf.h"

/* Decodes the UTF-8 text s[0..len) (a JSON string already unescaped, which
 * may hold U+0000) into exactly n bytes. 0, or -EINVAL when a character is
 * above U+00FF, the UTF-8 is not well-formed, or there are not exactly n
 * characters. out is written only on success. */
int pt_binstr_decode(const char *s, size_t len, uint8_t *out, size_t n);

/* The same, from a JSON string's raw content s[0..len) as it sits between
 * its quotes, escapes and all (\" \\ \/ \b \f \n \r \t \uXXXX): the
 * answer is the one unescaping and then pt_binstr_decode would give, so an
 * escaped spelling of a byte is the same byte as its raw spelling. A
 * surrogate escape is above U+00FF, hence -EINVAL. */
int pt_binstr_decode_json(const char *s, size_t len, uint8_t *out, size_t n);

/* Appends bytes p[0..n) as a JSON string literal, quotes included, spelled
 * as JavaScript's JSON.stringify spells it: \" \\ \b \t \n \f \r, \u00XX
 * (lowercase hex) for the other bytes below 0x20, two-byte UTF-8 from 0x80,
 * everything else raw. 0 or -ENOMEM (b unchanged in length). */
int pt_buf_binstr(pt_buf *b, const uint8_t *p, size_t n);

#endif
