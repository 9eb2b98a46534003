/* ratelimit.c — token bucket in integer milli-tokens.
 *
 * rate_per_s tokens per second is exactly rate_per_s milli-tokens per
 * millisecond, so refills are exact integer products with no remainder to
 * carry. */
#include "peertrack/ratelimit.h"

/* Past this much idle time any bucket is full anyway (2^32 milli-tokens at
 * 1 token/s take ~50 days); clamping keeps elapsed * rate inside 64 bits. */
#define MAX_ELAPSED_MS ((uint64_t)1 << 31)

static uint32_t capacity(uint32_t burst)
{
	uint64_t c = (uint64_t)burst * 1000;
	return c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

void pt_bucket_init(pt_bucket *b, uint32_t burst, uint64_t now_ms)
{
	b->last_ms = now_ms;
	b->milli = capacity(burst);
}

bool pt_bucket_take(pt_bucket *b, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms)
{
	uint32_t cap = capacity(burst);
	/* A clock that went backwards keeps last_ms where it was: the time up
	 * to the old reading was already paid for and must not refill twice. */
	if (now_ms > b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms;
		if (elapsed > MAX_ELAPSED_MS)
			elapsed = MAX_ELAPSED_MS;
		uint64_t milli = b->milli + elapsed * rate_per_s;
		b->milli = milli > cap ? cap : (uint32_t)milli;
		b->last_ms = now_ms;
	}
	if (b->milli > cap) /* burst lowered at run time */
		b->milli = cap;
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}
