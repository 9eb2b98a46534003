/* scale.c — lookup cost against one hash's holder count, in process.
 *
 * One daemon process holds at most as many peers as it has files (20 000
 * here), so 100 000 holders of one hash cannot be built over sockets on
 * this machine. This measures the daemon's own lookup path instead —
 * pt_index_holders + pt_match_pick with the default matching options,
 * exactly what a `lookup` message runs — over a holder count sweep. The
 * network part of a lookup does not depend on the holder count; `--mode
 * lookup` measures it end to end for the counts sockets allow.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peertrack/addr.h"
#include "peertrack/hash.h"
#include "peertrack/index.h"
#include "peertrack/match.h"
#include "bench.h"

#define BATCH 4000
#define BATCHES 15

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void addr_of(uint32_t i, pt_addr *a)
{
	char s[32];

	/* Spread over many /24s and /16s so every proximity rank occurs. */
	snprintf(s, sizeof(s), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
	pt_addr_parse(s, strlen(s), a);
}

/* ns per lookup for each of BATCHES batches, sorted. */
static int measure(uint32_t holders, double out[BATCHES])
{
	pt_index *ix = pt_index_new(42);
	pt_match *m = pt_match_new(43);
	pt_match_opts mo = { PT_MATCH_PROXIMITY, 64, 30000 };
	pt_hash hot, other;
	pt_addr asker_addr;
	uint32_t picks[20];
	uint64_t now_ms = 1;
	volatile size_t sink = 0;
	int rc = -1;

	if (!ix || !m)
		goto out;
	pt_hash_sha256("hot", 3, &hot);
	for (uint32_t i = 0; i < holders; i++) {
		pt_addr a;

		addr_of(i, &a);
		if (pt_match_set_peer(m, i, &a) || pt_index_add(ix, i, &hot) < 0)
			goto out;
		/* Each holder holds a few other hashes too, as real peers do. */
		for (uint32_t k = 0; k < 3; k++) {
			uint32_t v = i * 3 + k;

			pt_hash_sha256(&v, sizeof(v), &other);
			if (pt_index_add(ix, i, &other) < 0)
				goto out;
		}
	}
	addr_of(holders / 2, &asker_addr);
	if (pt_match_set_peer(m, holders, &asker_addr))
		goto out;
	/* One untimed batch warms caches and the allocator. */
	for (int b = -1; b < BATCHES; b++) {
		double t0 = now_ns();

		for (int i = 0; i < BATCH; i++) {
			const uint32_t *h;
			size_t n = pt_index_holders(ix, &hot, &h);

			sink += pt_match_pick(m, &mo, h, n, holders, &asker_addr, now_ms++, picks, 20);
		}
		if (b >= 0)
			out[b] = (now_ns() - t0) / BATCH;
	}
	qsort(out, BATCHES, sizeof(out[0]), cmp_double);
	rc = sink ? 0 : -1;
out:
	pt_index_free(ix);
	pt_match_free(m);
	return rc;
}

int bench_scale_run(const bench_opts *o, FILE *f)
{
	const char *p = o->scale_list;
	double base = 0;
	bool first = true;

	if (o->json)
		fprintf(f, "{\"mode\":\"scale\",\"label\":\"%s\",\"batch\":%d,\"batches\":%d,\"points\":[",
		        o->label, BATCH, BATCHES);
	else
		fprintf(f, "%-10s %12s %12s %12s %10s\n", "holders", "ns/lookup", "min", "max",
		        "vs first");
	while (*p) {
		char *end;
		unsigned long n = strtoul(p, &end, 10);
		double t[BATCHES], med;

		if (end == p || n < 1 || n > 10000000)
			return -1;
		if (measure((uint32_t)n, t))
			return -1;
		med = t[BATCHES / 2];
		if (first)
			base = med;
		if (o->json)
			fprintf(f, "%s{\"holders\":%lu,\"ns_median\":%.1f,\"ns_min\":%.1f,\"ns_max\":%.1f,"
			        "\"vs_first\":%.3f}", first ? "" : ",", n, med, t[0], t[BATCHES - 1],
			        med / base);
		else
			fprintf(f, "%-10lu %12.1f %12.1f %12.1f %9.2fx\n", n, med, t[0], t[BATCHES - 1],
			        med / base);
		first = false;
		p = *end == ',' ? end + 1 : end;
	}
	if (o->json)
		fprintf(f, "]}\n");
	return 0;
}
