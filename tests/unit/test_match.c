/* test_match.c — peer matching: proximity order, the asker excluded,
 * hand-out spreading and decay, the random strategy, bounded sampling. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/match.h"

static pt_addr A(const char *s)
{
	pt_addr a;
	assert_int_equal(pt_addr_parse(s, strlen(s), &a), 0);
	return a;
}

static void set(pt_match *m, uint32_t peer, const char *addr)
{
	pt_addr a = A(addr);
	assert_int_equal(pt_match_set_peer(m, peer, &a), 0);
}

static const pt_match_opts prox = { PT_MATCH_PROXIMITY, 64, 10000 };
static const pt_match_opts rnd = { PT_MATCH_RANDOM, 64, 10000 };

static void test_proximity_order(void **state)
{
	(void)state;
	pt_match *m = pt_match_new(1);
	assert_non_null(m);
	set(m, 10, "10.1.2.3");   /* the asker */
	set(m, 1, "10.1.2.3");    /* same address (same NAT) */
	set(m, 2, "10.1.2.77");   /* same /24 */
	set(m, 3, "10.1.200.1");  /* same /16 */
	set(m, 4, "192.0.2.1");   /* elsewhere */
	set(m, 5, "2001:db8::1"); /* other family */
	const uint32_t holders[] = { 5, 4, 3, 10, 2, 1 };
	pt_addr me = A("10.1.2.3");
	uint32_t out[8];

	/* Hand-outs pile up on every pick, but never outrank proximity. */
	for (int round = 0; round < 20; round++) {
		size_t n = pt_match_pick(m, &prox, holders, 6, 10, &me, 1000, out, 8);
		assert_int_equal(n, 5);
		assert_int_equal(out[0], 1);
		assert_int_equal(out[1], 2);
		assert_int_equal(out[2], 3);
		assert_true((out[3] == 4 && out[4] == 5) || (out[3] == 5 && out[4] == 4));
	}
	/* k smaller than the candidates: the best k, in order. */
	assert_int_equal(pt_match_pick(m, &prox, holders, 6, 10, &me, 1000, out, 2), 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);

	/* IPv6: same address, same /48, same /32, other. */
	set(m, 20, "2001:db8:aa:1::1");
	set(m, 21, "2001:db8:aa:ffff::9");
	set(m, 22, "2001:db8:bb::1");
	set(m, 23, "2001:db9::1");
	set(m, 24, "2001:db8:aa:1::1");
	const uint32_t h6[] = { 23, 22, 21, 24 };
	pt_addr me6 = A("2001:db8:aa:1::1");
	assert_int_equal(pt_match_pick(m, &prox, h6, 4, 20, &me6, 1000, out, 4), 4);
	assert_int_equal(out[0], 24);
	assert_int_equal(out[1], 21);
	assert_int_equal(out[2], 22);
	assert_int_equal(out[3], 23);
	pt_match_free(m);
}

static void test_asker_never_returned(void **state)
{
	(void)state;
	pt_match *m = pt_match_new(2);
	pt_addr me = A("10.0.0.1");
	for (uint32_t p = 0; p < 200; p++)
		set(m, p, "10.0.0.1");
	uint32_t holders[200], out[200];
	for (uint32_t p = 0; p < 200; p++)
		holders[p] = p;

	/* Alone: nothing to return. */
	assert_int_equal(pt_match_pick(m, &prox, holders + 7, 1, 7, &me, 0, out, 5), 0);
	/* Among few (all ranked) and among many (sampled). */
	for (int i = 0; i < 200; i++) {
		size_t n = pt_match_pick(m, &prox, holders, 10, 3, &me, 0, out, 20);
		assert_int_equal(n, 9);
		for (size_t j = 0; j < n; j++)
			assert_int_not_equal(out[j], 3);
		pt_match_opts small = { PT_MATCH_RANDOM, 8, 1000 };
		n = pt_match_pick(m, &small, holders, 200, 150, &me, 0, out, 20);
		assert_true(n == 8 || n == 7); /* 7 when the asker was sampled */
		for (size_t j = 0; j < n; j++)
			assert_int_not_equal(out[j], 150);
	}
	/* k == 0 and no holders. */
	assert_int_equal(pt_match_pick(m, &prox, holders, 10, 3, &me, 0, out, 0), 0);
	assert_int_equal(pt_match_pick(m, &prox, holders, 0, 3, &me, 0, out, 5), 0);
	pt_match_free(m);
}

/* Eight seeders, same proximity: successive single picks rotate over all
 * of them before any is handed out twice. */
