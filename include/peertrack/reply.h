/* reply.h — protocol v1 server messages, encoded as compact JSON text.
 *
 * Every encoder appends one complete message to a pt_buf (buf.h), whole
 * or not at all: 0, or -ENOMEM with the buffer unchanged in length.
 */
#ifndef PEERTRACK_REPLY_H
#define PEERTRACK_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/buf.h"
#include "peertrack/errors.h"
#include "peertrack/hash.h"
#include "peertrack/id.h"
#include "peertrack/msg.h"

typedef struct pt_welcome_limits {
	uint32_t max_message_bytes, max_hashes_per_message, max_hashes_per_peer,
	         max_lookup_peers, max_signal_bytes, max_report_bytes, rate_messages_per_sec,
	         rate_burst;
} pt_welcome_limits;

/* What a welcome carries beyond the id and limits. ice_servers: a JSON
 * array's text (pt_ice_servers_json), copied as is; NULL or empty: "[]".
 * resume_token: NULL when resuming is off. */
typedef struct pt_welcome_extra {
	const char *ice_servers;
	size_t ice_servers_len;
	uint32_t ice_ttl_s;        /* 0: no TURN credentials in ice_servers */
	const char *resume_token;
	uint32_t resume_window_ms;
} pt_welcome_extra;

/* x may be NULL (no ice_servers, no resume_token). */
int pt_reply_welcome(pt_buf *b, const pt_id *id, uint32_t heartbeat_ms, uint32_t timeout_ms,
                     const pt_welcome_limits *lim, const pt_welcome_extra *x);
/* The answer to refresh-ice: {"type":"ice-servers",rid,"ice_servers":[..],"ice_ttl_s":N}. */
int pt_reply_ice_servers(pt_buf *b, const pt_rid *rid, const char *ice_servers, size_t len,
                         uint32_t ice_ttl_s);
/* The answer to a successful resume: the id again, a fresh token, and how
 * many hashes the peer holds again; held frames follow it. */
int pt_reply_resumed(pt_buf *b, const pt_rid *rid, const pt_id *id, const char *resume_token,
                     size_t hashes, size_t held);
int pt_reply_ack(pt_buf *b, const pt_rid *rid, size_t count, size_t total);
/* ids: n client ids, best first. */
int pt_reply_peers(pt_buf *b, const pt_rid *rid, const pt_hash *h, const pt_id *const *ids, size_t n);
int pt_reply_signal(pt_buf *b, const pt_id *from, const char *data, size_t data_len);
int pt_reply_pong(pt_buf *b, const pt_rid *rid);
int pt_reply_peer_left(pt_buf *b, const pt_id *id);
int pt_reply_error(pt_buf *b, const pt_rid *rid, enum pt_err e, const char *message);

#endif
