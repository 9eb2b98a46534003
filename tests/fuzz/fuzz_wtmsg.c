/* fuzz_wtmsg.c — pt_wt_msg_parse (the WebTorrent tracker protocol, /announce)
 * on arbitrary frames, under the default limits and under tiny ones. When a
 * parse succeeds: ids are exactly 20 bytes, counts are within the limits,
 * offers and answers are JSON texts no longer than the limit (verbatim
 * from the fast path, compact from the full parser); then every
 * reply that message can produce is built from the parsed ids and parsed
 * back (jansson, then pt_binstr_decode): the ids come back byte-identical
 * and the relayed offer/answer means the same JSON. Any broken invariant
 * aborts.
 *
 * Replay:   build/tests/fuzz/fuzz_wtmsg tests/fuzz/corpus/wtmsg
 * libFuzzer: make fuzz && build/libfuzzer/fuzz_wtmsg -dict=tests/fuzz/wtmsg.dict CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "check.h"
#include "peertrack/binstr.h"
#include "peertrack/buf.h"
#include "peertrack/wtmsg.h"
#include "peertrack/wtreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* The id under key in reply object o decodes to exactly want. */
static void check_id(json_t *o, const char *key, const pt_wt_id *want)
{
	json_t *v = json_object_get(o, key);
	pt_wt_id got;

	CHECK(json_is_string(v));
	CHECK(pt_binstr_decode(json_string_value(v), json_string_length(v), got.b,
	                       PT_WT_ID_BYTES) == 0);
	CHECK(memcmp(got.b, want->b, PT_WT_ID_BYTES) == 0);
}

static json_t *load(const pt_buf *b)
{
	json_error_t err;
	json_t *j = json_loadb(pt_buf_text(b), b->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);

	if (!j)
		fprintf(stderr, "fuzz_wtmsg: invalid reply (%s): %.*s\n", err.text, (int)b->len,
		        pt_buf_text(b));
	CHECK(j && json_is_object(j));
	return j;
}

/* text[0..len) is one JSON object or string (not NUL-terminated: it may
 * point into the frame) and the reply's value under key means the same. */
static void check_opaque(json_t *reply, const char *key, const char *text, size_t len,
                         uint32_t max)
{
	json_error_t err;

	CHECK(text && len <= max);
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	CHECK(v && (json_is_object(v) || json_is_string(v)));
	CHECK(json_equal(json_object_get(reply, key), v));
	json_decref(v);
}

static void check_action(json_t *o, const char *action)
{
	json_t *a = json_object_get(o, "action");
	CHECK(json_is_string(a) && strcmp(json_string_value(a), action) == 0);
}

