/* remote.c — the serving side of the cluster engine (cluster.h): what a
 * node does for its peers when other nodes exist. Signals to a peer of
 * another node, lookups that merge remote holders, the index kept in Redis
 * (announce, withdraw, leave, the periodic refresh and the re-announce after
 * an outage, in batches), peer-left across nodes, and what other nodes
 * send here (signals, peer-left, kicks). Without cluster_redis nothing here
 * runs: srv->cluster is NULL and every caller checks it. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <jansson.h>
#include <string.h>

#include "peertrack/cluster.h"
#include "peertrack/log.h"
#include "net.h"

/* Re-announce pacing: one tick per REFRESH_TICK_MS while a pass runs. */
#define REFRESH_TICK_MS 20

/* A request whose answer comes back to a peer that may have left by then
 * (pt__sref), and the request id to answer with. */
typedef struct asker {
	pt__sref who;
	pt_rid rid;
} asker;

static void asker_init(asker *a, pt_session *s, const pt_rid *rid)
{
	a->who = pt__sref_of(s);
	if (rid)
		a->rid = *rid;
	else
		memset(&a->rid, 0, sizeof(a->rid));
}

/* -- signals ------------------------------------------------------------------ */

typedef struct sig_req {
	asker a;
	pt_id to;
} sig_req;

static void signal_done(void *arg, int status)
{
	sig_req *q = arg;
	pt_session *s = pt__sref_live(&q->a.who);

	if (status > 0)
		q->a.who.srv->stats.relayed++;
	if (s) {
		if (status > 0)
			pt__session_contact_remote(s, &q->to);
		else if (status == 0)
			pt__v1_error(s, &q->a.rid, PT_E_PEER_GONE, "no connected peer has that id");
		else
			pt__v1_error(s, &q->a.rid, PT_E_UNAVAILABLE,
			             "that peer is on another node, which cannot be reached now");
	}
	free(q);
}

void pt__remote_relay(pt_session *s, const pt_rid *rid, const pt_id *to, const char *data,
                      size_t len)
{
	struct pt_server *srv = s->srv;
	sig_req *q = malloc(sizeof(*q));
	int r;

	pt_buf_reset(&srv->scratch);
	if (!q || pt_reply_signal(&srv->scratch, &s->id, data, len)) {
		free(q);
		pt__v1_error(s, rid, PT_E_INTERNAL, "out of memory");
		return;
	}
	asker_init(&q->a, s, rid);
	q->to = *to;
	r = pt_cluster_signal(srv->cluster, to, &s->id, pt_buf_text(&srv->scratch), srv->scratch.len,
	                      signal_done, q);
	if (r == 0)
		return;
	free(q);
	if (r == -EHOSTDOWN)
		pt__v1_error(s, rid, PT_E_PEER_GONE, "no connected peer has that id");
	else
		pt__v1_error(s, rid, PT_E_UNAVAILABLE,
		             "that peer is on another node, which cannot be reached now");
}

/* -- what other nodes send here ------------------------------------------------ */

static pt_session *local_peer(struct pt_server *srv, const pt_id *id, bool parked_too)
{
	uint32_t h = pt_registry_find(srv->registry, id);
	pt_session *t = h == PT_HANDLE_NONE ? NULL : pt_registry_session(srv->registry, h);

	if (!t || !(t->state == PT_SESSION_LIVE || (parked_too && t->state == PT_SESSION_PARKED)))
		return NULL;
	return t;
}

static void on_signal(void *arg, const pt_id *to, const pt_id *from, const char *frame, size_t len)
{
	struct pt_server *srv = arg;
	pt_session *t = local_peer(srv, to, true);
	bool v1 = len && frame[0] == '{';

	/* A WebTorrent offer or answer (wtremote.c); nothing else reaches a
	 * /announce connection, and nothing of theirs a /v1 one. */
	if (!v1 && t && pt__wtremote_receive(t, from, frame, len))
		return;
	if (!v1) {
		srv->stats.cluster_undeliverable++;
		return;
	}
	if (!t || t->fe != &pt_frontends[PT_FE_V1]) {
		/* Its target left before it arrived, so that peer's peer-left
		 * never went to the sender (this node did not know of it): bounce
		 * one to the sender's node, or the sender would wait out its own
		 * timeout. Never bounced back again: on_peer_left only delivers. */
		srv->stats.cluster_undeliverable++;
		pt_cluster_peer_left(srv->cluster, from, to);
		return;
	}
	pt_buf_reset(&srv->scratch);
	if (pt_buf_append(&srv->scratch, frame, len))
		return;
	if (!pt__session_deliver(t, &srv->scratch))
		pt__session_contact_remote(t, from);
}

