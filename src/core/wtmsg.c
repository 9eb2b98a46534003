/* wtmsg.c — parse and validate one WebTorrent tracker frame (wtmsg.h).
 *
 * Order of checks: JSON, an object, "action", "info_hash" (so every later
 * failure can echo it), then the message's own fields. Decoding choices,
 * stricter than the reference server where it is lax:
 *   - U+0000 is allowed (JSON_ALLOW_NUL): it is a legal byte of a binary id;
 *   - a key repeated in one object is refused, as on /v1;
 *   - numbers must be numbers ("left":"5" is refused, not coerced);
 *   - a missing "left" is a leecher, as in the reference server;
 *   - offers beyond the limit are refused, not silently dropped.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "peertrack/binstr.h"
#include "peertrack/msg.h"
#include "peertrack/wtfast.h"
#include "peertrack/wtmsg.h"

static const char *const type_names[PT_WT__COUNT] = {
	[PT_WT_ANNOUNCE] = "announce",
	[PT_WT_ANSWER] = "answer",
	[PT_WT_SCRAPE] = "scrape",
};

const char *pt_wt_type_name(enum pt_wt_type t)
{
	return (unsigned)t < PT_WT__COUNT ? type_names[t] : "unknown";
}

static const struct {
	const char *name;
	enum pt_wt_event ev;
} events[] = {
	{ "started", PT_WT_EV_STARTED }, { "completed", PT_WT_EV_COMPLETED },
	{ "stopped", PT_WT_EV_STOPPED }, { "paused", PT_WT_EV_PAUSED },
	{ "update", PT_WT_EV_UPDATE },   { "empty", PT_WT_EV_UPDATE },
	{ "none", PT_WT_EV_UPDATE },
};

void pt_wt_msg_clear(pt_wt_msg *msg)
{
	if (msg->owned) {
		for (size_t i = 0; i < msg->n_offers; i++)
			free((char *)msg->offers[i].offer);
		free(msg->offers);
		free((char *)msg->answer);
	}
	free(msg->hashes);
	msg->offers = NULL;
	msg->n_offers = 0;
	msg->answer = NULL;
	msg->hashes = NULL;
	msg->n_hashes = 0;
	msg->owned = false;
}

/* A 20-byte id under key; NULL name in why means "invalid <key>". */
static enum pt_err get_id(json_t *o, const char *key, pt_wt_id *out, pt_wt_msg *msg,
                          const char **why)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) ||
	    pt_binstr_decode(json_string_value(v), json_string_length(v), out->b, PT_WT_ID_BYTES)) {
		snprintf(msg->why_buf, sizeof(msg->why_buf),
		         "invalid %s: must be 20 characters U+0000..U+00FF", key);
		*why = msg->why_buf;
		return PT_E_BAD_MESSAGE;
	}
	return PT_OK;
}

/* An opaque value forwarded as it came: an object or a string, bounded. */
static enum pt_err get_opaque(json_t *v, const char *what, uint32_t max, const char **out,
                              size_t *out_len, pt_wt_msg *msg, const char **why)
{
	char *text;

	if (!json_is_object(v) && !json_is_string(v)) {
		snprintf(msg->why_buf, sizeof(msg->why_buf), "invalid %s: must be an object or a string",
		         what);
		*why = msg->why_buf;
		return PT_E_BAD_MESSAGE;
	}
	*out = text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text) {
		*why = "out of memory";
		return PT_E_INTERNAL;
	}
	*out_len = strlen(text);
	if (*out_len > max) {
		snprintf(msg->why_buf, sizeof(msg->why_buf), "%s larger than %u bytes", what, max);
		*why = msg->why_buf;
		return PT_E_TOO_LARGE;
	}
	return PT_OK;
}

/* A non-negative number (integer or real) under key, if present. null
 * counts as absent: WebTorrent sends "left": Infinity before it has the
 * metadata, which JSON.stringify writes as null (the reference server's
 * Number(null) makes that peer a seeder; here it is a leecher). */
static enum pt_err get_count(json_t *o, const char *key, bool *present, double *val,
                             pt_wt_msg *msg, const char **why)
{
	json_t *v = json_object_get(o, key);

	*present = v != NULL && !json_is_null(v);
	if (!*present)
		return PT_OK;
	if (!json_is_number(v) || json_number_value(v) < 0) {
		snprintf(msg->why_buf, sizeof(msg->why_buf), "invalid %s: must be a number >= 0", key);
		*why = msg->why_buf;
		return PT_E_BAD_MESSAGE;
	}
	*val = json_number_value(v);
	return PT_OK;
}

