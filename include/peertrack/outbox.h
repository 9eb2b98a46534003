/* outbox.h — what a cluster node publishes to other nodes' inboxes,
 * batched per destination node (cluster_publish_linger_us).
 *
 * A message for node TAG waits up to linger_us for more to the same node,
 * then they leave as one PUBLISH PREFIX n:TAG carrying them all (ibatch.h),
 * so redis-server and both nodes wake once per batch instead of once per
 * message. A batch leaves early once it holds max_bytes; a batch of one
 * message leaves as the message alone (the unbatched form). linger_us 0:
 * every message is its own PUBLISH at once, as without an outbox.
 * Messages to one node leave in the order given.
 *
 * Each message's callback runs exactly once: with its batch's PUBLISH reply
 * (borrowed; the receiver count holds for every message of the batch), or
 * with NULL (link down, refused, timed out, closed). It never runs from
 * inside pt_outbox_publish. Bounded: held messages plus requests in flight
 * on the link stay below max_held. The sub-millisecond linger uses a
 * timerfd (libuv's timers count whole milliseconds). Everything runs on
 * the loop thread.
 */
#ifndef PEERTRACK_OUTBOX_H
#define PEERTRACK_OUTBOX_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <hiredis/hiredis.h>

#include "peertrack/rlink.h"

typedef struct pt_outbox pt_outbox;
/* r: borrowed, or NULL. */
typedef void pt_outbox_fn(void *arg, redisReply *r);

typedef struct pt_outbox_opts {
	const char *prefix;   /* channel = PREFIX n:TAG */
	uint32_t linger_us;   /* 0: no batching */
	uint32_t max_bytes;   /* a batch leaves once it holds this many */
	uint32_t max_held;    /* held + in flight on the link */
} pt_outbox_opts;

/* Publishes through link (borrowed; it must outlive the outbox's
 * pt_outbox_close). NULL on ENOMEM or when no timer could be made. */
pt_outbox *pt_outbox_new(uv_loop_t *loop, pt_rlink *link, const pt_outbox_opts *o);
/* Sends everything held now (written to the socket, so a link closed
 * right after still delivers it), then frees the outbox once its handles
 * closed and the link answered or failed its batches. NULL is a no-op. */
void pt_outbox_close(pt_outbox *o);

/* Queues message m (copied) for node tag. 0 (fn runs later, once),
 * -EINVAL (empty, or starts with the batch tag), -ENOBUFS (max_held),
 * -EAGAIN (link down), -ENOMEM; on error fn is not called. */
int pt_outbox_publish(pt_outbox *o, unsigned tag, const char *m, size_t len, pt_outbox_fn *fn,
                      void *arg);

typedef struct pt_outbox_stats {
	uint64_t publishes;   /* PUBLISH commands sent */
	uint64_t messages;    /* messages they carried */
	uint64_t batches;     /* of those PUBLISHes, the ones carrying 2 or more */
} pt_outbox_stats;
const pt_outbox_stats *pt_outbox_stats_get(const pt_outbox *o);
#endif