static void test_handout_spreading(void **state)
{
	(void)state;
	pt_match *m = pt_match_new(3);
	const uint32_t holders[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	for (uint32_t p = 1; p <= 8; p++)
		set(m, p, "198.51.100.7");
	pt_addr me = A("203.0.113.1");
	for (int round = 1; round <= 5; round++) {
		unsigned seen = 0;
		for (int i = 0; i < 8; i++) {
			uint32_t out;
			assert_int_equal(pt_match_pick(m, &prox, holders, 8, 0, &me, 500, &out, 1), 1);
			assert_true(out >= 1 && out <= 8);
			assert_false(seen & (1u << out));
			seen |= 1u << out;
		}
		assert_int_equal(seen, 0x1feu);
	}

	/* Re-registering resets the counter: that peer is picked next. */
	set(m, 5, "198.51.100.7");
	uint32_t out;
	assert_int_equal(pt_match_pick(m, &prox, holders, 8, 0, &me, 500, &out, 1), 1);
	assert_int_equal(out, 5);
	pt_match_free(m);
}

/* Lookups that return every holder must still spread the first choice:
 * only the first answer is counted as a hand-out. */
static void test_handout_first_only(void **state)
{
	(void)state;
	pt_match *m = pt_match_new(5);
	const uint32_t holders[] = { 1, 2, 3, 4 };
	uint32_t out[4];
	unsigned firsts = 0;

	for (uint32_t p = 1; p <= 4; p++)
		set(m, p, "198.51.100.7");
	pt_addr me = A("203.0.113.1");
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pt_match_pick(m, &prox, holders, 4, 0, &me, 500, out, 4), 4);
		assert_false(firsts & (1u << out[0]));
		firsts |= 1u << out[0];
	}
	assert_int_equal(firsts, 0x1eu);
	pt_match_free(m);
}

/* A's counter is 8 at t0 (B is fresh). Undecayed, B wins the next picks
 * until it has caught up; after three half-lives A is down to 1 and is
 * handed out again within three picks. */
static void test_decay(void **state)
{
	(void)state;
	const uint32_t half = 1000;
	const pt_match_opts o = { PT_MATCH_PROXIMITY, 64, half };
	const uint32_t onlyA[] = { 1 }, both[] = { 1, 2 };
	pt_addr me = A("203.0.113.1");
	uint32_t out;

	for (int decayed = 0; decayed <= 1; decayed++) {
		pt_match *m = pt_match_new(4);
		set(m, 1, "198.51.100.1");
		set(m, 2, "198.51.100.2");
		uint64_t t0 = 50000;
		for (int i = 0; i < 8; i++)
			assert_int_equal(pt_match_pick(m, &o, onlyA, 1, 0, &me, t0, &out, 1), 1);
		if (!decayed) {
			/* Just under one half-life: no halving yet. */
			for (int i = 0; i < 8; i++) {
				assert_int_equal(pt_match_pick(m, &o, both, 2, 0, &me, t0 + half - 1, &out, 1), 1);
				assert_int_equal(out, 2);
			}
		} else {
			uint64_t t = t0 + 3 * half;
			bool got_a = false;
			assert_int_equal(pt_match_pick(m, &o, both, 2, 0, &me, t, &out, 1), 1);
			assert_int_equal(out, 2); /* 0 < 1 */
			for (int i = 0; i < 2; i++) {
				assert_int_equal(pt_match_pick(m, &o, both, 2, 0, &me, t, &out, 1), 1);
				got_a |= out == 1;
			}
			assert_true(got_a);
		}
		pt_match_free(m);
	}

	/* The remainder of a half-life carries: halvings fall at t0 + h,
	 * t0 + 2h ... however the reads are spaced. A gets 8 at t0; a read at
	 * t0 + 1.5h halves it once (4, period now starting at t0 + h), so at
	 * t0 + 2h it halves again (2). B is brought to 3 at t0 + 1.5h and
	 * stays 3. A must win at t0 + 2h; restarting the period at the read
	 * would leave A at 4 and hand out B. */
	pt_match *m = pt_match_new(5);
	set(m, 1, "198.51.100.1");
	set(m, 2, "198.51.100.2");
	const uint32_t onlyB[] = { 2 };
	const uint64_t t0 = 50000;
	for (int i = 0; i < 8; i++)
		pt_match_pick(m, &o, onlyA, 1, 0, &me, t0, &out, 1);
	assert_int_equal(pt_match_pick(m, &o, both, 2, 0, &me, t0 + 1500, &out, 1), 1);
	assert_int_equal(out, 2); /* B 0 < A 4 */
	for (int i = 0; i < 2; i++)
		pt_match_pick(m, &o, onlyB, 1, 0, &me, t0 + 1500, &out, 1);
	assert_int_equal(pt_match_pick(m, &o, both, 2, 0, &me, t0 + 2000, &out, 1), 1);
	assert_int_equal(out, 1); /* A 2 < B 3 */
	pt_match_free(m);

	/* 33 and more half-lives clear any counter (a shift by 32 or more
	 * would be undefined, not zero). */
	m = pt_match_new(6);
	set(m, 1, "198.51.100.1");
	set(m, 2, "198.51.100.2");
	for (int i = 0; i < 300; i++)
		pt_match_pick(m, &o, onlyA, 1, 0, &me, t0, &out, 1);
	const uint64_t later = t0 + 33 * (uint64_t)half;
	for (int i = 0; i < 2; i++)
		pt_match_pick(m, &o, onlyB, 1, 0, &me, later, &out, 1);
	assert_int_equal(pt_match_pick(m, &o, both, 2, 0, &me, later, &out, 1), 1);
	assert_int_equal(out, 1); /* A 0 < B 2 */
	/* And an absurd idle time neither overflows nor wraps. */
	for (int i = 0; i < 2; i++)
		pt_match_pick(m, &o, onlyA, 1, 0, &me, later, &out, 1);
	unsigned seen = 0;
	for (int i = 0; i < 2; i++) { /* both back to 0: one each */
		assert_int_equal(pt_match_pick(m, &o, both, 2, 0, &me, UINT64_MAX, &out, 1), 1);
		seen |= 1u << out;
	}
	assert_int_equal(seen, 0x6u);
	pt_match_free(m);
}

