/* session.c — one client connection's life: admission (origin, limits,
 * id), the bounded send queue, retirement (index, registry, peer-left) and
 * the close. Front-ends call in here; nothing here knows the wire format
 * beyond the reply encoders. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "peertrack/badpeer.h"
#include "peertrack/log.h"
#include "peertrack/utf8.h"
#include "net.h"

#define X(e, name) [e] = name,
static const char *const leave_names[PT_LEAVE__COUNT] = { PT_LEAVES(X) };
static const char *const refuse_names[PT_REFUSE__COUNT] = { PT_REFUSALS(X) };
#undef X

const char *pt__leave_name(enum pt_leave r)
{
	return (unsigned)r < PT_LEAVE__COUNT ? leave_names[r] : "unknown";
}

const char *pt__refuse_name(enum pt_refuse r)
{
	return (unsigned)r < PT_REFUSE__COUNT ? refuse_names[r] : "other";
}

/* -- allowed origins --------------------------------------------------- */

void pt__origins_free(pt_origins *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i]);
	free(o->v);
	memset(o, 0, sizeof(*o));
}

int pt__origins_parse(pt_origins *o, const char *list)
{
	pt_origins n = {0};
	const char *p = list;

	while (*p) {
		size_t len;

		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (!len)
			break;
		if (len == 1 && *p == '*') {
			n.any = true;
		} else {
			char **v = realloc(n.v, (n.n + 1) * sizeof(*v));
			char *item;

			if (!v)
				goto oom;
			n.v = v;
			if (!(item = strndup(p, len)))
				goto oom;
			for (char *c = item; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			n.v[n.n++] = item;
		}
		p += len;
	}
	pt__origins_free(o);
	*o = n;
	return 0;
oom:
	pt__origins_free(&n);
	return -ENOMEM;
}

bool pt__origins_allow(const pt_origins *o, const char *origin)
{
	if (!origin || !*origin)
		return false;
	if (o->any)
		return true;
	for (size_t i = 0; i < o->n; i++)
		if (!strcasecmp(o->v[i], origin))
			return true;
	return false;
}

/* -- client address ---------------------------------------------------- */

/* The right-most address of an X-Forwarded-For list that is not a trusted
 * proxy: every hop right of it was added by a proxy we trust, while
 * anything left of it could have been written by the client. */
static int xff_client(const pt_cidr_list *trusted, char *xff, pt_addr *out)
{
	char *end = xff + strlen(xff);

	while (end > xff) {
		char *start = end;
		pt_addr a;

		while (start > xff && start[-1] != ',')
			start--;
		char *t0 = start, *t1 = end;
		while (t0 < t1 && (*t0 == ' ' || *t0 == '\t'))
			t0++;
		while (t1 > t0 && (t1[-1] == ' ' || t1[-1] == '\t'))
			t1--;
		if (pt_addr_parse(t0, (size_t)(t1 - t0), &a))
			return -EINVAL; /* a malformed hop: believe nothing left of it */
		if (!pt_cidr_list_contains(trusted, &a)) {
			*out = a;
			return 0;
		}
		*out = a; /* all trusted so far: the left-most one is the client */
		end = start > xff ? start - 1 : xff;
	}
	return out->family ? 0 : -ENOENT;
}

/* A forwarding header from a peer that is not in trusted_proxies is
 * ignored, as it must be (any client can send one). It is also what a proxy
 * missing from trusted_proxies looks like — the Docker bridge gateway in
 * front of a containerised daemon, say — and then every client gets the
 * proxy's address and the per-address limit refuses the 65th: so it is
 * said, as a warning, at most once a minute (any client can cause it), the
 * others counted. */
#define PT_UNTRUSTED_PROXY_LOG_MS 60000

static void warn_untrusted_proxy(struct pt_server *srv, struct lws *wsi, const char *peer)
{
	const char *hdr = "X-Forwarded-For";
	uint64_t more;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR) <= 0) {
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS) || defined(LWS_HTTP_HEADERS_ALL)
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_X_REAL_IP) <= 0)
			return;
