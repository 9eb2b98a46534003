/* msg.c — parse and validate one client frame (docs/PROTOCOL.md).
 *
 * jansson builds the tree; one table maps each "type" to its parser, which
 * validates its fields and fills struct pt_msg. Order of checks: JSON, an
 * object, "rid" (so every later error can echo it), "type", then the
 * type's own fields.
 *
 * Decoding choices (documented in PROTOCOL.md, "Conventions"):
 *   - a raw NUL byte, or a string holding U+0000, is bad-json (jansson
 *     refuses \u0000 without JSON_ALLOW_NUL, and C strings stay C strings);
 *   - a key repeated inside one object is bad-message (JSON_REJECT_DUPLICATES):
 *     two readers of {"to":a,"to":b} could disagree on the target;
 *   - an integer outside int64, or nesting deeper than jansson's limit
 *     (2048 levels, where every value is a level: a number inside 2047
 *     containers is at 2048), is bad-message: the text is JSON, but not a message we accept. For the
 *     first the frame is read once more with integers as doubles, so the
 *     error can still echo a valid rid (see salvage_rid).
 * JSON_DISABLE_EOF_CHECK is not used: trailing bytes after the value are
 * bad-json, so one frame is exactly one message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "peertrack/msg.h"

typedef enum pt_err (*parse_fn)(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                                const char **why);

static enum pt_err parse_hashes(json_t *, const pt_msg_limits *, pt_msg *, const char **);
static enum pt_err parse_lookup(json_t *, const pt_msg_limits *, pt_msg *, const char **);
static enum pt_err parse_signal(json_t *, const pt_msg_limits *, pt_msg *, const char **);
static enum pt_err parse_ping(json_t *, const pt_msg_limits *, pt_msg *, const char **);
static enum pt_err parse_report(json_t *, const pt_msg_limits *, pt_msg *, const char **);
static enum pt_err parse_resume(json_t *, const pt_msg_limits *, pt_msg *, const char **);
static enum pt_err parse_bad_peer(json_t *, const pt_msg_limits *, pt_msg *, const char **);

/* The one list of message types. Indexed by enum pt_msg_type. */
static const struct msg_type {
	const char *name;
	enum pt_msg_type type;
	parse_fn parse;
} msg_types[PT_MSG__COUNT] = {
	[PT_MSG_ANNOUNCE] = { "announce", PT_MSG_ANNOUNCE, parse_hashes },
	[PT_MSG_WITHDRAW] = { "withdraw", PT_MSG_WITHDRAW, parse_hashes },
	[PT_MSG_LOOKUP]   = { "lookup",   PT_MSG_LOOKUP,   parse_lookup },
	[PT_MSG_SIGNAL]   = { "signal",   PT_MSG_SIGNAL,   parse_signal },
	[PT_MSG_PING]     = { "ping",     PT_MSG_PING,     parse_ping },
	[PT_MSG_REPORT]   = { "report",   PT_MSG_REPORT,   parse_report },
	[PT_MSG_RESUME]   = { "resume",   PT_MSG_RESUME,   parse_resume },
	[PT_MSG_REFRESH_ICE] = { "refresh-ice", PT_MSG_REFRESH_ICE, parse_ping },
	[PT_MSG_BAD_PEER] = { "bad-peer", PT_MSG_BAD_PEER, parse_bad_peer },
};

const char *pt_msg_type_name(enum pt_msg_type t)
{
	if ((unsigned)t >= PT_MSG__COUNT)
		return "unknown";
	return msg_types[t].name;
}

static const struct msg_type *find_type(const char *name, size_t len)
{
	for (size_t i = 0; i < PT_MSG__COUNT; i++)
		if (strlen(msg_types[i].name) == len && memcmp(msg_types[i].name, name, len) == 0)
			return &msg_types[i];
	return NULL;
}

/* Frees what a parse allocated and zeroes the rest. */
void pt_msg_clear(pt_msg *msg)
{
	free(msg->hashes);
	free(msg->data);
	memset(msg, 0, sizeof(*msg));
}

static enum pt_err parse_rid(json_t *root, pt_rid *rid, const char **why)
{
	json_t *v = json_object_get(root, "rid");

