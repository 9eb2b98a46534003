/* worker.c — one generator process: ramps its share of the connections,
 * settles them (welcome, the setup announce), tells the parent, waits for
 * "go", runs the workload through a warm-up and a measured window, reports,
 * and keeps its connections open until the parent says "exit" (so the
 * parent can read the target's memory with every peer still connected).
 *
 * Parent -> worker: one byte, 'G' (go) or 'X' (exit).
 * Worker -> parent: 'R' + bench_result once settled, 'F' + bench_result
 * after the window.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum { PH_SETUP = 0, PH_WAIT, PH_WARMUP, PH_MEASURE, PH_DONE };

static bool in_window(const bench_worker *w, uint64_t now)
{
	return w->phase == PH_MEASURE && now < w->t_end;
}

/* -- the hash population (tracker, lookup, idle) ------------------------ */

static int population_init(bench_worker *w)
{
	int p = w->o->population;
	double sum = 0;
	uint64_t s = 0x9e3779b97f4a7c15ull;

	w->hex = malloc((size_t)p * sizeof(*w->hex));
	w->cdf = malloc((size_t)p * sizeof(*w->cdf));
	if (!w->hex || !w->cdf)
		return -1;
	/* The same population in every worker and every run. */
	for (int i = 0; i < p; i++) {
		for (int k = 0; k < 4; k++)
			sprintf(w->hex[i] + 16 * k, "%016llx", (unsigned long long)bench_rand(&s));
		sum += 1.0 / pow(i + 1, w->o->zipf);
		w->cdf[i] = sum;
	}
	for (int i = 0; i < p; i++)
		w->cdf[i] /= sum;
	return 0;
}