static void on_peer_left(void *arg, const pt_id *to, const pt_id *gone)
{
	struct pt_server *srv = arg;
	pt_session *t = local_peer(srv, to, true);

	if (!t || !t->fe || !t->fe->encode_peer_left)
		return;
	pt_buf_reset(&srv->scratch);
	if (!t->fe->encode_peer_left(&srv->scratch, gone) && !pt__session_deliver(t, &srv->scratch))
		srv->stats.peer_left_sent++;
}

static void on_kick(void *arg, const pt_id *id)
{
	struct pt_server *srv = arg;
	char ids[PT_ID_CHARS + 1];

	pt_id_encode(id, ids);
	if (pt_server_kick(srv, id) == 0)
		pt_log_info("peer %s kicked by an operator on another node", ids);
}

static void on_ban(void *arg, const char *cidr, uint64_t until_ms, const char *reason, bool unban)
{
	struct pt_server *srv = arg;
	pt_cidr c;

	if (pt_cidr_parse(cidr, strlen(cidr), &c)) {
		pt_log_warn("cluster: a ban for '%.60s' from another node is not a CIDR: ignored", cidr);
		return;
	}
	if (srv->on_cluster_ban)
		srv->on_cluster_ban(srv->on_cluster_ban_arg, &c, until_ms, reason, unban);
}

void pt_server_on_cluster_ban(struct pt_server *s, pt_server_ban_fn *fn, void *arg)
{
	s->on_cluster_ban = fn;
	s->on_cluster_ban_arg = arg;
}

int pt_server_cluster_ban(struct pt_server *s, const pt_cidr *c, uint64_t until_ms,
                          const char *reason, bool unban)
{
	char text[PT_ADDR_STRLEN + 4];

	if (!s->cluster)
		return -ENOTCONN;
	pt_cidr_format(c, text);
	return pt_cluster_ban(s->cluster, text, until_ms, reason, unban);
}

static void on_allow(void *arg, const uint8_t ih[20], bool add)
{
	struct pt_server *srv = arg;
	pt_wt_id id;

	memcpy(id.b, ih, sizeof(id.b));
	if (srv->on_cluster_allow)
		srv->on_cluster_allow(srv->on_cluster_allow_arg, &id, add);
}

void pt_server_on_cluster_allow(struct pt_server *s, pt_server_allow_fn *fn, void *arg)
{
	s->on_cluster_allow = fn;
	s->on_cluster_allow_arg = arg;
}

int pt_server_cluster_allow(struct pt_server *s, const pt_wt_id *ih, bool add)
{
	if (!s->cluster)
		return -ENOTCONN;
	return pt_cluster_allow(s->cluster, ih->b, add);
}

static void on_info(void *arg, char *out, size_t len)
{
	struct pt_server *srv = arg;

	snprintf(out, len, "peers=%u entries=%zu port=%d", pt__server_live_peers(srv),
	         pt_index_entries(srv->index), srv->port);
}

/* -- the index ----------------------------------------------------------------- */

typedef struct keys_acc {
	pt_key *v;
	size_t n, cap;
} keys_acc;

static void collect_key(enum pt_space space, const pt_hash *h, void *arg)
{
	keys_acc *a = arg;

	if (a->n < a->cap) {
		a->v[a->n].space = space;
		a->v[a->n].h = *h;
		a->n++;
	}
}

/* Every key s holds, into a fresh array (the caller frees a->v). */
static int peer_keys(pt_session *s, keys_acc *a)
{
	size_t n = pt_index_peer_count(s->srv->index, s->handle);

	a->n = 0;
	a->cap = n;
	a->v = n ? malloc(n * sizeof(*a->v)) : NULL;
	if (n && !a->v)
		return -ENOMEM;
	pt_index_peer_foreach_key(s->srv->index, s->handle, collect_key, a);
	return 0;
}

