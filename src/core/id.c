/* id.c — client ids: 18 CSPRNG bytes <-> 24 base64url characters.
 *
 * 18 bytes are exactly 144 bits = 24 sextets, so there is no padding and no
 * leftover bits: every 24-character string over the alphabet is a valid id,
 * and decoding only has to reject foreign characters and other lengths. */
#include <errno.h>
#include <string.h>
#include <openssl/rand.h>

#include "peertrack/mix.h"
#include "peertrack/id.h"

static const char b64url[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int pt_id_generate(pt_id *id)
{
	if (RAND_bytes(id->b, PT_ID_BYTES) != 1)
		return -EIO;
	return 0;
}

void pt_id_encode(const pt_id *id, char out[PT_ID_CHARS + 1])
{
	char *o = out;
	for (size_t i = 0; i < PT_ID_BYTES; i += 3) {
		uint32_t v = (uint32_t)id->b[i] << 16 | (uint32_t)id->b[i + 1] << 8 | id->b[i + 2];
		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
		*o++ = b64url[v >> 6 & 63];
		*o++ = b64url[v & 63];
	}
	*o = '\0';
}

/* -1 for anything outside the alphabet; a switch on ranges rather than a
 * 256-entry table keeps the accepted set readable. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int pt_id_decode(const char *s, size_t len, pt_id *id)
{
	if (!s || len != PT_ID_CHARS)
		return -EINVAL;
	pt_id tmp;
	for (size_t i = 0, o = 0; i < PT_ID_CHARS; i += 4, o += 3) {
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			int x = sextet((unsigned char)s[i + j]);
			if (x < 0)
				return -EINVAL;
			v = v << 6 | (uint32_t)x;
		}
		tmp.b[o] = (uint8_t)(v >> 16);
		tmp.b[o + 1] = (uint8_t)(v >> 8);
		tmp.b[o + 2] = (uint8_t)v;
	}
	*id = tmp; /* *id untouched on error */
	return 0;
}

bool pt_id_equal(const pt_id *a, const pt_id *b)
{
	return memcmp(a->b, b->b, PT_ID_BYTES) == 0;
}

uint32_t pt_id_hash(const pt_id *id)
{
	uint64_t w0, w1;
	uint16_t w2;
	memcpy(&w0, id->b, 8);
	memcpy(&w1, id->b + 8, 8);
	memcpy(&w2, id->b + 16, 2);
	uint64_t x = pt_mix64(w0 ^ pt_mix64(w1 ^ ((uint64_t)w2 << 48 | PT_ID_BYTES)));
	return (uint32_t)(x ^ x >> 32);
}

unsigned pt_id_tag(const pt_id *id)
{
	return (unsigned)id->b[0] << 4 | id->b[1] >> 4;
}

void pt_id_set_tag(pt_id *id, unsigned tag)
{
	id->b[0] = (uint8_t)(tag >> 4);
	id->b[1] = (uint8_t)((id->b[1] & 0x0f) | (tag & 0x0f) << 4);
}

void pt_id_tag_format(unsigned tag, char out[3])
{
	out[0] = b64url[tag >> 6 & 63];
	out[1] = b64url[tag & 63];
	out[2] = '\0';
}

int pt_id_tag_parse(const char *s, size_t len)
{
	int a, b;

	if (!s || len != 2 || (a = sextet((unsigned char)s[0])) < 0 ||
	    (b = sextet((unsigned char)s[1])) < 0)
		return -EINVAL;
	return a << 6 | b;
}
