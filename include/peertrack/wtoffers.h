/* wtoffers.h — offers relayed on /announce, remembered so that an answer
 * is routed only when it answers an offer this server really delivered:
 * the offer offer_id of peer from_pid in swarm ih, delivered to connection
 * `to`, within ttl. Anything else (an unsolicited or spoofed answer, a
 * second answer to one offer, an answer after the ttl) finds nothing.
 *
 * Connections are named by (handle, gen) so a record never matches a later
 * connection that reuses the handle. Memory is bounded: at most `max`
 * records; adding past it evicts the oldest. Not thread-safe.
 */
#ifndef PEERTRACK_WTOFFERS_H
#define PEERTRACK_WTOFFERS_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/id.h"
#include "peertrack/wtmsg.h"

/* An offerer on another node (cluster mode) is no connection here: handle
 * PT_WT_CONN_REMOTE and `peer` its session id there, where the answer is
 * routed. `peer` is unused otherwise. */
#define PT_WT_CONN_REMOTE UINT32_MAX
typedef struct pt_wt_conn {
	uint32_t handle, gen;
	pt_id peer;
} pt_wt_conn;

typedef struct pt_wt_offers pt_wt_offers;

/* NULL on ENOMEM. */
pt_wt_offers *pt_wt_offers_new(uint64_t seed);
void pt_wt_offers_free(pt_wt_offers *t);

/* Records a delivered offer, expiring at now_ms + ttl_ms. A record with the
 * same key is replaced. 0 or -ENOMEM. */
int pt_wt_offers_add(pt_wt_offers *t, const pt_wt_id *ih, const pt_wt_id *from_pid,
                     const pt_wt_id *offer_id, pt_wt_conn from, pt_wt_conn to,
                     uint64_t now_ms, uint32_t ttl_ms, size_t max);

/* An answer from connection `to` to offer offer_id of from_pid in ih:
 * 0 and *from (the offer is used up), or -ENOENT. */
int pt_wt_offers_take(pt_wt_offers *t, const pt_wt_id *ih, const pt_wt_id *from_pid,
                      const pt_wt_id *offer_id, pt_wt_conn to, uint64_t now_ms,
                      pt_wt_conn *from);

/* Drops expired records (the oldest first); returns how many. */
size_t pt_wt_offers_expire(pt_wt_offers *t, uint64_t now_ms);

size_t pt_wt_offers_count(const pt_wt_offers *t);

#endif