static void index_write(pt_session *s, enum pt_space space, const pt_hash *h, size_t n,
                        bool add)
{
	struct pt_server *srv = s->srv;
	pt_key small[64], *k = small;

	if (!srv->cluster || !n)
		return;
	if (n > 64 && !(k = malloc(n * sizeof(*k))))
		return;
	for (size_t i = 0; i < n; i++) {
		k[i].space = space;
		k[i].h = h[i];
	}
	/* Down: the re-announce after the reconnect covers an add; a
	 * withdraw lost here ages out (cluster_entry_ttl_ms). */
	if (add)
		pt_cluster_announce(srv->cluster, &s->id, &s->addr, k, n);
	else
		pt_cluster_withdraw(srv->cluster, &s->id, &s->addr, k, n);
	if (k != small)
		free(k);
}

void pt__remote_announce(pt_session *s, enum pt_space space, const pt_hash *h, size_t n)
{
	index_write(s, space, h, n, true);
}

void pt__remote_withdraw(pt_session *s, enum pt_space space, const pt_hash *h, size_t n)
{
	index_write(s, space, h, n, false);
}

/* s leaves or parks: out of Redis' index (before the local index forgets
 * which keys it held). */
void pt__remote_forget(pt_session *s)
{
	keys_acc a;

	if (!s->srv->cluster || peer_keys(s, &a))
		return;
	if (a.n)
		pt_cluster_withdraw(s->srv->cluster, &s->id, &s->addr, a.v, a.n);
	free(a.v);
}

void pt__remote_peer_left(struct pt_server *srv, const pt_id *to, const pt_id *gone)
{
	if (srv->cluster)
		pt_cluster_peer_left(srv->cluster, to, gone);
}

/* The refresh: a pass over every live peer re-announces its keys, at most
 * cluster_batch entries a tick and only while the links have room; a pass
 * starts every third of the entry TTL, and at once (after a jitter) when
 * Redis comes back. */
static void refresh_tick(uv_timer_t *t)
{
	struct pt_server *srv = t->data;
	uint32_t budget = srv->cfg.cluster_batch, limit = pt_registry_limit(srv->registry);
	pt_session *p;

	if (!srv->cluster)
		return;
	while (srv->refresh_cursor < limit && budget && pt_cluster_has_room(srv->cluster)) {
		uint32_t h = srv->refresh_cursor;
		keys_acc a;

		p = pt__live_next(srv, &h);
		srv->refresh_cursor = h;
		if (!p)
			break;
		if (peer_keys(p, &a))
			break;
		for (size_t i = 0; i < a.n; i += srv->cfg.cluster_batch) {
			size_t n = a.n - i < srv->cfg.cluster_batch ? a.n - i : srv->cfg.cluster_batch;

			pt_cluster_announce(srv->cluster, &p->id, &p->addr, a.v + i, n);
		}
		/* Its swarms' counts too: they live as long as its entries. */
		pt__wtcount_refresh(srv, a.v, a.n);
		srv->stats.cluster_refreshed += a.n;
		budget = a.n >= budget ? 0 : budget - (uint32_t)a.n;
		free(a.v);
	}
	if (srv->refresh_cursor >= limit) {
		/* Pass over: the next one in a third of the TTL. */
		srv->refresh_cursor = 0;
		uv_timer_start(&srv->refresh_timer, refresh_tick, srv->cfg.cluster_entry_ttl_ms / 3, 0);
	} else {
		uv_timer_start(&srv->refresh_timer, refresh_tick, REFRESH_TICK_MS, 0);
	}
}

static void on_up(void *arg)
{
	struct pt_server *srv = arg;
	uint32_t jitter = srv->cfg.cluster_heartbeat_ms / 2;

	/* Nodes that lost the same Redis come back spread out. */
	srv->refresh_cursor = 0;
	uv_timer_start(&srv->refresh_timer, refresh_tick,
	               jitter ? (uint64_t)rand() % jitter : 0, 0);
}

/* -- lookups ------------------------------------------------------------------- */

typedef struct cand {
	const pt_id *id;
	unsigned prox;
	uint32_t order;   /* local: the matcher's rank; remote: random */
	bool remote;
} cand;

