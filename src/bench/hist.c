/* hist.c — a log-linear (HDR-style) histogram of microseconds. Fixed size,
 * no allocation, merged by adding counts, so workers' histograms combine
 * exactly and percentiles are never averages of percentiles. */
#include <string.h>

#include "bench.h"

#define HALF (1u << (HIST_SUB - 1))

void bench_hist_init(bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static unsigned bucket_of(uint64_t v)
{
	unsigned e, b;

	if (v < (1u << HIST_SUB))
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);          /* 2^e <= v < 2^(e+1) */
	if (e > HIST_MAXEXP)
		return HIST_BUCKETS - 1;
	/* Keep HIST_SUB significant bits; the top one is implied. */
	b = (unsigned)(v >> (e - (HIST_SUB - 1))) - HALF;
	return (1u << HIST_SUB) + (e - HIST_SUB) * HALF + b;
}

/* The largest value that lands in bucket i. */
static uint64_t bucket_top(unsigned i)
{
	unsigned e, b;

	if (i < (1u << HIST_SUB))
		return i;
	i -= 1u << HIST_SUB;
	e = i / HALF + HIST_SUB;
	b = i % HALF + HALF;
	return (((uint64_t)b + 1) << (e - (HIST_SUB - 1))) - 1;
}

void bench_hist_add(bench_hist *h, uint64_t us)
{
	h->b[bucket_of(us)]++;
	h->count++;
	h->sum += us;
	if (us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->count && from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t bench_hist_quantile(const bench_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);

			return top > h->max ? h->max : top;
		}
	}
	return h->max;
}
