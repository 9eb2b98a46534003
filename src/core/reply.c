/* reply.c — server messages as compact JSON, written by hand.
 *
 * These run for every reply and every relayed signal, so they append
 * straight into a growing buffer instead of building a jansson tree. The
 * shapes are those of docs/PROTOCOL.md, key order included. The buffer is
 * kept NUL-terminated after the text, which costs one byte and lets logs
 * and tests treat it as a C string.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/reply.h"

void pt_buf_init(pt_buf *b, size_t head)
{
	b->p = NULL;
	b->head = head;
	b->len = 0;
	b->cap = 0;
}

void pt_buf_reset(pt_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[b->head] = '\0';
}

void pt_buf_free(pt_buf *b)
{
	free(b->p);
	pt_buf_init(b, b->head);
}

/* Makes room for `extra` more bytes of text plus the NUL. */
static int reserve(pt_buf *b, size_t extra)
{
	size_t need = b->head + b->len + 1;

	if (extra > SIZE_MAX / 2 - need)
		return -ENOMEM;
	need += extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int pt_buf_append(pt_buf *b, const void *data, size_t len)
{
	if (reserve(b, len) < 0)
		return -ENOMEM;
	if (len)
		memcpy(b->p + b->head + b->len, data, len);
	b->len += len;
	b->p[b->head + b->len] = '\0';
	return 0;
}

static int append_str(pt_buf *b, const char *s)
{
	return pt_buf_append(b, s, strlen(s));
}

int pt_buf_printf(pt_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[1];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->head + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
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

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the
 * bytes there are not one: overlong forms, surrogates and code points
 * above U+10FFFF are invalid (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

int pt_buf_json_string(pt_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len;
	size_t i = 0;

	if (pt_buf_append(b, "\"", 1) < 0)
		return -ENOMEM;
	while (i < len) {
		size_t run = i;
		while (run < len && plain_byte(p[run]))
			run++;
		if (run > i && pt_buf_append(b, p + i, run - i) < 0)
			goto nomem;
		i = run;
		if (i == len)
			break;

		unsigned char c = p[i];
		int r;
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			r = pt_buf_append(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			r = pt_buf_append(b, esc, 6);
			i++;
		} else {
			size_t n = utf8_seq(p + i, len - i);
			if (n) {
				r = pt_buf_append(b, p + i, n);
				i += n;
			} else {
				/* Invalid UTF-8 (only possible from log text, never from
				 * jansson): one replacement character per bad byte keeps
				 * the output valid JSON. */
				r = pt_buf_append(b, "\\ufffd", 6);
				i++;
			}
		}
		if (r < 0)
			goto nomem;
	}
	if (pt_buf_append(b, "\"", 1) < 0)
		goto nomem;
	return 0;
nomem:
	b->len = start;
	b->p[b->head + b->len] = '\0';
	return -ENOMEM;
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

int pt_reply_welcome(pt_buf *b, const pt_id *id, uint32_t heartbeat_ms, uint32_t timeout_ms,
                     const pt_welcome_limits *lim)
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
	r |= key_u64(b, ",\"rate_messages_per_sec\":", lim->rate_messages_per_sec);
	r |= key_u64(b, ",\"rate_burst\":", lim->rate_burst);
	r |= append_str(b, "}}");
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
