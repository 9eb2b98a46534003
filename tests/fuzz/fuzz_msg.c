/* fuzz_msg.c — pt_msg_parse on arbitrary frames, then every reply such a
 * message can produce, checked with jansson. Any broken invariant aborts.
 *
 * Replay:   build/tests/fuzz/fuzz_msg tests/fuzz/corpus/msg
 * libFuzzer: clang -fsanitize=fuzzer,address ... (see docs or Makefile). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "check.h"
#include "peertrack/msg.h"
#include "peertrack/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* Parses one encoded reply: one JSON object, "type" a string, the rid
 * echoed exactly (or absent). Returns the tree (caller frees). */
static json_t *check_reply(const pt_buf *b, const pt_rid *rid, const char *type)
{
	json_error_t err;

	CHECK(b->len == strlen(pt_buf_text(b)));
	json_t *j = json_loadb(pt_buf_text(b), b->len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fprintf(stderr, "fuzz_msg: invalid reply (%s): %s\n", err.text, pt_buf_text(b));
	CHECK(j && json_is_object(j));
	json_t *t = json_object_get(j, "type");
	CHECK(json_is_string(t) && strcmp(json_string_value(t), type) == 0);
	json_t *r = json_object_get(j, "rid");
	if (!rid || rid->kind == PT_RID_NONE) {
		CHECK(!r);
	} else if (rid->kind == PT_RID_INT) {
		CHECK(json_is_integer(r) && json_integer_value(r) == rid->i);
	} else {
		CHECK(json_is_string(r) && json_string_length(r) == rid->len &&
		      memcmp(json_string_value(r), rid->s, rid->len) == 0);
	}
	return j;
}

static void check_msg(const pt_msg *m, enum pt_err e, const char *why, const pt_msg_limits *lim)
{
	CHECK((unsigned)e < PT_E__COUNT);
	CHECK(m->rid.kind == PT_RID_NONE || m->rid.kind == PT_RID_INT || m->rid.kind == PT_RID_STR);
	if (m->rid.kind == PT_RID_STR)
		CHECK(m->rid.len <= PT_RID_MAX && m->rid.s[m->rid.len] == '\0' &&
		      strlen(m->rid.s) == m->rid.len);
	if (e != PT_OK) {
		CHECK(why && *why);
		CHECK(!m->hashes && !m->data && m->n_hashes == 0);
		return;
	}
	CHECK(!why);
	CHECK((unsigned)m->type < PT_MSG__COUNT);
	if (m->type == PT_MSG_ANNOUNCE || m->type == PT_MSG_WITHDRAW) {
		CHECK(m->n_hashes <= lim->max_hashes_per_message);
		CHECK(m->n_hashes == 0 || m->hashes);
		for (size_t i = 0; i < m->n_hashes; i++)
			for (size_t j = 0; j < i; j++)
				CHECK(!pt_hash_equal(&m->hashes[i], &m->hashes[j]));
	}
	if (m->type == PT_MSG_LOOKUP)
		CHECK(m->max <= UINT32_MAX);
	if (m->type == PT_MSG_SIGNAL) {
		CHECK(m->data && m->data_len == strlen(m->data) && m->data_len <= lim->max_signal_bytes);
		json_t *d = json_loadb(m->data, m->data_len, 0, NULL);
		CHECK(json_is_object(d));
		json_decref(d);
	}
}

/* Every reply this message could lead to. */
static void encode_replies(const pt_msg *m, enum pt_err e, const char *why)
{
	pt_buf b;
	json_t *j;

	pt_buf_init(&b, 16);
	CHECK(pt_reply_error(&b, &m->rid, e == PT_OK ? PT_E_PEER_GONE : e, why ? why : "x") == 0);
	j = check_reply(&b, &m->rid, "error");
	CHECK(json_is_string(json_object_get(j, "code")));
	json_decref(j);
	if (e != PT_OK) {
		pt_buf_free(&b);
		return;
	}

	pt_buf_reset(&b);
	switch (m->type) {
	case PT_MSG_ANNOUNCE:
	case PT_MSG_WITHDRAW:
		CHECK(pt_reply_ack(&b, &m->rid, m->n_hashes, m->n_hashes) == 0);
		j = check_reply(&b, &m->rid, "ack");
		CHECK((size_t)json_integer_value(json_object_get(j, "count")) == m->n_hashes);
		json_decref(j);
		break;
	case PT_MSG_LOOKUP: {
		pt_id a = { { 0 } }, c = { { 0xff } };
		const pt_id *ids[] = { &a, &c };
		CHECK(pt_reply_peers(&b, &m->rid, &m->hash, ids, m->max < 2 ? m->max : 2) == 0);
		j = check_reply(&b, &m->rid, "peers");
		json_t *h = json_object_get(j, "hash");
		pt_hash back;
		CHECK(json_is_string(h) && pt_hash_parse(json_string_value(h), json_string_length(h),
		                                         &back) == 0 && pt_hash_equal(&back, &m->hash));
		json_decref(j);
		break;
	}
	case PT_MSG_SIGNAL: {
		CHECK(pt_reply_signal(&b, &m->to, m->data, m->data_len) == 0);
		j = check_reply(&b, NULL, "signal");
		json_t *from = json_object_get(j, "from");
		pt_id back;
		CHECK(json_is_string(from) && pt_id_decode(json_string_value(from),
		                                           json_string_length(from), &back) == 0 &&
		      pt_id_equal(&back, &m->to));
		json_t *d = json_loads(m->data, 0, NULL);
		CHECK(d && json_equal(d, json_object_get(j, "data")));
		json_decref(d);
		json_decref(j);
		pt_buf_reset(&b);
		CHECK(pt_reply_peer_left(&b, &m->to) == 0);
		json_decref(check_reply(&b, NULL, "peer-left"));
		break;
	}
	case PT_MSG_BAD_PEER:
		CHECK(pt_reply_ack(&b, &m->rid, 1, 0) == 0);
		json_decref(check_reply(&b, &m->rid, "ack"));
		break;
	case PT_MSG_RESUME:
		CHECK(m->token_len <= PT_MSG_TOKEN_MAX && strlen(m->token) <= m->token_len);
		/* fall through */
	case PT_MSG_PING:
	case PT_MSG_REPORT:
	case PT_MSG_REFRESH_ICE:
	case PT_MSG__COUNT:
		CHECK(pt_reply_pong(&b, &m->rid) == 0);
		json_decref(check_reply(&b, &m->rid, "pong"));
		break;
	}
	pt_buf_free(&b);
}

/* The rid survives a trip through our encoder and back through the parser. */
static void rid_roundtrip(const pt_msg *m)
{
	pt_buf b;
	pt_msg back;
	const char *why;
	pt_msg_limits lim = { 1, 64, 1000 };

	if (m->rid.kind == PT_RID_NONE)
		return;
	pt_buf_init(&b, 0);
	CHECK(pt_reply_pong(&b, &m->rid) == 0);
	/* {"type":"pong",...} -> {"type":"ping",...} */
	memcpy(pt_buf_text(&b) + 9, "ping", 4);
	CHECK(pt_msg_parse(pt_buf_text(&b), b.len, &lim, &back, &why) == PT_OK);
	CHECK(back.type == PT_MSG_PING && back.rid.kind == m->rid.kind);
	if (m->rid.kind == PT_RID_INT)
		CHECK(back.rid.i == m->rid.i);
	else
		CHECK(back.rid.len == m->rid.len && memcmp(back.rid.s, m->rid.s, m->rid.len) == 0);
	pt_msg_clear(&back);
	pt_buf_free(&b);
}

/* Any bytes become a valid JSON string; valid UTF-8 comes back unchanged. */
static void json_string_any_bytes(const uint8_t *data, size_t size)
{
	pt_buf b;
	json_error_t err;

	pt_buf_init(&b, 0);
	CHECK(pt_buf_json_string(&b, (const char *)data, size) == 0);
	json_t *j = json_loadb(pt_buf_text(&b), b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	CHECK(json_is_string(j));
	json_t *want = json_stringn((const char *)data, size); /* NULL unless valid UTF-8 */
	if (want)
		CHECK(json_equal(j, want));
	json_decref(want);
	json_decref(j);
	pt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const pt_msg_limits limits[] = { { 4, 64, 1000 }, { 256, 16384, 1073741824 } };

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		pt_msg m;
		const char *why = NULL;
		enum pt_err e = pt_msg_parse((const char *)data, size, &limits[l], &m, &why);
		check_msg(&m, e, why, &limits[l]);
		encode_replies(&m, e, why);
		rid_roundtrip(&m);
		pt_msg_clear(&m);
	}
	if (size <= 4096)
		json_string_any_bytes(data, size);
	return 0;
}
