/* fuzz_wtfast.c — differential test of the /announce fast path against the
 * full parser: whenever pt_wt_fast_parse accepts a frame, pt_wt_msg_parse_json
 * must accept it too, with the same type, ids, event, numwant and seeder
 * flag, the same offers in order, and offer/answer texts that mean the
 * same JSON and are never shorter than the full parser's compact ones (so
 * the size limit cannot let more through). The fast path may decline
 * anything; it must never accept more or mean something else.
 *
 * Replay:   build/tests/fuzz/fuzz_wtfast tests/fuzz/corpus/wtfast
 * libFuzzer: make fuzz && build/libfuzzer/fuzz_wtfast -dict=tests/fuzz/wtmsg.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "check.h"
#include "peertrack/wtfast.h"
#include "peertrack/wtmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_json(const char *a, size_t alen, const char *b, size_t blen, uint32_t max)
{
	json_error_t e1, e2;
	json_t *x = json_loadb(a, alen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e1);
	json_t *y = json_loadb(b, blen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e2);

	CHECK(alen <= max && blen <= alen);
	CHECK(x && y && (json_is_object(x) || json_is_string(x)) && json_equal(x, y));
	json_decref(x);
	json_decref(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The defaults, and tiny limits so the fast path's bounds are reached. */
	static const pt_wt_limits limits[] = { { 10, 16384, 64 }, { 1, 256, 2 }, { 0, 256, 1 },
	                                       { 100, 16384, 64 } };
	const char *frame = (const char *)data;

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		const pt_wt_limits *lim = &limits[l];
		pt_wt_msg f, m;
		const char *why = NULL;

		memset(&f, 0xa5, sizeof(f)); /* must not rely on a zeroed struct */
		if (!pt_wt_fast_parse(frame, size, lim, &f)) {
			pt_wt_msg_clear(&f); /* safe after a decline too */
			continue;
		}
		CHECK(pt_wt_msg_parse_json(frame, size, lim, &m, &why) == PT_OK);
		CHECK(f.type == m.type && f.type != PT_WT_SCRAPE);
		CHECK(f.has_info_hash && m.has_info_hash);
		CHECK(!memcmp(&f.info_hash, &m.info_hash, sizeof(f.info_hash)));
		CHECK(!memcmp(&f.peer_id, &m.peer_id, sizeof(f.peer_id)));
		if (f.type == PT_WT_ANSWER) {
			CHECK(!memcmp(&f.to_peer_id, &m.to_peer_id, sizeof(f.to_peer_id)));
			CHECK(!memcmp(&f.offer_id, &m.offer_id, sizeof(f.offer_id)));
			/* Borrowed from the frame, not copied. */
			CHECK(f.answer >= frame && f.answer + f.answer_len <= frame + size);
			same_json(f.answer, f.answer_len, m.answer, m.answer_len, lim->max_offer_bytes);
			CHECK(f.n_offers == 0);
		} else {
			CHECK(f.event == m.event && f.numwant == m.numwant && f.seeder == m.seeder);
			CHECK(f.n_offers == m.n_offers && f.n_offers <= lim->max_offers);
			CHECK(!f.n_offers == !f.offers);
			for (size_t i = 0; i < f.n_offers; i++) {
				const pt_wt_offer *a = &f.offers[i], *b = &m.offers[i];

				CHECK(!memcmp(&a->offer_id, &b->offer_id, sizeof(a->offer_id)));
				CHECK(a->offer >= frame && a->offer + a->offer_len <= frame + size);
				same_json(a->offer, a->offer_len, b->offer, b->offer_len,
				          lim->max_offer_bytes);
			}
		}
		pt_wt_msg_clear(&f);
		pt_wt_msg_clear(&m);
	}
	return 0;
}
