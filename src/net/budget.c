/* budget.c — budgets across peers (config section [budgets]): the
 * rate-limited report of a budget reached, the handshake budget (sockets
 * accepted whose WebSocket upgrade is not complete, per address and in
 * total) and the listener's pause when accept() runs out of descriptors.
 *
 * A handshake is counted from the moment lws accepts the socket
 * (LWS_CALLBACK_FILTER_NETWORK_CONNECTION, on the listener, before lws
 * reads a byte) to the end of the upgrade or the socket's destruction.
 * lws 4.1 gives the accepted socket its wsi only after that callback, so
 * the record waits in ho_pending until
 * LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED (called synchronously inside
 * the same accept, after lws has reset the wsi's opaque user data — at
 * WSI_CREATE it is too early) binds it to that opaque user data; a record
 * left pending (adoption or the TLS accept failed) is released at the
 * next accept or tick. */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "peertrack/log.h"
#include "peertrack/lwslog.h"
#include "net.h"

typedef struct pt_halfopen {
	struct pt_halfopen *prev, *next;
	struct lws *wsi;
	pt_addr addr;
	uint64_t at;   /* accepted, pt__server_now */
	bool per_ip;   /* counted in the address's PT_IP_HALFOPEN */
	bool evicting; /* dropped for another address (in ho_dying); waiting for WSI_DESTROY */
} pt_halfopen;

/* How long the listener rests after accept() failed for lack of
 * descriptors, before it tries again. */
#define LISTEN_RETRY_MS 250

#define X(e, name) [e] = name,
static const char *const budget_names[PT_BUDGET__COUNT] = { PT_BUDGETS(X) };
#undef X

const char *pt__budget_name(enum pt_budget b)
{
	return (unsigned)b < PT_BUDGET__COUNT ? budget_names[b] : "unknown";
}

/* A flood reaches a budget thousands of times a second: one line a second
 * per budget says so, with how many it stands for. */
/* The log line of a budget reached, at most once a second per budget. */
static void budget_log(struct pt_server *s, enum pt_budget b, const pt_addr *a)
{
	uint64_t now = pt__server_now(s);
	char who[PT_ADDR_STRLEN] = "-";

	s->budget_logged[b]++;
	if (s->budget_log_ms[b] && now - s->budget_log_ms[b] < 1000)
		return;
	if (a && a->family)
		pt_addr_format(a, who);
	pt_log_warn("budget %s reached (%llu time%s since the last report; last from %s)",
	            pt__budget_name(b), (unsigned long long)s->budget_logged[b],
	            s->budget_logged[b] == 1 ? "" : "s", who);
	s->budget_log_ms[b] = now;
	s->budget_logged[b] = 0;
}

void pt__budget_hit(struct pt_server *s, enum pt_budget b, const pt_addr *a)
{
	s->stats.budget[b]++;
	budget_log(s, b, a);
}

/* -- handshakes ------------------------------------------------------------- */

static bool from_sockaddr(const struct sockaddr_storage *ss, pt_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		a->family = 4;
		memcpy(a->b, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const uint8_t *v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;

		if (!memcmp(v6, mapped, sizeof(mapped))) {
			a->family = 4;
			memcpy(a->b, v6 + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->b, v6, 16);
		}
	}
	return a->family != 0;
}

/* Out of its list — the queue by accept time, or the dying — if it is in
 * one (a pending record is in neither). */
static void ho_unlink(struct pt_server *s, pt_halfopen *h)
{
	pt_halfopen **head = h->evicting ? &s->ho_dying : &s->ho_head;

	if (h->prev)
		h->prev->next = h->next;
	else if (*head == h)
		*head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else if (!h->evicting && s->ho_tail == h)
		s->ho_tail = h->prev;
	h->prev = h->next = NULL;
}

/* Dropped for a newcomer: out of the queue (its place is the newcomer's)
 * and into the dying until lws reports it destroyed. */
