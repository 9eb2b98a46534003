/* wtremote.c — /announce across cluster nodes (docs/DESIGN.md, "Cluster"):
 * the serving side of WebTorrent swarms shared through the cluster engine.
 *
 * Membership: a connection's swarms are index keys in PT_SPACE_WT, so
 * remote.c writes them to Redis, refreshes, re-announces and withdraws
 * them with the /v1 keys, and survivors purge a dead node's. Offers that
 * found too few local peers go to peers of other nodes: one lookup (the
 * engine's bounded sample), ranked by proximity to the offerer, then one
 * PUBLISH per offer to the target's node inbox, carried as a cluster
 * signal whose frame starts with a WT opcode instead of '{' (a /v1 frame
 * always starts with '{', so neither front-end can be fed the other's).
 * The receiving node records the offer in its relayed-offer table with
 * the offerer's node-side session id, so the answer check holds there
 * unchanged; the answer goes back the same way and is delivered only if
 * the offerer still holds that peer_id in that swarm.
 *
 * Frames (ids raw, 20 bytes each; body opaque JSON text):
 *   'o' INFO_HASH OFFERER_PEER_ID OFFER_ID OFFER
 *   'a' INFO_HASH ANSWERER_PEER_ID OFFERER_PEER_ID OFFER_ID ANSWER */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/cluster.h"
#include "peertrack/log.h"
#include "peertrack/wtreply.h"
#include "net.h"

#define ID PT_WT_ID_BYTES

/* A request whose outcome comes back to a connection that may have gone
 * (pt__sref), and its swarm. */
typedef struct wt_asker {
	pt__sref who;
	pt_wt_id ih;
} wt_asker;

static void fail(pt_session *s, enum pt_wt_type t, const pt_wt_id *ih, const char *why)
{
	struct pt_server *srv = s->srv;

	srv->stats.wt.failures++;
	pt_buf_reset(&srv->scratch);
	if (!pt_wt_reply_failure(&srv->scratch, t, ih, why))
		pt__session_send_buf(s, &srv->scratch);
}

/* head (the opcode and n ids) then body, into the scratch buffer. */
static int frame(struct pt_server *srv, char op, const pt_wt_id *const *ids, int n,
                 const char *body, size_t len)
{
	pt_buf_reset(&srv->scratch);
	if (pt_buf_append(&srv->scratch, &op, 1))
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (pt_buf_append(&srv->scratch, (const char *)ids[i]->b, ID))
			return -ENOMEM;
	return pt_buf_append(&srv->scratch, body, len) ? -ENOMEM : 0;
}

/* -- offers to peers of other nodes ----------------------------------------------- */

typedef struct offer_copy {
	pt_wt_id offer_id;
	size_t len;
	char *text;
} offer_copy;

typedef struct offer_req {
	wt_asker a;
	pt_wt_id pid;
	size_t n;
	offer_copy o[];
} offer_req;

typedef struct ranked {
	const pt_cluster_cand *c;
	unsigned prox;
	uint32_t order;
} ranked;

static int ranked_cmp(const void *x, const void *y)
{
	const ranked *a = x, *b = y;

	if (a->prox != b->prox)
		return a->prox < b->prox ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static void offer_req_free(offer_req *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->o[i].text);
	free(q);
}

static void offers_found(void *arg, int status, const pt_cluster_cand *v, size_t n)
{
	offer_req *q = arg;
	struct pt_server *srv = q->a.who.srv;
	pt_session *s = pt__sref_live(&q->a.who);
	ranked *r;
	size_t k;

	if (status)
		srv->stats.cluster_lookups_local_only++;
	if (!s || !srv->cluster || !n || !(r = malloc(n * sizeof(*r)))) {
		offer_req_free(q);
		return;
	}
	/* The /v1 rule for remote holders: nearest first, then at random. */
	for (size_t i = 0; i < n; i++)
		r[i] = (ranked){ &v[i], pt_addr_proximity(&s->addr, &v[i].addr), (uint32_t)rand() };
	qsort(r, n, sizeof(*r), ranked_cmp);
	k = n < q->n ? n : q->n;
	for (size_t i = 0; i < k; i++) {
		const pt_wt_id *ids[3] = { &q->a.ih, &q->pid, &q->o[i].offer_id };

		if (frame(srv, 'o', ids, 3, q->o[i].text, q->o[i].len) ||
		    pt_cluster_signal(srv->cluster, &r[i].c->id, &s->id, pt_buf_text(&srv->scratch),
		                      srv->scratch.len, NULL, NULL))
			continue;
		srv->stats.wt.offers_relayed++;
	}
	free(r);
	offer_req_free(q);
}

size_t pt__wtremote_offers(pt_session *s, const pt_wt_msg *m, size_t first, size_t k)
{
	struct pt_server *srv = s->srv;
	pt_key key = pt__wt_key(&m->info_hash);
	offer_req *q;

	if (!srv->cluster || first >= k || k > m->n_offers)
		return 0;
	if (!(q = calloc(1, sizeof(*q) + (k - first) * sizeof(offer_copy))))
		return 0;
	q->a = (wt_asker){ pt__sref_of(s), m->info_hash };
	q->pid = m->peer_id;
	for (size_t i = first; i < k; i++, q->n++) {
		offer_copy *o = &q->o[q->n];

		o->offer_id = m->offers[i].offer_id;
		o->len = m->offers[i].offer_len;
		if (!(o->text = malloc(o->len + 1))) {
			offer_req_free(q);
			return 0;
		}
		memcpy(o->text, m->offers[i].offer, o->len);
	}
	if (pt_cluster_lookup(srv->cluster, &key, offers_found, q)) {
		/* Redis down: the local peers were all there is (counted). */
		srv->stats.cluster_lookups_local_only++;
		offer_req_free(q);
		return 0;
	}
	return k - first;
}

