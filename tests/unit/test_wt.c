/* test_wt.c — the WebTorrent tracker protocol's pure parts: binary-string
 * codec, message parsing and limits, reply encoders, swarm bindings and
 * the relayed-offer table. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "peertrack/binstr.h"
#include "peertrack/wtallow.h"
#include "peertrack/wtfast.h"
#include "peertrack/wtmsg.h"
#include "peertrack/wtoffers.h"
#include "peertrack/wtreply.h"
#include "peertrack/wtswarm.h"

static const pt_wt_limits lim = { 5, 4096, 4 };

/* -- binary strings ------------------------------------------------------ */

static void test_binstr_every_byte(void **state)
{
	(void)state;
	/* Every byte value, encoded and decoded back, through jansson too. */
	for (int start = 0; start < 256; start += 20) {
		uint8_t in[20], out[20];
		pt_buf b;
		json_error_t jerr;

		for (int i = 0; i < 20; i++)
			in[i] = (uint8_t)((start + i) & 0xff);
		pt_buf_init(&b, 0);
		assert_int_equal(pt_buf_binstr(&b, in, 20), 0);
		json_t *v = json_loadb(pt_buf_text(&b), b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		assert_non_null(v);
		assert_int_equal(pt_binstr_decode(json_string_value(v), json_string_length(v), out, 20), 0);
		assert_memory_equal(in, out, 20);
		json_decref(v);
		pt_buf_free(&b);
	}
}

static void test_binstr_spelling(void **state)
{
	(void)state;
	/* The spelling JSON.stringify gives, byte for byte. */
	uint8_t in[8] = { 0x00, '"', '\\', '\n', 0x1f, 0x7f, 0x80, 0xff };
	pt_buf b;

	pt_buf_init(&b, 0);
	assert_int_equal(pt_buf_binstr(&b, in, 8), 0);
	assert_string_equal(pt_buf_text(&b), "\"\\u0000\\\"\\\\\\n\\u001f\x7f\xc2\x80\xc3\xbf\"");
	pt_buf_free(&b);
}

static void test_binstr_refuses(void **state)
{
	(void)state;
	uint8_t out[4] = { 9, 9, 9, 9 };

	assert_int_equal(pt_binstr_decode("abc", 3, out, 4), -EINVAL);          /* short */
	assert_int_equal(pt_binstr_decode("abcde", 5, out, 4), -EINVAL);        /* long */
	assert_int_equal(pt_binstr_decode("ab\xc4\x80", 4, out, 3), -EINVAL);   /* U+0100 */
	assert_int_equal(pt_binstr_decode("a\xe2\x82\xac", 4, out, 2), -EINVAL); /* U+20AC */
	assert_int_equal(pt_binstr_decode("abc\xc3", 4, out, 4), -EINVAL);      /* cut */
	assert_int_equal(pt_binstr_decode("ab\xc1\x81", 4, out, 3), -EINVAL);   /* overlong */
	assert_int_equal(pt_binstr_decode("ab\xc3\x41", 4, out, 3), -EINVAL);   /* bad continuation */
	assert_int_equal(out[0], 9); /* untouched on failure */
	assert_int_equal(pt_binstr_decode("a\0\xc3\xbf", 4, out, 3), 0);
	assert_int_equal(out[0], 'a');
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 0xff);
}

/* -- messages ------------------------------------------------------------ */

#define IH "\\u0000\\\"\\\\\xc2\x80\xc3\xbf" "abcdefghijklmno" /* 20 units */
#define PID "-WW0001-\\u00ff1234567890\xc3\xa9"

/* Offer and answer texts are not NUL-terminated (they may point into the
 * frame). */
