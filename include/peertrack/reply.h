/* reply.h — protocol v1 server messages, encoded as compact JSON text.
 *
 * Every encoder appends one complete message to a pt_buf. A pt_buf keeps
 * `head` spare bytes in front of the text (a front-end sets it to
 * LWS_PRE), so the frame goes to the socket without another copy.
 * Encoders return 0 or -ENOMEM (the buffer is then unchanged in length).
 */
#ifndef PEERTRACK_REPLY_H
#define PEERTRACK_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/errors.h"
#include "peertrack/hash.h"
#include "peertrack/id.h"
#include "peertrack/msg.h"

typedef struct pt_buf {
	char *p;     /* allocation; text starts at p + head */
	size_t head; /* spare bytes reserved in front */
	size_t len;  /* text length, excluding head */
	size_t cap;  /* allocated bytes, including head */
} pt_buf;

void pt_buf_init(pt_buf *b, size_t head);
void pt_buf_reset(pt_buf *b); /* len = 0, keeps memory */
void pt_buf_free(pt_buf *b);
static inline char *pt_buf_text(const pt_buf *b) { return b->p + b->head; }
int pt_buf_append(pt_buf *b, const void *data, size_t len);
int pt_buf_printf(pt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, escaping as needed. */
int pt_buf_json_string(pt_buf *b, const char *s, size_t len);

typedef struct pt_welcome_limits {
	uint32_t max_message_bytes, max_hashes_per_message, max_hashes_per_peer,
	         max_lookup_peers, max_signal_bytes, rate_messages_per_sec, rate_burst;
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
