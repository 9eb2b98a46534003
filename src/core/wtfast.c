/* wtfast.c — the /announce fast path (wtfast.h). One pass over the frame
 * records where each known member's value is; the message is judged once
 * the whole object is known valid, by the same rules as wtmsg.c's full
 * parser (see there for why each rule is what it is). */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "peertrack/binstr.h"
#include "peertrack/jscan.h"
#include "peertrack/wtfast.h"

typedef struct span {
	const char *p; /* NULL: the member is absent */
	size_t len;
	int escaped;   /* strings: holds a backslash */
} span;

/* A string member: its raw content. */
static int get_string(pt_jscan *s, span *out)
{
	return s->p < s->end && *s->p == '"' && pt_jscan_string(s, &out->p, &out->len, &out->escaped);
}

/* A count member (numwant, left, ...): null or an integer, as spelled. */
static int get_count(pt_jscan *s, span *out)
{
	out->p = s->p;
	if (s->end - s->p >= 4 && !memcmp(s->p, "null", 4)) {
		s->p += 4;
		out->len = 0; /* null */
		return 1;
	}
	if (!pt_jscan_number(s))
		return 0;
	out->len = (size_t)(s->p - out->p);
	return 1;
}

/* An opaque member (offer, answer): an object or a string, whose span
 * is the value as the client spelled it, within max bytes. */
static int get_opaque(pt_jscan *s, uint32_t max, span *out)
{
	out->p = s->p;
	if (s->p >= s->end || (*s->p != '{' && *s->p != '"') || !pt_jscan_value(s, 2))
		return 0;
	out->len = (size_t)(s->p - out->p);
	return out->len <= max;
}

static int get_id(const span *v, pt_wt_id *out)
{
	return v->p && !pt_binstr_decode_json(v->p, v->len, out->b, PT_WT_ID_BYTES);
}

/* offers: [{offer_id, offer}, ...], at most the limit and what msg holds. */
static int get_offers(pt_jscan *s, const pt_wt_limits *lim, pt_wt_msg *msg)
{
	size_t n = 0;
	int r;

	if (s->p >= s->end || *s->p != '[')
		return 0;
	s->p++;
	pt_jscan_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 1;
	}
	do {
		pt_wt_offer *of = &msg->fast_offers[n];
		pt_jscan_keys ks;
		span id = { 0 }, offer = { 0 };
		int m;

		if (n == PT_WT_FAST_OFFERS || n >= lim->max_offers || !pt_jscan_eat(s, '{'))
			return 0;
		ks.n = 0;
		do {
			const char *k;
			size_t kl;

			if (!pt_jscan_key(s, &ks, &k, &kl))
				return 0;
			if (PT_JSCAN_KEY_IS(k, kl, "offer_id")) {
				if (!get_string(s, &id))
					return 0;
			} else if (PT_JSCAN_KEY_IS(k, kl, "offer")) {
				if (!get_opaque(s, lim->max_offer_bytes, &offer))
					return 0;
			} else if (!pt_jscan_value(s, 2)) {
				return 0;
			}
		} while ((m = pt_jscan_next(s, '}')) == 1);
		if (m != 2 || !get_id(&id, &of->offer_id) || !offer.p)
			return 0;
		of->offer = offer.p;
		of->offer_len = offer.len;
		n++;
	} while ((r = pt_jscan_next(s, ']')) == 1);
	if (r != 2)
		return 0;
	msg->offers = msg->fast_offers;
	msg->n_offers = n;
	return 1;
}

static int is_announce(const span *v)
{
	return !v->escaped && v->len == 8 && !memcmp(v->p, "announce", 8);
}

static const struct {
	const char *name;
	size_t len;
	enum pt_wt_event ev;
} events[] = {
	{ "started", 7, PT_WT_EV_STARTED }, { "completed", 9, PT_WT_EV_COMPLETED },
	{ "stopped", 7, PT_WT_EV_STOPPED }, { "paused", 6, PT_WT_EV_PAUSED },
	{ "update", 6, PT_WT_EV_UPDATE },   { "empty", 5, PT_WT_EV_UPDATE },
	{ "none", 4, PT_WT_EV_UPDATE },
};

static int get_event(const span *v, enum pt_wt_event *out)
{
	*out = PT_WT_EV_UPDATE;
	if (!v->p)
		return 1;
	if (v->escaped)
		return 0;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (v->len == events[i].len && !memcmp(v->p, events[i].name, v->len)) {
			*out = events[i].ev;
			return 1;
		}
	return 0;
}

/* A count that may be absent or null: *present, *val. Negative ones go to
 * the full parser (an error there). */