/* A hash index drawn with Zipf-like popularity (rank r has weight 1/r^s). */
static uint32_t zipf_pick(bench_worker *w)
{
	double u = (double)(bench_rand(&w->rng) >> 11) / 9007199254740992.0;
	uint32_t lo = 0, hi = (uint32_t)w->o->population - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (w->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* -- roles ---------------------------------------------------------------- */

static bool is_holder(const bench_worker *w, const bench_conn *c)
{
	return w->o->mode == MODE_LOOKUP && w->first + c->n < (uint32_t)w->o->holders;
}

static void settle(bench_worker *w, bench_conn *c)
{
	if (!c->settled) {
		c->settled = true;
		w->settled++;
	}
}

void bench_on_ready(bench_worker *w, bench_conn *c)
{
	const bench_opts *o = w->o;

	if (c->ready)
		return;
	c->ready = true;
	w->ready++;
	bench_hist_add(&w->r.connect_lat, bench_now_us() - c->t_first);
	if (o->proto == PROTO_WT && (o->mode == MODE_IDLE || o->mode == MODE_RELAY)) {
		/* idle: --hashes swarms, one announce each; relay: the pair's. */
		uint32_t pick[256];
		int n = o->mode == MODE_RELAY ? 1 : o->hashes > 256 ? 256 : o->hashes;

		if (n <= 0) {
			settle(w, c);
			return;
		}
		for (int i = 0; i < n; i++)
			pick[i] = zipf_pick(w);
		bench_proto_wt_join(w, c, o->mode == MODE_RELAY ? NULL : w->hex, pick, n);
		c->t_req = bench_now_us();
		return;
	}
	if (o->proto == PROTO_PEERTRACK &&
	    ((o->mode == MODE_IDLE || o->mode == MODE_TRACKER) && o->hashes > 0)) {
		uint32_t pick[256];
		int n = o->hashes > 256 ? 256 : o->hashes;

		for (int i = 0; i < n; i++)
			pick[i] = zipf_pick(w);
		bench_proto_hashes(w, c, "announce", w->hex, pick, n);
		c->t_req = bench_now_us();
		return;
	}
	if (is_holder(w, c)) {
		uint32_t hot = 0;

		bench_proto_hashes(w, c, "announce", w->hex, &hot, 1);
		return;
	}
	settle(w, c);
}

static void tracker_next(bench_worker *w, bench_conn *c)
{
	const bench_opts *o = w->o;
	uint32_t h;
	int r;

	c->t_req = bench_now_us();
	if (in_window(w, c->t_req))
		w->r.sent++;
	if (o->mode == MODE_LOOKUP) {
		bench_proto_lookup(w, c, w->hex[0]);
		return;
	}
	r = (int)(bench_rand(&w->rng) % 100);
	h = zipf_pick(w);
	if (r < o->pct_lookup)
		bench_proto_lookup(w, c, w->hex[h]);
	else if (r < o->pct_lookup + o->pct_announce)
		bench_proto_hashes(w, c, "announce", w->hex, &h, 1);
	else
		bench_proto_hashes(w, c, "withdraw", w->hex, &h, 1);
}

void bench_on_reply(bench_worker *w, bench_conn *c, bool error)
{
	uint64_t now = bench_now_us();

	if (!c->settled) {
		/* The setup announce(s): settled when the last is answered. */
		if (error)
			w->r.errors++;
		if (!c->pending)
			settle(w, c);
		return;
	}
	if (in_window(w, now)) {
		w->r.received++;
		if (error)
			w->r.errors++;
		bench_hist_add(&w->r.lat, now - c->t_req);
	}
	if (w->phase >= PH_WARMUP && w->phase < PH_DONE &&
	    (w->o->mode == MODE_TRACKER || w->o->mode == MODE_LOOKUP))
		tracker_next(w, c);
}

void bench_on_response(bench_worker *w)
{
	if (in_window(w, bench_now_us()))
		w->r.received++;
}

void bench_on_sent(bench_worker *w)
{
	if (in_window(w, bench_now_us()))
		w->r.sent++;
}

static void relay_send(bench_worker *w, bench_conn *c, uint64_t t)
{
	if (in_window(w, bench_now_us()))
		w->r.sent++;
	bench_proto_signal(w, c, t);
}

void bench_on_signal(bench_worker *w, bench_conn *c, uint64_t t_sent)
{
	uint64_t now = bench_now_us();

	if (in_window(w, now)) {
		w->r.received++;
		bench_hist_add(&w->r.lat, now > t_sent ? now - t_sent : 0);
	}
	/* Closed loop: answer at once, keeping the pair's messages in flight. */
	if (w->o->msg_rate <= 0 && w->phase >= PH_WARMUP && w->phase < PH_DONE)
		relay_send(w, c, now);
}

/* A client told to come back later (503 before the upgrade, 1013 before
 * the welcome) does what docs/PROTOCOL.md asks of clients: it reconnects
 * after a random delay in [d, 2d), d doubling from --retry-ms up to 30 s,
 * so a storm spreads over what the server can take. */
static bool retry_later(bench_worker *w, bench_conn *c)
{
	const bench_opts *o = w->o;
	uint64_t d = (uint64_t)o->retry_ms * 1000;

	if (c->tries >= o->retry || w->phase != PH_SETUP)
		return false;
	for (int i = 0; i < c->tries && d < 30000000; i++)
		d *= 2;
	if (d > 30000000)
		d = 30000000;
	c->retry_at = bench_now_us() + d + bench_rand(&w->rng) % d;
	c->tries++;
	w->retrying++;
	w->r.retries++;
	return true;
}

void bench_on_closed(bench_worker *w, bench_conn *c)
{
	bool paced = c->paced || (c->close_code == 1013 && !c->ready);

	w->closed++;
	c->paced = false;
	if (c->close_code) {
		w->r.close_codes[bench_close_slot(c->close_code)]++;
		if (!c->ready && !paced)
			w->r.refused++;
	}
	if (paced && !retry_later(w, c)) {
		if (c->close_code)
			w->r.refused++;
		else
			w->r.failed++;
	}
	if (c->settled)
		w->settled--;
	c->settled = false;
}

/* Reconnects the connections whose delay is over. */
static void retry_due(bench_worker *w, uint64_t now)
{
	const bench_opts *o = w->o;

	for (uint32_t i = 0; i < w->started && w->retrying; i++) {
		bench_conn *c = &w->c[i];

		if (!c->retry_at || c->retry_at > now)
			continue;
		if (w->connecting >= (uint32_t)o->max_pending)
			return;
		c->retry_at = 0;
		w->retrying--;
		c->close_code = 0;
		c->ready = false;
		c->id_len = o->proto == PROTO_PEERJS ? c->id_len : 0;
		bench_ws_start(w, c);
	}
}

/* -- the loop ------------------------------------------------------------- */

static double cpu_now(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return *user + *sys;
}

static int report(bench_worker *w, char tag)
{
	const char *p = (const char *)&w->r;
	size_t left = sizeof(w->r);

	if (write(w->res_out, &tag, 1) != 1)
		return -1;
	while (left) {
		ssize_t n = write(w->res_out, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

/* A non-blocking look at the control pipe: 'G', 'X', 0 for nothing, -1
 * when the parent is gone. */
static int control(bench_worker *w)
{
	char b;
	ssize_t n = read(w->ctl_in, &b, 1);

	if (n == 1)
		return b;
	if (n == 0)
		return -1;
	return 0;
}

static void heartbeats(bench_worker *w, uint64_t now)
{
	uint64_t every = (uint64_t)(w->o->heartbeat_ms ? w->o->heartbeat_ms
	                                              : w->hb_ms ? w->hb_ms : 10000) * 800;

	for (uint32_t i = 0; i < w->n; i++) {
		bench_conn *c = &w->c[i];

		if (c->state == C_OPEN && c->ready && now - c->last_tx > every)
			bench_proto_heartbeat(w, c);
	}
}

static void start_workload(bench_worker *w)
{
	const bench_opts *o = w->o;
	uint64_t now = bench_now_us();

	if (o->mode == MODE_RELAY && o->msg_rate <= 0) {
		/* The even half of each pair starts `inflight` messages. */
		for (uint32_t i = 0; i + 1 < w->n; i += 2)
			if (w->c[i].settled && w->c[i + 1].settled)
				for (int k = 0; k < o->inflight; k++)
					relay_send(w, &w->c[i], now);
	} else if (o->mode == MODE_RELAY) {
		w->sched_gap_us = 1e6 * w->nworkers / o->msg_rate;
		w->sched_next_us = (double)now;
	} else if (o->mode == MODE_TRACKER || o->mode == MODE_LOOKUP) {
		for (uint32_t i = 0; i < w->n; i++)
			if (w->c[i].settled && !is_holder(w, &w->c[i]))
				tracker_next(w, &w->c[i]);
	}
}

/* Open-loop relay: messages leave on a fixed schedule whatever the replies
 * do, and latency counts from the scheduled time, so a stalled server is
 * charged for the whole stall (no coordinated omission). */
static void schedule(bench_worker *w, uint64_t now)
{
	int burst = 0;

	while (w->sched_next_us <= (double)now && burst++ < 10000) {
		bench_conn *c = NULL;

		for (uint32_t k = 0; k < w->n && !c; k++) {
			bench_conn *x = &w->c[w->sched_rr++ % w->n];

			if (x->settled && w->c[x->partner].settled)
				c = x;
		}
		if (!c)
			return;
		relay_send(w, c, (uint64_t)w->sched_next_us);
		w->sched_next_us += w->sched_gap_us;
	}
}

static bool setup_done(const bench_worker *w)
{
	if (w->started < w->n || w->connecting || w->retrying)
		return false;
	for (uint32_t i = 0; i < w->n; i++)
		if (!w->c[i].settled && w->c[i].state != C_CLOSED)
			return false;
	return true;
}

static int loop(bench_worker *w)
{
	const bench_opts *o = w->o;
	double rate = o->rate / w->nworkers, cpu_u0 = 0, cpu_s0 = 0, cpu_setup0, u, s;
	uint64_t now = bench_now_us(), last_hb = now, last_check = 0;
	uint64_t deadline = now + (uint64_t)(1e6 * (w->n / rate + 60));

	cpu_setup0 = cpu_now(&u, &s);
	w->t0 = now;
	for (;;) {
		int64_t timeout_us = 1000;
		int ctl;

		now = bench_now_us();
		if (w->phase == PH_SETUP) {
			uint64_t due = (uint64_t)(rate * (double)(now - w->t0) / 1e6) + 1;

			while (w->started < w->n && w->started < due && w->connecting < (uint32_t)o->max_pending)
				bench_ws_start(w, &w->c[w->started++]);
			if (now - last_check > 10000) {
				last_check = now;
				if (w->retrying)
					retry_due(w, now);
				if (setup_done(w) || now > deadline) {
					w->r.setup_us = now - w->t0;
					w->r.cpu_setup_s = cpu_now(&u, &s) - cpu_setup0;
					if (report(w, 'R'))
						return -1;
					w->phase = PH_WAIT;
				}
			}
		} else if (w->phase == PH_WARMUP && now >= w->t_measure) {
			/* The window opens: count from here. */
			w->phase = PH_MEASURE;
			w->r.sent = w->r.received = w->r.errors = 0;
			bench_hist_init(&w->r.lat);
			cpu_now(&cpu_u0, &cpu_s0);
		} else if (w->phase == PH_MEASURE && now >= w->t_end) {
			w->phase = PH_DONE;
			/* A connection is never reopened, so these are all
			 * open at this same moment. */
			for (uint32_t i = 0; i < w->n; i++)
				if (w->c[i].state == C_OPEN && w->c[i].ready)
					w->r.open_end++;
			cpu_now(&u, &s);
			w->r.cpu_user_s = u - cpu_u0;
			w->r.cpu_sys_s = s - cpu_s0;
			w->r.window_us = now - w->t_measure;
			if (report(w, 'F'))
				return -1;
		}
		if ((w->phase == PH_WARMUP || w->phase == PH_MEASURE) && o->mode == MODE_RELAY &&
		    o->msg_rate > 0) {
			schedule(w, now);
			/* Sleep until the next scheduled send, to the microsecond. */
			timeout_us = w->sched_next_us > (double)now ? (int64_t)(w->sched_next_us - (double)now) : 0;
			if (timeout_us > 1000)
				timeout_us = 1000;
		}
		if (now - last_hb > 1000000) {
			last_hb = now;
			heartbeats(w, now);
		}
		if (bench_ws_poll(w, timeout_us) < 0)
			return -1;
		ctl = control(w);
		if (ctl < 0 || ctl == 'X')
			return 0;
		if (ctl == 'G' && w->phase == PH_WAIT) {
			now = bench_now_us();
			w->phase = PH_WARMUP;
			w->t_measure = now + (uint64_t)(o->warmup_s * 1e6);
			w->t_end = w->t_measure + (uint64_t)(o->duration_s * 1e6);
			start_workload(w);
		}
	}
}

int bench_worker_run(bench_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	int rc = -1;

	bench_hist_init(&w->r.lat);
	bench_hist_init(&w->r.connect_lat);
	w->rng = 0x2545f4914f6cdd1dull ^ ((uint64_t)(w->index + 1) * 0x9e3779b97f4a7c15ull);
	if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->ctl_in, &ev))
		goto out;
	if (!(w->c = calloc(w->n ? w->n : 1, sizeof(*w->c))))
		goto out;
	if (population_init(w))
		goto out;
	for (uint32_t i = 0; i < w->n; i++) {
		bench_conn *c = &w->c[i];

		c->fd = -1;
		c->n = i;
		c->partner = i ^ 1;
		if (c->partner >= w->n)
			c->partner = i;
		if (w->o->proto == PROTO_PEERJS)
			c->id_len = (uint8_t)snprintf(c->id, sizeof(c->id), "bench-%u-%u",
			                              (unsigned)getpid(), w->first + i);
	}
	rc = loop(w);
	for (uint32_t i = 0; i < w->n; i++)
		if (w->c[i].fd >= 0)
			bench_ws_close(w, &w->c[i], 1000);
out:
	free(w->c);
	free(w->hex);
	free(w->cdf);
	free(w->scratch);
	free(w->rbuf);
	close(w->ep);
	return rc;
}