static enum pt_err parse_offers(json_t *arr, const pt_wt_limits *lim, pt_wt_msg *msg,
                                const char **why)
{
	enum pt_err e;
	size_t n;

	if (!json_is_array(arr)) {
		*why = "invalid offers: must be an array";
		return PT_E_BAD_MESSAGE;
	}
	n = json_array_size(arr);
	if (n > lim->max_offers) {
		snprintf(msg->why_buf, sizeof(msg->why_buf), "too many offers (at most %u)",
		         lim->max_offers);
		*why = msg->why_buf;
		return PT_E_TOO_MANY_HASHES;
	}
	if (!n)
		return PT_OK;
	if (!(msg->offers = calloc(n, sizeof(*msg->offers)))) {
		*why = "out of memory";
		return PT_E_INTERNAL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		pt_wt_offer *of = &msg->offers[i];

		if (!json_is_object(o)) {
			snprintf(msg->why_buf, sizeof(msg->why_buf), "invalid offers[%zu]: not an object", i);
			*why = msg->why_buf;
			return PT_E_BAD_MESSAGE;
		}
		if ((e = get_id(o, "offer_id", &of->offer_id, msg, why)) != PT_OK)
			return e;
		msg->n_offers = i + 1; /* from here on, clear frees of->offer */
		if ((e = get_opaque(json_object_get(o, "offer"), "offer", lim->max_offer_bytes,
		                    &of->offer, &of->offer_len, msg, why)) != PT_OK)
			return e;
	}
	return PT_OK;
}

