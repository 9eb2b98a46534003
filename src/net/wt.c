/* wt.c — the /announce front-end: the WebTorrent tracker protocol
 * (docs/PROTOCOL.md, "WebTorrent tracker protocol"), as spoken by
 * bittorrent-tracker's websocket client, WebTorrent, p2p-media-loader and
 * Trystero.
 *
 * It shares the session layer (admission, origins, bans, per-IP limits,
 * queues, timeouts), the index (info_hashes in PT_SPACE_WT) and the
 * matcher with /v1. Its own state is two core tables: peer_id bindings per
 * swarm (wtswarm.h) and the offers it relayed (wtoffers.h), which are what
 * authorise an answer. Messages are parsed once (wtmsg.h); every reply,
 * failures included, carries "action" and the info_hash when known. */
#include <errno.h>
#include <string.h>

#include "peertrack/log.h"
#include "peertrack/wtreply.h"
#include "net.h"

int pt__wt_init(struct pt_server *srv, uint64_t seed)
{
	srv->wt_swarms = pt_wt_swarms_new(seed);
	srv->wt_offers = pt_wt_offers_new(seed ^ 0x94d049bb133111ebull);
	return srv->wt_swarms && srv->wt_offers ? 0 : -ENOMEM;
}

void pt__wt_free(struct pt_server *srv)
{
	pt_wt_swarms_free(srv->wt_swarms);
	pt_wt_offers_free(srv->wt_offers);
	srv->wt_swarms = NULL;
	srv->wt_offers = NULL;
}

/* The index key of an info_hash: its 20 bytes, zero-padded, in its own
 * key space. */
pt_key pt__wt_key(const pt_wt_id *ih)
{
	pt_key k = { PT_SPACE_WT, { { 0 } } };

	memcpy(k.h.b, ih->b, PT_WT_ID_BYTES);
	return k;
}

pt_wt_id pt__wt_ih(const pt_key *k)
{
	pt_wt_id ih;

	memcpy(ih.b, k->h.b, PT_WT_ID_BYTES);
	return ih;
}

pt_wt_conn pt__wt_conn(const pt_session *s)
{
	return (pt_wt_conn){ s->handle, pt_registry_gen(s->srv->registry, s->handle), { { 0 } } };
}

static void send_scratch(pt_session *s)
{
	pt__session_send_buf(s, &s->srv->scratch);
}

static void failure(pt_session *s, enum pt_wt_type t, const pt_wt_id *ih, const char *why)
{
	struct pt_server *srv = s->srv;

	srv->stats.wt.failures++;
	pt_buf_reset(&srv->scratch);
	if (!pt_wt_reply_failure(&srv->scratch, t, ih, why))
		send_scratch(s);
}

static void announce_reply(pt_session *s, const pt_wt_id *ih)
{
	struct pt_server *srv = s->srv;
	pt_wt_counts c;

	/* Cluster mode: plus the other nodes' peers, as last read. */
	pt__wtcount_get(srv, ih, &c);
	pt_buf_reset(&srv->scratch);
	if (pt_wt_reply_announce(&srv->scratch, ih, srv->cfg.wt_interval_s, &c))
		failure(s, PT_WT_ANNOUNCE, ih, "server out of memory");
	else
		send_scratch(s);
}

/* Each offer to a different peer of the swarm, picked as /v1 lookups pick
 * holders (proximity, then load spread), and remembered so that the
 * answer it draws can be routed back. Returns how many were sent; *want
 * is how many offers the announce may place, *used how many local peers
 * took (the rest may go to peers of other nodes). */
