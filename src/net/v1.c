/* v1.c — the WebSocket front-end for protocol v1 (docs/PROTOCOL.md).
 *
 * Frames are reassembled up to max_message_bytes, rate-limited, parsed and
 * validated once by pt_msg_parse, then dispatched through the handler table
 * below: a handler only ever sees a valid message of its own type. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "peertrack/fastsig.h"
#include "peertrack/log.h"
#include "peertrack/utf8.h"
#include "net.h"

typedef void (*v1_handler)(pt_session *s, const pt_msg *m);

/* Sends v1's error reply; counts it. */
static void v1_error(pt_session *s, const pt_rid *rid, enum pt_err e, const char *why)
{
	struct pt_server *srv = s->srv;

	srv->stats.errors[e]++;
	pt_buf_reset(&srv->scratch);
	if (!pt_reply_error(&srv->scratch, rid, e, why))
		pt__session_send_buf(s, &srv->scratch);
}

void pt__v1_error(pt_session *s, const pt_rid *rid, enum pt_err e, const char *why)
{
	v1_error(s, rid, e, why);
}

static void on_announce(pt_session *s, const pt_msg *m);
static void on_withdraw(pt_session *s, const pt_msg *m);
static void on_lookup(pt_session *s, const pt_msg *m);
static void on_signal(pt_session *s, const pt_msg *m);
static void on_ping(pt_session *s, const pt_msg *m);
static void on_report(pt_session *s, const pt_msg *m);
static void on_refresh_ice(pt_session *s, const pt_msg *m);

static const v1_handler handlers[PT_MSG__COUNT] = {
	[PT_MSG_ANNOUNCE] = on_announce,
	[PT_MSG_WITHDRAW] = on_withdraw,
	[PT_MSG_LOOKUP] = on_lookup,
	[PT_MSG_SIGNAL] = on_signal,
	[PT_MSG_PING] = on_ping,
	[PT_MSG_REPORT] = on_report,
	[PT_MSG_RESUME] = pt__park_resume,
	[PT_MSG_REFRESH_ICE] = on_refresh_ice,
	[PT_MSG_BAD_PEER] = pt__bad_peer,
};

static void send_ack(pt_session *s, const pt_rid *rid, size_t count)
{
	struct pt_server *srv = s->srv;

	pt_buf_reset(&srv->scratch);
	if (pt_reply_ack(&srv->scratch, rid, count, pt_index_peer_count(srv->index, s->handle)))
		v1_error(s, rid, PT_E_INTERNAL, "out of memory");
	else
		pt__session_send_buf(s, &srv->scratch);
}

void pt__v1_ack(pt_session *s, const pt_rid *rid, size_t count)
{
	send_ack(s, rid, count);
}

/* All-or-nothing: the per-peer, per-address and global budgets are
 * checked against the hashes that are really new before anything changes,
 * and an insert that fails for lack of memory undoes the ones this message
 * made (flagged as it goes). */
static void on_announce(pt_session *s, const pt_msg *m)
{
	struct pt_server *srv = s->srv;
	const pt_config *c = &srv->cfg;
	uint8_t small[512], *made = small;
	size_t fresh = 0, added = 0;
	int r;

	for (size_t i = 0; i < m->n_hashes; i++)
		fresh += !pt_index_has(srv->index, s->handle, &m->hashes[i]);
	if (pt_index_peer_count(srv->index, s->handle) + fresh > c->max_hashes_per_peer) {
		v1_error(s, &m->rid, PT_E_TOO_MANY_HASHES,
		         "would hold more than max_hashes_per_peer");
		return;
	}
	if (pt_index_entries(srv->index) + fresh > c->max_index_entries) {
		pt__budget_hit(srv, PT_BUDGET_INDEX, &s->addr);
		v1_error(s, &m->rid, PT_E_BUSY, "the server's index is full; retry later");
		return;
	}
	/* fresh may count a hash twice (repeated in the message): what is
	 * taken beyond `added` is given back below. */
	r = pt_iplimit_take(srv->iplimit, &s->addr, PT_IP_HASHES, (uint32_t)fresh,
	                    c->max_hashes_per_ip);
	if (r == 0) {
		pt__budget_hit(srv, PT_BUDGET_HASHES_PER_IP, &s->addr);
		v1_error(s, &m->rid, PT_E_TOO_MANY_HASHES,
		         "your address would hold more than max_hashes_per_ip");
		return;
	}
	if (r < 0 || (m->n_hashes > sizeof(small) && !(made = malloc(m->n_hashes)))) {
		if (r > 0)
			pt_iplimit_give(srv->iplimit, &s->addr, PT_IP_HASHES, (uint32_t)fresh);
		v1_error(s, &m->rid, PT_E_INTERNAL, "out of memory");
		return;
	}
	for (size_t i = 0; i < m->n_hashes; i++) {
		int ra = pt_index_add(srv->index, s->handle, &m->hashes[i]);

		if (ra < 0) {
			while (i-- > 0)
				if (made[i])
					pt_index_remove(srv->index, s->handle, &m->hashes[i]);
			pt_iplimit_give(srv->iplimit, &s->addr, PT_IP_HASHES, (uint32_t)fresh);
			v1_error(s, &m->rid, PT_E_INTERNAL, "out of memory");
			goto out;
		}
		made[i] = (uint8_t)ra;
		added += (size_t)ra;
	}
	pt_iplimit_give(srv->iplimit, &s->addr, PT_IP_HASHES, (uint32_t)(fresh - added));
	pt_ops_count(s, m->hashes, m->n_hashes, PT_CNT_ANNOUNCES);
	/* All of them, the ones held already too: that refreshes their expiry. */
	pt__remote_announce(s, PT_SPACE_V1, m->hashes, m->n_hashes);
	send_ack(s, &m->rid, added);
out:
	if (made != small)
		free(made);
}


static void on_withdraw(pt_session *s, const pt_msg *m)
{
	size_t removed = 0;

	for (size_t i = 0; i < m->n_hashes; i++)
		removed += (size_t)pt_index_remove(s->srv->index, s->handle, &m->hashes[i]);
	pt_iplimit_give(s->srv->iplimit, &s->addr, PT_IP_HASHES, (uint32_t)removed);
	pt__remote_withdraw(s, PT_SPACE_V1, m->hashes, m->n_hashes);
	send_ack(s, &m->rid, removed);
}

static void on_lookup(pt_session *s, const pt_msg *m)
{
	struct pt_server *srv = s->srv;
	const pt_config *c = &srv->cfg;
	const uint32_t *holders;
	const pt_id *ids[1024];
	size_t n = pt_index_holders(srv->index, &m->hash, &holders);
	size_t k = c->max_lookup_peers, got;
	pt_match_opts o = { c->match_strategy, c->match_sample, c->match_half_life_ms };

	if (m->max && m->max < k)
		k = m->max;
	if (k > sizeof(ids) / sizeof(ids[0]))
		k = sizeof(ids) / sizeof(ids[0]);
	if (!pt__server_picks(srv, k)) {
		v1_error(s, &m->rid, PT_E_INTERNAL, "out of memory");
		return;
	}
	got = pt_match_pick(srv->match, &o, holders, n, s->handle, &s->addr,
	                    pt__server_now(srv), srv->picks, k);
	for (size_t i = 0; i < got; i++)
		ids[i] = pt_registry_id(srv->registry, srv->picks[i]);
	/* Only hashes someone holds here are counted in the store: lookups of
	 * made-up hashes would otherwise each become a row on disk. */
	if (n) {
		pt_ops_count(s, &m->hash, 1, PT_CNT_LOOKUPS);
		pt_ops_count(s, &m->hash, 1, got ? PT_CNT_HITS : PT_CNT_MISSES);
	}
	/* Cluster mode: the holders on other nodes join in (the answer goes
	 * out when Redis replies). */
	if (pt__remote_lookup(s, &m->rid, &m->hash, ids, got, k))
		return;
	if (got)
		srv->stats.lookups_hit++;
	else
		srv->stats.lookups_miss++;
	pt_buf_reset(&srv->scratch);
	if (pt_reply_peers(&srv->scratch, &m->rid, &m->hash, ids, got))
		v1_error(s, &m->rid, PT_E_INTERNAL, "out of memory");
	else
		pt__session_send_buf(s, &srv->scratch);
}

/* Shared by the fast path and the full parser's handler. */
static void relay(pt_session *s, const pt_rid *rid, const pt_id *to, const char *data, size_t len)
{
	struct pt_server *srv = s->srv;
	uint32_t h;
	pt_session *t;

	if (pt_id_equal(to, &s->id)) {
		v1_error(s, rid, PT_E_BAD_MESSAGE, "to: cannot signal yourself");
		return;
	}
	if (srv->cluster && !pt_cluster_local(srv->cluster, to)) {
		pt__remote_relay(s, rid, to, data, len);
		return;
	}
	h = pt_registry_find(srv->registry, to);
	t = h == PT_HANDLE_NONE ? NULL : pt_registry_session(srv->registry, h);
	if (!t || (t->state != PT_SESSION_LIVE && t->state != PT_SESSION_PARKED)) {
		v1_error(s, rid, PT_E_PEER_GONE, "no connected peer has that id");
		return;
	}
	pt_buf_reset(&srv->scratch);
	if (pt_reply_signal(&srv->scratch, &s->id, data, len)) {
		v1_error(s, rid, PT_E_INTERNAL, "out of memory");
		return;
	}
	if (pt__session_deliver(t, &srv->scratch)) {
		/* The target just got closed as a slow reader, or is parked
		 * with as much held as it may have. */
		v1_error(s, rid, PT_E_PEER_GONE, "no connected peer has that id");
		return;
	}
	srv->stats.relayed++;
	pt__session_contact(s, t);
}

static void on_signal(pt_session *s, const pt_msg *m)
{
	relay(s, &m->rid, &m->to, m->data, m->data_len);
}

static void on_ping(pt_session *s, const pt_msg *m)
{
	struct pt_server *srv = s->srv;

	pt_buf_reset(&srv->scratch);
	if (!pt_reply_pong(&srv->scratch, &m->rid))
		pt__session_send_buf(s, &srv->scratch);
}

static void on_report(pt_session *s, const pt_msg *m)
{
	/* Counted and queued for the store (ops.c); the ack means "received",
	 * not "on disk": the store commits within store_flush_ms. A report
	 * the store has no room for is not acked: the client may resend. */
	if (pt_ops_report(s, m))
		v1_error(s, &m->rid, PT_E_BUSY, "the server cannot record it now; retry later");
	else
		send_ack(s, &m->rid, 0);
}

static void on_refresh_ice(pt_session *s, const pt_msg *m)
{
	struct pt_server *srv = s->srv;

	if (pt__ice_render(s)) {
		v1_error(s, &m->rid, PT_E_INTERNAL, "cannot make TURN credentials");
		return;
	}
	pt_buf_reset(&srv->scratch);
	if (pt_reply_ice_servers(&srv->scratch, &m->rid, pt_buf_text(&srv->ice_buf), srv->ice_buf.len,
	                         srv->ice.n_secrets ? srv->cfg.turn_credential_ttl_s : 0))
		v1_error(s, &m->rid, PT_E_INTERNAL, "out of memory");
	else
		pt__session_send_buf(s, &srv->scratch);
}