static enum pt_err parse_announce(json_t *root, const pt_wt_limits *lim, pt_wt_msg *msg,
                                  const char **why)
{
	json_t *v;
	enum pt_err e;
	bool present;
	double left = 0, ignored;

	if ((e = get_id(root, "peer_id", &msg->peer_id, msg, why)) != PT_OK)
		return e;
	if ((v = json_object_get(root, "answer"))) {
		msg->type = PT_WT_ANSWER;
		if (!json_is_string(json_object_get(root, "to_peer_id"))) {
			*why = "invalid `to_peer_id` (required with `answer`)";
			return PT_E_BAD_MESSAGE;
		}
		if ((e = get_id(root, "to_peer_id", &msg->to_peer_id, msg, why)) != PT_OK ||
		    (e = get_id(root, "offer_id", &msg->offer_id, msg, why)) != PT_OK)
			return e;
		return get_opaque(v, "answer", lim->max_offer_bytes, &msg->answer, &msg->answer_len,
		                  msg, why);
	}

	msg->event = PT_WT_EV_UPDATE;
	if ((v = json_object_get(root, "event"))) {
		size_t i, n = sizeof(events) / sizeof(events[0]);

		for (i = 0; json_is_string(v) && i < n; i++)
			if (!strcmp(json_string_value(v), events[i].name))
				break;
		if (!json_is_string(v) || i == n) {
			*why = "invalid event: started, completed, stopped, paused or update";
			return PT_E_BAD_MESSAGE;
		}
		msg->event = events[i].ev;
	}
	msg->numwant = -1;
	if ((v = json_object_get(root, "numwant"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			*why = "invalid numwant: must be an integer >= 0";
			return PT_E_BAD_MESSAGE;
		}
		msg->numwant = json_integer_value(v);
	}
	if ((e = get_count(root, "left", &present, &left, msg, why)) != PT_OK)
		return e;
	msg->seeder = present && left == 0;
	if ((e = get_count(root, "uploaded", &present, &ignored, msg, why)) != PT_OK ||
	    (e = get_count(root, "downloaded", &present, &ignored, msg, why)) != PT_OK)
		return e;
	if ((v = json_object_get(root, "offers")))
		return parse_offers(v, lim, msg, why);
	return PT_OK;
}

static enum pt_err parse_scrape(json_t *root, const pt_wt_limits *lim, pt_wt_msg *msg,
                                const char **why)
{
	json_t *v = json_object_get(root, "info_hash");
	size_t n;

	if (json_is_string(v)) {
		if (pt_binstr_decode(json_string_value(v), json_string_length(v), msg->info_hash.b,
		                     PT_WT_ID_BYTES)) {
			*why = "invalid info_hash: must be 20 characters U+0000..U+00FF";
			return PT_E_BAD_MESSAGE;
		}
		msg->has_info_hash = true;
		if (!(msg->hashes = malloc(sizeof(*msg->hashes)))) {
			*why = "out of memory";
			return PT_E_INTERNAL;
		}
		msg->hashes[0] = msg->info_hash;
		msg->n_hashes = 1;
		return PT_OK;
	}
	if (!json_is_array(v) || !(n = json_array_size(v))) {
		*why = "invalid info_hash: a full scrape is not served; name one or more info_hashes";
		return PT_E_BAD_MESSAGE;
	}
	if (n > lim->max_scrape) {
		snprintf(msg->why_buf, sizeof(msg->why_buf), "too many info_hashes (at most %u)",
		         lim->max_scrape);
		*why = msg->why_buf;
		return PT_E_TOO_MANY_HASHES;
	}
	if (!(msg->hashes = malloc(n * sizeof(*msg->hashes)))) {
		*why = "out of memory";
		return PT_E_INTERNAL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(v, i);
		pt_wt_id id;
		size_t j;

		if (!json_is_string(s) ||
		    pt_binstr_decode(json_string_value(s), json_string_length(s), id.b, PT_WT_ID_BYTES)) {
			snprintf(msg->why_buf, sizeof(msg->why_buf),
			         "invalid info_hash[%zu]: must be 20 characters U+0000..U+00FF", i);
			*why = msg->why_buf;
			return PT_E_BAD_MESSAGE;
		}
		/* max_scrape is small, so a pairwise scan stays cheap. */
		for (j = 0; j < msg->n_hashes; j++)
			if (!memcmp(&msg->hashes[j], &id, sizeof(id)))
				break;
		if (j == msg->n_hashes)
			msg->hashes[msg->n_hashes++] = id;
	}
	return PT_OK;
}

enum pt_err pt_wt_msg_parse(const char *frame, size_t len, const pt_wt_limits *lim,
                            pt_wt_msg *msg, const char **why)
{
	if (pt_wt_fast_parse(frame, len, lim, msg)) {
		if (why)
			*why = NULL;
		return PT_OK;
	}
	return pt_wt_msg_parse_json(frame, len, lim, msg, why);
}

enum pt_err pt_wt_msg_parse_json(const char *frame, size_t len, const pt_wt_limits *lim,
                                 pt_wt_msg *msg, const char **why)
{
	const char *dummy;
	json_error_t jerr;
	json_t *root, *action;
	enum pt_err e;

	if (!why)
		why = &dummy;
	*why = NULL;
	memset(msg, 0, offsetof(pt_wt_msg, fast_offers));
	msg->owned = true;
	root = json_loadb(frame, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	                  &jerr);
	if (!root)
		return pt_msg_load_error(&jerr, why);
	if (!json_is_object(root)) {
		*why = "not a JSON object";
		e = PT_E_BAD_MESSAGE;
		goto out;
	}
	action = json_object_get(root, "action");
	if (json_is_string(action) && !strcmp(json_string_value(action), "scrape")) {
		msg->type = PT_WT_SCRAPE;
		e = parse_scrape(root, lim, msg, why);
		goto out;
	}
	if (!json_is_string(action) || strcmp(json_string_value(action), "announce")) {
		*why = "invalid action: must be \"announce\" or \"scrape\"";
		e = PT_E_UNKNOWN_TYPE;
		goto out;
	}
	msg->type = PT_WT_ANNOUNCE;
	if ((e = get_id(root, "info_hash", &msg->info_hash, msg, why)) != PT_OK)
		goto out;
	msg->has_info_hash = true;
	e = parse_announce(root, lim, msg, why);
out:
	json_decref(root);
	if (e != PT_OK) {
		/* Keep what the failure reply needs. */
		enum pt_wt_type type = msg->type;
		bool has = msg->has_info_hash;
		pt_wt_id ih = msg->info_hash;

		pt_wt_msg_clear(msg);
		/* why_buf is untouched: *why stays valid. */
		memset(msg, 0, offsetof(pt_wt_msg, why_buf));
		msg->type = type;
		msg->has_info_hash = has;
		msg->info_hash = ih;
	}
	return e;
}
