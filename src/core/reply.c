/* reply.c — server messages as compact JSON, written by hand.
 *
 * These run for every reply and every relayed signal, so they append
 * straight into a growing buffer instead of building a jansson tree. The
 * shapes are those of docs/PROTOCOL.md, key order included.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/reply.h"

static int append_str(pt_buf *b, const char *s)
{
	return pt_buf_append(b, s, strlen(s));
}

static int append_u64(pt_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return pt_buf_append(b, tmp + i, sizeof(tmp) - i);
}

static int append_i64(pt_buf *b, int64_t v)
{
	if (v >= 0)
		return append_u64(b, (uint64_t)v);
	if (pt_buf_append(b, "-", 1) < 0)
		return -ENOMEM;
	/* -(INT64_MIN) does not fit an int64; in uint64 arithmetic it does. */
	return append_u64(b, -(uint64_t)v);
}

/* Every encoder below accumulates errors in `r` and rolls back on failure,
 * so a reply is either appended whole or not at all. */
static int finish(pt_buf *b, size_t start, int r)
{
	if (r < 0) {
		b->len = start;
		if (b->p)
			b->p[b->head + b->len] = '\0';
		return -ENOMEM;
	}
	return 0;
}

/* `{"type":"NAME"` plus `,"rid":...` when the message had one. */
static int open_msg(pt_buf *b, const char *type, const pt_rid *rid)
{
	int r = 0;

	r |= append_str(b, "{\"type\":\"");
	r |= append_str(b, type);
	r |= pt_buf_append(b, "\"", 1);
	if (rid && rid->kind == PT_RID_INT) {
		r |= append_str(b, ",\"rid\":");
		r |= append_i64(b, rid->i);
	} else if (rid && rid->kind == PT_RID_STR) {
		r |= append_str(b, ",\"rid\":");
		r |= pt_buf_json_string(b, rid->s, rid->len);
	}
	return r;
}

static int append_id(pt_buf *b, const pt_id *id)
{
	char s[PT_ID_CHARS + 3];

	s[0] = '"';
	pt_id_encode(id, s + 1);
	s[PT_ID_CHARS + 1] = '"';
	return pt_buf_append(b, s, PT_ID_CHARS + 2);
}

static int append_hash(pt_buf *b, const pt_hash *h)
{
	char s[PT_HASH_HEX + 3];

	s[0] = '"';
	pt_hash_format(h, s + 1);
	s[PT_HASH_HEX + 1] = '"';
	return pt_buf_append(b, s, PT_HASH_HEX + 2);
}

static int key_u64(pt_buf *b, const char *key, uint64_t v)
{
	return append_str(b, key) | append_u64(b, v);
}

static int ice_fields(pt_buf *b, const char *ice, size_t len, uint32_t ttl_s)
{
	int r = append_str(b, ",\"ice_servers\":");

	if (ice && len)
		r |= pt_buf_append(b, ice, len);
	else
		r |= append_str(b, "[]");
	if (ttl_s)
		r |= key_u64(b, ",\"ice_ttl_s\":", ttl_s);
	return r;
}

int pt_reply_welcome(pt_buf *b, const pt_id *id, uint32_t heartbeat_ms, uint32_t timeout_ms,
                     const pt_welcome_limits *lim, const pt_welcome_extra *x)
{
	size_t start = b->len;
	int r = open_msg(b, "welcome", NULL);

	r |= append_str(b, ",\"v\":1,\"id\":");
	r |= append_id(b, id);
	r |= key_u64(b, ",\"heartbeat_ms\":", heartbeat_ms);
	r |= key_u64(b, ",\"timeout_ms\":", timeout_ms);
	r |= key_u64(b, ",\"limits\":{\"max_message_bytes\":", lim->max_message_bytes);
	r |= key_u64(b, ",\"max_hashes_per_message\":", lim->max_hashes_per_message);
	r |= key_u64(b, ",\"max_hashes_per_peer\":", lim->max_hashes_per_peer);
	r |= key_u64(b, ",\"max_lookup_peers\":", lim->max_lookup_peers);
	r |= key_u64(b, ",\"max_signal_bytes\":", lim->max_signal_bytes);
	r |= key_u64(b, ",\"max_report_bytes\":", lim->max_report_bytes);
	r |= key_u64(b, ",\"rate_messages_per_sec\":", lim->rate_messages_per_sec);
	r |= key_u64(b, ",\"rate_burst\":", lim->rate_burst);
	r |= append_str(b, "}");
	r |= ice_fields(b, x ? x->ice_servers : NULL, x ? x->ice_servers_len : 0, x ? x->ice_ttl_s : 0);
	if (x && x->resume_token) {
		r |= append_str(b, ",\"resume_token\":");
		r |= pt_buf_json_string(b, x->resume_token, strlen(x->resume_token));
		r |= key_u64(b, ",\"resume_window_ms\":", x->resume_window_ms);
	}
	r |= append_str(b, "}");
	return finish(b, start, r);
}

