/* wtreply.c — WebTorrent tracker protocol server messages (wtreply.h).
 * Every encoder builds its message in b and rolls b back on failure, so a
 * half-written message never reaches a socket. */
#include <errno.h>
#include <string.h>

#include "peertrack/binstr.h"
#include "peertrack/wtreply.h"

#define LIT(b, s) pt_buf_append(b, s, sizeof(s) - 1)

static int done(pt_buf *b, size_t start, int r)
{
	if (r)
		b->len = start;
	return r ? -ENOMEM : 0;
}

static int id_field(pt_buf *b, const char *key_lit, const pt_wt_id *id)
{
	return pt_buf_append(b, key_lit, strlen(key_lit)) || pt_buf_binstr(b, id->b, PT_WT_ID_BYTES);
}

int pt_wt_reply_announce(pt_buf *b, const pt_wt_id *ih, uint32_t interval_s,
                         const pt_wt_counts *c)
{
	size_t start = b->len;
	int r = pt_buf_printf(b, "{\"action\":\"announce\",\"interval\":%u", interval_s) < 0 ||
	        id_field(b, ",\"info_hash\":", ih) ||
	        pt_buf_printf(b, ",\"complete\":%u,\"incomplete\":%u}", c->complete,
	                      c->incomplete) < 0;
	return done(b, start, r);
}

static int relay(pt_buf *b, const char *key_lit, const pt_wt_id *ih, const pt_wt_id *pid,
                 const pt_wt_id *offer_id, const char *text, size_t len)
{
	size_t start = b->len;
	int r = LIT(b, "{\"action\":\"announce\",") ||
	        pt_buf_append(b, key_lit, strlen(key_lit)) || pt_buf_append(b, text, len) ||
	        id_field(b, ",\"offer_id\":", offer_id) || id_field(b, ",\"peer_id\":", pid) ||
	        id_field(b, ",\"info_hash\":", ih) || LIT(b, "}");
	return done(b, start, r);
}

int pt_wt_reply_offer(pt_buf *b, const pt_wt_id *ih, const pt_wt_id *pid,
                      const pt_wt_id *offer_id, const char *offer, size_t len)
{
	return relay(b, "\"offer\":", ih, pid, offer_id, offer, len);
}

int pt_wt_reply_answer(pt_buf *b, const pt_wt_id *ih, const pt_wt_id *pid,
                       const pt_wt_id *offer_id, const char *answer, size_t len)
{
	return relay(b, "\"answer\":", ih, pid, offer_id, answer, len);
}

int pt_wt_reply_scrape(pt_buf *b, const pt_wt_id *ids, const pt_wt_counts *c, size_t n,
                       uint32_t interval_s)
{
	size_t start = b->len;
	int r = LIT(b, "{\"action\":\"scrape\",\"files\":{");

	for (size_t i = 0; i < n && !r; i++)
		r = (i && LIT(b, ",")) || pt_buf_binstr(b, ids[i].b, PT_WT_ID_BYTES) ||
		    pt_buf_printf(b, ":{\"complete\":%u,\"incomplete\":%u,\"downloaded\":%u}",
		                  c[i].complete, c[i].incomplete, c[i].downloaded) < 0;
	r = r || pt_buf_printf(b, "},\"flags\":{\"min_request_interval\":%u}}", interval_s) < 0;
	return done(b, start, r);
}

int pt_wt_reply_failure(pt_buf *b, enum pt_wt_type action, const pt_wt_id *ih,
                        const char *reason)
{
	size_t start = b->len;
	int r = pt_buf_printf(b, "{\"action\":\"%s\",\"failure reason\":",
	                      action == PT_WT_SCRAPE ? "scrape" : "announce") < 0 ||
	        pt_buf_json_string(b, reason, strlen(reason)) ||
	        (ih && id_field(b, ",\"info_hash\":", ih)) || LIT(b, "}");
	return done(b, start, r);
}