#else
		if (lws_hdr_custom_length(wsi, "x-real-ip:", 10) <= 0)
			return;
#endif
		hdr = "X-Real-IP";
	}
	if (!pt_lograte_take(&srv->untrusted_proxy_log, PT_UNTRUSTED_PROXY_LOG_MS, pt__server_now(srv),
	                     &more))
		return;
	pt_log_warn("%s from %s ignored: not in trusted_proxies (a proxy in front of peertrackd must "
	            "be listed there, or every client gets its address)%s%" PRIu64 "%s",
	            hdr, peer, more ? "; " : "", more, more ? " more such connections before it" : "");
}

void pt__session_flush_untrusted_proxy_log(struct pt_server *srv)
{
	uint64_t more;

	if (pt_lograte_flush(&srv->untrusted_proxy_log, PT_UNTRUSTED_PROXY_LOG_MS, pt__server_now(srv),
	                     &more))
		pt_log_warn("forwarding headers from peers not in trusted_proxies ignored on %" PRIu64
		            " more connection(s) in the last %u s", more, PT_UNTRUSTED_PROXY_LOG_MS / 1000);
}

int pt__session_client_addr(struct pt_server *srv, struct lws *wsi, pt_addr *out)
{
	char buf[512];
	pt_addr peer = {0}, fwd = {0};
	int n;

	if (!lws_get_peer_simple(wsi, buf, sizeof(buf)) ||
	    pt_addr_parse(buf, strlen(buf), &peer))
		return -EINVAL;
	*out = peer;
	if (!srv->cfg.trusted_proxies.n || !pt_cidr_list_contains(&srv->cfg.trusted_proxies, &peer)) {
		warn_untrusted_proxy(srv, wsi, buf);
		return 0;
	}

	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_X_FORWARDED_FOR);
	if (n > 0 && !xff_client(&srv->cfg.trusted_proxies, buf, &fwd)) {
		*out = fwd;
		return 0;
	}
	/* lws parses X-Real-IP as a known token when built with its uncommon
	 * headers (Debian's is), and then it is not among the custom ones. */
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS) || defined(LWS_HTTP_HEADERS_ALL)
	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_X_REAL_IP);
#else
	n = lws_hdr_custom_copy(wsi, buf, sizeof(buf), "x-real-ip:", 10);
#endif
	if (n > 0 && !pt_addr_parse(buf, (size_t)n, &fwd))
		*out = fwd;
	return 0;
}

/* -- admission --------------------------------------------------------- */

/* Refusals a client can cause at will (bans, origins, the per-address
 * limit) are logged at most once per PT_REFUSAL_LOG_MS per reason; the
 * others are counted into the next line (or the sweep's), so a flood of
 * them cannot flood the log. */
#define PT_REFUSAL_LOG_MS 10000

static void log_refusal(struct pt_server *srv, enum pt_refuse why, const char *addr,
                        const char *detail)
{
	uint64_t more;

	if (!pt_lograte_take(&srv->refusal_log[why], PT_REFUSAL_LOG_MS, pt__server_now(srv), &more))
		return;
	if (more)
		pt_log_info("refused %s: %s (and %" PRIu64 " more refused for %s before it)", addr,
		            detail, more, pt__refuse_name(why));
	else
		pt_log_info("refused %s: %s", addr, detail);
}

void pt__session_flush_refusal_log(struct pt_server *srv)
{
	uint64_t more;

	for (int i = 0; i < PT_REFUSE__COUNT; i++)
		if (pt_lograte_flush(&srv->refusal_log[i], PT_REFUSAL_LOG_MS, pt__server_now(srv), &more))
			pt_log_info("refused %" PRIu64 " more client(s) for %s in the last %u s", more,
			            pt__refuse_name((enum pt_refuse)i), PT_REFUSAL_LOG_MS / 1000);
}