static size_t relay_offers(pt_session *s, const pt_wt_msg *m, const pt_hash *key, size_t *want,
                           size_t *used)
{
	struct pt_server *srv = s->srv;
	const pt_config *c = &srv->cfg;
	pt_match_opts o = { c->match_strategy, c->match_sample, c->match_half_life_ms };
	const uint32_t *holders;
	size_t k = m->n_offers, n, got;
	uint64_t now = pt__server_now(srv);
	uint32_t *picks;
	size_t sent = 0;

	if (k > c->wt_max_peers)
		k = c->wt_max_peers;
	if (m->numwant >= 0 && (uint64_t)m->numwant < k)
		k = (size_t)m->numwant;
	*want = k;
	*used = 0;
	if (!k || !(n = pt_index_holders_in(srv->index, PT_SPACE_WT, key, &holders)))
		return 0;
	if (!(picks = pt__server_picks(srv, k)))
		return 0;
	got = pt_match_pick(srv->match, &o, holders, n, s->handle, &s->addr, now, picks, k);
	*used = got;
	pt_wt_offers_expire(srv->wt_offers, now);
	for (size_t i = 0; i < got; i++) {
		pt_session *t = pt_registry_session(srv->registry, picks[i]);
		const pt_wt_offer *of = &m->offers[i];

		if (!t || t->state != PT_SESSION_LIVE)
			continue;
		pt_buf_reset(&srv->scratch);
		if (pt_wt_reply_offer(&srv->scratch, &m->info_hash, &m->peer_id, &of->offer_id,
		                      of->offer, of->offer_len) ||
		    pt__session_send_buf(t, &srv->scratch))
			continue;
		/* Remembered only once sent: an offer that never left cannot be
		 * answered. A failed add costs this offer its answer, no more. */
		(void)pt_wt_offers_add(srv->wt_offers, &m->info_hash, &m->peer_id, &of->offer_id,
		                       pt__wt_conn(s), pt__wt_conn(t), now, c->wt_offer_ttl_ms,
		                       c->wt_max_pending_offers);
		srv->stats.wt.offers_relayed++;
		sent++;
	}
	return sent;
}

static void on_announce(pt_session *s, const pt_wt_msg *m)
{
	struct pt_server *srv = s->srv;
	pt_hash key = pt__wt_key(&m->info_hash).h;
	size_t sent, want, used;
	pt_wt_counts before = { 0, 0, 0 };
	int r;

	if (m->event == PT_WT_EV_STOPPED) {
		r = pt_wt_swarms_leave(srv->wt_swarms, s->handle, &m->info_hash, &m->peer_id);
		if (r < 0) {
			failure(s, PT_WT_ANNOUNCE, &m->info_hash,
			        "stopped: this peer_id is not announced by this connection in this swarm");
			return;
		}
		if (r == 1 && pt_index_remove_in(srv->index, PT_SPACE_WT, s->handle, &key) == 1) {
			pt_iplimit_give(srv->iplimit, &s->addr, PT_IP_HASHES, 1);
			pt__remote_withdraw(s, PT_SPACE_WT, &key, 1);
		}
		pt__wtcount_changed(srv, &m->info_hash, NULL);
		announce_reply(s, &m->info_hash);
		return;
	}
	/* A private tracker: only listed info_hashes are served. Peers already
	 * in a swarm whose info_hash was taken off the list stay until they
	 * stop or close, but their re-announces are refused. */
	if (srv->cfg.wt_allowlist &&
	    (!srv->wt_allowed || !pt_wt_allow_has(srv->wt_allowed, &m->info_hash))) {
		srv->stats.wt.not_allowed++;
		failure(s, PT_WT_ANNOUNCE, &m->info_hash, "info_hash not allowed on this tracker");
		return;
	}
	/* Cluster mode: what the announce changes of the counts is written. */
	if (srv->wt_dirty)
		pt_wt_swarms_counts(srv->wt_swarms, &m->info_hash, &before);
	r = pt_wt_swarms_join(srv->wt_swarms, s->handle, &m->info_hash, &m->peer_id, m->seeder,
	                      m->event == PT_WT_EV_COMPLETED, srv->cfg.wt_max_swarms_per_connection);
	if (r == -EEXIST) {
		failure(s, PT_WT_ANNOUNCE, &m->info_hash,
		        "peer_id is in use in this swarm by another connection");
		return;
	}
	if (r == -ENOSPC) {
		failure(s, PT_WT_ANNOUNCE, &m->info_hash,
		        "too many swarms on this connection (wt_max_swarms_per_connection)");
		return;
	}
	/* A new swarm is a new index entry: the same budgets as v1's. */
	if (r == 1 && (pt_index_entries(srv->index) >= srv->cfg.max_index_entries ||
	               pt_iplimit_take(srv->iplimit, &s->addr, PT_IP_HASHES, 1,
	                               srv->cfg.max_hashes_per_ip) != 1)) {
		bool global = pt_index_entries(srv->index) >= srv->cfg.max_index_entries;

		pt_wt_swarms_leave(srv->wt_swarms, s->handle, &m->info_hash, &m->peer_id);
		pt__budget_hit(srv, global ? PT_BUDGET_INDEX : PT_BUDGET_HASHES_PER_IP, &s->addr);
		failure(s, PT_WT_ANNOUNCE, &m->info_hash, global ? "server busy: index full"
		                                                 : "too many swarms from your address");
		return;
	}
	if (r == 1 && pt_index_add_in(srv->index, PT_SPACE_WT, s->handle, &key) < 0) {
		pt_iplimit_give(srv->iplimit, &s->addr, PT_IP_HASHES, 1);
		pt_wt_swarms_leave(srv->wt_swarms, s->handle, &m->info_hash, &m->peer_id);
		r = -ENOMEM;
	}
	if (r < 0) {
		failure(s, PT_WT_ANNOUNCE, &m->info_hash, "server out of memory");
		return;
	}
	if (r == 1)
		pt__remote_announce(s, PT_SPACE_WT, &key, 1);
	if (srv->wt_dirty)
		pt__wtcount_changed(srv, &m->info_hash, &before);
	announce_reply(s, &m->info_hash);
	sent = relay_offers(s, m, &key, &want, &used);
	/* Cluster mode: offers no local peer took go to other nodes' peers. */
	sent += pt__wtremote_offers(s, m, used, want);
	/* The store's resources rows, as /v1 counts its hashes: made only now,
	 * with the announcer in the swarm, so no row names an info_hash nobody
	 * holds. An announce carrying offers is also a lookup, a hit when an
	 * offer reached a peer. */
	pt_ops_count_in(s, PT_SPACE_WT, &key, 1, PT_CNT_ANNOUNCES);
	if (m->n_offers && m->numwant != 0) {
		pt_ops_count_in(s, PT_SPACE_WT, &key, 1, PT_CNT_LOOKUPS);
		pt_ops_count_in(s, PT_SPACE_WT, &key, 1, sent ? PT_CNT_HITS : PT_CNT_MISSES);
	}
}