typedef struct look_req {
	asker a;
	pt_hash hash;
	uint32_t k, n_local;
	pt_id local[]; /* the matcher's picks, best first */
} look_req;

static int cand_cmp(const void *x, const void *y)
{
	const cand *a = x, *b = y;

	if (a->prox != b->prox)
		return a->prox < b->prox ? -1 : 1;
	if (a->remote != b->remote)
		return a->remote ? 1 : -1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Answers s's lookup: the local picks (best first) merged with remote
 * holders v[0..n). Local picks keep the matcher's order (proximity, then
 * fewest hand-outs); remote holders are ranked by proximity to the asker,
 * then at random, after local ones of the same proximity. */
static void merge_reply(pt_session *s, const pt_rid *rid, const pt_hash *hash,
                        const pt_id *const *local, size_t n_local, size_t k,
                        const pt_cluster_cand *v, size_t n)
{
	struct pt_server *srv = s->srv;
	const pt_id *ids[1024];
	cand *c;
	size_t m = 0, got;

	if (!(c = malloc((n_local + n) * sizeof(*c) + 1))) {
		pt__v1_error(s, rid, PT_E_INTERNAL, "out of memory");
		return;
	}
	for (size_t i = 0; i < n_local; i++) {
		uint32_t h = pt_registry_find(srv->registry, local[i]);
		pt_session *p = h == PT_HANDLE_NONE ? NULL : pt_registry_session(srv->registry, h);

		c[m++] = (cand){ local[i], p ? pt_addr_proximity(&s->addr, &p->addr) : 3, (uint32_t)i,
		                 false };
	}
	for (size_t i = 0; i < n; i++)
		c[m++] = (cand){ &v[i].id, pt_addr_proximity(&s->addr, &v[i].addr), (uint32_t)rand(),
		                 true };
	qsort(c, m, sizeof(*c), cand_cmp);
	got = m < k ? m : k;
	if (got > sizeof(ids) / sizeof(ids[0]))
		got = sizeof(ids) / sizeof(ids[0]);
	for (size_t i = 0; i < got; i++)
		ids[i] = c[i].id;
	if (got)
		srv->stats.lookups_hit++;
	else
		srv->stats.lookups_miss++;
	pt_buf_reset(&srv->scratch);
	if (pt_reply_peers(&srv->scratch, rid, hash, ids, got))
		pt__v1_error(s, rid, PT_E_INTERNAL, "out of memory");
	else
		pt__session_send_buf(s, &srv->scratch);
	free(c);
}

static void lookup_done(void *arg, int status, const pt_cluster_cand *v, size_t n)
{
	look_req *q = arg;
	pt_session *s = pt__sref_live(&q->a.who);
	const pt_id *local[1024];
	uint32_t n_local = q->n_local < 1024 ? q->n_local : 1024;

	if (status)
		q->a.who.srv->stats.cluster_lookups_local_only++;
	if (s) {
		for (uint32_t i = 0; i < n_local; i++)
			local[i] = &q->local[i];
		merge_reply(s, &q->a.rid, &q->hash, local, n_local, q->k, v, n);
	}
	free(q);
}

bool pt__remote_lookup(pt_session *s, const pt_rid *rid, const pt_hash *h, const pt_id *const *local,
                       size_t n_local, size_t k)
{
	struct pt_server *srv = s->srv;
	pt_key key = { PT_SPACE_V1, *h };
	const pt_cluster_cand *v;
	look_req *q;
	size_t n;

	if (!srv->cluster)
		return false;
	/* A hot hash looked up a moment ago: its remote sample again, no
	 * Redis round trip (cluster_lookup_cache_ms). */
	if ((v = pt_cluster_lookup_cached(srv->cluster, &key, &n))) {
		merge_reply(s, rid, h, local, n_local, k, v, n);
		return true;
	}
	if (!(q = malloc(sizeof(*q) + n_local * sizeof(pt_id)))) {
		srv->stats.cluster_lookups_local_only++;
		return false;
	}
	asker_init(&q->a, s, rid);
	q->hash = *h;
	q->k = (uint32_t)k;
	q->n_local = (uint32_t)n_local;
	for (size_t i = 0; i < n_local; i++)
		q->local[i] = *local[i];
	if (pt_cluster_lookup(srv->cluster, &key, lookup_done, q)) {
		/* Redis down: the local holders answer alone (counted). */
		free(q);
		srv->stats.cluster_lookups_local_only++;
		return false;
	}
	return true;
}