	if (!v)
		return PT_OK;
	if (json_is_integer(v)) {
		rid->kind = PT_RID_INT;
		rid->i = json_integer_value(v);
		return PT_OK;
	}
	if (json_is_string(v)) {
		size_t len = json_string_length(v);
		if (len > PT_RID_MAX) {
			*why = "rid: a string rid is at most 64 bytes";
			return PT_E_BAD_MESSAGE;
		}
		rid->kind = PT_RID_STR;
		rid->len = (uint8_t)len;
		memcpy(rid->s, json_string_value(v), len);
		rid->s[len] = '\0';
		return PT_OK;
	}
	*why = "rid: must be a string or an integer";
	return PT_E_BAD_MESSAGE;
}

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(pt_hash));
}

/* Up to this many hashes the pairwise scan is cheapest; above it a sorted
 * copy keeps the cost O(n log n), so a large configured
 * max_hashes_per_message cannot make one message cost O(n^2). */
#define DEDUPE_QUADRATIC_MAX 32

/* Removes repeated hashes in place, keeping each one's first position.
 * Returns the new count, or (size_t)-1 on ENOMEM. */
static size_t dedupe(pt_hash *h, size_t n)
{
	size_t out = 0;

	if (n <= DEDUPE_QUADRATIC_MAX) {
		for (size_t i = 0; i < n; i++) {
			size_t j;
			for (j = 0; j < out; j++)
				if (memcmp(&h[j], &h[i], sizeof(*h)) == 0)
					break;
			if (j == out)
				h[out++] = h[i];
		}
		return out;
	}

	/* sorted: a sorted copy of the distinct hashes; seen[k] marks that
	 * sorted[k] was already kept, so a later copy of it is dropped. */
	pt_hash *sorted = malloc(n * sizeof(*sorted));
	unsigned char *seen = calloc(n, 1);
	if (!sorted || !seen) {
		free(sorted);
		free(seen);
		return (size_t)-1;
	}
	memcpy(sorted, h, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_hash);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (m == 0 || memcmp(&sorted[m - 1], &sorted[i], sizeof(*sorted)) != 0)
			sorted[m++] = sorted[i];
	for (size_t i = 0; i < n; i++) {
		pt_hash *hit = bsearch(&h[i], sorted, m, sizeof(*sorted), cmp_hash);
		size_t k = (size_t)(hit - sorted);
		if (!seen[k]) {
			seen[k] = 1;
			h[out++] = h[i];
		}
	}
	free(sorted);
	free(seen);
	return out;
}

static const char bad_hash_why[] = "not 64 lowercase hex characters";

static enum pt_err parse_hashes(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                                const char **why)
{
	json_t *arr = json_object_get(root, "hashes");

	if (!json_is_array(arr)) {
		*why = "hashes: must be an array";
		return PT_E_BAD_MESSAGE;
	}
	size_t n = json_array_size(arr);
	if (n > lim->max_hashes_per_message) {
		*why = "hashes: more than max_hashes_per_message";
		return PT_E_TOO_MANY_HASHES;
	}
	if (n == 0)
		return PT_OK;
	msg->hashes = malloc(n * sizeof(*msg->hashes));
	if (!msg->hashes) {
		*why = "out of memory";
		return PT_E_INTERNAL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_string(v) ||
		    pt_hash_parse(json_string_value(v), json_string_length(v), &msg->hashes[i]) != 0) {
			snprintf(msg->why_buf, sizeof(msg->why_buf), "hashes[%zu]: %s", i, bad_hash_why);
			*why = msg->why_buf;
			return PT_E_BAD_HASH;
		}
	}
	msg->n_hashes = dedupe(msg->hashes, n);
	if (msg->n_hashes == (size_t)-1) {
		*why = "out of memory";
		return PT_E_INTERNAL;
	}
	return PT_OK;
}

static enum pt_err parse_lookup(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                                const char **why)
{
	json_t *h = json_object_get(root, "hash");
	json_t *max = json_object_get(root, "max");

