/* sig.h — the peer's protocol v1 client: one WebSocket to peertrackd
 * (libsoup, on the default GMainContext), one JSON object per text frame.
 * Sends a `ping` every half heartbeat so the daemon never times us out.
 *
 * Resuming (docs/PROTOCOL.md, "Resuming"): when the connection drops
 * (closed without our asking: 1006, 4000, 1011), the client reconnects with
 * backoff and jitter within the welcome's resume_window_ms and presents its
 * token; messages sent meanwhile wait in a bounded outbox and go out after
 * `resumed`. The owner sees nothing but the resumed callback; the id stays
 * the same. A refused resume (other than resume-live, which is retried:
 * the daemon may not have seen the old connection drop yet) or a window
 * that ends closes the client, unless the owner takes fresh sessions (a
 * renewed callback): then the client carries on under a new id — adopting
 * the refused connection, or connecting afresh with a growing, jittered
 * delay (1-2 s doubling to 30 s) after a drop past the window or a close
 * that invites a return (1001, 1012, 1013, 4002, 4029) — and never gives
 * up. Messages queued for the old session are dropped. */
#ifndef PEERTRACK_PEER_SIG_H
#define PEERTRACK_PEER_SIG_H

#include <stdint.h>
#include <jansson.h>
#include "peertrack/id.h"

typedef struct pt_sig pt_sig;

typedef struct pt_sig_cbs {
	/* The welcome arrived: id is ours for the connection's life. */
	void (*welcome)(void *arg, const char *id, json_t *welcome);
	/* Any other message from the server (borrowed). */
	void (*message)(void *arg, const char *type, json_t *msg);
	/* The connection failed or closed; code is the close code, or 0 when
	 * the WebSocket never opened. No callback follows. */
	void (*closed)(void *arg, int code, const char *why);
	/* The connection dropped and was resumed; held messages follow. May
	 * be NULL. */
	void (*resumed)(void *arg, unsigned held);
	/* May be NULL (then a session's end closes the client). The session
	 * is over: everything tied to the old id (its hashes in the index, the
	 * signalling sessions, requests in flight) is gone. delay_ms is how
	 * long until the next connection (0: the current one goes on). */
	void (*renewing)(void *arg, int code, const char *why, unsigned delay_ms);
	/* A fresh session under a new id: announce again. NULL: no renewals. */
	void (*renewed)(void *arg, const char *id, json_t *welcome);
} pt_sig_cbs;

/* Starts connecting to url (ws://host:port/v1) with the given Origin,
 * from local address bind (NULL: any). NULL if url or bind is malformed. */
pt_sig *pt_sig_new(const char *url, const char *origin, const char *bind,
                   const pt_sig_cbs *cbs, void *arg);

/* Sends msg (borrowed), adding "rid": a fresh integer, also returned (> 0).
 * While resuming, it waits in the outbox (-ENOBUFS when that is full).
 * Returns -ENOTCONN before the welcome or after close, -ENOMEM. */
int64_t pt_sig_request(pt_sig *s, json_t *msg);

/* The rid the next pt_sig_request will use. */
int64_t pt_sig_next_rid(const pt_sig *s);

/* Sends msg as is. 0 or a negative errno. */
int pt_sig_send(pt_sig *s, json_t *msg);

/* Our id, "" before the welcome. */
const char *pt_sig_id(const pt_sig *s);
/* welcome.limits.<key>, or def when absent. */
uint32_t pt_sig_limit(const pt_sig *s, const char *key, uint32_t def);

/* Tests: cuts the connection (a TCP shutdown, no close frame) as a network
 * change would, and resumes after away_ms (what is sent meanwhile waits). */
void pt_sig_test_drop(pt_sig *s, unsigned away_ms);

/* Closes (normal closure) and frees; no callback is made afterwards. */
void pt_sig_free(pt_sig *s);

#endif