static void refuse(pt_session *s, uint16_t code, const char *reason, enum pt_refuse why)
{
	s->srv->stats.refused[why]++;
	s->state = PT_SESSION_CLOSING;
	s->close_code = code;
	s->close_reason = reason;
	lws_set_timer_usecs(s->wsi, 1);
	lws_callback_on_writable(s->wsi);
}

int pt__session_admit(pt_session *s, struct pt_server *srv, struct lws *wsi)
{
	const pt_config *c = &srv->cfg;
	char origin[256], addr[PT_ADDR_STRLEN];
	uint64_t now = pt__server_now(srv);
	const pt_frontend *fe = s->fe;
	int n, r;

	memset(s, 0, sizeof(*s));
	s->fe = fe;
	s->srv = srv;
	s->wsi = wsi;
	s->handle = PT_HANDLE_NONE;
	s->connected_ms = s->last_rx_ms = s->last_ping_ms = now;
	srv->sockets++;

	if (pt__session_client_addr(srv, wsi, &s->addr)) {
		refuse(s, PT_CLOSE_INTERNAL, "no client address", PT_REFUSE_INTERNAL);
		return 0;
	}
	pt_addr_format(&s->addr, addr);

	if (srv->stop_phase) {
		refuse(s, PT_CLOSE_GOING_AWAY, "server shutting down", PT_REFUSE_SHUTDOWN);
		return 0;
	}
	if (pt_ops_banned(srv, &s->addr)) {
		log_refusal(srv, PT_REFUSE_BANNED, addr, "banned");
		refuse(s, PT_CLOSE_POLICY, "banned", PT_REFUSE_BANNED);
		return 0;
	}
	n = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
	if (n <= 0 ? !c->allow_missing_origin : !pt__origins_allow(&srv->origins, origin)) {
		char detail[sizeof(origin) + 32];

		snprintf(detail, sizeof(detail), "origin '%s' not allowed", n > 0 ? origin : "");
		log_refusal(srv, PT_REFUSE_ORIGIN, addr, detail);
		refuse(s, PT_CLOSE_POLICY, "origin not allowed", PT_REFUSE_ORIGIN);
		return 0;
	}
	if (pt__server_live_peers(srv) >= srv->max_peers) {
		refuse(s, PT_CLOSE_FULL, "server full", PT_REFUSE_FULL);
		return 0;
	}
	r = pt_iplimit_acquire(srv->iplimit, &s->addr, c->max_connections_per_ip);
	if (r == 0) {
		log_refusal(srv, PT_REFUSE_PER_IP, addr, "max_connections_per_ip reached");
		refuse(s, PT_CLOSE_TOO_MANY_FROM_IP, "too many connections from your address",
		       PT_REFUSE_PER_IP);
		return 0;
	}
	if (r < 0)
		goto internal;
	s->ip_counted = true;

	r = pt_registry_add(srv->registry, s, &s->handle, &s->id);
	if (r == -EAGAIN) {
		refuse(s, PT_CLOSE_FULL, "server full", PT_REFUSE_FULL);
		return 0;
	}
	if (r < 0)
		goto internal;
	if (pt_match_set_peer(srv->match, s->handle, &s->addr)) {
		pt_registry_remove(srv->registry, s->handle);
		s->handle = PT_HANDLE_NONE;
		goto internal;
	}
	pt_id_encode(&s->id, s->id_str);
	pt_bucket_init(&s->bucket, c->rate_burst, now);
	pt_bucket_init(&s->strikes, c->rate_abuse_strikes, now);
	pt_bucket_init(&s->store_rows, c->store_rows_per_peer_per_min, now);
	s->co_usable = pt__coalesce_usable(wsi);
	s->state = PT_SESSION_LIVE;
	srv->stats.connections++;
	pt_ops_session_open(s);
	pt_log_debug("peer %s connected from %s", s->id_str, addr);
	return 1;

internal:
	pt_log_error("admitting %s: out of memory", addr);
	refuse(s, PT_CLOSE_INTERNAL, "server error", PT_REFUSE_INTERNAL);
	return 0;
}

