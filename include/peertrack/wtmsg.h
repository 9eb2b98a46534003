/* wtmsg.h — WebTorrent tracker protocol client messages (/announce):
 * parse and validate one text frame into a struct pt_wt_msg, so the
 * front-end's handlers only ever see valid messages (docs/PROTOCOL.md,
 * "WebTorrent tracker protocol").
 *
 * Three messages: announce (action "announce", optional offers), answer
 * (action "announce" with "answer"), scrape (action "scrape"). Ids are
 * 20-byte binary strings (binstr.h); offers and answers stay opaque JSON
 * text, never parsed (some clients encrypt their SDP).
 *
 * Two parsers give the same answers: a single-pass scanner that takes the
 * common frames without building a tree or allocating (wtfast.h), and the
 * full jansson parse for everything else, which has the error messages.
 *
 * Ownership: pt_wt_msg_parse fills a caller-owned struct; pt_wt_msg_clear
 * frees what the parse allocated. Clearing a zeroed or cleared struct is
 * safe. The offer and answer texts are borrowed: they point into the frame
 * (the fast path, the client's bytes verbatim) or into the parse's own
 * copies (compact JSON), so use them only while both the frame and msg
 * live.
 */
#ifndef PEERTRACK_WTMSG_H
#define PEERTRACK_WTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "peertrack/errors.h"

#define PT_WT_ID_BYTES 20

typedef struct pt_wt_id {
	uint8_t b[PT_WT_ID_BYTES];
} pt_wt_id;

enum pt_wt_type { PT_WT_ANNOUNCE = 0, PT_WT_ANSWER, PT_WT_SCRAPE, PT_WT__COUNT };

enum pt_wt_event {
	PT_WT_EV_UPDATE = 0, /* absent, "update", "empty" or "none" */
	PT_WT_EV_STARTED,
	PT_WT_EV_COMPLETED,
	PT_WT_EV_STOPPED,
	PT_WT_EV_PAUSED,
};

typedef struct pt_wt_offer {
	pt_wt_id offer_id;
	const char *offer; /* the "offer" value as JSON text, offer_len bytes, not NUL-terminated */
	size_t offer_len;
} pt_wt_offer;

/* Offers the fast path holds in the message itself; an announce with more
 * goes to the full parser. */
#define PT_WT_FAST_OFFERS 16

typedef struct pt_wt_limits {
	uint32_t max_offers;      /* offers per announce */
	uint32_t max_offer_bytes; /* one serialised offer or answer */
	uint32_t max_scrape;      /* info_hashes per scrape */
} pt_wt_limits;

typedef struct pt_wt_msg {
	enum pt_wt_type type;
	bool has_info_hash;   /* set as soon as info_hash validated, errors too */
	pt_wt_id info_hash;
	/* announce and answer */
	pt_wt_id peer_id;
	/* announce */
	enum pt_wt_event event;
	int64_t numwant;      /* -1 when absent */
	bool seeder;          /* "left" present and 0 */
	pt_wt_offer *offers;
	size_t n_offers;
	/* answer */
	pt_wt_id to_peer_id, offer_id;
	const char *answer;   /* JSON text, answer_len bytes, not NUL-terminated */
	size_t answer_len;
	/* scrape: distinct info_hashes in first-seen order */
	pt_wt_id *hashes;
	size_t n_hashes;
	char why_buf[96];
	/* private */
	bool owned;           /* offers[], their texts and answer are heap copies */
	pt_wt_offer fast_offers[PT_WT_FAST_OFFERS];
} pt_wt_msg;

/* Parses one frame. PT_OK, or an error with *why a short explanation (a
 * static string or msg->why_buf, valid until msg is parsed into or cleared
 * again). On error msg->type and, when it was valid, msg->info_hash are
 * kept so the failure reply can carry them; the rest is cleared. */
enum pt_err pt_wt_msg_parse(const char *frame, size_t len, const pt_wt_limits *lim,
                            pt_wt_msg *msg, const char **why);

/* The same with the full parser only (the fast path's reference, for tests
 * and fuzzing); offer and answer texts are compact JSON. */
enum pt_err pt_wt_msg_parse_json(const char *frame, size_t len, const pt_wt_limits *lim,
                                 pt_wt_msg *msg, const char **why);

void pt_wt_msg_clear(pt_wt_msg *msg);

/* "announce", "answer", "scrape" (for metrics). */
const char *pt_wt_type_name(enum pt_wt_type t);

#endif