/* -- answers to offerers on other nodes ---------------------------------------------- */

static void answer_done(void *arg, int status)
{
	wt_asker *a = arg;
	pt_session *s = pt__sref_live(&a->who);

	if (status > 0)
		a->who.srv->stats.wt.answers_relayed++;
	else if (s)
		fail(s, PT_WT_ANSWER, &a->ih, status == 0 ? "answer: the offering peer has left"
		                                          : "answer: the offering peer is on another "
		                                            "node, which cannot be reached now");
	free(a);
}

void pt__wtremote_answer(pt_session *s, const pt_wt_msg *m, const pt_id *offerer)
{
	struct pt_server *srv = s->srv;
	const pt_wt_id *ids[4] = { &m->info_hash, &m->peer_id, &m->to_peer_id, &m->offer_id };
	wt_asker *a = malloc(sizeof(*a));
	int r = -ENOMEM;

	if (a && srv->cluster && !frame(srv, 'a', ids, 4, m->answer, m->answer_len)) {
		*a = (wt_asker){ pt__sref_of(s), m->info_hash };
		r = pt_cluster_signal(srv->cluster, offerer, &s->id, pt_buf_text(&srv->scratch),
		                      srv->scratch.len, answer_done, a);
		if (!r)
			return;
	}
	free(a);
	fail(s, PT_WT_ANSWER, &m->info_hash,
	     r == -EHOSTDOWN ? "answer: the offering peer has left"
	                     : "answer: the offering peer is on another node, which cannot be "
	                       "reached now");
}

/* -- what other nodes send here --------------------------------------------------------- */

static void got_offer(pt_session *t, const pt_id *from, const char *f, size_t len)
{
	struct pt_server *srv = t->srv;
	pt_wt_id ih, pid, oid;
	pt_wt_conn origin = { PT_WT_CONN_REMOTE, 0, *from };
	pt_hash key;
	const pt_config *c = &srv->cfg;
	uint64_t now = pt__server_now(srv);

	memcpy(ih.b, f, ID);
	memcpy(pid.b, f + ID, ID);
	memcpy(oid.b, f + 2 * ID, ID);
	key = pt__wt_key(&ih).h;
	/* Only to a connection still in that swarm (it may have stopped since
	 * the other node's lookup). */
	if (pt_index_has_in(srv->index, PT_SPACE_WT, t->handle, &key) != 1) {
		srv->stats.cluster_undeliverable++;
		return;
	}
	pt_buf_reset(&srv->scratch);
	if (pt_wt_reply_offer(&srv->scratch, &ih, &pid, &oid, f + 3 * ID, len - 3 * ID) ||
	    pt__session_send_buf(t, &srv->scratch))
		return;
	pt_wt_offers_expire(srv->wt_offers, now);
	(void)pt_wt_offers_add(srv->wt_offers, &ih, &pid, &oid, origin, pt__wt_conn(t), now,
	                       c->wt_offer_ttl_ms, c->wt_max_pending_offers);
}

static void got_answer(pt_session *t, const char *f, size_t len)
{
	struct pt_server *srv = t->srv;
	pt_wt_id ih, apid, opid, oid;
	uint32_t owner;

	memcpy(ih.b, f, ID);
	memcpy(apid.b, f + ID, ID);
	memcpy(opid.b, f + 2 * ID, ID);
	memcpy(oid.b, f + 3 * ID, ID);
	/* The offerer must still hold that peer_id in that swarm. */
	if (pt_wt_swarms_owner(srv->wt_swarms, &ih, &opid, &owner) || owner != t->handle) {
		srv->stats.cluster_undeliverable++;
		return;
	}
	pt_buf_reset(&srv->scratch);
	if (!pt_wt_reply_answer(&srv->scratch, &ih, &apid, &oid, f + 4 * ID, len - 4 * ID) &&
	    !pt__session_send_buf(t, &srv->scratch))
		srv->stats.wt.answers_relayed++;
}

bool pt__wtremote_receive(pt_session *t, const pt_id *from, const char *f, size_t len)
{
	if (len < 1 || (f[0] != 'o' && f[0] != 'a'))
		return false;
	if (t->fe != &pt_frontends[PT_FE_WT] || t->state != PT_SESSION_LIVE) {
		t->srv->stats.cluster_undeliverable++;
		return true;
	}
	if (f[0] == 'o' && len > 1 + 3 * ID)
		got_offer(t, from, f + 1, len - 1);
	else if (f[0] == 'a' && len > 1 + 4 * ID)
		got_answer(t, f + 1, len - 1);
	else
		pt_log_warn("cluster: a WebTorrent frame of %zu bytes from another node is too short: "
		            "dropped", len);
	return true;
}