int pt_server_remote_holders(struct pt_server *s, const pt_key *k, pt_cluster_lookup_fn *fn,
                             void *arg)
{
	if (!s->cluster)
		return -ENOTCONN;
	return pt_cluster_lookup(s->cluster, k, fn, arg);
}

/* -- life cycle ------------------------------------------------------------------ */

int pt__remote_start(struct pt_server *srv)
{
	pt_cluster_hooks hooks = {
		.arg = srv, .signal = on_signal, .peer_left = on_peer_left, .kick = on_kick,
		.ban = on_ban, .allow = on_allow, .up = on_up, .info = on_info,
	};
	char err[512];

	if (!srv->cfg.cluster_redis[0])
		return 0;
	srv->cluster = pt_cluster_new(srv->loop, &srv->cfg, &hooks, err, sizeof(err));
	if (!srv->cluster) {
		pt_log_error("cluster: %s", err);
		return -1;
	}
	pt_registry_set_tag(srv->registry, (int)pt_cluster_tag(srv->cluster));
	uv_timer_init(srv->loop, &srv->refresh_timer);
	srv->refresh_timer.data = srv;
	srv->refresh_ready = true;
	if (pt__wtcount_start(srv)) {
		pt_log_error("cluster: out of memory");
		return -1;
	}
	return 0;
}

void pt__remote_stop(struct pt_server *srv)
{
	pt_cluster *c = srv->cluster;

	if (srv->refresh_ready) {
		uv_timer_stop(&srv->refresh_timer);
		uv_close((uv_handle_t *)&srv->refresh_timer, NULL);
		srv->refresh_ready = false;
	}
	pt__wtcount_stop(srv);
	/* Pending callbacks run inside the free and may look at
	 * srv->cluster: it is already NULL for them. */
	srv->cluster = NULL;
	pt_cluster_free(c);
}

/* -- state: /readyz, /metrics, the admin status ---------------------------------- */

const char *pt__remote_state(const struct pt_server *srv)
{
	if (!srv->cluster)
		return "off";
	return pt_cluster_up(srv->cluster) && pt_cluster_registered(srv->cluster) &&
	               pt_cluster_has_room(srv->cluster)
	               ? "ok"
	               : "degraded";
}

typedef struct render {
	pt_buf *b;
	int r;
	uint32_t alive, dead;
	json_t *arr;
} render;

static void count_node(const pt_cluster_node *n, void *arg)
{
	render *x = arg;

	if (n->alive)
		x->alive++;
	else
		x->dead++;
}

static void link_lines(const pt_cluster_link_info *l, void *arg)
{
	render *x = arg;

	x->r |= pt_buf_printf(x->b,
	                      "peertrack_cluster_redis_up{redis=\"%s\",role=\"%s\"} %d\n"
	                      "peertrack_cluster_redis_pending{redis=\"%s\",role=\"%s\"} %u\n"
	                      "peertrack_cluster_redis_disconnects_total{redis=\"%s\",role=\"%s\"} %" PRIu64 "\n"
	                      "peertrack_cluster_redis_timeouts_total{redis=\"%s\",role=\"%s\"} %" PRIu64 "\n",
	                      l->name, l->role, l->up, l->name, l->role, l->pending, l->name, l->role,
	                      l->disconnects, l->name, l->role, l->timeouts);
}