static void assert_text(const char *p, size_t n, const char *want)
{
	assert_non_null(p);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

static enum pt_err parse(const char *text, pt_wt_msg *m, const char **why)
{
	return pt_wt_msg_parse(text, strlen(text), &lim, m, why);
}

static void test_parse_announce(void **state)
{
	(void)state;
	pt_wt_msg m;
	const char *why;

	assert_int_equal(parse("{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	                       "\",\"numwant\":2,\"uploaded\":0,\"downloaded\":1.5,\"event\":\"started\","
	                       "\"offers\":[{\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"},"
	                       "\"offer_id\":\"" PID "\"},{\"offer\":\"encrypted\",\"offer_id\":\"" IH "\"}]}",
	                       &m, &why),
	                 PT_OK);
	assert_int_equal(m.type, PT_WT_ANNOUNCE);
	assert_true(m.has_info_hash);
	assert_int_equal(m.info_hash.b[0], 0);
	assert_int_equal(m.info_hash.b[1], '"');
	assert_int_equal(m.info_hash.b[2], '\\');
	assert_int_equal(m.info_hash.b[3], 0x80);
	assert_int_equal(m.info_hash.b[4], 0xff);
	assert_int_equal(m.peer_id.b[8], 0xff);
	assert_int_equal(m.peer_id.b[19], 0xe9);
	assert_int_equal(m.event, PT_WT_EV_STARTED);
	assert_int_equal(m.numwant, 2);
	assert_false(m.seeder); /* no "left": a leecher */
	assert_int_equal(m.n_offers, 2);
	assert_text(m.offers[0].offer, m.offers[0].offer_len, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}");
	assert_text(m.offers[1].offer, m.offers[1].offer_len, "\"encrypted\"");
	assert_memory_equal(&m.offers[0].offer_id, &m.peer_id, 20);
	pt_wt_msg_clear(&m);

	assert_int_equal(parse("{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	                       "\",\"left\":0,\"event\":\"completed\"}", &m, &why), PT_OK);
	assert_true(m.seeder);
	assert_int_equal(m.numwant, -1);
	assert_int_equal(m.event, PT_WT_EV_COMPLETED);
	pt_wt_msg_clear(&m);

	/* WebTorrent's "left": Infinity before metadata arrives as null. */
	assert_int_equal(parse("{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	                       "\",\"left\":null,\"uploaded\":null}", &m, &why), PT_OK);
	assert_false(m.seeder);
	pt_wt_msg_clear(&m);
}

static void test_parse_answer_scrape(void **state)
{
	(void)state;
	pt_wt_msg m;
	const char *why;

	assert_int_equal(parse("{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	                       "\",\"to_peer_id\":\"" IH "\",\"offer_id\":\"" PID "\","
	                       "\"answer\":{\"type\":\"answer\",\"sdp\":\"x\"}}", &m, &why), PT_OK);
	assert_int_equal(m.type, PT_WT_ANSWER);
	assert_memory_equal(&m.to_peer_id, &m.info_hash, 20);
	assert_memory_equal(&m.offer_id, &m.peer_id, 20);
	assert_text(m.answer, m.answer_len, "{\"type\":\"answer\",\"sdp\":\"x\"}");
	pt_wt_msg_clear(&m);

	assert_int_equal(parse("{\"action\":\"scrape\",\"info_hash\":[\"" IH "\",\"" PID "\",\"" IH "\"]}",
	                       &m, &why), PT_OK);
	assert_int_equal(m.type, PT_WT_SCRAPE);
	assert_int_equal(m.n_hashes, 2); /* repeats folded */
	pt_wt_msg_clear(&m);
	assert_int_equal(parse("{\"action\":\"scrape\",\"info_hash\":\"" IH "\"}", &m, &why), PT_OK);
	assert_int_equal(m.n_hashes, 1);
	assert_true(m.has_info_hash);
	pt_wt_msg_clear(&m);
}

static void test_parse_refuses(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum pt_err e;
		bool ih_known;
		const char *why_has;
	} bad[] = {
		{ "{", PT_E_BAD_JSON, false, "not valid JSON" },
		{ "[]", PT_E_BAD_MESSAGE, false, "object" },
		{ "{\"action\":\"connect\"}", PT_E_UNKNOWN_TYPE, false, "action" },
		{ "{\"info_hash\":\"" IH "\"}", PT_E_UNKNOWN_TYPE, false, "action" },
		{ "{\"action\":\"announce\",\"info_hash\":\"short\",\"peer_id\":\"" PID "\"}",
		  PT_E_BAD_MESSAGE, false, "info_hash" },
		{ "{\"action\":\"announce\",\"info_hash\":\"abcdefghijklmnopqrs\xc4\x80\",\"peer_id\":\"" PID "\"}",
		  PT_E_BAD_MESSAGE, false, "info_hash" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":7}",
		  PT_E_BAD_MESSAGE, true, "peer_id" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"event\":\"go\"}",
		  PT_E_BAD_MESSAGE, true, "event" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"numwant\":-1}",
		  PT_E_BAD_MESSAGE, true, "numwant" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"left\":\"5\"}",
		  PT_E_BAD_MESSAGE, true, "left" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":{}}",
		  PT_E_BAD_MESSAGE, true, "offers" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":[1,2,3,4,5,6]}",
		  PT_E_TOO_MANY_HASHES, true, "too many offers" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":[{\"offer\":{}}]}",
		  PT_E_BAD_MESSAGE, true, "offer_id" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":[{\"offer_id\":\"" PID "\",\"offer\":3}]}",
		  PT_E_BAD_MESSAGE, true, "offer" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"answer\":{}}",
		  PT_E_BAD_MESSAGE, true, "to_peer_id" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"answer\":{},\"to_peer_id\":\"" PID "\"}",
		  PT_E_BAD_MESSAGE, true, "offer_id" },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"info_hash\":\"" IH "\"}",
		  PT_E_BAD_MESSAGE, false, "twice" },
		{ "{\"action\":\"scrape\"}", PT_E_BAD_MESSAGE, false, "full scrape" },
		{ "{\"action\":\"scrape\",\"info_hash\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
		  PT_E_TOO_MANY_HASHES, false, "too many" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pt_wt_msg m;
		const char *why = NULL;
		enum pt_err e = parse(bad[i].text, &m, &why);

		if (e != bad[i].e || m.has_info_hash != bad[i].ih_known || !why ||
		    !strstr(why, bad[i].why_has))
			fail_msg("case %zu (%s): e=%d why=%s", i, bad[i].text, e, why ? why : "-");
		assert_null(m.offers);
		pt_wt_msg_clear(&m);
	}
	/* An offer over max_offer_bytes. */
	char big[6000];
	int n = snprintf(big, sizeof(big), "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID
	                 "\",\"offers\":[{\"offer_id\":\"" PID "\",\"offer\":\"");
	memset(big + n, 'x', 4200);
	strcpy(big + n + 4200, "\"}]}");
	pt_wt_msg m;
	const char *why;
	assert_int_equal(parse(big, &m, &why), PT_E_TOO_LARGE);
	assert_non_null(strstr(why, "offer larger"));
	pt_wt_msg_clear(&m);
}