static void ho_evict(struct pt_server *s, pt_halfopen *h)
{
	ho_unlink(s, h);
	h->evicting = true;
	s->ho_evicting++;
	s->stats.halfopen_evicted++;
	if ((h->next = s->ho_dying))
		h->next->prev = h;
	s->ho_dying = h;
}

static void ho_release(struct pt_server *s, pt_halfopen *h)
{
	if (h->per_ip)
		pt_iplimit_give(s->iplimit, &h->addr, PT_IP_HALFOPEN, 1);
	if (h->evicting)
		s->ho_evicting--;
	ho_unlink(s, h);
	s->halfopen--;
	free(h);
}

static void release_pending(struct pt_server *s)
{
	pt_halfopen *h = s->ho_pending;

	if (!h)
		return;
	s->ho_pending = NULL;
	ho_release(s, h);
}

/* The answer to a socket refused before its upgrade: a plain 503 the
 * browser reports as a failed connection and retries after. Best effort,
 * never blocking: the socket is fresh, its buffer empty. */
static void refuse_503(int fd)
{
	static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\n"
	                           "Retry-After: 1\r\n"
	                           "Content-Type: text/plain\r\n"
	                           "Content-Length: 12\r\n"
	                           "Connection: close\r\n\r\n"
	                           "server busy\n";

	(void)!send(fd, resp, sizeof(resp) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Whether a handshake is idle: nothing of it waits unread and its client
 * has sent nothing for idle_ms. lws reads every socket that has a header
 * buffer, and it has one per descriptor, so bytes wait in the kernel
 * only while the loop is behind (a storm of real clients); a socket that
 * keeps the kernel's buffer empty for long has stopped talking. */
static bool ho_idle(const pt_halfopen *h, uint32_t idle_ms)
{
	int fd = lws_get_socket_fd(h->wsi), unread = 0;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (fd < 0 || ioctl(fd, FIONREAD, &unread) < 0 || unread > 0)
		return false;
	if (!idle_ms)
		return true;
	/* tcpi_last_data_recv counts from the accept if nothing came. */
	return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) && ti.tcpi_last_data_recv >= idle_ms;
}

/* How many of the oldest handshakes one newcomer looks at: the queue is
 * ordered by accept time, so the candidates are at its head; a bound
 * keeps an accept O(1) when the head is a storm's clients (not idle). */
#define EVICT_SCAN 32

/* The least number of dropped handshakes that may be closing at once. */
#define DYING_MIN 256

/* The handshake to drop for a newcomer from a when the total is full: the
 * oldest one of another address (not already being dropped) that is idle
 * (halfopen_idle_ms), or that has lasted half of handshake_timeout_ms
 * whatever it does. Under a flood of sockets that never finish their
 * headers those are the flood's, however many addresses it has: a real
 * client sends its request at once and is upgraded on the loop's next
 * read. A real client waiting in a storm has its request waiting unread:
 * dropping it would only make it start again, so the newcomer is paced
 * (503, Retry-After) instead. */
static pt_halfopen *ho_victim(struct pt_server *s, const pt_addr *a)
{
	uint64_t now = pt__server_now(s), old = s->cfg.handshake_timeout_ms / 2;
	uint32_t idle_ms = s->cfg.halfopen_idle_ms;
	pt_halfopen *h = s->ho_head;

	for (int n = 0; h && n < EVICT_SCAN; h = h->next, n++) {
		uint64_t age = now - h->at;

		if (age < idle_ms && age < old)
			break; /* the rest are younger still */
		if (!h->wsi || pt_addr_equal(&h->addr, a))
			continue;
		if (age >= old || ho_idle(h, idle_ms))
			return h;
	}
	return NULL;
}

int pt__budget_filter(struct pt_server *s, struct lws *listener, const void *filt_args, int fd)
{
	const struct lws_filter_network_conn_args *filt = filt_args;
	const pt_config *c = &s->cfg;
	pt_halfopen *h;
	pt_addr a;
	bool proxy;
	uint32_t open;

	s->listen_wsi = listener;
	release_pending(s);
	if (!filt || !from_sockaddr(&filt->cli_addr, &a))
		return 0; /* a socket family we do not budget (none today) */
	/* A trusted reverse proxy carries many clients: its handshakes are
	 * bounded by the total only (the proxy has its own limits). */
	proxy = c->trusted_proxies.n && pt_cidr_list_contains(&c->trusted_proxies, &a);

	open = s->sockets + s->halfopen; /* the dropped still hold theirs */
	if (open >= s->fd_table) {
		/* Every descriptor is spoken for: this one only keeps the
		 * refusal polite. */
		pt__budget_hit(s, PT_BUDGET_HALFOPEN, &a);
		refuse_503(fd);
		return 1;
	}
	if (!proxy) {
		int r = pt_iplimit_take(s->iplimit, &a, PT_IP_HALFOPEN, 1, c->max_halfopen_per_ip);

		if (r <= 0) {
			pt__budget_hit(s, PT_BUDGET_HALFOPEN_PER_IP, &a);
			refuse_503(fd);
			return 1;
		}
	}
	if (s->halfopen - s->ho_evicting >= c->max_halfopen) {
		/* As many dropped still closing as there are places (and at
		 * least DYING_MIN: a fast flood against a small budget keeps
		 * some closing while the loop reads their EOF): the flood is
		 * outrunning the loop, and each newcomer would hold one more
		 * descriptor. */
		uint32_t dying_max = c->max_halfopen > DYING_MIN ? c->max_halfopen : DYING_MIN;
		pt_halfopen *victim = s->ho_evicting < dying_max ? ho_victim(s, &a) : NULL;

		/* Logged either way; counted as a refusal only when it is one
		 * (peertrack_handshakes_evicted_total counts the places taken). */
		if (!victim) {
			pt__budget_hit(s, PT_BUDGET_HALFOPEN, &a);
			if (!proxy)
				pt_iplimit_give(s->iplimit, &a, PT_IP_HALFOPEN, 1);
			refuse_503(fd);
			return 1;
		}
		/* Make room. The victim leaves the queue now and its place is
		 * the newcomer's, but lws frees it only when it reads the EOF
		 * the shutdown makes (an async kill alone waits for lws'
		 * once-a-second timeout sweep, while a flood fills the queue's
		 * head with the dying). */
		budget_log(s, PT_BUDGET_HALFOPEN, &a);
		ho_evict(s, victim);
		shutdown(lws_get_socket_fd(victim->wsi), SHUT_RDWR);
		lws_set_timeout(victim->wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE,
		                LWS_TO_KILL_ASYNC);
	}
	if (!(h = calloc(1, sizeof(*h)))) {
		if (!proxy)
			pt_iplimit_give(s->iplimit, &a, PT_IP_HALFOPEN, 1);
		refuse_503(fd);
		return 1;
	}
	h->addr = a;
	h->at = pt__server_now(s);
	h->per_ip = !proxy;
	s->halfopen++;
	s->accepted_since_trim++;
	s->ho_pending = h;
	return 0;
}

void pt__budget_created(struct pt_server *s, struct lws *wsi)
{
	pt_halfopen *h = s->ho_pending;

	if (!h)
		return; /* not an accepted socket (a stream inside one, ...) */
	s->ho_pending = NULL;
	h->wsi = wsi;
	h->prev = s->ho_tail;
	if (s->ho_tail)
		s->ho_tail->next = h;
	else
		s->ho_head = h;
	s->ho_tail = h;
	lws_set_opaque_user_data(wsi, h);
}

void pt__budget_upgraded(struct pt_server *s, struct lws *wsi)
{
	pt_halfopen *h = lws_get_opaque_user_data(wsi);

	if (!h)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	ho_release(s, h);
}

void pt__budget_destroyed(struct pt_server *s, struct lws *wsi)
{
	pt__budget_upgraded(s, wsi);
	if (wsi == s->listen_wsi)
		s->listen_wsi = NULL;
}

/* -- the listener ------------------------------------------------------------ */

static void listen_resume(uv_timer_t *t)
{
	struct pt_server *s = t->data;

	if (!s->listen_paused)
		return;
	s->listen_paused = false;
	if (s->listen_wsi && !s->stop_phase)
		lws_rx_flow_control(s->listen_wsi, 1);
}

static void listen_pause(uv_timer_t *t)
{
	struct pt_server *s = t->data;

	if (s->listen_paused || !s->listen_wsi || s->stop_phase)
		return;
	s->listen_paused = true;
	lws_rx_flow_control(s->listen_wsi, 0);
	uv_timer_start(&s->listen_timer, listen_resume, LISTEN_RETRY_MS, 0);
}

/* lws 4.1 logs a failed accept() and returns to the loop with the
 * connection still queued: the listener stays readable and the loop
 * spins. The line is the only sign of it lws gives; it is acted on from
 * a timer, outside lws' accept path. */
void pt__budget_lws_line(void *arg, const char *line)
{
	struct pt_server *s = arg;

	if (!s->listen_timer_ready || s->listen_paused || !strstr(line, "accept: errno") ||
	    (!strstr(line, "errno 24") && !strstr(line, "errno 23")))
		return;
	pt__budget_hit(s, PT_BUDGET_FDS, NULL);
	uv_timer_start(&s->listen_timer, listen_pause, 0, 0);
}

void pt__budget_init(struct pt_server *s)
{
	uv_timer_init(s->loop, &s->listen_timer);
	s->listen_timer.data = s;
	s->listen_timer_ready = true;
	pt_log_watch_lws(pt__budget_lws_line, s);
}

void pt__budget_close(struct pt_server *s)
{
	if (!s->listen_timer_ready)
		return;
	pt_log_watch_lws(NULL, NULL);
	s->listen_timer_ready = false;
	uv_timer_stop(&s->listen_timer);
	uv_close((uv_handle_t *)&s->listen_timer, NULL);
}

/* A storm of handshakes (every browser reconnecting after a restart)
 * leaves the heap fragmented: lws' header buffers, our records and the
 * sessions were allocated interleaved, and the freed holes stay mapped.
 * Once it has passed the free memory goes back to the system; at most
 * every 10 s, and only after 1024 accepts. "Passed" is a few handshakes,
 * not none: a busy tracker always has some in progress (and a /metrics
 * scrape is one), so waiting for zero kept a storm's high-water mark for
 * good. */
#define TRIM_AFTER_ACCEPTS 1024
#define TRIM_EVERY_MS 10000
#define TRIM_QUIET_HANDSHAKES 16 /* or 1/32 of the peers, whichever is more */

void pt__budget_tick(struct pt_server *s)
{
	uint64_t now = pt__server_now(s);
	uint32_t quiet = pt__server_live_peers(s) / 32;

	release_pending(s);
	if (quiet < TRIM_QUIET_HANDSHAKES)
		quiet = TRIM_QUIET_HANDSHAKES;
	if (s->accepted_since_trim >= TRIM_AFTER_ACCEPTS && s->halfopen <= quiet &&
	    now - s->last_trim_ms >= TRIM_EVERY_MS) {
		s->accepted_since_trim = 0;
		s->last_trim_ms = now;
		s->stats.heap_trims++;
		malloc_trim(0);
	}
}

/* After lws is gone: whatever it did not report destroyed. */
void pt__budget_free(struct pt_server *s)
{
	release_pending(s);
	while (s->ho_head)
		ho_release(s, s->ho_head);
	while (s->ho_dying)
		ho_release(s, s->ho_dying);
}