int pt_reply_ice_servers(pt_buf *b, const pt_rid *rid, const char *ice_servers, size_t len,
                         uint32_t ice_ttl_s)
{
	size_t start = b->len;
	int r = open_msg(b, "ice-servers", rid);

	r |= ice_fields(b, ice_servers, len, ice_ttl_s);
	r |= append_str(b, "}");
	return finish(b, start, r);
}

int pt_reply_resumed(pt_buf *b, const pt_rid *rid, const pt_id *id, const char *resume_token,
                     size_t hashes, size_t held)
{
	size_t start = b->len;
	int r = open_msg(b, "resumed", rid);

	r |= append_str(b, ",\"id\":");
	r |= append_id(b, id);
	r |= append_str(b, ",\"resume_token\":");
	r |= pt_buf_json_string(b, resume_token, strlen(resume_token));
	r |= key_u64(b, ",\"hashes\":", hashes);
	r |= key_u64(b, ",\"held\":", held);
	r |= append_str(b, "}");
	return finish(b, start, r);
}

int pt_reply_ack(pt_buf *b, const pt_rid *rid, size_t count, size_t total)
{
	size_t start = b->len;
	int r = open_msg(b, "ack", rid);

	r |= key_u64(b, ",\"count\":", count);
	r |= key_u64(b, ",\"total\":", total);
	r |= append_str(b, "}");
	return finish(b, start, r);
}

int pt_reply_peers(pt_buf *b, const pt_rid *rid, const pt_hash *h, const pt_id *const *ids,
                   size_t n)
{
	size_t start = b->len;
	int r = open_msg(b, "peers", rid);

	r |= append_str(b, ",\"hash\":");
	r |= append_hash(b, h);
	r |= append_str(b, ",\"peers\":[");
	for (size_t i = 0; i < n && r == 0; i++) {
		if (i)
			r |= pt_buf_append(b, ",", 1);
		r |= append_id(b, ids[i]);
	}
	r |= append_str(b, "]}");
	return finish(b, start, r);
}

int pt_reply_signal(pt_buf *b, const pt_id *from, const char *data, size_t data_len)
{
	size_t start = b->len;
	int r = open_msg(b, "signal", NULL);

	r |= append_str(b, ",\"from\":");
	r |= append_id(b, from);
	r |= append_str(b, ",\"data\":");
	/* data is the compact text pt_msg_parse produced from an object. */
	if (data && data_len)
		r |= pt_buf_append(b, data, data_len);
	else
		r |= append_str(b, "{}");
	r |= append_str(b, "}");
	return finish(b, start, r);
}

int pt_reply_pong(pt_buf *b, const pt_rid *rid)
{
	size_t start = b->len;
	int r = open_msg(b, "pong", rid);

	r |= append_str(b, "}");
	return finish(b, start, r);
}

int pt_reply_peer_left(pt_buf *b, const pt_id *id)
{
	size_t start = b->len;
	int r = open_msg(b, "peer-left", NULL);

	r |= append_str(b, ",\"id\":");
	r |= append_id(b, id);
	r |= append_str(b, "}");
	return finish(b, start, r);
}

int pt_reply_error(pt_buf *b, const pt_rid *rid, enum pt_err e, const char *message)
{
	size_t start = b->len;
	int r = open_msg(b, "error", rid);

	if (!message)
		message = pt_err_code(e);
	r |= append_str(b, ",\"code\":\"");
	r |= append_str(b, pt_err_code(e));
	r |= append_str(b, "\",\"message\":");
	r |= pt_buf_json_string(b, message, strlen(message));
	r |= append_str(b, "}");
	return finish(b, start, r);
}
