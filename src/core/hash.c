/* hash.c — resource hashes: strict lowercase hex, a keyed table hash, and
 * SHA-256 through OpenSSL's EVP interface. */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#include "peertrack/mix.h"
#include "peertrack/hash.h"

static int nibble(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase included: one spelling per hash */
}

int pt_hash_parse(const char *s, size_t len, pt_hash *out)
{
	if (!s || len != PT_HASH_HEX)
		return -EINVAL;
	pt_hash tmp;
	for (size_t i = 0; i < PT_HASH_BYTES; i++) {
		int hi = nibble((unsigned char)s[2 * i]);
		int lo = nibble((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		tmp.b[i] = (uint8_t)(hi << 4 | lo);
	}
	*out = tmp;
	return 0;
}

void pt_hash_format(const pt_hash *h, char out[PT_HASH_HEX + 1])
{
	static const char hex[16] = "0123456789abcdef";
	for (size_t i = 0; i < PT_HASH_BYTES; i++) {
		out[2 * i] = hex[h->b[i] >> 4];
		out[2 * i + 1] = hex[h->b[i] & 15];
	}
	out[PT_HASH_HEX] = '\0';
}

bool pt_hash_equal(const pt_hash *a, const pt_hash *b)
{
	return memcmp(a->b, b->b, PT_HASH_BYTES) == 0;
}

/* All 32 bytes go through the chain, not just the first 8: clients choose
 * the "hashes" they announce, and a table keyed on a prefix would let one
 * client pile any number of distinct hashes onto one bucket whatever the
 * seed. Four multiply-xorshift rounds cost a few nanoseconds. */
uint32_t pt_hash_hash(const pt_hash *h, uint64_t seed)
{
	uint64_t x = seed;
	for (size_t i = 0; i < PT_HASH_BYTES; i += 8) {
		uint64_t w;
		memcpy(&w, h->b + i, 8);
		x = pt_mix64(x ^ w) + 0x9e3779b97f4a7c15ULL;
	}
	x = pt_mix64(x);
	return (uint32_t)(x ^ x >> 32);
}

void pt_hash_sha256(const void *data, size_t len, pt_hash *out)
{
	/* EVP_Digest fails only when OpenSSL cannot allocate; the contract
	 * has no error path, so the output is at least deterministic. */
	if (EVP_Digest(data, len, out->b, NULL, EVP_sha256(), NULL) != 1)
		memset(out->b, 0, PT_HASH_BYTES);
}