/* -- leaving ------------------------------------------------------------ */

static void notify_contacts(pt_session *s)
{
	struct pt_server *srv = s->srv;
	uint32_t now = pt__server_now32(srv);
	uint32_t window = srv->cfg.peer_left_window_ms;

	const pt_frontend *encoded = NULL; /* the row whose notice scratch holds */

	/* 0 turns peer-left off (CONFIG.md): a contact made in the same loop
	 * turn is 0 ms old, and "older than 0" would still let it through. */
	if (!s->n_contacts || !window)
		return;
	for (uint16_t i = 0; i < s->n_contacts; i++) {
		const pt_contact *c = &s->contacts[i];
		pt_session *o;

		if (now - c->at > window)
			continue;
		if (c->handle == PT_HANDLE_NONE) {
			/* A peer of another node: its node encodes the notice. */
			pt__remote_peer_left(srv, &c->remote, &s->id);
			continue;
		}
		if (pt_registry_gen(srv->registry, c->handle) != c->gen)
			continue;
		o = pt_registry_session(srv->registry, c->handle);
		/* A resumable contact (parked) gets it held, like a signal. */
		if (!o || (o->state != PT_SESSION_LIVE && o->state != PT_SESSION_PARKED) || !o->fe ||
		    !o->fe->encode_peer_left)
			continue;
		/* In the contact's own protocol, encoded once per protocol. */
		if (o->fe != encoded) {
			pt_buf_reset(&srv->scratch);
			encoded = o->fe->encode_peer_left(&srv->scratch, &s->id) ? NULL : o->fe;
			if (!encoded)
				continue;
		}
		if (!pt__session_deliver(o, &srv->scratch))
			srv->stats.peer_left_sent++;
	}
}

/* Takes a live peer out of everything that can find it — index, matcher,
 * registry — at once, so no lookup or signal reaches it while its socket
 * is still closing; or, when it dropped, parks it for a resume (park.c).
 * Idempotent. */
void pt__session_retire(pt_session *s, enum pt_leave why)
{
	if (s->state != PT_SESSION_LIVE)
		return;
	s->state = PT_SESSION_CLOSING;
	if (!pt__park(s, why))
		pt__session_leave(s, why);
}

void pt__session_leave(pt_session *s, enum pt_leave why)
{
	struct pt_server *srv = s->srv;

	srv->stats.left[why]++;
	if (s->fe && s->fe->retire)
		s->fe->retire(s);
	pt__remote_forget(s);
	/* A parked peer gave its hashes back when it parked. Its entries
	 * leave the index now or over the next turns (drain.c); the address's
	 * budget is free at once, the global one as they go. */
	if (!s->drain_slot)
		pt_iplimit_give(srv->iplimit, &s->addr, PT_IP_HASHES,
		                (uint32_t)pt_index_peer_count(srv->index, s->handle));
	if (pt__drain(s, true))
		pt_registry_remove(srv->registry, s->handle);
	else
		pt_registry_hold(srv->registry, s->handle);
	pt_ops_session_close(s, why);
	pt_log_debug("peer %s left (%s)", s->id_str, pt__leave_name(why));
	notify_contacts(s);
}

/* How long a closing peer's queued replies may take to leave before its
 * close frame (a flooder closed with 4001 still gets the rate-limited
 * errors it was sent), and how often the kernel's queue is looked at. */
#define CLOSE_FLUSH_MS 2000
#define CLOSE_POLL_MS 20

