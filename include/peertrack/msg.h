/* msg.h — protocol v1 client messages: parse and validate one text frame
 * into a struct pt_msg. One table (src/core/msg.c) names every message
 * type, its fields and their validation; a front-end dispatches on
 * msg.type with its own handler table, so handlers only ever see valid
 * messages.
 *
 * Ownership: pt_msg_parse fills a caller-owned struct; pt_msg_clear frees
 * what the parse allocated (hashes, data). pt_msg_clear is safe on a
 * zeroed or already-cleared struct.
 */
#ifndef PEERTRACK_MSG_H
#define PEERTRACK_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "peertrack/errors.h"
#include "peertrack/hash.h"
#include "peertrack/id.h"

enum pt_msg_type {
	PT_MSG_ANNOUNCE = 0,
	PT_MSG_WITHDRAW,
	PT_MSG_LOOKUP,
	PT_MSG_SIGNAL,
	PT_MSG_PING,
	PT_MSG_REPORT,
	PT_MSG_RESUME,
	PT_MSG_REFRESH_ICE,
	PT_MSG_BAD_PEER,
	PT_MSG__COUNT
};

#define PT_RID_MAX 64 /* longest string rid, in bytes */
#define PT_MSG_TOKEN_MAX 64 /* longest resume token accepted, in bytes */

enum pt_rid_kind { PT_RID_NONE = 0, PT_RID_INT, PT_RID_STR };

typedef struct pt_rid {
	enum pt_rid_kind kind;
	int64_t i;
	uint8_t len;
	char s[PT_RID_MAX + 1]; /* raw UTF-8, NUL-terminated; escape on output */
} pt_rid;

typedef struct pt_msg_limits {
	uint32_t max_hashes_per_message;
	uint32_t max_signal_bytes; /* size of the serialised "data" object */
	uint32_t max_report_bytes; /* each byte count of a report */
} pt_msg_limits;

typedef struct pt_msg {
	enum pt_msg_type type;
	pt_rid rid;
	/* announce, withdraw: distinct hashes, in first-seen order */
	pt_hash *hashes;
	size_t n_hashes;
	/* lookup; bad-peer: the hash the peer lied about */
	pt_hash hash;
	uint32_t max; /* 0 when absent */
	/* signal: the target, and "data" as compact JSON text; bad-peer: the
	 * peer reported (in `to`) */
	pt_id to;
	char *data;
	size_t data_len;
	/* report: byte counts since the previous report */
	uint64_t from_peers, from_origin, to_peers;
	/* resume: the token as sent (at most PT_MSG_TOKEN_MAX bytes) */
	char token[PT_MSG_TOKEN_MAX + 1];
	size_t token_len;
	/* room for a `why` that names a position ("hashes[3]: ...") */
	char why_buf[96];
} pt_msg;

/* Parses one frame. Returns PT_OK, or an error code with *why set to a
 * short human explanation: a static string, or msg->why_buf when it names
 * a position, so it stays valid until msg is parsed into or cleared again.
 * On error msg->rid is still filled when the frame was an object with a
 * valid "rid", so the error can echo it; everything else in msg is
 * cleared. */
enum pt_err pt_msg_parse(const char *frame, size_t len, const pt_msg_limits *lim,
                         pt_msg *msg, const char **why);

void pt_msg_clear(pt_msg *msg);

/* Maps a failed jansson load (its json_error_t) to the protocol's error
 * and a static *why; shared by every front-end's parser, so one JSON
 * mistake gets one answer on /v1 and /announce. */
struct json_error_t;
enum pt_err pt_msg_load_error(const struct json_error_t *jerr, const char **why);

/* "announce" etc. */
const char *pt_msg_type_name(enum pt_msg_type t);

#endif
