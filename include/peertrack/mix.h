/* mix.h — the 64-bit finaliser every hash table in the core uses
 * (MurmurHash3's fmix64): cheap, and every input bit reaches every output
 * bit, so seeded table indices stay unpredictable to clients. */
#ifndef PEERTRACK_MIX_H
#define PEERTRACK_MIX_H

#include <stdint.h>

static inline uint64_t pt_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif
