/* park.c — resumable sessions (docs/PROTOCOL.md, "Resuming").
 *
 * A peer whose connection drops without a close frame, or times out, is
 * parked instead of leaving: a heap copy of its session (a "ghost", state
 * PT_SESSION_PARKED) takes its place in the registry, so its id, handle and
 * generation — and with them every other peer's contact entry for it —
 * stay valid. Its hashes leave the index (lookups must not offer a peer
 * nobody can reach) and wait in the ghost. Frames for it are held, bounded.
 * A new connection that presents the token in its first message takes all
 * of that over; when the window ends, the ghost leaves as the peer would
 * have (peer-left to its contacts, the store's session row closed).
 *
 * The table (core/resume.c) bounds how many ghosts exist and orders them by
 * deadline; the sweep ends windows. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/log.h"
#include "net.h"

typedef struct ghost {
	pt_parked park;    /* first: the table's entries are ghosts */
	enum pt_leave why; /* why the connection ended, for the leave */
	pt_session s;      /* the registry points here */
} ghost;

static ghost *ghost_of(pt_session *s)
{
	return (ghost *)((char *)s - offsetof(ghost, s));
}

static bool enabled(const struct pt_server *srv)
{
	return srv->cfg.resume_window_ms && srv->cfg.resume_max_sessions;
}

const char *pt__park_new_token(pt_session *s, char out[PT_RESUME_TOKEN_CHARS + 1])
{
	if (!enabled(s->srv) || pt_resume_secret_new(&s->secret))
		return NULL;
	pt_resume_token_encode(&s->id, &s->secret, out);
	return out;
}

static void collect(const pt_hash *h, void *arg)
{
	pt_parked *p = arg;

	p->hashes[p->n_hashes++] = *h;
}

/* The ghost leaves for good: the peer's delayed departure. */
static void give_up(struct pt_server *srv, ghost *g)
{
	pt_resume_table_remove(&srv->parked, &g->park);
	pt_parked_clear(&g->park);
	g->s.state = PT_SESSION_CLOSING;
	pt__session_leave(&g->s, g->why);
	free(g->s.contacts);
	free(g);
}

bool pt__park(pt_session *s, enum pt_leave why)
{
	struct pt_server *srv = s->srv;
	size_t n = pt_index_peer_count(srv->index, s->handle);
	pt_out *o, *next;
	ghost *g;

	/* Only /v1 has a resume message; a WebTorrent client re-announces. */
	if (!enabled(srv) || srv->stop_phase || s->said_goodbye || s->fe != &pt_frontends[PT_FE_V1] ||
	    (why != PT_LEAVE_CLOSED && why != PT_LEAVE_TIMEOUT))
		return false;
	if (srv->parked.count >= srv->cfg.resume_max_sessions) {
		srv->stats.resume_evicted++;
		give_up(srv, (ghost *)pt_resume_table_oldest(&srv->parked));
	}
	if (!(g = calloc(1, sizeof(*g))) || (n && !(g->park.hashes = malloc(n * sizeof(pt_hash))))) {
		free(g);
		return false; /* no memory to park: it leaves at once */
	}
	pt_index_peer_foreach(srv->index, s->handle, collect, &g->park);
	/* Not offered by other nodes either while parked. */
	pt__remote_forget(s);
	/* Out of the index (below), so out of the address's hash budget too;
	 * a resume takes them again, from the new address. */
	pt_iplimit_give(srv->iplimit, &s->addr, PT_IP_HASHES,
	                (uint32_t)pt_index_peer_count(srv->index, s->handle));

	/* The copy keeps id, handle, address and contacts; the connection's
	 * own things (socket, queue, buffers) stay with s, which closes. */
	g->why = why;
	g->s = *s;
	g->s.wsi = NULL;
	g->s.state = PT_SESSION_PARKED;
	g->s.q_head = g->s.q_tail = NULL;
	g->s.q_bytes = g->s.q_count = 0;
	g->s.rx = NULL;
	g->s.rx_len = g->s.rx_cap = 0;
	g->s.ip_counted = false;
	g->s.bad = NULL; /* reports end with the connection (s frees them) */
	g->s.co_slot = g->s.co_head = g->s.co_tail = g->s.co_bytes = 0;
	s->contacts = NULL;
	s->n_contacts = s->contacts_cap = 0;
	/* Frames queued but never written go first in line for the resume. */
	for (o = s->q_head; o; o = o->next)
		if (pt_parked_hold(&g->park, (const char *)o->buf + LWS_PRE, o->len,
		                   srv->cfg.resume_max_held_signals, srv->cfg.resume_max_held_bytes))
			srv->stats.held_dropped++;
	for (o = s->q_head; o; o = next) {
		next = o->next;
		free(o);
	}
	s->q_head = s->q_tail = NULL;
	s->q_bytes = s->q_count = 0;

	pt_registry_set_session(srv->registry, g->s.handle, &g->s);
	/* Its entries leave now or over the next turns; it keeps its handle. */
	pt__drain(&g->s, false);
	pt_resume_table_add(&srv->parked, &g->park, pt__server_now(srv) + srv->cfg.resume_window_ms);
	srv->stats.parked++;
	pt_log_debug("peer %s parked (%s), resumable for %u ms", g->s.id_str, pt__leave_name(why),
	             srv->cfg.resume_window_ms);
	return true;
}

int pt__park_hold(pt_session *gs, const pt_buf *b)
{
	struct pt_server *srv = gs->srv;
	int r = pt_parked_hold(&ghost_of(gs)->park, pt_buf_text(b), b->len,
	                       srv->cfg.resume_max_held_signals, srv->cfg.resume_max_held_bytes);

	if (r) {
		srv->stats.held_dropped++;
		return -1;
	}
	srv->stats.held++;
	return 0;
}

/* Which refusal a token earns from a peer that is not parked. */
static enum pt_err judge(const pt_session *t, const pt_resume_secret *sec)
{
	if (pt_resume_secret_equal(sec, &t->secret))
		return PT_E_RESUME_LIVE;
	if (t->has_prev && pt_resume_secret_equal(sec, &t->prev_secret))
		return PT_E_RESUME_REUSED;
	return PT_E_RESUME_INVALID;
}

static const char *refusal_text(enum pt_err e)
{
	switch (e) {
	case PT_E_RESUME_EXPIRED: return "no resumable session for that token: keep the new id";
	case PT_E_RESUME_REUSED: return "that token was used already: keep the new id";
	case PT_E_RESUME_LIVE: return "that token's connection is still open: keep the new id";
	default: return "not a resume token of this server: keep the new id";
	}
}

void pt__park_resume(pt_session *s, const pt_msg *m)
{
	struct pt_server *srv = s->srv;
	pt_resume_secret sec;
	pt_id id;
	uint32_t h, fresh = s->handle;
	pt_session *t;
	ghost *g;
	pt_held *held, *next;
	char token[PT_RESUME_TOKEN_CHARS + 1];
	size_t n_held;
	enum pt_err e = PT_E_RESUME_EXPIRED;

	if (s->spoke) {
		pt__v1_error(s, &m->rid, PT_E_BAD_MESSAGE, "resume must be the first message");
		return;
	}
	if (pt_resume_token_decode(m->token, m->token_len, &id, &sec)) {
		pt__v1_error(s, &m->rid, PT_E_RESUME_INVALID, refusal_text(PT_E_RESUME_INVALID));
		return;
	}
	h = pt_registry_find(srv->registry, &id);
	t = h == PT_HANDLE_NONE ? NULL : pt_registry_session(srv->registry, h);
	if (t && t->state != PT_SESSION_PARKED)
		e = judge(t, &sec);
	else if (t && !pt_resume_secret_equal(&sec, &t->secret))
		e = t->has_prev && pt_resume_secret_equal(&sec, &t->prev_secret) ? PT_E_RESUME_REUSED
		                                                                 : PT_E_RESUME_INVALID;
	else if (t)
		e = PT_OK;
	if (e != PT_OK) {
		pt_log_debug("peer %s: resume refused (%s)", s->id_str, pt_err_code(e));
		pt__v1_error(s, &m->rid, e, refusal_text(e));
		return;
	}

	/* s gives its fresh id back and becomes the parked peer. */
	g = ghost_of(t);
	/* What has not left the index yet stays, and is added back below. */
	pt__drain_cancel(&g->s);
	pt_resume_table_remove(&srv->parked, &g->park);
	pt_match_clear_peer(srv->match, fresh);
	pt_registry_remove(srv->registry, fresh);
	pt_ops_session_close(s, PT_LEAVE_RESUMED);
	s->handle = g->s.handle;
	s->id = g->s.id;
	memcpy(s->id_str, g->s.id_str, sizeof(s->id_str));
	free(s->contacts);
	s->contacts = g->s.contacts;
	s->n_contacts = g->s.n_contacts;
	s->contacts_cap = g->s.contacts_cap;
	s->contacts_next = g->s.contacts_next;
	s->prev_secret = sec;
	s->has_prev = true;
	pt_registry_set_session(srv->registry, s->handle, s);
	if (pt_match_set_peer(srv->match, s->handle, &s->addr) < 0)
		goto nomem;
	for (uint32_t i = 0; i < g->park.n_hashes; i++) {
		int r = pt_index_add(srv->index, s->handle, &g->park.hashes[i]);

		if (r < 0)
			goto nomem;
		/* Counted without a limit: these hashes were admitted once, and
		 * refusing them now would break the resume halfway. Those still
		 * in the index (0: their drain was stopped) were given back at
		 * parking like the rest. */
		pt_iplimit_take(srv->iplimit, &s->addr, PT_IP_HASHES, 1, UINT32_MAX);
	}
	pt__remote_announce(s, PT_SPACE_V1, g->park.hashes, g->park.n_hashes);
	if (pt_resume_secret_new(&s->secret))
		goto nomem;
	pt_resume_token_encode(&s->id, &s->secret, token);
	n_held = g->park.held_count;
	pt_buf_reset(&srv->scratch);
	if (pt_reply_resumed(&srv->scratch, &m->rid, &s->id, token,
	                     pt_index_peer_count(srv->index, s->handle), n_held))
		goto nomem;
	srv->stats.resumed++;
	pt_log_debug("peer %s resumed with %u hashes, %zu held frames", s->id_str,
	             g->park.n_hashes, n_held);
	pt__session_send_buf(s, &srv->scratch);
	held = pt_parked_take_held(&g->park);
	for (; held; held = next) {
		next = held->next;
		if (s->state == PT_SESSION_LIVE)
			pt__session_send(s, held->text, held->len);
		free(held);
	}
	pt_parked_clear(&g->park);
	free(g);
	return;
nomem:
	/* s holds the resumed id now: closing it makes it leave as usual. */
	pt_parked_clear(&g->park);
	free(g);
	pt__session_close(s, PT_CLOSE_INTERNAL, "out of memory", PT_LEAVE_INTERNAL);
}

int pt__park_forget_in(struct pt_server *srv, const pt_cidr *c, enum pt_leave why)
{
	pt_parked *p, *next;
	int n = 0;

	for (p = pt_resume_table_oldest(&srv->parked); p; p = next) {
		ghost *g = (ghost *)p;

		next = p->next;
		if (!pt_cidr_contains(c, &g->s.addr))
			continue;
		pt_log_info("peer %s (resumable) dropped: %s", g->s.id_str, pt__leave_name(why));
		g->why = why;
		give_up(srv, g);
		n++;
	}
	return n;
}

void pt__park_sweep(struct pt_server *srv)
{
	uint64_t now = pt__server_now(srv);
	pt_parked *p;

	while ((p = pt_resume_table_expired(&srv->parked, now))) {
		srv->stats.resume_expired++;
		pt_log_debug("peer %s: resume window over", ((ghost *)p)->s.id_str);
		give_up(srv, (ghost *)p);
	}
	/* A reload may have lowered the bound. */
	while (srv->parked.count > srv->cfg.resume_max_sessions) {
		srv->stats.resume_evicted++;
		give_up(srv, (ghost *)pt_resume_table_oldest(&srv->parked));
	}
}

void pt__park_drop_all(struct pt_server *srv, enum pt_leave why)
{
	pt_parked *p;

	while ((p = pt_resume_table_oldest(&srv->parked))) {
		((ghost *)p)->why = why;
		give_up(srv, (ghost *)p);
	}
}