/* Routed only when it answers an offer relayed from to_peer_id to this
 * connection within wt_offer_ttl_ms, and the answerer's peer_id is this
 * connection's in the swarm: no unsolicited answers, no spoofed senders. */
static void on_answer(pt_session *s, const pt_wt_msg *m)
{
	struct pt_server *srv = s->srv;
	pt_wt_conn from;
	uint32_t owner;
	pt_session *t;

	if (pt_wt_swarms_owner(srv->wt_swarms, &m->info_hash, &m->peer_id, &owner) ||
	    owner != s->handle) {
		srv->stats.wt.answers_refused++;
		failure(s, PT_WT_ANSWER, &m->info_hash,
		        "answer: this peer_id is not announced by this connection in this swarm");
		return;
	}
	if (pt_wt_offers_take(srv->wt_offers, &m->info_hash, &m->to_peer_id, &m->offer_id,
	                      pt__wt_conn(s), pt__server_now(srv), &from)) {
		srv->stats.wt.answers_refused++;
		failure(s, PT_WT_ANSWER, &m->info_hash,
		        "answer: no such offer was relayed to this connection (unknown, answered or expired)");
		return;
	}
	if (from.handle == PT_WT_CONN_REMOTE) {
		pt__wtremote_answer(s, m, &from.peer);
		return;
	}
	t = pt_registry_session(srv->registry, from.handle);
	if (!t || t->state != PT_SESSION_LIVE ||
	    pt_registry_gen(srv->registry, from.handle) != from.gen ||
	    pt_wt_swarms_owner(srv->wt_swarms, &m->info_hash, &m->to_peer_id, &owner) ||
	    owner != from.handle) {
		failure(s, PT_WT_ANSWER, &m->info_hash, "answer: the offering peer has left");
		return;
	}
	pt_buf_reset(&srv->scratch);
	if (pt_wt_reply_answer(&srv->scratch, &m->info_hash, &m->peer_id, &m->offer_id, m->answer,
	                       m->answer_len)) {
		failure(s, PT_WT_ANSWER, &m->info_hash, "server out of memory");
		return;
	}
	if (!pt__session_send_buf(t, &srv->scratch))
		srv->stats.wt.answers_relayed++;
}