	if (!h) {
		*why = "hash: missing";
		return PT_E_BAD_MESSAGE;
	}
	if (!json_is_string(h) ||
	    pt_hash_parse(json_string_value(h), json_string_length(h), &msg->hash) != 0) {
		*why = "hash: not 64 lowercase hex characters";
		return PT_E_BAD_HASH;
	}
	if (max) {
		if (!json_is_integer(max) || json_integer_value(max) < 1) {
			*why = "max: must be an integer >= 1";
			return PT_E_BAD_MESSAGE;
		}
		json_int_t m = json_integer_value(max);
		msg->max = m > (json_int_t)UINT32_MAX ? UINT32_MAX : (uint32_t)m;
	}
	return PT_OK;
}

static enum pt_err parse_signal(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                                const char **why)
{
	json_t *to = json_object_get(root, "to");
	json_t *data = json_object_get(root, "data");

	if (!json_is_string(to) ||
	    pt_id_decode(json_string_value(to), json_string_length(to), &msg->to) != 0) {
		*why = "to: must be a client id (24 base64url characters)";
		return PT_E_BAD_MESSAGE;
	}
	if (!json_is_object(data)) {
		*why = "data: must be an object";
		return PT_E_BAD_MESSAGE;
	}
	msg->data = json_dumps(data, JSON_COMPACT);
	if (!msg->data) {
		*why = "out of memory";
		return PT_E_INTERNAL;
	}
	msg->data_len = strlen(msg->data);
	if (msg->data_len > lim->max_signal_bytes) {
		*why = "data: larger than max_signal_bytes";
		return PT_E_TOO_LARGE;
	}
	return PT_OK;
}

/* bad-peer: `peer` (an id), then `hash`, as signal's `to` and lookup's
 * `hash` are checked. */
static enum pt_err parse_bad_peer(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                                  const char **why)
{
	json_t *peer = json_object_get(root, "peer");
	json_t *h = json_object_get(root, "hash");

	if (!json_is_string(peer) ||
	    pt_id_decode(json_string_value(peer), json_string_length(peer), &msg->to) != 0) {
		*why = "peer: must be a client id (24 base64url characters)";
		return PT_E_BAD_MESSAGE;
	}
	if (!h) {
		*why = "hash: missing";
		return PT_E_BAD_MESSAGE;
	}
	if (!json_is_string(h) ||
	    pt_hash_parse(json_string_value(h), json_string_length(h), &msg->hash) != 0) {
		*why = "hash: not 64 lowercase hex characters";
		return PT_E_BAD_HASH;
	}
	return PT_OK;
}

static enum pt_err parse_ping(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                              const char **why)
{
	return PT_OK;
}

/* One byte count of a report: absent is 0; otherwise an integer in
 * 0..max (max_report_bytes), so no client can push the running totals
 * anywhere near 2^64 with a few messages. */
static enum pt_err parse_count(json_t *root, const char *key, uint64_t max, uint64_t *out,
                               pt_msg *msg, const char **why)
{
	json_t *v = json_object_get(root, key);

	*out = 0;
	if (!v)
		return PT_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(msg->why_buf, sizeof(msg->why_buf), "%s: must be an integer >= 0", key);
		*why = msg->why_buf;
		return PT_E_BAD_MESSAGE;
	}
	if ((uint64_t)json_integer_value(v) > max) {
		snprintf(msg->why_buf, sizeof(msg->why_buf), "%s: above max_report_bytes (%" PRIu64 ")",
		         key, max);
		*why = msg->why_buf;
		return PT_E_BAD_MESSAGE;
	}
	*out = (uint64_t)json_integer_value(v);
	return PT_OK;
}

static enum pt_err parse_report(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                                const char **why)
{
	enum pt_err e;

	if ((e = parse_count(root, "from_peers", lim->max_report_bytes, &msg->from_peers, msg,
	                     why)) != PT_OK ||
	    (e = parse_count(root, "from_origin", lim->max_report_bytes, &msg->from_origin, msg,
	                     why)) != PT_OK)
		return e;
	return parse_count(root, "to_peers", lim->max_report_bytes, &msg->to_peers, msg, why);
}

/* The token is only bounded here; whether it is one the server issued is
 * the handler's question (resume-invalid). */