int pt__remote_metrics(struct pt_server *srv, pt_buf *b)
{
	const pt_cluster_stats *c;
	render x = { b, 0, 0, 0, NULL };

	if (!srv->cluster)
		return 0;
	c = pt_cluster_stats_get(srv->cluster);
	pt_cluster_foreach_node(srv->cluster, count_node, &x);
	x.r |= pt_buf_printf(b,
		"# HELP peertrack_cluster_up 1 if Redis is reachable and this node is registered\n"
		"# TYPE peertrack_cluster_up gauge\npeertrack_cluster_up %d\n"
		"# HELP peertrack_cluster_nodes Nodes in the registry at the last heartbeat\n"
		"# TYPE peertrack_cluster_nodes gauge\n"
		"peertrack_cluster_nodes{state=\"alive\"} %u\npeertrack_cluster_nodes{state=\"dead\"} %u\n"
		"# HELP peertrack_cluster_signals_total Signals to peers of other nodes, by result\n"
		"# TYPE peertrack_cluster_signals_total counter\n"
		"peertrack_cluster_signals_total{result=\"sent\"} %" PRIu64 "\n"
		"peertrack_cluster_signals_total{result=\"gone\"} %" PRIu64 "\n"
		"peertrack_cluster_signals_total{result=\"unavailable\"} %" PRIu64 "\n"
		"# HELP peertrack_cluster_signals_received_total Signals from other nodes for peers here\n"
		"# TYPE peertrack_cluster_signals_received_total counter\n"
		"peertrack_cluster_signals_received_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_undeliverable_total Signals from other nodes for a peer no longer here\n"
		"# TYPE peertrack_cluster_undeliverable_total counter\n"
		"peertrack_cluster_undeliverable_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_peer_left_total peer-left notices across nodes\n"
		"# TYPE peertrack_cluster_peer_left_total counter\n"
		"peertrack_cluster_peer_left_total{direction=\"out\"} %" PRIu64 "\n"
		"peertrack_cluster_peer_left_total{direction=\"in\"} %" PRIu64 "\n"
		"# HELP peertrack_cluster_inbox_publishes_total PUBLISHes to other nodes' inboxes, by whether they carried one message or a batch (cluster_publish_linger_us)\n"
		"# TYPE peertrack_cluster_inbox_publishes_total counter\n"
		"peertrack_cluster_inbox_publishes_total{kind=\"single\"} %" PRIu64 "\n"
		"peertrack_cluster_inbox_publishes_total{kind=\"batch\"} %" PRIu64 "\n"
		"# HELP peertrack_cluster_inbox_messages_total Messages those PUBLISHes carried\n"
		"# TYPE peertrack_cluster_inbox_messages_total counter\n"
		"peertrack_cluster_inbox_messages_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_lookups_total Lookups that asked Redis, that reused a recent sample of a hot hash (cluster_lookup_cache_ms), and those answered from this node alone (Redis down or failing)\n"
		"# TYPE peertrack_cluster_lookups_total counter\n"
		"peertrack_cluster_lookups_total{result=\"asked\"} %" PRIu64 "\n"
		"peertrack_cluster_lookups_total{result=\"cached\"} %" PRIu64 "\n"
		"peertrack_cluster_lookups_total{result=\"local_only\"} %" PRIu64 "\n"
		"# HELP peertrack_cluster_index_entries_total Index entries written to Redis, by operation\n"
		"# TYPE peertrack_cluster_index_entries_total counter\n"
		"peertrack_cluster_index_entries_total{op=\"announce\"} %" PRIu64 "\n"
		"peertrack_cluster_index_entries_total{op=\"withdraw\"} %" PRIu64 "\n"
		"peertrack_cluster_index_entries_total{op=\"refresh\"} %" PRIu64 "\n"
		"# HELP peertrack_cluster_index_write_failures_total Index writes not sent or refused (re-announced later)\n"
		"# TYPE peertrack_cluster_index_write_failures_total counter\n"
		"peertrack_cluster_index_write_failures_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_swarm_counts_total /announce swarm counts shared through Redis (cluster_count_refresh_ms): this node's fields written, reads of the other nodes' fields, writes or reads that failed, reads not made (cluster_count_reads_per_sec), changes dropped (too many waiting while Redis was down)\n"
		"# TYPE peertrack_cluster_swarm_counts_total counter\n"
		"peertrack_cluster_swarm_counts_total{op=\"written\"} %" PRIu64 "\n"
		"peertrack_cluster_swarm_counts_total{op=\"read\"} %" PRIu64 "\n"
		"peertrack_cluster_swarm_counts_total{op=\"failed\"} %" PRIu64 "\n"
		"peertrack_cluster_swarm_counts_total{op=\"throttled\"} %" PRIu64 "\n"
		"peertrack_cluster_swarm_counts_total{op=\"dropped\"} %" PRIu64 "\n"
		"# HELP peertrack_cluster_purged_keys_total Index keys purged of a dead node's entries\n"
		"# TYPE peertrack_cluster_purged_keys_total counter\n"
		"peertrack_cluster_purged_keys_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_bad_replies_total Redis replies of an unexpected type or error (logged at most once a second)\n"
		"# TYPE peertrack_cluster_bad_replies_total counter\n"
		"peertrack_cluster_bad_replies_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_stale_subscriptions_total Inbox probes that did not come back (subscription made again)\n"
		"# TYPE peertrack_cluster_stale_subscriptions_total counter\n"
		"peertrack_cluster_stale_subscriptions_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_heartbeat_failures_total Registry heartbeats that failed\n"
		"# TYPE peertrack_cluster_heartbeat_failures_total counter\n"
		"peertrack_cluster_heartbeat_failures_total %" PRIu64 "\n"
		"# HELP peertrack_cluster_tag_conflicts_total Heartbeats refused: another live node holds this node's tag\n"
		"# TYPE peertrack_cluster_tag_conflicts_total counter\n"
		"peertrack_cluster_tag_conflicts_total %" PRIu64 "\n",
		pt_cluster_up(srv->cluster) && pt_cluster_registered(srv->cluster), x.alive, x.dead,
		c->signals_out, c->signals_gone, c->signals_unavailable, c->signals_in,
		srv->stats.cluster_undeliverable, c->peer_left_out, c->peer_left_in,
		c->inbox_publishes - c->inbox_batches, c->inbox_batches, c->inbox_messages, c->lookups,
		c->lookups_cached, srv->stats.cluster_lookups_local_only, c->announces, c->withdraws,
		srv->stats.cluster_refreshed, c->announce_failures, c->counts_written, c->counts_read,
		c->counts_failures, c->counts_throttled, pt__wtcount_dropped(srv), c->purged_keys, c->bad_replies,
		c->stale_subscriptions, c->heartbeat_failures, c->tag_conflicts);
	x.r |= pt_buf_printf(b,
		"# HELP peertrack_cluster_redis_up 1 if the link to this Redis instance is up\n"
		"# TYPE peertrack_cluster_redis_up gauge\n"
		"# HELP peertrack_cluster_redis_pending Requests in flight on the link\n"
		"# TYPE peertrack_cluster_redis_pending gauge\n"
		"# HELP peertrack_cluster_redis_disconnects_total Times the link went down\n"
		"# TYPE peertrack_cluster_redis_disconnects_total counter\n"
		"# HELP peertrack_cluster_redis_timeouts_total Requests (or handshakes) that timed out\n"
		"# TYPE peertrack_cluster_redis_timeouts_total counter\n");
	pt_cluster_foreach_link(srv->cluster, link_lines, &x);
	return x.r ? -ENOMEM : 0;
}