void pt__v1_dispatch(pt_session *s, const char *frame, size_t len)
{
	struct pt_server *srv = s->srv;
	const pt_config *c = &srv->cfg;
	pt_msg_limits lim = { c->max_hashes_per_message, c->max_signal_bytes, c->max_report_bytes };
	pt_msg m = {0};
	pt_fastsig fs;
	const char *why = NULL;
	enum pt_err e;

	if (!pt__session_rate_ok(s, c->rate_messages_per_sec, c->rate_burst)) {
		if (s->state == PT_SESSION_LIVE)
			v1_error(s, NULL, PT_E_RATE_LIMITED, "slow down");
		return;
	}
	/* Signals are most of the traffic: relay them without a JSON tree
	 * when the fast path is sure; otherwise the full parser decides. */
	if (pt_fastsig_parse(frame, len, c->max_signal_bytes, &fs)) {
		srv->stats.messages[PT_MSG_SIGNAL]++;
		s->spoke = true;
		relay(s, &fs.rid, &fs.to, fs.data, fs.data_len);
		return;
	}
	e = pt_msg_parse(frame, len, &lim, &m, &why);
	if (e != PT_OK) {
		if (!pt__session_close_if_not_utf8(s, frame, len))
			v1_error(s, &m.rid, e, why ? why : pt_err_code(e));
	} else {
		srv->stats.messages[m.type]++;
		handlers[m.type](s, &m);
	}
	s->spoke = true;
	pt_msg_clear(&m);
}

/* One complete message: text goes to dispatch, binary is refused. */
static void run(pt_session *s, const char *msg, size_t len, bool binary)
{
	if (binary)
		v1_error(s, NULL, PT_E_BAD_MESSAGE, "binary frames are not accepted");
	else
		pt__v1_dispatch(s, msg, len);
}

/* Now, or in a later turn when this one's budget is spent (defer.c). */
static void deliver(pt_session *s, const char *msg, size_t len, bool binary)
{
	pt__defer_or_run(s, msg, len, binary, run);
}

static void send_welcome(pt_session *s)
{
	struct pt_server *srv = s->srv;
	const pt_config *c = &srv->cfg;
	pt_welcome_limits lim = {
		c->max_message_bytes, c->max_hashes_per_message, c->max_hashes_per_peer,
		c->max_lookup_peers, c->max_signal_bytes, c->max_report_bytes, c->rate_messages_per_sec,
		c->rate_burst,
	};
	char token[PT_RESUME_TOKEN_CHARS + 1];
	pt_welcome_extra x = { .resume_token = pt__park_new_token(s, token),
	                       .resume_window_ms = c->resume_window_ms };

	if (pt__ice_render(s)) {
		pt__session_close(s, PT_CLOSE_INTERNAL, "cannot make TURN credentials", PT_LEAVE_INTERNAL);
		return;
	}
	x.ice_servers = pt_buf_text(&srv->ice_buf);
	x.ice_servers_len = srv->ice_buf.len;
	x.ice_ttl_s = srv->ice.n_secrets ? c->turn_credential_ttl_s : 0;
	pt_buf_reset(&srv->scratch);
	if (pt_reply_welcome(&srv->scratch, &s->id, c->heartbeat_ms, c->timeout_ms, &lim, &x))
		pt__session_close(s, PT_CLOSE_INTERNAL, "out of memory", PT_LEAVE_INTERNAL);
	else
		pt__session_send_buf(s, &srv->scratch);
}

int pt__v1_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	pt_session *s = user;
	struct pt_server *srv = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		if (pt__session_admit(s, srv, wsi) > 0)
			send_welcome(s);
		return 0;

	case LWS_CALLBACK_RECEIVE:
		if (!s->srv || s->state != PT_SESSION_LIVE)
			return 0; /* closing: drain and ignore */
		s->last_rx_ms = pt__server_now(srv);
		pt__session_receive(s, in, len, lws_is_first_fragment(wsi), lws_is_final_fragment(wsi),
		                   lws_frame_is_binary(wsi), srv->cfg.max_message_bytes, deliver);
		/* A close decided here happens on the timer pt__session_close set:
		 * lws 4.1 drops the socket without the close frame when RECEIVE
		 * returns -1, and the client would never see 1009 or 4001. */
		return 0;

	default:
		/* Timers, pongs, writable, close: the session layer's. */
		return pt__session_callback(wsi, reason, user, in, len);
	}
}