void pt__session_close(pt_session *s, uint16_t code, const char *reason, enum pt_leave why)
{
	if (s->close_code)
		return;
	pt__session_retire(s, why);
	s->state = PT_SESSION_CLOSING;
	s->close_code = code;
	s->close_reason = reason;
	/* A slow reader's queue is the problem: it is not waited for. */
	s->close_by_ms = code == PT_CLOSE_SLOW_READER ? 0 : pt__server_now(s->srv) + CLOSE_FLUSH_MS;
	lws_set_timer_usecs(s->wsi, 1);
	lws_callback_on_writable(s->wsi);
}

/* Bytes the kernel still holds for the peer (sent but not acknowledged,
 * or not sent yet). */
static int kernel_outq(struct lws *wsi)
{
	int n = 0;

	if (ioctl(lws_get_socket_fd(wsi), SIOCOUTQ, &n))
		return 0;
	return n;
}

/* Closing, with replies still on their way: in our queue, in lws' or in
 * the kernel's. A socket closed with the flood's unread input still in
 * its receive queue is reset, and a reset discards what the kernel had
 * not delivered yet: the close waits until that is delivered. */
static bool flushing(const pt_session *s)
{
	if (!s->close_by_ms || pt__server_now(s->srv) >= s->close_by_ms)
		return false;
	return s->q_head || lws_partial_buffered(s->wsi) || kernel_outq(s->wsi) > 0;
}

/* Runs inside an lws callback of this connection (receive or timer) — the
 * paths where lws sends our close frame and waits for the echo, bounded by
 * its own close timeout. Returns the callback's result. */
int pt__session_close_now(pt_session *s)
{
	if (flushing(s)) {
		/* WRITEABLE drains our queue (and re-arms this timer when it is
		 * empty); the timer looks again until the kernel's is empty
		 * too, or the deadline. */
		uint64_t left = s->close_by_ms - pt__server_now(s->srv);

		if (s->q_head)
			lws_callback_on_writable(s->wsi);
		lws_set_timer_usecs(s->wsi, (lws_usec_t)(left < CLOSE_POLL_MS ? left : CLOSE_POLL_MS) * 1000);
		return 0;
	}
	pt__coalesce_write(s);
	lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
	                 (unsigned char *)s->close_reason, strlen(s->close_reason));
	return -1;
}

/* The socket is gone (LWS_CALLBACK_CLOSED or WSI_DESTROY): release all. */
void pt__session_closed(pt_session *s)
{
	struct pt_server *srv = s->srv;
	pt_out *o, *next;

	if (!srv)
		return; /* never admitted: lws zeroed it */
	pt__defer_drop(s); /* before a ghost copies the session */
	pt__session_retire(s, PT_LEAVE_CLOSED);
	pt__coalesce_drop(s);
	if (s->ip_counted)
		pt_iplimit_release(srv->iplimit, &s->addr);
	for (o = s->q_head; o; o = next) {
		next = o->next;
		free(o);
	}
	free(s->rx);
	free(s->contacts);
	pt_badpeer_free(s->bad);
	srv->sockets--;
	memset(s, 0, sizeof(*s));
}

/* -- sending ------------------------------------------------------------- */

int pt__session_send(pt_session *s, const char *text, size_t len)
{
	pt_out *o;

	if (s->state == PT_SESSION_CLOSING)
		return -1;
	if ((uint64_t)s->q_bytes + s->co_bytes + len > s->srv->cfg.send_queue_max_bytes) {
		pt__session_close(s, PT_CLOSE_SLOW_READER, "send queue full", PT_LEAVE_SLOW_READER);
		return -1;
	}
	if (!(o = malloc(sizeof(*o) + LWS_PRE + len))) {
		pt__session_close(s, PT_CLOSE_INTERNAL, "out of memory", PT_LEAVE_INTERNAL);
		return -1;
	}
	o->next = NULL;
	o->len = (uint32_t)len;
	memcpy(o->buf + LWS_PRE, text, len);
	if (s->q_tail)
		s->q_tail->next = o;
	else
		s->q_head = o;
	s->q_tail = o;
	s->q_bytes += (uint32_t)len;
	s->q_count++;
	lws_callback_on_writable(s->wsi);
	return 0;
}