static void node_json(const pt_cluster_node *n, void *arg)
{
	render *x = arg;

	json_array_append_new(x->arr, json_pack("{ss sb sb sI ss}", "tag", n->tag, "alive", n->alive,
	                                        "self", n->self, "age_ms", (json_int_t)n->age_ms,
	                                        "info", n->info));
}

static void link_json(const pt_cluster_link_info *l, void *arg)
{
	render *x = arg;

	json_array_append_new(x->arr, json_pack("{ss ss sb si sI sI ss}", "redis", l->name, "role",
	                                        l->role, "up", l->up, "pending", (int)l->pending,
	                                        "disconnects", (json_int_t)l->disconnects, "timeouts",
	                                        (json_int_t)l->timeouts, "last_error", l->last_error));
}

json_t *pt_server_cluster_json(struct pt_server *s)
{
	render nodes = { 0 }, links = { 0 };
	char tag[3];

	if (!s->cluster)
		return NULL;
	nodes.arr = json_array();
	links.arr = json_array();
	pt_cluster_foreach_node(s->cluster, node_json, &nodes);
	pt_cluster_foreach_link(s->cluster, link_json, &links);
	pt_id_tag_format(pt_cluster_tag(s->cluster), tag);
	return json_pack("{ss ss sb so so}", "node", tag, "state", pt__remote_state(s), "registered",
	                 pt_cluster_registered(s->cluster), "nodes", nodes.arr ? nodes.arr : json_null(),
	                 "redis", links.arr ? links.arr : json_null());
}
