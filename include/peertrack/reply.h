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

int pt_reply_welcome(pt_buf *b, const pt_id *id, uint32_t heartbeat_ms, uint32_t timeout_ms,
                     const pt_welcome_limits *lim);
int pt_reply_ack(pt_buf *b, const pt_rid *rid, size_t count, size_t total);
/* ids: n client ids, best first. */
int pt_reply_peers(pt_buf *b, const pt_rid *rid, const pt_hash *h, const pt_id *const *ids, size_t n);
int pt_reply_signal(pt_buf *b, const pt_id *from, const char *data, size_t data_len);
int pt_reply_pong(pt_buf *b, const pt_rid *rid);
int pt_reply_peer_left(pt_buf *b, const pt_id *id);
int pt_reply_error(pt_buf *b, const pt_rid *rid, enum pt_err e, const char *message);

#endif
