/* hash.h — resource hashes: SHA-256 digests, 64 lowercase hex on the wire,
 * 32 raw bytes inside. Parsed once at the edge. */
#ifndef PEERTRACK_HASH_H
#define PEERTRACK_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PT_HASH_BYTES 32
#define PT_HASH_HEX   64

typedef struct pt_hash {
	uint8_t b[PT_HASH_BYTES];
} pt_hash;

/* Parses exactly 64 lowercase hex characters. Uppercase, other lengths and
 * any other character are rejected: one spelling per hash keeps the index
 * and the logs unambiguous. 0, or -EINVAL. */
int pt_hash_parse(const char *s, size_t len, pt_hash *out);

/* Writes 64 lowercase hex characters plus a NUL. */
void pt_hash_format(const pt_hash *h, char out[PT_HASH_HEX + 1]);

bool pt_hash_equal(const pt_hash *a, const pt_hash *b);

/* 32-bit table hash. Resource hashes are SHA-256 outputs, but clients pick
 * them, so the table hash is keyed (seed) to keep collisions unforgeable. */
uint32_t pt_hash_hash(const pt_hash *h, uint64_t seed);

/* SHA-256 of a buffer (OpenSSL EVP). */
void pt_hash_sha256(const void *data, size_t len, pt_hash *out);

#endif
