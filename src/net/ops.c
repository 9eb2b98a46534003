/* ops.c — the server's operations side: the state directory, the store,
 * bans and the admin socket, and the hooks the connection code calls
 * (ops.h). Everything here runs on the loop thread; the store only ever
 * sees appends from here, never a wait. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "peertrack/log.h"
#include "peertrack/sat.h"
#include "net.h"

/* mkdir -p, for state_dir. */
static int make_dirs(const char *path)
{
	char buf[PT_CONFIG_STR];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0750) && errno != EEXIST)
		return -errno;
	return 0;
}

int pt_ops_start(struct pt_server *s)
{
	const pt_config *c = &s->cfg;
	char err[512], sock[PT_CONFIG_STR + 32];
	pt_store_opts o = {0};
	int r;

	pt_banlist_init(&s->bans);
	if ((r = make_dirs(c->state_dir))) {
		pt_log_error("state_dir %s: %s", c->state_dir, strerror(-r));
		return -1;
	}
	if (asprintf(&s->db_path, "%s/%s", c->state_dir, PT_STORE_FILE) < 0) {
		s->db_path = NULL;
		pt_log_error("out of memory");
		return -1;
	}
	o.path = s->db_path;
	o.flush_ms = c->store_flush_ms;
	o.retention_days = c->store_retention_days;
	o.cache_kib = c->store_cache_kib;
	if (pt_store_open(&o, &s->bans, pt_clock_wall_ms(), &s->store, err, sizeof(err))) {
		pt_log_error("store: %s", err);
		return -1;
	}
	if (s->bans.n)
		pt_log_info("store: %zu ban(s) in force", s->bans.n);
	if (c->admin_socket[0])
		snprintf(sock, sizeof(sock), "%s", c->admin_socket);
	else
		snprintf(sock, sizeof(sock), "%s/admin.sock", c->state_dir);
	return pt_admin_start(s, sock, &s->admin) ? -1 : 0;
}

void pt_ops_stop(struct pt_server *s)
{
	if (s->admin) {
		pt_admin_close(s->admin);
		s->admin = NULL;
	}
}

void pt_ops_free(struct pt_server *s)
{
	pt_ops_stop(s);
	/* Blocks until the last batch (the shutdown's session ends) is in:
	 * the loop is over, so nobody waits on it. */
	pt_store_close(s->store);
	s->store = NULL;
	pt_banlist_free(&s->bans);
	free(s->db_path);
	s->db_path = NULL;
}

void pt_ops_tick(struct pt_server *s)
{
	uint64_t now = pt_server_now(s);

	if (!s->store || now - s->last_ops_tick_ms < 1000)
		return;
	s->last_ops_tick_ms = now;
	pt_store_sample(s->store, pt_registry_count(s->registry), pt_index_hashes(s->index),
	                pt_clock_wall_ms());
	pt_banlist_expire(&s->bans, pt_clock_wall_ms());
}

/* -- bans -------------------------------------------------------------- */

const pt_ban *pt_ops_banned(struct pt_server *s, const pt_addr *a)
{
	return s->bans.n ? pt_banlist_match(&s->bans, a, pt_clock_wall_ms()) : NULL;
}

int pt_ops_ban(struct pt_server *s, const pt_cidr *c, uint64_t for_ms, const char *reason,
               pt_ban *out)
{
	uint64_t now = pt_clock_wall_ms();
	uint32_t limit = pt_registry_limit(s->registry);
	int dropped = 0;

	if (pt_banlist_add(&s->bans, c, now, for_ms ? now + for_ms : 0, reason) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < s->bans.n; i++)
		if (s->bans.v[i].cidr.prefix == c->prefix && pt_addr_equal(&s->bans.v[i].cidr.net, &c->net))
			*out = s->bans.v[i];
	if (s->store)
		pt_store_ban_add(s->store, out);
	/* The ban applies to live peers at once, not only to new ones. */
	for (uint32_t h = 0; h < limit; h++) {
		pt_session *p = pt_registry_session(s->registry, h);

		if (p && p->state == PT_SESSION_LIVE && pt_cidr_contains(c, &p->addr)) {
			pt_log_info("peer %s dropped: banned", p->id_str);
			pt_session_close(p, PT_CLOSE_POLICY, "banned", PT_LEAVE_BANNED);
			dropped++;
		}
	}
	return dropped;
}

int pt_ops_unban(struct pt_server *s, const pt_cidr *c)
{
	int r = pt_banlist_remove(&s->bans, c);

	if (r > 0 && s->store)
		pt_store_ban_remove(s->store, c);
	return r;
}

/* -- events -------------------------------------------------------------- */

void pt_ops_session_open(pt_session *p)
{
	struct pt_server *s = p->srv;

	if (s->store)
		pt_store_session_open(s->store, &p->id, &p->addr, s->cfg.store_ip, pt_clock_wall_ms());
}

void pt_ops_session_close(pt_session *p, enum pt_leave why)
{
	struct pt_server *s = p->srv;

	if (s->store)
		pt_store_session_close(s->store, &p->id, pt_leave_name(why), pt_clock_wall_ms());
}

void pt_ops_report(pt_session *p, const pt_msg *m)
{
	struct pt_server *s = p->srv;

	/* Counters saturate: a wrapped counter reads as a reset to Prometheus. */
	s->stats.reports++;
	s->stats.offload_from_peers = pt_sat_add(s->stats.offload_from_peers, m->from_peers);
	s->stats.offload_from_origin = pt_sat_add(s->stats.offload_from_origin, m->from_origin);
	s->stats.offload_to_peers = pt_sat_add(s->stats.offload_to_peers, m->to_peers);
	if (s->store)
		pt_store_report(s->store, &p->id, m->from_peers, m->from_origin, m->to_peers,
		                pt_clock_wall_ms());
}

void pt_ops_count(struct pt_server *s, const pt_hash *h, size_t n, enum pt_store_counter c)
{
	uint64_t now;

	if (!s->store || !n)
		return;
	now = pt_clock_wall_ms();
	for (size_t i = 0; i < n; i++)
		pt_store_count(s->store, &h[i], c, 1, now);
}

bool pt_ops_store_ok(struct pt_server *s)
{
	pt_store_health h;

	if (!s->store)
		return false;
	pt_store_health_get(s->store, &h);
	/* A store whose last commit failed, or whose commits stopped, fails. */
	return h.ok && (h.last_flush_ms == 0 ||
	                pt_clock_wall_ms() - h.last_flush_ms < 10ull * s->cfg.store_flush_ms + 10000);
}
