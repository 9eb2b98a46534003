/* control.c — what the process may ask of one loop's serving state
 * (server.h): its status, its live peers as copies, and closing some of
 * them (kick, ban). Loop thread only; nothing here is on the hot path. */
#include <errno.h>
#include <string.h>

#include "peertrack/badpeer.h"
#include "peertrack/log.h"
#include "net.h"

void pt_server_status_get(pt_server *s, pt_server_status *out)
{
	out->port = s->port;
	out->uptime_ms = pt__server_now(s) - s->t0_ms;
	out->peers = pt__server_live_peers(s);
	out->sockets = s->sockets;
	out->max_connections = s->cfg.max_connections;
	out->index_entries = pt_index_entries(s->index);
	out->index_hashes = pt_index_hashes(s->index);
	out->bad_counted = s->stats.bad_counted;
	out->bad_ignored = s->stats.bad_ignored;
	out->bad_withdrawn = s->stats.bad_withdrawn;
}

static void info(pt_server *s, const pt_session *p, uint64_t now, pt_peer_info *out)
{
	memcpy(out->id, p->id_str, sizeof(out->id));
	out->id_bin = p->id;
	out->addr = p->addr;
	out->connected_ms = now - p->connected_ms;
	out->idle_ms = now - p->last_rx_ms;
	out->hashes = (uint32_t)pt_index_peer_count(s->index, p->handle);
	out->queue_bytes = p->q_bytes;
	out->contacts = p->n_contacts;
	out->bad_reports = pt_badpeer_count(p->bad);
}

uint32_t pt_server_foreach_peer(pt_server *s, const pt_cidr *in, const pt_key *has,
                                pt_peer_fn fn, void *arg)
{
	uint64_t now = pt__server_now(s);
	uint32_t n = 0;
	bool more = true;
	pt_session *p;

	for (uint32_t h = 0; (p = pt__live_next(s, &h));) {
		pt_peer_info pi;

		if ((in && !pt_cidr_contains(in, &p->addr)) || (has && !pt_index_has_in(s->index, has->space, p->handle, &has->h)))
			continue;
		n++;
		if (more && fn) {
			info(s, p, now, &pi);
			more = fn(&pi, arg);
		}
	}
	return n;
}

uint32_t pt_server_holders(pt_server *s, const pt_key *k, pt_peer_fn fn, void *arg)
{
	const uint32_t *holders;
	size_t n = pt_index_holders_in(s->index, k->space, &k->h, &holders);
	uint64_t now = pt__server_now(s);

	for (size_t i = 0; fn && i < n; i++) {
		pt_session *p = pt_registry_session(s->registry, holders[i]);
		pt_peer_info pi;

		if (!p)
			continue;
		info(s, p, now, &pi);
		if (!fn(&pi, arg))
			break;
	}
	return (uint32_t)n;
}

static pt_session *live_peer(pt_server *s, const pt_id *id)
{
	uint32_t h = pt_registry_find(s->registry, id);
	pt_session *p = h == PT_HANDLE_NONE ? NULL : pt_registry_session(s->registry, h);

	return p && p->state == PT_SESSION_LIVE ? p : NULL;
}

int pt_server_peer(pt_server *s, const pt_id *id, pt_peer_info *out)
{
	pt_session *p = live_peer(s, id);

	if (!p)
		return -ENOENT;
	info(s, p, pt__server_now(s), out);
	return 0;
}

struct keys_out {
	void (*fn)(const pt_key *k, void *arg);
	void *arg;
};

static void each_key(enum pt_space space, const pt_hash *h, void *arg)
{
	struct keys_out *o = arg;
	pt_key k = { space, *h };

	o->fn(&k, o->arg);
}

int pt_server_peer_hashes(pt_server *s, const pt_id *id, void (*fn)(const pt_key *k, void *arg),
                          void *arg)
{
	pt_session *p = live_peer(s, id);
	struct keys_out o = { fn, arg };

	if (!p)
		return -ENOENT;
	pt_index_peer_foreach_key(s->index, p->handle, each_key, &o);
	return 0;
}

int pt_server_kick(pt_server *s, const pt_id *id)
{
	pt_session *p;

	if (s->cluster && !pt_cluster_local(s->cluster, id))
		return pt_cluster_kick(s->cluster, id, NULL, NULL) ? -ENOENT : 0;
	p = live_peer(s, id);

	if (!p)
		return -ENOENT;
	pt__session_close(p, PT_CLOSE_KICKED, "kicked by an operator", PT_LEAVE_KICKED);
	return 0;
}

int pt_server_drop(pt_server *s, const pt_cidr *c)
{
	int dropped = 0;
	pt_session *p;

	for (uint32_t h = 0; (p = pt__live_next(s, &h));) {
		if (!pt_cidr_contains(c, &p->addr))
			continue;
		pt_log_info("peer %s dropped: banned", p->id_str);
		pt__session_close(p, PT_CLOSE_POLICY, "banned", PT_LEAVE_BANNED);
		dropped++;
	}
	/* Resumable peers there too: not resumable from anywhere else either. */
	return dropped + pt__park_forget_in(s, c, PT_LEAVE_BANNED);
}