static void round_trip(const pt_wt_msg *m, const pt_wt_limits *lim)
{
	pt_buf b;
	json_t *o;

	pt_buf_init(&b, 0);
	switch (m->type) {
	case PT_WT_ANNOUNCE: {
		pt_wt_counts c = { 1, 2, 3 };
		CHECK(pt_wt_reply_announce(&b, &m->info_hash, 120, &c) == 0);
		o = load(&b);
		check_action(o, "announce");
		check_id(o, "info_hash", &m->info_hash);
		json_decref(o);
		for (size_t i = 0; i < m->n_offers; i++) {
			const pt_wt_offer *of = &m->offers[i];
			pt_buf_reset(&b);
			CHECK(pt_wt_reply_offer(&b, &m->info_hash, &m->peer_id, &of->offer_id,
			                        of->offer, of->offer_len) == 0);
			o = load(&b);
			check_action(o, "announce");
			check_id(o, "info_hash", &m->info_hash);
			check_id(o, "peer_id", &m->peer_id);
			check_id(o, "offer_id", &of->offer_id);
			check_opaque(o, "offer", of->offer, of->offer_len, lim->max_offer_bytes);
			json_decref(o);
		}
		break;
	}
	case PT_WT_ANSWER:
		CHECK(pt_wt_reply_answer(&b, &m->info_hash, &m->peer_id, &m->offer_id, m->answer,
		                         m->answer_len) == 0);
		o = load(&b);
		check_action(o, "announce");
		check_id(o, "info_hash", &m->info_hash);
		check_id(o, "peer_id", &m->peer_id);
		check_id(o, "offer_id", &m->offer_id);
		check_opaque(o, "answer", m->answer, m->answer_len, lim->max_offer_bytes);
		json_decref(o);
		break;
	case PT_WT_SCRAPE: {
		pt_wt_counts *c = calloc(m->n_hashes, sizeof(*c));
		CHECK(c);
		CHECK(pt_wt_reply_scrape(&b, m->hashes, c, m->n_hashes, 120) == 0);
		int nul = 0;
		for (size_t i = 0; i < m->n_hashes; i++)
			nul |= memchr(m->hashes[i].b, 0, PT_WT_ID_BYTES) != NULL;
		/* jansson refuses U+0000 in object keys, so the whole reply is
		 * checked for ids without a zero byte; every id, one at a time below. */
		if (!nul) {
			o = load(&b);
			check_action(o, "scrape");
			json_t *files = json_object_get(o, "files");
			/* Distinct ids: one member each, in order (jansson keeps it). */
			CHECK(json_is_object(files) && json_object_size(files) == m->n_hashes);
			size_t i = 0;
			const char *k;
			json_t *v;
			json_object_foreach(files, k, v) {
				pt_wt_id got;
				CHECK(i < m->n_hashes && json_is_object(v));
				CHECK(pt_binstr_decode(k, strlen(k), got.b, PT_WT_ID_BYTES) == 0);
				CHECK(memcmp(got.b, m->hashes[i].b, PT_WT_ID_BYTES) == 0);
				i++;
			}
			CHECK(i == m->n_hashes);
			json_decref(o);
		}
		for (size_t i = 0; i < m->n_hashes; i++) {
			static const char head[] = "{\"action\":\"scrape\",\"files\":{";
			pt_buf_reset(&b);
			CHECK(pt_wt_reply_scrape(&b, &m->hashes[i], c, 1, 120) == 0);
			const char *t = pt_buf_text(&b);
			CHECK(b.len > sizeof(head) && !memcmp(t, head, sizeof(head) - 1));
			/* The key literal ends at its closing quote: every quote
			 * inside is escaped, so this text cannot occur within it. */
			const char *end = strstr(t, "\":{\"complete\":");
			CHECK(end);
			json_t *key = json_loadb(t + sizeof(head) - 1, (size_t)(end + 1 - t) - (sizeof(head) - 1),
			                         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
			pt_wt_id got;
			CHECK(json_is_string(key));
			CHECK(pt_binstr_decode(json_string_value(key), json_string_length(key), got.b,
			                       PT_WT_ID_BYTES) == 0);
			CHECK(memcmp(got.b, m->hashes[i].b, PT_WT_ID_BYTES) == 0);
			json_decref(key);
		}
		free(c);
		break;
	}
	default:
		CHECK(0);
	}
	/* Failures carry the info_hash byte-identical too. */
	pt_buf_reset(&b);
	CHECK(pt_wt_reply_failure(&b, m->type, m->has_info_hash ? &m->info_hash : NULL,
	                          "fuzz \"reason\"\n") == 0);
	o = load(&b);
	check_action(o, m->type == PT_WT_SCRAPE ? "scrape" : "announce");
	if (m->has_info_hash)
		check_id(o, "info_hash", &m->info_hash);
	else
		CHECK(!json_object_get(o, "info_hash"));
	json_decref(o);
	pt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The defaults, and tiny limits so every bound is reached. */
	static const pt_wt_limits limits[] = { { 10, 16384, 64 }, { 1, 256, 2 }, { 0, 256, 1 } };

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		const pt_wt_limits *lim = &limits[l];
		pt_wt_msg m;
		const char *why = NULL;

		memset(&m, 0xa5, sizeof(m)); /* the parse must not rely on a zeroed struct */
		enum pt_err e = pt_wt_msg_parse((const char *)data, size, lim, &m, &why);
		CHECK((unsigned)e < PT_E__COUNT);
		CHECK((unsigned)m.type < PT_WT__COUNT);
		if (e != PT_OK) {
			CHECK(why && *why && strlen(why) < 256);
			CHECK(!m.offers && m.n_offers == 0 && !m.answer && !m.hashes &&
			      m.n_hashes == 0);
		} else {
			CHECK(!why || *why);
			CHECK(m.n_offers <= lim->max_offers);
			CHECK(!m.n_offers == !m.offers);
			CHECK(m.n_hashes <= lim->max_scrape);
			CHECK(m.type == PT_WT_SCRAPE ? m.n_hashes >= 1 : m.n_hashes == 0);
			CHECK(m.type == PT_WT_ANSWER ? m.answer != NULL : m.answer == NULL);
			if (m.type != PT_WT_SCRAPE)
				CHECK(m.has_info_hash);
			CHECK(m.type == PT_WT_ANNOUNCE || m.n_offers == 0);
			CHECK(m.numwant >= -1);
			for (size_t i = 0; i < m.n_hashes; i++)
				for (size_t j = 0; j < i; j++)
					CHECK(memcmp(m.hashes[i].b, m.hashes[j].b, PT_WT_ID_BYTES));
			round_trip(&m, lim);
		}
		pt_wt_msg_clear(&m);
		pt_wt_msg_clear(&m); /* twice is safe */
	}
	return 0;
}