static int count_value(const span *v, bool *present, int64_t *val)
{
	*present = v->p && v->len;
	*val = 0;
	if (!*present)
		return 1;
	if (*v->p == '-')
		return 0;
	*val = pt_jscan_int(v->p, v->len);
	return 1;
}

int pt_wt_fast_parse(const char *frame, size_t len, const pt_wt_limits *lim, pt_wt_msg *msg)
{
	pt_jscan s;
	pt_jscan_keys ks;
	span action = { 0 }, ih = { 0 }, pid = { 0 }, to = { 0 }, oid = { 0 }, answer = { 0 },
	     event = { 0 }, numwant = { 0 }, left = { 0 }, up = { 0 }, down = { 0 };
	bool present;
	int64_t v;
	int r;

	memset(msg, 0, offsetof(pt_wt_msg, why_buf));
	msg->type = PT_WT_ANNOUNCE;
	msg->owned = false;
	pt_jscan_init(&s, frame, len, PT_JSCAN_ALLOW_NUL);
	ks.n = 0;
	if (!pt_jscan_eat(&s, '{'))
		return 0;
	do {
		const char *k;
		size_t kl;
		int ok;

		if (!pt_jscan_key(&s, &ks, &k, &kl))
			return 0;
		/* Dispatch on length first: most keys are told apart by it. */
		switch (kl) {
		case 5:
			ok = PT_JSCAN_KEY_IS(k, kl, "event") ? get_string(&s, &event) : pt_jscan_value(&s, 1);
			break;
		case 6:
			/* Not an announce (a scrape, or a doubt): the full parser's
			 * now, without scanning the rest first. */
			ok = PT_JSCAN_KEY_IS(k, kl, "action")  ? get_string(&s, &action) &&
			                                          is_announce(&action) :
			     PT_JSCAN_KEY_IS(k, kl, "answer")  ? get_opaque(&s, lim->max_offer_bytes, &answer) :
			     PT_JSCAN_KEY_IS(k, kl, "offers")  ? get_offers(&s, lim, msg) :
			                                          pt_jscan_value(&s, 1);
			break;
		case 7:
			ok = PT_JSCAN_KEY_IS(k, kl, "peer_id") ? get_string(&s, &pid) :
			     PT_JSCAN_KEY_IS(k, kl, "numwant") ? get_count(&s, &numwant) :
			                                          pt_jscan_value(&s, 1);
			break;
		case 8:
			ok = PT_JSCAN_KEY_IS(k, kl, "offer_id") ? get_string(&s, &oid) :
			     PT_JSCAN_KEY_IS(k, kl, "uploaded") ? get_count(&s, &up) :
			                                           pt_jscan_value(&s, 1);
			break;
		case 9:
			ok = PT_JSCAN_KEY_IS(k, kl, "info_hash") ? get_string(&s, &ih) : pt_jscan_value(&s, 1);
			break;
		case 10:
			ok = PT_JSCAN_KEY_IS(k, kl, "to_peer_id") ? get_string(&s, &to) :
			     PT_JSCAN_KEY_IS(k, kl, "downloaded") ? get_count(&s, &down) :
			                                             pt_jscan_value(&s, 1);
			break;
		case 4:
			ok = PT_JSCAN_KEY_IS(k, kl, "left") ? get_count(&s, &left) : pt_jscan_value(&s, 1);
			break;
		default:
			ok = pt_jscan_value(&s, 1);
			break;
		}
		if (!ok)
			return 0;
	} while ((r = pt_jscan_next(&s, '}')) == 1);
	if (r != 2)
		return 0;
	pt_jscan_ws(&s);
	if (s.p != s.end || !action.p || !get_id(&ih, &msg->info_hash))
		return 0;
	msg->has_info_hash = true;
	if (!get_id(&pid, &msg->peer_id))
		return 0;

	if (answer.p) {
		/* An answer: the announce members are not looked at. */
		if (!get_id(&to, &msg->to_peer_id) || !get_id(&oid, &msg->offer_id))
			return 0;
		msg->type = PT_WT_ANSWER;
		msg->answer = answer.p;
		msg->answer_len = answer.len;
		msg->offers = NULL;
		msg->n_offers = 0;
		msg->event = PT_WT_EV_UPDATE;
		msg->numwant = 0;
		msg->seeder = false;
		return 1;
	}
	if (!get_event(&event, &msg->event))
		return 0;
	msg->numwant = -1;
	if (numwant.p) {
		/* null is not an integer: the full parser refuses it. */
		if (!numwant.len || !count_value(&numwant, &present, &v))
			return 0;
		msg->numwant = v;
	}
	if (!count_value(&left, &present, &v))
		return 0;
	msg->seeder = present && v == 0;
	if (!count_value(&up, &present, &v) || !count_value(&down, &present, &v))
		return 0;
	return 1;
}
