/* index_stall.c — the longest single call of the live index while it fills
 * to the default max_index_entries (2 M: 8 000 peers x 256 fresh hashes,
 * as the index flood of docs/BENCHMARKS.md, "Hostile load") and drains
 * again (every peer removed). A table resized in one go shows up here as
 * one call taking a good part of a second; an incremental resize does
 * not. Prints one JSON line.
 *
 *   build/tests/bench/index_stall [peers [hashes-per-peer]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "peertrack/index.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	uint32_t peers = argc > 1 ? (uint32_t)atoi(argv[1]) : 8000;
	uint32_t per = argc > 2 ? (uint32_t)atoi(argv[2]) : 256;
	pt_index *ix = pt_index_new(42);
	if (!ix)
		return 1;
	double add_max = 0, add_total = 0, rm_max = 0, rm_total = 0;
	uint64_t n = 0;
	for (uint32_t p = 0; p < peers; p++) {
		for (uint32_t i = 0; i < per; i++, n++) {
			pt_hash h;
			pt_hash_sha256(&n, sizeof n, &h);
			double t = now_us();
			if (pt_index_add(ix, p, &h) != 1)
				return 1;
			double d = now_us() - t;
			add_total += d;
			if (d > add_max)
				add_max = d;
		}
	}
	size_t entries = pt_index_entries(ix), mem = pt_index_memory(ix);
	/* A peer's removal drops its 256 entries: the unit of work of a
	 * closing connection. */
	for (uint32_t p = 0; p < peers; p++) {
		double t = now_us();
		pt_index_remove_peer(ix, p);
		double d = now_us() - t;
		rm_total += d;
		if (d > rm_max)
			rm_max = d;
	}
	printf("{\"entries\": %zu, \"memory_mib\": %.1f, \"add_max_us\": %.0f, \"add_mean_us\": %.3f, "
	       "\"remove_peer_max_us\": %.0f, \"remove_peer_mean_us\": %.1f}\n",
	       entries, mem / 1048576.0, add_max, add_total / (double)n, rm_max, rm_total / peers);
	pt_index_free(ix);
	return 0;
}