/* Sends the frame without the queue when nothing is queued before it:
 * coalesced with the session's other frames of this loop turn, or written
 * at once where it cannot be (an HTTP/2 stream). Either costs far less than
 * a queue entry, two epoll_ctl calls and a WRITEABLE callback. Anything
 * else — a backlog, a pending ping, a frame lws still holds from a partial
 * write — takes the bounded queue, so order and the slow-reader limit hold.
 * 1 sent, 0 not taken, -1 closed. */
static int send_direct(pt_session *s, const pt_buf *b)
{
	/* lws_partial_buffered, not lws_send_pipe_choked: the latter costs a
	 * poll() per message. A full socket is fine here — lws keeps what the
	 * kernel refused (one turn's frames at most, since then this path is
	 * closed) and drains it before our next WRITEABLE. */
	if (s->q_head || s->ping_due || lws_partial_buffered(s->wsi))
		return 0;
	if (s->co_usable && (uint64_t)s->co_bytes + b->len <= s->srv->cfg.send_queue_max_bytes &&
	    !pt__coalesce_add(s, pt_buf_text(b), b->len)) {
		s->srv->stats.bytes_out += b->len;
		s->srv->stats.frames_out++;
		return 1;
	}
	if (b->head < LWS_PRE || s->co_slot)
		return 0;
	if (lws_write(s->wsi, (unsigned char *)pt_buf_text(b), b->len, LWS_WRITE_TEXT) < (int)b->len) {
		pt__session_close(s, PT_CLOSE_INTERNAL, "write failed", PT_LEAVE_CLOSED);
		return -1;
	}
	s->srv->stats.bytes_out += b->len;
	s->srv->stats.frames_out++;
	s->srv->stats.writes_out++;
	return 1;
}

int pt__session_deliver(pt_session *s, const pt_buf *b)
{
	if (s->state == PT_SESSION_PARKED)
		return pt__park_hold(s, b);
	if (s->state != PT_SESSION_LIVE)
		return -1;
	return pt__session_send_buf(s, b);
}

int pt__session_send_buf(pt_session *s, const pt_buf *b)
{
	int r;

	if (s->state == PT_SESSION_CLOSING)
		return -1;
	if ((r = send_direct(s, b)))
		return r < 0 ? -1 : 0;
	return pt__session_send(s, pt_buf_text(b), b->len);
}