static void test_random_ignores_proximity(void **state)
{
	(void)state;
	pt_match *m = pt_match_new(6);
	uint32_t holders[51];
	set(m, 0, "10.9.9.9"); /* same address as the asker */
	holders[0] = 0;
	for (uint32_t p = 1; p <= 50; p++) {
		set(m, p, "192.0.2.200");
		holders[p] = p;
	}
	pt_addr me = A("10.9.9.9");
	unsigned hits[51] = { 0 };
	uint32_t out;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(pt_match_pick(m, &prox, holders, 51, 99, &me, 0, &out, 1), 1);
		assert_int_equal(out, 0);
	}
	for (int i = 0; i < 5100; i++) {
		assert_int_equal(pt_match_pick(m, &rnd, holders, 51, 99, &me, 0, &out, 1), 1);
		hits[out]++;
	}
	/* ~100 each; proximity would give peer 0 all 5100. */
	assert_true(hits[0] > 40 && hits[0] < 200);
	for (uint32_t p = 1; p <= 50; p++)
		assert_true(hits[p] > 40 && hits[p] < 200);
	pt_match_free(m);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* 100000 holders, sample 64: each pick returns k distinct holders, and
 * the draws cover the whole array evenly (a biased sampler, e.g. the
 * first 64, would not). */
static void test_sampling_bounds_work(void **state)
{
	(void)state;
	enum { N = 100000, K = 20, PICKS = 2000 };
	pt_match *m = pt_match_new(7);
	uint32_t *holders = malloc(N * sizeof *holders);
	assert_non_null(holders);
	/* Holders are a permutation of handles 1000..100999. */
	for (uint32_t i = 0; i < N; i++)
		holders[i] = 1000 + (uint32_t)(((uint64_t)i * 7919) % N);
	for (uint32_t i = 0; i < N; i += 997)
		set(m, holders[i], "192.0.2.1");
	pt_addr me = A("203.0.113.1");
	unsigned halves[2] = { 0, 0 };
	uint32_t out[K], sorted[K];
	for (int i = 0; i < PICKS; i++) {
		const pt_match_opts *o = i % 2 ? &prox : &rnd;
		size_t n = pt_match_pick(m, o, holders, N, holders[5], &me, (uint64_t)i, out, K);
		assert_int_equal(n, K);
		memcpy(sorted, out, sizeof out);
		qsort(sorted, K, sizeof sorted[0], cmp_u32);
		for (int j = 0; j < K; j++) {
			assert_true(sorted[j] >= 1000 && sorted[j] < 1000 + N);
			assert_int_not_equal(sorted[j], holders[5]);
			if (j)
				assert_int_not_equal(sorted[j], sorted[j - 1]);
		}
		/* Position of each result in holders[] (inverse of the
		 * permutation above: 7919^-1 mod 100000). */
		for (int j = 0; j < K; j++) {
			uint64_t v = out[j] - 1000;
			uint64_t pos = (v * 17679) % N;
			assert_int_equal(holders[pos], out[j]);
			halves[pos >= N / 2]++;
		}
	}
	/* 40000 draws: each half expects 20000 (sd ~100). */
	assert_true(halves[0] > 19000 && halves[1] > 19000);

	/* More than the sample wanted: capped at the sample size. */
	uint32_t big[200];
	pt_match_opts s8 = { PT_MATCH_PROXIMITY, 8, 1000 };
	assert_int_equal(pt_match_pick(m, &s8, holders, N, 0, &me, 0, big, 200), 8);
	/* Fewer holders than the sample: every one of them is ranked. */
	assert_int_equal(pt_match_pick(m, &prox, holders, 30, 0, &me, 0, big, 200), 30);
	qsort(big, 30, sizeof big[0], cmp_u32);
	uint32_t want[30];
	memcpy(want, holders, sizeof want);
	qsort(want, 30, sizeof want[0], cmp_u32);
	assert_memory_equal(big, want, sizeof want);
	free(holders);
	pt_match_free(m);
}