static enum pt_err parse_resume(json_t *root, const pt_msg_limits *lim, pt_msg *msg,
                                const char **why)
{
	json_t *t = json_object_get(root, "token");

	if (!json_is_string(t) || json_string_length(t) > PT_MSG_TOKEN_MAX) {
		*why = "token: must be a string of at most 64 bytes";
		return PT_E_BAD_MESSAGE;
	}
	msg->token_len = json_string_length(t);
	memcpy(msg->token, json_string_value(t), msg->token_len);
	msg->token[msg->token_len] = '\0';
	return PT_OK;
}

enum pt_err pt_msg_load_error(const struct json_error_t *jerr, const char **why)
{
	switch (json_error_code(jerr)) {
	case json_error_duplicate_key:
		*why = "a key appears twice in one object";
		return PT_E_BAD_MESSAGE;
	case json_error_numeric_overflow:
		*why = "a number is out of range";
		return PT_E_BAD_MESSAGE;
	case json_error_stack_overflow:
		*why = "nested too deeply";
		return PT_E_BAD_MESSAGE;
	case json_error_out_of_memory:
		*why = "out of memory";
		return PT_E_INTERNAL;
	default:
		*why = "not valid JSON";
		return PT_E_BAD_JSON;
	}
}

/* jansson gives up on the whole text when one integer is out of range, so
 * the rid it would have found is lost. Read the frame again with every
 * integer as a double: a string rid comes back as it was, an integer rid
 * only when the double holds it exactly (|rid| < 2^53); otherwise none,
 * rather than a wrong one. */
static void salvage_rid(const char *frame, size_t len, pt_rid *rid)
{
	json_t *root = json_loadb(frame, len,
	                          JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
	                          NULL);
	json_t *v = json_object_get(root, "rid");
	const char *why;

	if (json_is_real(v)) {
		double d = json_real_value(v);
		/* Below 2^53 every integer literal parses to itself; 2^53 + 1
		 * would round to 2^53, so that and above are not trusted. */
		if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d) {
			rid->kind = PT_RID_INT;
			rid->i = (int64_t)d;
		}
	} else if (json_is_string(v)) {
		parse_rid(root, rid, &why);
	}
	json_decref(root);
}

enum pt_err pt_msg_parse(const char *frame, size_t len, const pt_msg_limits *lim,
                         pt_msg *msg, const char **why)
{
	const char *dummy;
	json_error_t jerr;
	json_t *root = NULL;
	enum pt_err e;

	if (!why)
		why = &dummy;
	*why = NULL;
	memset(msg, 0, sizeof(*msg));

	if (memchr(frame, '\0', len)) {
		*why = "not valid JSON";
		return PT_E_BAD_JSON;
	}
	root = json_loadb(frame, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_numeric_overflow)
			salvage_rid(frame, len, &msg->rid);
		return pt_msg_load_error(&jerr, why);
	}

	if (!json_is_object(root)) {
		*why = "not a JSON object";
		e = PT_E_BAD_MESSAGE;
		goto out;
	}
	if ((e = parse_rid(root, &msg->rid, why)) != PT_OK)
		goto out;

	json_t *type = json_object_get(root, "type");
	if (!json_is_string(type)) {
		*why = "type: missing or not a string";
		e = PT_E_BAD_MESSAGE;
		goto out;
	}
	const struct msg_type *t = find_type(json_string_value(type), json_string_length(type));
	if (!t) {
		*why = "type: names no message";
		e = PT_E_UNKNOWN_TYPE;
		goto out;
	}
	msg->type = t->type;
	e = t->parse(root, lim, msg, why);

out:
	json_decref(root);
	if (e != PT_OK) {
		/* Keep what the error reply needs: the rid and the explanation. */
		pt_rid rid = msg->rid;
		char buf[sizeof(msg->why_buf)];
		bool own_why = *why == msg->why_buf;
		if (own_why)
			memcpy(buf, msg->why_buf, sizeof(buf));
		pt_msg_clear(msg);
		msg->rid = rid;
		if (own_why)
			memcpy(msg->why_buf, buf, sizeof(buf));
	}
	return e;
}
