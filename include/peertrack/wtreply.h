/* wtreply.h — WebTorrent tracker protocol server messages, compact JSON.
 *
 * Every message carries "action" and, when known, "info_hash" — failures
 * too: the reference websocket client drops its socket on a reply without
 * "action" and ignores one whose info_hash is not byte-identical to the one
 * it sent. Ids are written as binary strings (binstr.h).
 *
 * Each encoder appends one complete message to b; 0 or -ENOMEM (b is then
 * unchanged in length). */
#ifndef PEERTRACK_WTREPLY_H
#define PEERTRACK_WTREPLY_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/buf.h"
#include "peertrack/wtmsg.h"

typedef struct pt_wt_counts {
	uint32_t complete, incomplete, downloaded;
} pt_wt_counts;

/* {"action":"announce","interval":..,"info_hash":..,"complete":..,"incomplete":..} */
int pt_wt_reply_announce(pt_buf *b, const pt_wt_id *info_hash, uint32_t interval_s,
                         const pt_wt_counts *c);
/* An offer relayed to one peer of the swarm; peer_id is the offerer's.
 * offer is JSON text, copied as is. */
int pt_wt_reply_offer(pt_buf *b, const pt_wt_id *info_hash, const pt_wt_id *peer_id,
                      const pt_wt_id *offer_id, const char *offer, size_t offer_len);
/* An answer routed back to the offerer; peer_id is the answerer's. */
int pt_wt_reply_answer(pt_buf *b, const pt_wt_id *info_hash, const pt_wt_id *peer_id,
                       const pt_wt_id *offer_id, const char *answer, size_t answer_len);
/* {"action":"scrape","files":{<ih>:{complete,incomplete,downloaded},..},
 *  "flags":{"min_request_interval":..}}; c[i] belongs to ids[i]. */
int pt_wt_reply_scrape(pt_buf *b, const pt_wt_id *ids, const pt_wt_counts *c, size_t n,
                       uint32_t interval_s);
/* {"action":..,"failure reason":..,"info_hash":..}; info_hash may be NULL
 * (unknown), action is PT_WT_SCRAPE or else "announce". */
int pt_wt_reply_failure(pt_buf *b, enum pt_wt_type action, const pt_wt_id *info_hash,
                        const char *reason);

#endif