static void test_unregistered_and_cleared(void **state)
{
	(void)state;
	pt_match *m = pt_match_new(8);
	set(m, 1, "10.0.0.1");
	set(m, 2, "10.0.0.2");
	pt_addr me = A("10.0.0.1");
	const uint32_t holders[] = { 2, 1, 500000 }; /* 500000 never registered */
	uint32_t out[3];
	assert_int_equal(pt_match_pick(m, &prox, holders, 3, 9, &me, 0, out, 3), 3);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 500000);
	pt_match_clear_peer(m, 1); /* no address any more: ranks last */
	pt_match_clear_peer(m, 123456); /* never set: no-op */
	const uint32_t two[] = { 1, 2 };
	assert_int_equal(pt_match_pick(m, &prox, two, 2, 9, &me, 0, out, 2), 2);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 1);
	/* No asker address: everyone is "other", still k distinct results. */
	assert_int_equal(pt_match_pick(m, &prox, holders, 3, 9, NULL, 0, out, 3), 3);
	assert_true(out[0] != out[1] && out[1] != out[2] && out[0] != out[2]);
	pt_match_free(m);
}

/* A dropped peer (leaving, still among holders) is never picked, in the
 * whole-array branch and the sampled one, by either strategy, until it is
 * registered again. */
static void test_dropped_never_picked(void **state)
{
	(void)state;
	enum { N = 200 };
	pt_match *m = pt_match_new(9);
	uint32_t holders[N], out[N];
	pt_addr me = A("10.0.0.1");
	const pt_match_opts small = { PT_MATCH_PROXIMITY, 16, 10000 };
	const pt_match_opts small_rnd = { PT_MATCH_RANDOM, 16, 10000 };

	for (uint32_t i = 0; i < N; i++) {
		holders[i] = i;
		set(m, i, "10.0.0.1"); /* all the asker's neighbours */
	}
	for (uint32_t i = 0; i < N; i += 2)
		assert_int_equal(pt_match_drop_peer(m, i), 0);
	for (int round = 0; round < 50; round++) {
		const pt_match_opts *o[] = { &prox, &rnd, &small, &small_rnd };
		for (int k = 0; k < 4; k++) {
			size_t n = pt_match_pick(m, o[k], holders, N, 999, &me, 0, out, N);
			assert_true(n > 0);
			for (size_t i = 0; i < n; i++)
				assert_int_equal(out[i] % 2, 1);
		}
	}
	/* All 100 live ones when the sample covers them all. */
	const pt_match_opts all = { PT_MATCH_PROXIMITY, N, 10000 };
	assert_int_equal(pt_match_pick(m, &all, holders, N, 999, &me, 0, out, N), N / 2);
	/* Registered again (a reused handle, a resume): picked again. */
	set(m, 0, "10.0.0.1");
	assert_int_equal(pt_match_pick(m, &prox, holders, 1, 999, &me, 0, out, 1), 1);
	assert_int_equal(out[0], 0);
	/* Dropping a handle never registered grows the table. */
	assert_int_equal(pt_match_drop_peer(m, 100000), 0);
	holders[0] = 100000;
	assert_int_equal(pt_match_pick(m, &prox, holders, 1, 999, &me, 0, out, 1), 0);
	pt_match_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proximity_order),
		cmocka_unit_test(test_asker_never_returned),
		cmocka_unit_test(test_handout_spreading),
		cmocka_unit_test(test_handout_first_only),
		cmocka_unit_test(test_decay),
		cmocka_unit_test(test_random_ignores_proximity),
		cmocka_unit_test(test_sampling_bounds_work),
		cmocka_unit_test(test_unregistered_and_cleared),
		cmocka_unit_test(test_dropped_never_picked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