/* -- the fast path ------------------------------------------------------- */

/* Every byte, spelled raw and escaped, decodes from a JSON string's raw
 * content as the full parser's unescape + pt_binstr_decode would. */
static void test_binstr_decode_json(void **state)
{
	(void)state;
	uint8_t out[1];

	for (unsigned c = 0; c < 256; c++) {
		char raw[8], esc[8];
		size_t n;
		json_t *j;

		snprintf(esc, sizeof(esc), "\\u00%02X", c);
		assert_int_equal(pt_binstr_decode_json(esc, 6, out, 1), 0);
		assert_int_equal(out[0], c);
		/* The JSON.stringify spelling (pt_buf_binstr) minus its quotes. */
		pt_buf b;
		uint8_t byte = (uint8_t)c;
		pt_buf_init(&b, 0);
		assert_int_equal(pt_buf_binstr(&b, &byte, 1), 0);
		n = b.len - 2;
		memcpy(raw, pt_buf_text(&b) + 1, n);
		j = json_loadb(pt_buf_text(&b), b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		assert_non_null(j);
		assert_int_equal(pt_binstr_decode_json(raw, n, out, 1), 0);
		assert_int_equal(out[0], c);
		json_decref(j);
		pt_buf_free(&b);
	}
	assert_int_equal(pt_binstr_decode_json("\\/", 2, out, 1), 0);
	assert_int_equal(out[0], '/');
	/* Above U+00FF (a surrogate too), cut escapes, raw control bytes. */
	assert_int_equal(pt_binstr_decode_json("\\u0100", 6, out, 1), -EINVAL);
	assert_int_equal(pt_binstr_decode_json("\\ud800", 6, out, 1), -EINVAL);
	assert_int_equal(pt_binstr_decode_json("\\u00f", 5, out, 1), -EINVAL);
	assert_int_equal(pt_binstr_decode_json("\\x", 2, out, 1), -EINVAL);
	assert_int_equal(pt_binstr_decode_json("\n", 1, out, 1), -EINVAL);
	assert_int_equal(pt_binstr_decode_json("\xc4\x80", 2, out, 1), -EINVAL);
	assert_int_equal(pt_binstr_decode_json("ab", 2, out, 1), -EINVAL);
}

static const pt_wt_limits wide = { 100, 4096, 4 };

/* Frames as bittorrent-tracker's client writes them (escaped and raw
 * binary ids, SDP with \r\n) take the fast path, which reads them as the
 * full parser does and relays offers and answers as spelled. */
static void test_fast_accepts(void **state)
{
	(void)state;
	static const char announce[] =
		"{ \"action\" : \"announce\", \"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\","
		"\"numwant\":2,\"uploaded\":0,\"downloaded\":17,\"left\":0,\"event\":\"completed\","
		"\"offers\":[ {\"offer\": {\"type\":\"offer\", \"sdp\":\"v=0\\r\\n\\u00e9\"} ,"
		"\"offer_id\":\"" PID "\"},{\"offer_id\":\"" IH "\",\"x\":[1,{\"y\":null}],"
		"\"offer\":\"encrypted\"}],\"unknown\":{\"a\":[true,false]}}\n";
	static const char answer[] =
		"{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\","
		"\"to_peer_id\":\"" IH "\",\"offer_id\":\"" PID "\","
		"\"answer\":{\"type\":\"answer\",\"sdp\":\"a=\\\"q\\\"\"},\"offers\":[]}";
	static const char bare[] =
		"{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"left\":null}";
	pt_wt_msg f, m;

	assert_int_equal(pt_wt_fast_parse(announce, sizeof(announce) - 1, &lim, &f), 1);
	assert_int_equal(pt_wt_msg_parse_json(announce, sizeof(announce) - 1, &lim, &m, NULL), PT_OK);
	assert_int_equal(f.type, PT_WT_ANNOUNCE);
	assert_true(f.has_info_hash);
	assert_memory_equal(&f.info_hash, &m.info_hash, 20);
	assert_int_equal(f.info_hash.b[0], 0);
	assert_int_equal(f.info_hash.b[2], '\\');
	assert_int_equal(f.info_hash.b[4], 0xff);
	assert_memory_equal(&f.peer_id, &m.peer_id, 20);
	assert_int_equal(f.peer_id.b[8], 0xff);
	assert_int_equal(f.event, PT_WT_EV_COMPLETED);
	assert_int_equal(f.numwant, 2);
	assert_true(f.seeder);
	assert_int_equal(f.n_offers, 2);
	assert_memory_equal(&f.offers[0].offer_id, &f.peer_id, 20);
	assert_memory_equal(&f.offers[1].offer_id, &f.info_hash, 20);
	/* Verbatim, pointing into the frame; the full parser's is compact. */
	assert_text(f.offers[0].offer, f.offers[0].offer_len,
	            "{\"type\":\"offer\", \"sdp\":\"v=0\\r\\n\\u00e9\"}");
	assert_true(f.offers[0].offer > announce && f.offers[0].offer < announce + sizeof(announce));
	assert_text(m.offers[0].offer, m.offers[0].offer_len,
	            "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\xc3\xa9\"}");
	assert_text(f.offers[1].offer, f.offers[1].offer_len, "\"encrypted\"");
	pt_wt_msg_clear(&f); /* frees nothing, borrowed */
	pt_wt_msg_clear(&m);

	assert_int_equal(pt_wt_fast_parse(answer, sizeof(answer) - 1, &lim, &f), 1);
	assert_int_equal(f.type, PT_WT_ANSWER);
	assert_memory_equal(&f.to_peer_id, &f.info_hash, 20);
	assert_memory_equal(&f.offer_id, &f.peer_id, 20);
	assert_text(f.answer, f.answer_len, "{\"type\":\"answer\",\"sdp\":\"a=\\\"q\\\"\"}");
	assert_int_equal(f.n_offers, 0);
	pt_wt_msg_clear(&f);

	assert_int_equal(pt_wt_fast_parse(bare, sizeof(bare) - 1, &lim, &f), 1);
	assert_int_equal(f.event, PT_WT_EV_UPDATE);
	assert_int_equal(f.numwant, -1);
	assert_false(f.seeder);
	assert_null(f.offers);
	pt_wt_msg_clear(&f);

	/* pt_wt_msg_parse takes the fast path: the offer is the frame's bytes. */
	assert_int_equal(pt_wt_msg_parse(announce, sizeof(announce) - 1, &lim, &m, NULL), PT_OK);
	assert_true(m.offers[0].offer > announce && m.offers[0].offer < announce + sizeof(announce));
	pt_wt_msg_clear(&m);
}

/* What the fast path declines, the full parser decides: unusual but valid
 * frames are still served (through jansson), bad ones get their reason. */
static void test_fast_declines(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum pt_err full; /* the full parser's verdict */
	} cases[] = {
		/* valid, unusual */
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"downloaded\":1.5}", PT_OK },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"event\":\"st\\u0061rted\"}", PT_OK },
		{ "{\"act\\u0069on\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\"}", PT_OK },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"left\":1234567890123456789}", PT_OK },
		{ "{\"action\":\"scrape\",\"info_hash\":\"" IH "\"}", PT_OK },
		/* invalid */
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"short\"}", PT_E_BAD_MESSAGE },
		{ "{\"action\":\"announce\",\"info_hash\":\"\\u0100bcdefghijklmnopqrs\",\"peer_id\":\"" PID "\"}", PT_E_BAD_MESSAGE },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"numwant\":null}", PT_E_BAD_MESSAGE },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"numwant\":-1}", PT_E_BAD_MESSAGE },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"peer_id\":\"" PID "\"}", PT_E_BAD_JSON },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"answer\":{}}", PT_E_BAD_MESSAGE },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":[{\"offer_id\":\"" PID "\"}]}", PT_E_BAD_MESSAGE },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":[{\"offer_id\":\"" PID "\",\"offer\":1}]}", PT_E_BAD_MESSAGE },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\"} x", PT_E_BAD_JSON },
		{ "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"x\":\"\\ud800\"}", PT_E_BAD_JSON },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pt_wt_msg f, m;
		const char *why = NULL;
		size_t n = strlen(cases[i].text);

		if (pt_wt_fast_parse(cases[i].text, n, &lim, &f))
			fail_msg("case %zu taken by the fast path: %s", i, cases[i].text);
		pt_wt_msg_clear(&f);
		enum pt_err e = pt_wt_msg_parse(cases[i].text, n, &lim, &m, &why);
		if (e != cases[i].full && !(cases[i].full == PT_E_BAD_JSON && e == PT_E_BAD_MESSAGE))
			fail_msg("case %zu: %d (%s)", i, e, why ? why : "-");
		pt_wt_msg_clear(&m);
	}

	/* More offers than the message holds: the full parser takes them. */
	char big[8192];
	int k = snprintf(big, sizeof(big), "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":[");
	for (int i = 0; i <= PT_WT_FAST_OFFERS; i++)
		k += snprintf(big + k, sizeof(big) - (size_t)k, "%s{\"offer_id\":\"" PID "\",\"offer\":\"o%d\"}",
		              i ? "," : "", i);
	k += snprintf(big + k, sizeof(big) - (size_t)k, "]}");
	pt_wt_msg f, m;
	assert_int_equal(pt_wt_fast_parse(big, (size_t)k, &wide, &f), 0);
	pt_wt_msg_clear(&f);
	assert_int_equal(pt_wt_msg_parse(big, (size_t)k, &wide, &m, NULL), PT_OK);
	assert_int_equal(m.n_offers, PT_WT_FAST_OFFERS + 1);
	assert_text(m.offers[PT_WT_FAST_OFFERS].offer, m.offers[PT_WT_FAST_OFFERS].offer_len, "\"o16\"");
	pt_wt_msg_clear(&m);

	/* An offer longer than the limit as spelled (escapes) but not once
	 * compacted: declined here, accepted by the full parser, which
	 * measures the compact form. */
	k = snprintf(big, sizeof(big), "{\"action\":\"announce\",\"info_hash\":\"" IH "\",\"peer_id\":\"" PID "\",\"offers\":[{\"offer_id\":\"" PID "\",\"offer\":\"");
	for (int i = 0; i < 700; i++)
		k += snprintf(big + k, sizeof(big) - (size_t)k, "\\u0041");
	k += snprintf(big + k, sizeof(big) - (size_t)k, "\"}]}");
	assert_int_equal(pt_wt_fast_parse(big, (size_t)k, &lim, &f), 0);
	pt_wt_msg_clear(&f);
	assert_int_equal(pt_wt_msg_parse(big, (size_t)k, &lim, &m, NULL), PT_OK);
	assert_int_equal(m.offers[0].offer_len, 702);
	pt_wt_msg_clear(&m);
}

/* -- replies ------------------------------------------------------------- */

static void test_replies(void **state)
{
	(void)state;
	pt_wt_id ih, pid, oid;
	pt_wt_counts c = { 2, 3, 1 };
	pt_buf b;

	memset(ih.b, 'i', 20);
	ih.b[0] = 0;
	ih.b[1] = 0xff;
	memset(pid.b, 'p', 20);
	memset(oid.b, 'o', 20);
	pt_buf_init(&b, 16);
	assert_int_equal(pt_wt_reply_announce(&b, &ih, 120, &c), 0);
	assert_string_equal(pt_buf_text(&b), "{\"action\":\"announce\",\"interval\":120,\"info_hash\":"
	                    "\"\\u0000\xc3\xbfiiiiiiiiiiiiiiiiii\",\"complete\":2,\"incomplete\":3}");
	pt_buf_reset(&b);
	assert_int_equal(pt_wt_reply_offer(&b, &ih, &pid, &oid, "{\"sdp\":1}", 9), 0);
	assert_string_equal(pt_buf_text(&b), "{\"action\":\"announce\",\"offer\":{\"sdp\":1},\"offer_id\":"
	                    "\"oooooooooooooooooooo\",\"peer_id\":\"pppppppppppppppppppp\",\"info_hash\":"
	                    "\"\\u0000\xc3\xbfiiiiiiiiiiiiiiiiii\"}");
	pt_buf_reset(&b);
	assert_int_equal(pt_wt_reply_answer(&b, &ih, &pid, &oid, "\"x\"", 3), 0);
	assert_non_null(strstr(pt_buf_text(&b), "\"answer\":\"x\""));
	pt_buf_reset(&b);
	assert_int_equal(pt_wt_reply_scrape(&b, &pid, &c, 1, 600), 0);
	assert_string_equal(pt_buf_text(&b), "{\"action\":\"scrape\",\"files\":{\"pppppppppppppppppppp\":"
	                    "{\"complete\":2,\"incomplete\":3,\"downloaded\":1}},\"flags\":"
	                    "{\"min_request_interval\":600}}");
	pt_buf_reset(&b);
	assert_int_equal(pt_wt_reply_failure(&b, PT_WT_ANSWER, &pid, "no \"such\" offer"), 0);
	assert_string_equal(pt_buf_text(&b), "{\"action\":\"announce\",\"failure reason\":"
	                    "\"no \\\"such\\\" offer\",\"info_hash\":\"pppppppppppppppppppp\"}");
	pt_buf_reset(&b);
	assert_int_equal(pt_wt_reply_failure(&b, PT_WT_SCRAPE, NULL, "x"), 0);
	assert_string_equal(pt_buf_text(&b), "{\"action\":\"scrape\",\"failure reason\":\"x\"}");
	pt_buf_free(&b);
}

/* -- swarms -------------------------------------------------------------- */

static pt_wt_id mkid(int n)
{
	pt_wt_id id;
	memset(id.b, 0, sizeof(id.b));
	id.b[0] = (uint8_t)n;
	id.b[19] = (uint8_t)(n >> 8);
	return id;
}

static int left_calls;
static void on_left(const pt_wt_id *ih, void *arg)
{
	(void)ih;
	(void)arg;
	left_calls++;
}

static void test_swarms(void **state)
{
	(void)state;
	pt_wt_swarms *t = pt_wt_swarms_new(42);
	pt_wt_id a = mkid(1), b = mkid(2), p1 = mkid(10), p2 = mkid(11), p3 = mkid(12);
	pt_wt_counts c;
	uint32_t owner = 99;

	assert_non_null(t);
	/* conn 0 in swarm a as p1, then a second peer_id in a, then swarm b. */
	assert_int_equal(pt_wt_swarms_join(t, 0, &a, &p1, false, false, 3), 1);
	assert_int_equal(pt_wt_swarms_join(t, 0, &a, &p1, false, false, 3), 0);
	assert_int_equal(pt_wt_swarms_join(t, 0, &a, &p2, true, false, 3), 0);
	assert_int_equal(pt_wt_swarms_join(t, 0, &b, &p1, false, false, 3), 1);
	assert_int_equal(pt_wt_swarms_join(t, 0, &b, &p3, false, false, 3), -ENOSPC);
	/* p1 is conn 0's in a: conn 7 cannot take it; in a third swarm it may. */
	assert_int_equal(pt_wt_swarms_join(t, 7, &a, &p1, true, false, 3), -EEXIST);
	assert_int_equal(pt_wt_swarms_owner(t, &a, &p1, &owner), 0);
	assert_int_equal(owner, 0);
	assert_int_equal(pt_wt_swarms_join(t, 7, &a, &p3, false, false, 3), 1);
	pt_wt_swarms_counts(t, &a, &c);
	assert_int_equal(c.complete, 1);
	assert_int_equal(c.incomplete, 2);
	/* completed: counts move, downloaded counts the event. */
	assert_int_equal(pt_wt_swarms_join(t, 7, &a, &p3, true, true, 3), 0);
	pt_wt_swarms_counts(t, &a, &c);
	assert_int_equal(c.complete, 2);
	assert_int_equal(c.incomplete, 1);
	assert_int_equal(c.downloaded, 1);
	/* stopped only acts on one's own peer_id. */
	assert_int_equal(pt_wt_swarms_leave(t, 7, &a, &p1), -ENOENT);
	assert_int_equal(pt_wt_swarms_leave(t, 0, &a, &p1), 0); /* still in a as p2 */
	assert_int_equal(pt_wt_swarms_leave(t, 0, &a, &p2), 1);
	assert_int_equal(pt_wt_swarms_leave(t, 0, &a, &p2), -ENOENT);
	assert_int_equal(pt_wt_swarms_count(t), 2);
	/* Closing conn 7 empties swarm a. */
	left_calls = 0;
	assert_int_equal(pt_wt_swarms_drop_conn(t, 7, on_left, NULL), 1);
	assert_int_equal(left_calls, 1);
	pt_wt_swarms_counts(t, &a, &c);
	assert_int_equal(c.complete + c.incomplete, 0);
	assert_int_equal(pt_wt_swarms_count(t), 1);
	/* Many connections and swarms: tables grow, all come back out. */
	for (int i = 0; i < 3000; i++) {
		pt_wt_id ih = mkid(i % 300), pid = mkid(1000 + i);
		assert_int_equal(pt_wt_swarms_join(t, (uint32_t)(100 + i / 10), &ih, &pid, i & 1, false, 10),
		                 1);
	}
	assert_int_equal(pt_wt_swarms_bindings(t), 3001);
	left_calls = 0;
	for (int k = 0; k < 300; k++)
		pt_wt_swarms_drop_conn(t, (uint32_t)(100 + k), on_left, NULL);
	assert_int_equal(left_calls, 3000);
	assert_int_equal(pt_wt_swarms_bindings(t), 1);
	assert_int_equal(pt_wt_swarms_conn_count(t, 0), 1);
	pt_wt_swarms_free(t);
}

/* Records are pooled and linked by index: a binding leaves from the middle
 * of its connection's list, freed records are reused, and thousands of
 * swarms (pools and bucket arrays doubling while chains are walked) keep
 * every count and owner right. */
static void test_swarms_pooled(void **state)
{
	(void)state;
	pt_wt_swarms *t = pt_wt_swarms_new(7);
	pt_wt_id a = mkid(1), p[5];
	pt_wt_counts c;
	uint32_t owner = 0;

	assert_non_null(t);
	for (int i = 0; i < 5; i++) {
		p[i] = mkid(200 + i);
		assert_int_equal(pt_wt_swarms_join(t, 3, &a, &p[i], i == 4, false, 10), i == 0);
	}
	/* The middle of conn 3's list, then its ends. */
	assert_int_equal(pt_wt_swarms_leave(t, 3, &a, &p[2]), 0);
	assert_int_equal(pt_wt_swarms_conn_count(t, 3), 4);
	assert_int_equal(pt_wt_swarms_owner(t, &a, &p[2], &owner), -ENOENT);
	assert_int_equal(pt_wt_swarms_leave(t, 3, &a, &p[4]), 0);
	assert_int_equal(pt_wt_swarms_leave(t, 3, &a, &p[0]), 0);
	pt_wt_swarms_counts(t, &a, &c);
	assert_int_equal(c.complete, 0);
	assert_int_equal(c.incomplete, 2);
	/* A freed record serves the next binding; the rest are intact. */
	assert_int_equal(pt_wt_swarms_join(t, 4, &a, &p[2], true, false, 10), 1);
	assert_int_equal(pt_wt_swarms_owner(t, &a, &p[2], &owner), 0);
	assert_int_equal(owner, 4);
	assert_int_equal(pt_wt_swarms_owner(t, &a, &p[1], &owner), 0);
	assert_int_equal(owner, 3);
	assert_int_equal(pt_wt_swarms_drop_conn(t, 3, NULL, NULL), 2);
	assert_int_equal(pt_wt_swarms_conn_count(t, 3), 0);
	assert_int_equal(pt_wt_swarms_count(t), 1);
	/* 20 000 swarms of two connections each, then every one gone. */
	for (int i = 0; i < 20000; i++) {
		pt_wt_id ih = mkid(i), pid = mkid(i + 1);
		ih.b[5] = 0xa5;
		assert_int_equal(pt_wt_swarms_join(t, (uint32_t)(10 + i % 40), &ih, &pid, false, false,
		                                   1000), 1);
		assert_int_equal(pt_wt_swarms_join(t, (uint32_t)(50 + i % 40), &ih, &ih, true, false,
		                                   1000), 1);
	}
	assert_int_equal(pt_wt_swarms_count(t), 20001);
	for (int i = 0; i < 20000; i += 997) {
		pt_wt_id ih = mkid(i), pid = mkid(i + 1);
		ih.b[5] = 0xa5;
		pt_wt_swarms_counts(t, &ih, &c);
		assert_int_equal(c.complete, 1);
		assert_int_equal(c.incomplete, 1);
		assert_int_equal(pt_wt_swarms_owner(t, &ih, &pid, &owner), 0);
		assert_int_equal(owner, (uint32_t)(10 + i % 40));
	}
	for (uint32_t k = 10; k < 90; k++)
		assert_int_equal(pt_wt_swarms_drop_conn(t, k, NULL, NULL), 500);
	assert_int_equal(pt_wt_swarms_count(t), 1);
	assert_int_equal(pt_wt_swarms_bindings(t), 1);
	pt_wt_swarms_free(t);
}

/* -- offers -------------------------------------------------------------- */

static void test_offers(void **state)
{
	(void)state;
	pt_wt_offers *t = pt_wt_offers_new(7);
	pt_wt_id ih = mkid(1), from = mkid(2), oid = mkid(3), other = mkid(4);
	pt_wt_conn A = { .handle = 1, .gen = 1 }, B = { .handle = 2, .gen = 1 },
	           B2 = { .handle = 2, .gen = 2 }, C = { .handle = 3, .gen = 1 }, got = { .handle = 0 };
	pt_wt_conn R = { .handle = PT_WT_CONN_REMOTE };

	assert_non_null(t);
	assert_int_equal(pt_wt_offers_add(t, &ih, &from, &oid, A, B, 1000, 500, 100), 0);
	/* Wrong receiver, a later connection on B's handle, wrong ids: nothing. */
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &oid, C, 1100, &got), -ENOENT);
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &oid, B2, 1100, &got), -ENOENT);
	assert_int_equal(pt_wt_offers_take(t, &ih, &other, &oid, B, 1100, &got), -ENOENT);
	assert_int_equal(pt_wt_offers_take(t, &other, &from, &oid, B, 1100, &got), -ENOENT);
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &other, B, 1100, &got), -ENOENT);
	/* The real answer, once. */
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &oid, B, 1100, &got), 0);
	assert_int_equal(got.handle, 1);
	assert_int_equal(got.gen, 1);
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &oid, B, 1100, &got), -ENOENT);
	/* An offerer on another node: its session id there comes back. */
	memset(R.peer.b, 0xa5, sizeof(R.peer.b));
	R.peer.b[0] = 0;
	assert_int_equal(pt_wt_offers_add(t, &ih, &from, &oid, R, B, 1000, 500, 100), 0);
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &oid, B, 1100, &got), 0);
	assert_int_equal(got.handle, PT_WT_CONN_REMOTE);
	assert_memory_equal(got.peer.b, R.peer.b, sizeof(R.peer.b));
	/* Too late. */
	assert_int_equal(pt_wt_offers_add(t, &ih, &from, &oid, A, B, 1000, 500, 100), 0);
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &oid, B, 1500, &got), -ENOENT);
	assert_int_equal(pt_wt_offers_count(t), 0);
	/* Bounded: the oldest go first; expiry pops in order. */
	for (int i = 0; i < 300; i++) {
		pt_wt_id o = mkid(i);
		assert_int_equal(pt_wt_offers_add(t, &ih, &from, &o, A, B, (uint64_t)i, 1000, 200), 0);
	}
	assert_int_equal(pt_wt_offers_count(t), 200);
	pt_wt_id o0 = mkid(99), o1 = mkid(100);
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &o0, B, 150, &got), -ENOENT);
	assert_int_equal(pt_wt_offers_take(t, &ih, &from, &o1, B, 150, &got), 0);
	assert_int_equal(pt_wt_offers_expire(t, 1150), 50); /* added at 101..150 */
	assert_int_equal(pt_wt_offers_count(t), 149);
	pt_wt_offers_free(t);
}

