/* ops.c — the hooks the connection code calls (ops.h): session and
 * message events appended to the store, the ban check at admission, the
 * health /healthz reports. The store and the bans belong to the process
 * (src/daemon/); this side only appends and reads, never waits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/log.h"
#include "peertrack/sat.h"
#include "net.h"

/* -- bans -------------------------------------------------------------- */

const pt_ban *pt_ops_banned(struct pt_server *s, const pt_addr *a)
{
	return s->bans && s->bans->n ? pt_banlist_match(s->bans, a, pt_clock_wall_ms()) : NULL;
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
		pt_store_session_close(s->store, &p->id, pt__leave_name(why), pt_clock_wall_ms());
}

int pt_ops_report(pt_session *p, const pt_msg *m)
{
	struct pt_server *s = p->srv;

	if (s->store && pt_store_report(s->store, &p->id, m->from_peers, m->from_origin,
	                                m->to_peers, pt_clock_wall_ms())) {
		pt__budget_hit(s, PT_BUDGET_STORE_QUEUE, &p->addr);
		return -EAGAIN;
	}
	/* Counters saturate: a wrapped counter reads as a reset to Prometheus. */
	s->stats.reports++;
	s->stats.offload_from_peers = pt_sat_add(s->stats.offload_from_peers, m->from_peers);
	s->stats.offload_from_origin = pt_sat_add(s->stats.offload_from_origin, m->from_origin);
	s->stats.offload_to_peers = pt_sat_add(s->stats.offload_to_peers, m->to_peers);
	return 0;
}

void pt_ops_count(pt_session *p, const pt_hash *h, size_t n, enum pt_store_counter c)
{
	pt_ops_count_in(p, PT_SPACE_V1, h, n, c);
}

void pt_ops_count_in(pt_session *p, enum pt_space space, const pt_hash *h, size_t n,
                     enum pt_store_counter c)
{
	struct pt_server *s = p->srv;
	const pt_config *cfg = &s->cfg;
	/* Per second, rounded up: the bucket refills in whole tokens. */
	uint32_t per_min = cfg->store_rows_per_peer_per_min, rate = (per_min + 59) / 60;
	uint64_t now, mono = pt__server_now(s);

	if (!s->store || !n)
		return;
	now = pt_clock_wall_ms();
	for (size_t i = 0; i < n; i++) {
		if (!pt_bucket_take(&p->store_rows, rate, per_min, mono)) {
			pt__budget_hit(s, PT_BUDGET_STORE_PEER, &p->addr);
			return;
		}
		pt_store_count_in(s->store, space, &h[i], c, 1, now);
	}
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
