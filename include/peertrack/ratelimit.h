/* ratelimit.h — a token bucket in integer milli-tokens. Pure: the caller
 * passes the clock, so tests drive time by hand. 12 bytes per bucket. */
#ifndef PEERTRACK_RATELIMIT_H
#define PEERTRACK_RATELIMIT_H

#include <stdint.h>
#include <stdbool.h>

typedef struct pt_bucket {
	uint64_t last_ms; /* clock of the last refill */
	uint32_t milli;   /* tokens * 1000, at most burst * 1000 */
} pt_bucket;

/* Starts full. */
void pt_bucket_init(pt_bucket *b, uint32_t burst, uint64_t now_ms);

/* Refills at rate_per_s (tokens/second) up to burst, then takes one token.
 * true if a token was taken. A clock that goes backwards refills nothing. */
bool pt_bucket_take(pt_bucket *b, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms);

#endif