/* The allow-list: sorted, no repeats, bounded, every byte value. */
static void test_allow(void **state)
{
	(void)state;
	pt_wt_allow a;
	pt_wt_id ids[300];

	pt_wt_allow_init(&a);
	/* Inserted in a scrambled order; byte 0 and byte 19 both vary. */
	for (int i = 0; i < 300; i++) {
		int k = (i * 7) % 300;
		memset(ids[k].b, k & 0xff, sizeof(ids[k].b));
		ids[k].b[19] = (unsigned char)(k >> 8);
	}
	for (int i = 0; i < 300; i++)
		assert_int_equal(pt_wt_allow_add(&a, &ids[(i * 7) % 300], 300), 1);
	assert_int_equal(a.n, 300);
	assert_int_equal(pt_wt_allow_add(&a, &ids[5], 300), 0);   /* listed */
	{
		pt_wt_id x;
		memset(x.b, 0x42, sizeof(x.b));
		x.b[0] = 0x43;
		assert_int_equal(pt_wt_allow_add(&a, &x, 300), -ENOSPC);
		assert_false(pt_wt_allow_has(&a, &x));
	}
	for (size_t i = 1; i < a.n; i++)
		assert_true(memcmp(a.v[i - 1].b, a.v[i].b, 20) < 0);
	for (int i = 0; i < 300; i++)
		assert_true(pt_wt_allow_has(&a, &ids[i]));
	for (int i = 0; i < 300; i += 2)
		assert_int_equal(pt_wt_allow_remove(&a, &ids[i]), 1);
	assert_int_equal(pt_wt_allow_remove(&a, &ids[0]), 0);
	assert_int_equal(a.n, 150);
	for (int i = 0; i < 300; i++)
		assert_int_equal(pt_wt_allow_has(&a, &ids[i]), i % 2 == 1);
	pt_wt_allow_free(&a);
	assert_false(pt_wt_allow_has(&a, &ids[1]));
	assert_int_equal(pt_wt_allow_remove(&a, &ids[1]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binstr_every_byte),
		cmocka_unit_test(test_binstr_spelling),
		cmocka_unit_test(test_binstr_refuses),
		cmocka_unit_test(test_parse_announce),
		cmocka_unit_test(test_parse_answer_scrape),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_binstr_decode_json),
		cmocka_unit_test(test_fast_accepts),
		cmocka_unit_test(test_fast_declines),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_swarms),
		cmocka_unit_test(test_swarms_pooled),
		cmocka_unit_test(test_offers),
		cmocka_unit_test(test_allow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
