/* errors.h — the protocol's stable error codes and WebSocket close codes.
 * The strings are part of the wire protocol (docs/PROTOCOL.md): never
 * rename one, only add. */
#ifndef PEERTRACK_ERRORS_H
#define PEERTRACK_ERRORS_H

/* X(enumerator, wire name): the protocol's error codes. */
#define PT_ERRORS(X) \
	X(PT_OK, "ok") \
	X(PT_E_BAD_JSON, "bad-json")               /* not parseable JSON text */ \
	X(PT_E_BAD_MESSAGE, "bad-message")         /* JSON, but not a valid message */ \
	X(PT_E_UNKNOWN_TYPE, "unknown-type")       /* "type" names no message */ \
	X(PT_E_BAD_HASH, "bad-hash")               /* not 64 lowercase hex chars */ \
	X(PT_E_TOO_MANY_HASHES, "too-many-hashes") /* per message or per peer */ \
	X(PT_E_TOO_LARGE, "too-large")             /* a field over its size limit */ \
	X(PT_E_RATE_LIMITED, "rate-limited")       /* message rate over the limit */ \
	X(PT_E_PEER_GONE, "peer-gone")             /* signal target not connected */ \
	X(PT_E_INTERNAL, "internal")               /* the server failed (out of memory) */ \
	X(PT_E_BUSY, "busy")                       /* a server budget is full: retry later */ \
	/* resume refused (docs/PROTOCOL.md, "Resuming"); the client keeps */ \
	/* the fresh id of its new connection */ \
	X(PT_E_RESUME_EXPIRED, "resume-expired")   /* nothing to resume: window over, evicted, restart */ \
	X(PT_E_RESUME_REUSED, "resume-reused")     /* that token was used already */ \
	X(PT_E_RESUME_LIVE, "resume-live")         /* the token's connection is still open */ \
	X(PT_E_RESUME_INVALID, "resume-invalid")   /* not a token this server issued */ \
	X(PT_E_UNAVAILABLE, "unavailable")         /* target on another node, cluster link down: retry */

#define X(e, name) e,
enum pt_err { PT_ERRORS(X) PT_E__COUNT };
#undef X

/* "bad-json" etc.; never NULL. */
const char *pt_err_code(enum pt_err e);

/* WebSocket close codes the server uses. */
enum pt_close {
	PT_CLOSE_GOING_AWAY     = 1001, /* server shutting down */
	PT_CLOSE_BAD_DATA       = 1007, /* a text message that is not UTF-8 */
	PT_CLOSE_POLICY         = 1008, /* origin refused, banned */
	PT_CLOSE_TOO_BIG        = 1009, /* frame/message over max_message_bytes */
	PT_CLOSE_INTERNAL       = 1011, /* server error */
	PT_CLOSE_FULL           = 1013, /* max_connections reached: try later */
	PT_CLOSE_TIMEOUT        = 4000, /* silent for timeout_ms */
	PT_CLOSE_ABUSE          = 4001, /* kept flooding while rate-limited */
	PT_CLOSE_SLOW_READER    = 4002, /* send queue over send_queue_max_bytes */
	PT_CLOSE_KICKED         = 4003, /* an operator kicked the peer */
	PT_CLOSE_TOO_MANY_FROM_IP = 4029 /* max_connections_per_ip reached */
};

#endif
