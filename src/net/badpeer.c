/* badpeer.c — the v1 `bad-peer` message (docs/PROTOCOL.md): a client says
 * a peer served bytes that do not hash to what it asked for.
 *
 * A report counts only when it could be true: the reported peer is live,
 * holds that hash, and exchanged a signal with the reporter recently (so
 * the reporter really tried to fetch from it). Counted reports go to the
 * reported peer's own table (core/badpeer.c), one per network and hash;
 * when bad_peer_reports networks agree the hash is withdrawn from that
 * peer, as if it had sent `withdraw`. The table is bounded
 * (bad_peer_max_reports, oldest out first) and lives as long as the
 * peer's connection. */
#include "peertrack/badpeer.h"
#include "peertrack/log.h"
#include "net.h"

/* Why a report does not count, or NULL when it may. */
static const char *refusal(pt_session *s, const pt_session *t, const pt_msg *m)
{
	if (!t || t->state != PT_SESSION_LIVE)
		return "not connected";
	if (!pt__session_contacted(s, t))
		return "no recent signal with the reporter";
	if (!pt_index_has(s->srv->index, t->handle, &m->hash))
		return "does not hold the hash";
	return NULL;
}

void pt__bad_peer(pt_session *s, const pt_msg *m)
{
	struct pt_server *srv = s->srv;
	const pt_config *c = &srv->cfg;
	pt_session *t;
	const char *no;
	uint32_t h;
	int n;

	if (pt_id_equal(&m->to, &s->id)) {
		pt__v1_error(s, &m->rid, PT_E_BAD_MESSAGE, "peer: cannot report yourself");
		return;
	}
	h = pt_registry_find(srv->registry, &m->to);
	t = h == PT_HANDLE_NONE ? NULL : pt_registry_session(srv->registry, h);
	if ((no = refusal(s, t, m))) {
		pt_log_debug("peer %s: bad-peer report ignored: %s", s->id_str, no);
		srv->stats.bad_ignored++;
		pt__v1_ack(s, &m->rid, 0);
		return;
	}
	/* Made on the first report: most peers are never reported. */
	if (!t->bad && !(t->bad = pt_badpeer_new(c->bad_peer_max_reports))) {
		pt__v1_error(s, &m->rid, PT_E_INTERNAL, "out of memory");
		return;
	}
	n = pt_badpeer_note(t->bad, &m->hash, &s->addr);
	if (n == 0) {
		/* Already counted from that network. */
		srv->stats.bad_ignored++;
		pt__v1_ack(s, &m->rid, 0);
		return;
	}
	srv->stats.bad_counted++;
	if ((uint32_t)n >= c->bad_peer_reports) {
		char hex[PT_HASH_HEX + 1];

		pt_badpeer_forget(t->bad, &m->hash);
		if (pt_index_remove(srv->index, t->handle, &m->hash) > 0)
			pt_iplimit_give(srv->iplimit, &t->addr, PT_IP_HASHES, 1);
		pt__remote_withdraw(t, PT_SPACE_V1, &m->hash, 1);
		srv->stats.bad_withdrawn++;
		pt_hash_format(&m->hash, hex);
		pt_log_info("peer %s: %s withdrawn: %d networks reported bad bytes", t->id_str, hex, n);
	}
	pt__v1_ack(s, &m->rid, 1);
}
