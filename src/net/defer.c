/* defer.c — a loop turn takes in a bounded amount of heavy messages.
 *
 * An index flood is hundreds of connections each with a 17 KB announce of
 * 256 fresh hashes ready at once: one turn took them all in (~0.8 ms each,
 * up to 250 ms a turn on an idle machine, seconds on a loaded one) and a
 * bystander's ping waited for the whole turn. Now the handling time of a
 * message of at least PT_DEFER_MIN_BYTES counts against the turn's budget
 * (turn_budget_us); once it is spent, such messages wait: copied aside, the
 * connection's reads paused (lws rx flow control, so the kernel's buffer
 * and then TCP hold the sender back), and the following turns take them
 * in, oldest first, within the same budget, before they poll. Small
 * messages (signals, pings, lookups) are handled at once: they are what the
 * budget protects. A session's messages keep their order: while one of its
 * messages waits, the later ones wait behind it.
 */
#include <stdlib.h>
#include <string.h>

#include "peertrack/clock.h"
#include "net.h"

/* A held message: header, then len bytes. */
struct held {
	uint32_t len;
	uint32_t binary;
};

static void on_idle(uv_idle_t *h)
{
	(void)h; /* only keeps the poll from blocking while messages wait */
}

/* Runs s's held messages, in order, and lets it read again. */
static void run_held(pt_session *s)
{
	char *buf = s->dq;
	uint32_t len = s->dq_len;
	pt_defer_fn run = s->dq_run;

	s->dq = NULL;
	s->dq_len = s->dq_cap = 0;
	for (uint32_t off = 0; off < len && s->state == PT_SESSION_LIVE;) {
		struct held h;
		memcpy(&h, buf + off, sizeof(h));
		run(s, buf + off + sizeof(h), h.len, h.binary);
		off += (uint32_t)sizeof(h) + h.len;
	}
	free(buf);
	if (s->state == PT_SESSION_LIVE)
		lws_rx_flow_control(s->wsi, 1);
}

/* Each turn, before the poll: a new budget, spent first on the sessions
 * that wait. */
static void on_prepare(uv_prepare_t *h)
{
	struct pt_server *srv = h->data;
	pt_defer *d = &srv->defer;
	uint64_t t0 = pt_clock_mono_us();

	d->turn_us = 0;
	while (d->head < d->n && d->turn_us < srv->cfg.turn_budget_us) {
		pt_session *s = d->q[d->head++];

		if (!s)
			continue; /* closed while it waited */
		s->dq_slot = 0;
		run_held(s);
		d->turn_us = pt_clock_mono_us() - t0;
	}
	/* The budget may have been set to 0 meanwhile: nothing new waits. */
	while (!srv->cfg.turn_budget_us && d->head < d->n) {
		pt_session *s = d->q[d->head++];
		if (s) {
			s->dq_slot = 0;
			run_held(s);
		}
	}
	/* What is left of the budget takes leaving peers out of the index. */
	pt__drain_turn(srv);
	if (d->head == d->n) {
		d->head = d->n = 0;
		if (d->active) {
			d->active = false;
			uv_idle_stop(&d->idle);
		}
	}
}

void pt__defer_init(struct pt_server *srv)
{
	pt_defer *d = &srv->defer;

	uv_prepare_init(srv->loop, &d->prepare);
	uv_idle_init(srv->loop, &d->idle);
	d->prepare.data = d->idle.data = srv;
	uv_prepare_start(&d->prepare, on_prepare);
	d->ready = true;
}

/* Holds a copy of the message; 0, or -1 out of memory. */
static int hold(pt_session *s, const char *msg, size_t len, bool binary, pt_defer_fn run)
{
	pt_defer *d = &s->srv->defer;
	struct held h = { (uint32_t)len, binary };
	size_t need = (size_t)s->dq_len + sizeof(h) + len;

	if (!s->dq_slot) {
		if (d->n == d->cap) {
			if (d->head) {
				memmove(d->q, d->q + d->head, (d->n - d->head) * sizeof(*d->q));
				for (uint32_t i = d->head; i < d->n; i++)
					if (d->q[i - d->head])
						d->q[i - d->head]->dq_slot = i - d->head + 1;
				d->n -= d->head;
				d->head = 0;
			}
		}
		if (d->n == d->cap) {
			uint32_t cap = d->cap ? d->cap * 2 : 64;
			pt_session **q = realloc(d->q, cap * sizeof(*q));
			if (!q)
				return -1;
			d->q = q;
			d->cap = cap;
		}
	}
	if (need > s->dq_cap) {
		size_t cap = s->dq_cap ? s->dq_cap : 4096;
		while (cap < need)
			cap *= 2;
		char *p = realloc(s->dq, cap);
		if (!p)
			return -1;
		s->dq = p;
		s->dq_cap = (uint32_t)cap;
	}
	memcpy(s->dq + s->dq_len, &h, sizeof(h));
	memcpy(s->dq + s->dq_len + sizeof(h), msg, len);
	s->dq_len = (uint32_t)need;
	s->dq_run = run;
	if (!s->dq_slot) {
		d->q[d->n++] = s;
		s->dq_slot = d->n;
		lws_rx_flow_control(s->wsi, 0);
		if (!d->active) {
			d->active = true;
			uv_idle_start(&d->idle, on_idle);
		}
	}
	d->deferred++;
	return 0;
}

void pt__defer_or_run(pt_session *s, const char *msg, size_t len, bool binary, pt_defer_fn run)
{
	struct pt_server *srv = s->srv;
	pt_defer *d = &srv->defer;
	bool heavy = len >= PT_DEFER_MIN_BYTES;
	/* What lws had read past a paused message still arrives: it waits
	 * too, up to a few messages' worth (then the order is kept by
	 * running what waits now). */
	bool wait = s->dq_len ? s->dq_len + len <= 4u * srv->cfg.max_message_bytes
	                      : heavy && d->ready && srv->cfg.turn_budget_us &&
	                                d->turn_us >= srv->cfg.turn_budget_us;

	if (wait && !hold(s, msg, len, binary, run))
		return;
	if (s->dq_len) { /* it cannot wait: what waits goes first */
		if (s->dq_slot)
			d->q[s->dq_slot - 1] = NULL;
		s->dq_slot = 0;
		run_held(s);
		if (s->state != PT_SESSION_LIVE)
			return;
	}
	if (!heavy) {
		run(s, msg, len, binary);
		return;
	}
	uint64_t t0 = pt_clock_mono_us();
	run(s, msg, len, binary);
	d->turn_us += pt_clock_mono_us() - t0;
}

void pt__defer_drop(pt_session *s)
{
	pt_defer *d = &s->srv->defer;

	if (s->dq_slot && d->q)
		d->q[s->dq_slot - 1] = NULL;
	s->dq_slot = 0;
	free(s->dq);
	s->dq = NULL;
	s->dq_len = s->dq_cap = 0;
}

void pt__defer_close(struct pt_server *srv)
{
	pt_defer *d = &srv->defer;

	if (!d->ready)
		return;
	d->ready = false;
	uv_close((uv_handle_t *)&d->prepare, NULL);
	uv_close((uv_handle_t *)&d->idle, NULL);
}

void pt__defer_free(struct pt_server *srv)
{
	free(srv->defer.q);
	memset(&srv->defer, 0, sizeof(srv->defer));
}