int pt__session_receive(pt_session *s, const char *in, size_t len, bool first, bool final,
                       bool binary, uint32_t max,
                       void (*deliver)(pt_session *s, const char *msg, size_t len, bool binary))
{
	s->srv->stats.bytes_in += len;
	if (first) {
		s->rx_len = 0;
		s->rx_overflow = false;
	}
	if (s->rx_overflow || (uint64_t)s->rx_len + len > max) {
		pt__session_close(s, PT_CLOSE_TOO_BIG, "message too big", PT_LEAVE_TOO_BIG);
		return -1;
	}
	if (final && s->rx_len == 0) {
		/* The common case: a whole message in one piece, no copy. */
		deliver(s, in, len, binary);
		return 0;
	}
	if (s->rx_len + len > s->rx_cap) {
		uint32_t cap = s->rx_cap ? s->rx_cap : 1024;
		char *p;

		while (cap < s->rx_len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		if (!(p = realloc(s->rx, cap))) {
			pt__session_close(s, PT_CLOSE_INTERNAL, "out of memory", PT_LEAVE_INTERNAL);
			return -1;
		}
		s->rx = p;
		s->rx_cap = cap;
	}
	memcpy(s->rx + s->rx_len, in, len);
	s->rx_len += (uint32_t)len;
	if (final) {
		deliver(s, s->rx, s->rx_len, binary);
		/* Give the reassembly buffer back: only large messages need
		 * one, and an idle peer should hold nothing. */
		free(s->rx);
		s->rx = NULL;
		s->rx_len = s->rx_cap = 0;
	}
	return 0;
}

bool pt__session_close_if_not_utf8(pt_session *s, const char *frame, size_t len)
{
	/* Checked on the error path only: the parsers have validated every
	 * byte of an accepted frame, so libwebsockets is not asked to do it a
	 * second time. */
	if (pt_utf8_valid(frame, len))
		return false;
	pt__session_close(s, PT_CLOSE_BAD_DATA, "invalid UTF-8", PT_LEAVE_BAD_DATA);
	return true;
}

bool pt__session_rate_ok(pt_session *s, uint32_t rate, uint32_t burst)
{
	const pt_config *c = &s->srv->cfg;
	uint64_t now = pt__server_now(s->srv);
	/* Each refused message costs a strike; strikes refill over ~10 s.
	 * A client that keeps flooding runs out and is cut off. */
	uint32_t refill = c->rate_abuse_strikes / 10 ? c->rate_abuse_strikes / 10 : 1;

	if (pt_bucket_take(&s->bucket, rate, burst, now))
		return true;
	if (!pt_bucket_take(&s->strikes, refill, c->rate_abuse_strikes, now)) {
		pt_log_info("peer %s closed: flooding", s->id_str);
		pt__session_close(s, PT_CLOSE_ABUSE, "rate limit abuse", PT_LEAVE_ABUSE);
	}
	return false;
}

int pt__session_writable(pt_session *s)
{
	pt_out *o;

	pt__coalesce_write(s);
	if (s->close_code && !flushing(s)) {
		/* Re-arm from inside lws' service: a timer set from outside it
		 * (the sweep, another peer's callback) may not be scheduled. */
		lws_set_timer_usecs(s->wsi, 1);
		return 0;
	}
	if (s->ping_due && !s->close_code) {
		/* With a payload: lws 4.1 does not report an empty pong
		 * (LWS_CALLBACK_RECEIVE_PONG), and the pong is the heartbeat. */
		unsigned char ping[LWS_PRE + 2] = { [LWS_PRE] = 'p', [LWS_PRE + 1] = 't' };

		s->ping_due = false;
		if (lws_write(s->wsi, ping + LWS_PRE, 2, LWS_WRITE_PING) < 0)
			return -1;
		if (s->q_head)
			lws_callback_on_writable(s->wsi);
		return 0;
	}
	if (!(o = s->q_head))
		return 0;
	if (lws_write(s->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
		return -1;
	s->srv->stats.bytes_out += o->len;
	s->srv->stats.frames_out++;
	s->srv->stats.writes_out++;
	s->q_head = o->next;
	if (!s->q_head)
		s->q_tail = NULL;
	s->q_bytes -= o->len;
	s->q_count--;
	free(o);
	if (s->q_head)
		lws_callback_on_writable(s->wsi);
	else if (s->close_code)
		lws_set_timer_usecs(s->wsi, 1); /* flushed: the close frame next */
	return 0;
}

/* -- recent contacts, for peer-left ----------------------------------- */

/* other: a local peer, or NULL and remote: a peer of another node. */
static void remember(pt_session *s, const pt_session *other, const pt_id *remote)
{
	uint32_t handle = other ? other->handle : PT_HANDLE_NONE;
	uint32_t gen = other ? pt_registry_gen(s->srv->registry, other->handle) : 0;
	uint32_t now = pt__server_now32(s->srv);

	/* Allocated on the first signal: most peers of a CDN page only
	 * announce and look up, and idle peers should cost little. */
	if (!s->contacts_cap) {
		uint32_t cap = s->srv->cfg.recent_contacts;

		if (!cap || !(s->contacts = calloc(cap, sizeof(*s->contacts))))
			return;
		s->contacts_cap = (uint16_t)cap;
	}
	for (uint16_t i = 0; i < s->n_contacts; i++) {
		if (s->contacts[i].handle == handle && s->contacts[i].gen == gen &&
		    (other || pt_id_equal(&s->contacts[i].remote, remote))) {
			s->contacts[i].at = now;
			return;
		}
	}
	/* Full: overwrite the oldest slot, round-robin. */
	pt_contact *c = &s->contacts[s->contacts_next];
	c->handle = handle;
	c->gen = gen;
	c->at = now;
	if (remote)
		c->remote = *remote;
	s->contacts_next = (uint16_t)((s->contacts_next + 1) % s->contacts_cap);
	if (s->n_contacts < s->contacts_cap)
		s->n_contacts++;
}

void pt__session_contact(pt_session *s, pt_session *other)
{
	remember(s, other, NULL);
	remember(other, s, NULL);
}

pt__sref pt__sref_of(pt_session *s)
{
	return (pt__sref){ s->srv, s->handle, pt_registry_gen(s->srv->registry, s->handle) };
}

pt_session *pt__sref_live(const pt__sref *r)
{
	pt_session *s;

	if (pt_registry_gen(r->srv->registry, r->handle) != r->gen)
		return NULL;
	s = pt_registry_session(r->srv->registry, r->handle);
	return s && s->state == PT_SESSION_LIVE ? s : NULL;
}

void pt__session_contact_remote(pt_session *s, const pt_id *other)
{
	remember(s, NULL, other);
}

bool pt__session_contacted(const pt_session *s, const pt_session *other)
{
	uint32_t gen = pt_registry_gen(s->srv->registry, other->handle);
	uint32_t now = pt__server_now32(s->srv), window = s->srv->cfg.peer_left_window_ms;

	for (uint16_t i = 0; i < s->n_contacts; i++) {
		const pt_contact *c = &s->contacts[i];

		if (c->handle == other->handle && c->gen == gen)
			return now - c->at <= window;
	}
	return false;
}

/* -- what every front-end does alike ------------------------------------ */

/* RFC 6455 7.4: what a peer may put in a close frame. Empty, or a code
 * that is defined for the wire (1000-1003, 1007-1014: 1004-1006 and 1015
 * are never sent) or private (3000-4999), then UTF-8 text. */
static bool close_payload_valid(const unsigned char *p, size_t len)
{
	unsigned code;

	if (len == 0)
		return true;
	if (len == 1)
		return false;
	code = (unsigned)p[0] << 8 | p[1];
	if (!((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	      (code >= 3000 && code <= 4999)))
		return false;
	return pt_utf8_valid(p + 2, len - 2);
}

int pt__session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
	pt_session *s = user;
	struct pt_server *srv = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* lws 4.1 would also switch "Upgrade: h2c" to cleartext HTTP/2,
		 * a second protocol stack on the port that nothing here needs
		 * and proxies do not expect: only WebSocket upgrades go on. */
		return in && !strcasecmp(in, "websocket") ? 0 : -1;

	case LWS_CALLBACK_TIMER:
		return s->srv && s->close_code ? pt__session_close_now(s) : 0;

	case LWS_CALLBACK_RECEIVE_PONG:
		if (s->srv)
			s->last_rx_ms = pt__server_now(srv);
		return 0;

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!s->srv)
			return 0;
		return pt__session_writable(s);

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* A goodbye: the client does not mean to resume. */
		if (s->srv)
			s->said_goodbye = true;
		/* lws echoes whatever the peer sent. A close frame with an
		 * invalid code or text fails the connection instead (RFC 6455
		 * 7.4.1, 8.1): close 1002 without echoing it. */
		if (close_payload_valid(in, len))
			return 0;
		lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, NULL, 0);
		return -1;

	case LWS_CALLBACK_CLOSED:
		pt__session_closed(s);
		return 0;

	default:
		break;
	}
	return 0;
}