static void on_scrape(pt_session *s, const pt_wt_msg *m)
{
	struct pt_server *srv = s->srv;
	pt_wt_counts c[64];
	size_t n = m->n_hashes;

	/* wt_max_scrape_hashes may exceed the stack array: answer in pieces,
	 * each a complete scrape reply. */
	for (size_t at = 0; at < n; at += 64) {
		size_t k = n - at < 64 ? n - at : 64;

		for (size_t i = 0; i < k; i++)
			pt__wtcount_get(srv, &m->hashes[at + i], &c[i]);
		pt_buf_reset(&srv->scratch);
		if (pt_wt_reply_scrape(&srv->scratch, m->hashes + at, c, k, srv->cfg.wt_interval_s)) {
			failure(s, PT_WT_SCRAPE, m->has_info_hash ? &m->info_hash : NULL,
			        "server out of memory");
			return;
		}
		send_scratch(s);
	}
}

static void dispatch(pt_session *s, const char *frame, size_t len)
{
	struct pt_server *srv = s->srv;
	const pt_config *c = &srv->cfg;
	pt_wt_limits lim = { c->wt_max_offers, c->wt_max_offer_bytes, c->wt_max_scrape_hashes };
	pt_wt_msg m;
	const char *why = NULL;
	enum pt_err e;

	if (!pt__session_rate_ok(s, c->wt_rate_messages_per_sec, c->wt_rate_burst)) {
		if (s->state == PT_SESSION_LIVE)
			failure(s, PT_WT_ANNOUNCE, NULL,
			        "rate limited: slow down (wt_rate_messages_per_sec)");
		return;
	}
	e = pt_wt_msg_parse(frame, len, &lim, &m, &why);
	if (e != PT_OK) {
		if (!pt__session_close_if_not_utf8(s, frame, len)) {
			srv->stats.errors[e]++;
			failure(s, m.type, m.has_info_hash ? &m.info_hash : NULL,
			        why ? why : pt_err_code(e));
		}
	} else {
		srv->stats.wt.messages[m.type]++;
		if (m.type == PT_WT_SCRAPE)
			on_scrape(s, &m);
		else if (m.type == PT_WT_ANSWER)
			on_answer(s, &m);
		else
			on_announce(s, &m);
	}
	pt_wt_msg_clear(&m);
}

static void deliver(pt_session *s, const char *msg, size_t len, bool binary)
{
	if (binary)
		failure(s, PT_WT_ANNOUNCE, NULL, "binary frames are not accepted");
	else
		dispatch(s, msg, len);
}

/* A peer leaving takes all its peer_ids out of all its swarms; the session
 * layer drops its index entries right after. Its relayed offers stay until
 * they expire: their (handle, gen) matches no later connection. */
static void left_swarm(const pt_wt_id *ih, void *arg)
{
	pt__wtcount_changed(arg, ih, NULL);
}

void pt__wt_retire(pt_session *s)
{
	pt_wt_swarms_drop_conn(s->srv->wt_swarms, s->handle, s->srv->wt_dirty ? left_swarm : NULL,
	                       s->srv);
}

int pt__wt_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	pt_session *s = user;
	struct pt_server *srv = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		/* No welcome: WebTorrent clients speak first. */
		if (pt__session_admit(s, srv, wsi) > 0) {
			pt_bucket_init(&s->bucket, srv->cfg.wt_rate_burst, pt__server_now(srv));
			srv->stats.wt.connections++;
		}
		return 0;

	case LWS_CALLBACK_RECEIVE:
		if (!s->srv || s->state != PT_SESSION_LIVE)
			return 0; /* closing: drain and ignore */
		s->last_rx_ms = pt__server_now(srv);
		pt__session_receive(s, in, len, lws_is_first_fragment(wsi), lws_is_final_fragment(wsi),
		                   lws_frame_is_binary(wsi), srv->cfg.wt_max_message_bytes, deliver);
		return 0; /* closes go out from the timer, as on /v1 */

	default:
		/* Timers, pongs, writable, close: the session layer's, as on /v1. */
		return pt__session_callback(wsi, reason, user, in, len);
	}
}
