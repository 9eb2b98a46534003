/* rlink.h — one Redis connection on a libuv loop (hiredis 0.14 async on
 * uvredis.h), with what hiredis 0.14 lacks: a timeout on every
 * request, a bounded queue, the AUTH handshake and reconnection with
 * backoff and jitter.
 *
 * A link is either a command link (pt_rlink_command, pipelined: commands
 * issued in one loop turn leave in one write) or a subscriber link (the
 * channels given at creation, subscribed again after every reconnect; each
 * message goes to on_message). It is "up" once AUTH (if any) and the
 * handshake (SUBSCRIBE) succeeded; commands are refused while it is down,
 * never queued for later, so nothing waits on a dead Redis.
 *
 * Every request's callback runs exactly once: with the reply (borrowed, valid
 * during the call; it may be an error reply), or with NULL when the request
 * timed out, the link dropped or was closed. A request older than
 * timeout_ms drops the link (hiredis cannot cancel one request; replies come
 * in order), which fails every request queued behind it.
 *
 * The Redis link has no TLS (hiredis 0.14): keep it on loopback or a
 * private network (docs/OPERATIONS.md, "Cluster"). Everything runs on the
 * loop thread.
 */
#ifndef PEERTRACK_RLINK_H
#define PEERTRACK_RLINK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <hiredis/hiredis.h>

typedef struct pt_rlink pt_rlink;

typedef struct pt_rlink_opts {
	const char *host;       /* an IP address (a name would resolve blocking) */
	int port;
	const char *user;       /* ACL user, or NULL/"" for plain AUTH */
	const char *password;   /* NULL/"": no AUTH */
	uint32_t timeout_ms;    /* per request, and for connect + handshake */
	uint32_t max_pending;   /* requests in flight; more are refused */
	uint32_t backoff_min_ms, backoff_max_ms;
	const char *const *channels; /* subscriber link: NULL-terminated; NULL: command link */
} pt_rlink_opts;

/* reply: borrowed, or NULL (timeout, link down, closed). */
typedef void pt_rlink_fn(pt_rlink *l, redisReply *reply, void *arg);
/* up: the link became usable (true) or went down (false, after every
 * pending callback ran). */
typedef void pt_rlink_state_fn(pt_rlink *l, bool up, void *arg);

/* Copies opts (strings included) and starts connecting at once. NULL on
 * ENOMEM. on_message (subscriber links) gets each ["message", channel,
 * payload] reply. */
pt_rlink *pt_rlink_new(uv_loop_t *loop, const pt_rlink_opts *opts, const char *name,
                       pt_rlink_state_fn *on_state, pt_rlink_fn *on_message, void *arg);
/* Closes the connection (pending callbacks get NULL, on_state is not
 * called) and frees the link once its handles closed. NULL is a no-op. */
void pt_rlink_close(pt_rlink *l);

/* Queues one command (argv as hiredis' redisAsyncCommandArgv). 0, or
 * -EAGAIN (link down), -ENOBUFS (max_pending in flight), -ENOMEM; on
 * error fn is not called. */
int pt_rlink_command(pt_rlink *l, pt_rlink_fn *fn, void *arg, int argc, const char **argv,
                     const size_t *argvlen);
/* Writes the queued commands now rather than when the loop next finds
 * the socket writable (saves a loop turn per write). A write that fails
 * drops the link, running every pending callback (NULL) and on_state from
 * inside this call: call it only where that is safe, never from inside a
 * request's callback (it does nothing there). */
void pt_rlink_write_now(pt_rlink *l);
/* Drops the connection now and reconnects after the backoff (a stale
 * subscription, a reply that makes no sense). */
void pt_rlink_reset(pt_rlink *l, const char *why);

bool pt_rlink_up(const pt_rlink *l);
uint32_t pt_rlink_pending(const pt_rlink *l);
const char *pt_rlink_name(const pt_rlink *l);  /* "HOST:PORT" */
/* The last reason the link went down ("" if never). */
const char *pt_rlink_last_error(const pt_rlink *l);

typedef struct pt_rlink_stats {
	uint64_t connects, disconnects, timeouts, refused_full, refused_down, errors;
} pt_rlink_stats;
const pt_rlink_stats *pt_rlink_stats_get(const pt_rlink *l);

/* Checks a reply's type: r non-NULL and of type t. */
static inline bool pt_rlink_is(const redisReply *r, int t)
{
	return r && r->type == t;
}
#endif
