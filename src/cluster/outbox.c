/* outbox.c — cross-node messages batched per destination node (outbox.h).
 *
 * One open batch per destination tag at most, on a list oldest first. One
 * timer for them all: armed when the first message of a quiet spell comes,
 * it sends every open batch when it fires, so none is held longer than the
 * linger (the younger ones leave early, which costs a little batching and
 * no latency). A batch the link refuses is failed from the timer's next
 * turn, never inside pt_outbox_publish (its caller is in the middle of
 * handling one peer's message and must not get another's answer there). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include "peertrack/buf.h"
#include "peertrack/ibatch.h"
#include "peertrack/id.h"
#include "peertrack/outbox.h"

#define TAGS (PT_ID_TAG_MAX + 1)
#define SPARE_MAX 8

typedef struct waiter {
	pt_outbox_fn *fn;
	void *arg;
} waiter;

typedef struct obatch {
	struct obatch *prev, *next;  /* the open list, or the spare/failed lists (next only) */
	pt_outbox *o;
	unsigned tag;
	pt_buf buf;                  /* 'B' + records (ibatch.h) */
	waiter *w;
	uint32_t n, cap;
} obatch;

struct pt_outbox {
	uv_loop_t *loop;
	pt_rlink *link;
	char prefix[32];
	uint32_t linger_us, max_bytes, max_held;
	obatch *open[TAGS];
	obatch *first, *last;        /* open batches, oldest first */
	obatch *failed, *failed_last;
	obatch *spare;               /* emptied batches kept for reuse */
	uint32_t n_spare, held;
	uint32_t inflight;           /* batches the link holds: they point here */
	uint64_t deadline_ns;        /* uv_hrtime() when the open batches are due */
	int tfd;
	uv_poll_t poll;
	uv_check_t check;
	int handles_open;
	bool armed, closing;
	pt_outbox_stats stats;
};

static obatch *batch_get(pt_outbox *o, unsigned tag)
{
	obatch *b = o->spare;

	if (b) {
		o->spare = b->next;
		o->n_spare--;
	} else if ((b = calloc(1, sizeof(*b)))) {
		pt_buf_init(&b->buf, 0);
	} else {
		return NULL;
	}
	b->o = o;
	b->tag = tag;
	b->n = 0;
	b->prev = b->next = NULL;
	pt_buf_reset(&b->buf);
	return b;
}

static void batch_put(pt_outbox *o, obatch *b)
{
	/* Keep a few for reuse, but not a huge one a burst left behind. */
	if (!o->closing && o->n_spare < SPARE_MAX && b->buf.cap <= 2 * (size_t)o->max_bytes + 64) {
		b->next = o->spare;
		o->spare = b;
		o->n_spare++;
		return;
	}
	pt_buf_free(&b->buf);
	free(b->w);
	free(b);
}

static void arm(pt_outbox *o, uint32_t us)
{
	struct itimerspec t = { { 0, 0 }, { 0, 0 } };

	t.it_value.tv_sec = us / 1000000;
	/* 0 would disarm: "now" is one nanosecond. */
	t.it_value.tv_nsec = us ? (long)(us % 1000000) * 1000 : 1;
	o->deadline_ns = uv_hrtime() + (uint64_t)us * 1000;
	if (timerfd_settime(o->tfd, 0, &t, NULL) == 0)
		o->armed = true;
}

static void disarm(pt_outbox *o)
{
	struct itimerspec t = { { 0, 0 }, { 0, 0 } };

	if (o->armed && timerfd_settime(o->tfd, 0, &t, NULL) == 0)
		o->armed = false;
}

static void unlink_open(pt_outbox *o, obatch *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		o->first = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		o->last = b->prev;
	b->prev = b->next = NULL;
	o->open[b->tag] = NULL;
	o->held -= b->n;
}

static void outbox_free(pt_outbox *o)
{
	obatch *b;

	while ((b = o->spare)) {
		o->spare = b->next;
		pt_buf_free(&b->buf);
		free(b->w);
		free(b);
	}
	free(o);
}

static void answer(obatch *b, redisReply *r)
{
	for (uint32_t i = 0; i < b->n; i++)
		if (b->w[i].fn)
			b->w[i].fn(b->w[i].arg, r);
	batch_put(b->o, b);
}

static void batch_reply(pt_rlink *l, redisReply *r, void *arg)
{
	obatch *b = arg;
	pt_outbox *o = b->o;

	(void)l;
	answer(b, r);
	/* A link closed after the outbox answers its batches late (from its
	 * own timer): the outbox waits for them. */
	if (!--o->inflight && !o->handles_open)
		outbox_free(o);
}

static void run_failed(pt_outbox *o)
{
	obatch *b;

	while ((b = o->failed)) {
		o->failed = b->next;
		if (!o->failed)
			o->failed_last = NULL;
		answer(b, NULL);
	}
}

/* b is off the open list. */
static void send_batch(pt_outbox *o, obatch *b)
{
	char chan[64], ts[3];
	const char *argv[3];
	size_t lens[3];
	const char *text = pt_buf_text(&b->buf);

	pt_id_tag_format(b->tag, ts);
	argv[0] = "PUBLISH";
	lens[0] = 7;
	argv[1] = chan;
	lens[1] = (size_t)snprintf(chan, sizeof(chan), "%sn:%s", o->prefix, ts);
	if (b->n == 1) { /* alone: as it would have left without batching */
		argv[2] = text + 1 + PT_IBATCH_REC_HEAD;
		lens[2] = b->buf.len - 1 - PT_IBATCH_REC_HEAD;
	} else {
		argv[2] = text;
		lens[2] = b->buf.len;
	}
	/* hiredis copies the command into its output buffer at once. */
	if (pt_rlink_command(o->link, batch_reply, b, 3, argv, lens)) {
		b->next = NULL;
		if (o->failed_last)
			o->failed_last->next = b;
		else
			o->failed = b;
		o->failed_last = b;
		arm(o, 0);
		return;
	}
	o->inflight++;
	o->stats.publishes++;
	o->stats.messages += b->n;
	o->stats.batches += b->n > 1;
}

static void flush_all(pt_outbox *o)
{
	obatch *b;

	while ((b = o->first)) {
		unlink_open(o, b);
		send_batch(o, b);
	}
}

/* Sends what is due, from the loop (not from inside anyone's call), and
 * writes it out at once rather than a loop turn later. */
static void flush_due(pt_outbox *o)
{
	bool sent = o->first != NULL;

	flush_all(o);
	if (sent)
		pt_rlink_write_now(o->link);
	run_failed(o);
}

static void on_timer(uv_poll_t *h, int status, int events)
{
	pt_outbox *o = h->data;
	uint64_t expirations;

	(void)status;
	(void)events;
	/* Nothing to read (EAGAIN) when it was re-armed meanwhile: harmless. */
	if (read(o->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	o->armed = false;
	flush_due(o);
}

/* After each loop turn's I/O: batches that came due while the loop was
 * busy leave now, and the timer is stopped before it wakes the loop once
 * more for nothing. (Sending at half the linger when the loop happens to
 * be awake was tried: it halves the batches and costs more CPU than the
 * timer's wake-ups it saves.) */
static void on_check(uv_check_t *h)
{
	pt_outbox *o = h->data;

	if (o->armed && !o->failed && uv_hrtime() >= o->deadline_ns) {
		disarm(o);
		flush_due(o);
	}
}

pt_outbox *pt_outbox_new(uv_loop_t *loop, pt_rlink *link, const pt_outbox_opts *opts)
{
	pt_outbox *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->loop = loop;
	o->link = link;
	snprintf(o->prefix, sizeof(o->prefix), "%s", opts->prefix);
	o->linger_us = opts->linger_us;
	o->max_bytes = opts->max_bytes ? opts->max_bytes : 1;
	o->max_held = opts->max_held ? opts->max_held : 1;
	o->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (o->tfd < 0) {
		free(o);
		return NULL;
	}
	if (uv_poll_init(loop, &o->poll, o->tfd)) {
		close(o->tfd);
		free(o);
		return NULL;
	}
	o->poll.data = o;
	uv_poll_start(&o->poll, UV_READABLE, on_timer);
	uv_check_init(loop, &o->check);
	o->check.data = o;
	uv_check_start(&o->check, on_check);
	o->handles_open = 2;
	/* Like the links' timers: the outbox alone keeps no process alive. */
	uv_unref((uv_handle_t *)&o->poll);
	uv_unref((uv_handle_t *)&o->check);
	return o;
}

static void handle_closed(uv_handle_t *h)
{
	pt_outbox *o = h->data;

	if (h == (uv_handle_t *)&o->poll)
		close(o->tfd);
	if (!--o->handles_open && !o->inflight)
		outbox_free(o);
}

void pt_outbox_close(pt_outbox *o)
{
	if (!o || o->closing)
		return;
	flush_all(o);
	/* Into the socket now: the link is closed next, and hiredis drops
	 * what it has not written. */
	pt_rlink_write_now(o->link);
	run_failed(o);
	o->closing = true;
	uv_poll_stop(&o->poll);
	uv_check_stop(&o->check);
	uv_close((uv_handle_t *)&o->poll, handle_closed);
	uv_close((uv_handle_t *)&o->check, handle_closed);
}

int pt_outbox_publish(pt_outbox *o, unsigned tag, const char *m, size_t len, pt_outbox_fn *fn,
                      void *arg)
{
	obatch *b;
	int r;

	if (!len || m[0] == PT_IBATCH_TAG || tag >= TAGS)
		return -EINVAL;
	if (o->closing || !pt_rlink_up(o->link))
		return -EAGAIN;
	if ((uint64_t)o->held + pt_rlink_pending(o->link) >= o->max_held)
		return -ENOBUFS;
	b = o->open[tag];
	if (b && b->buf.len + PT_IBATCH_REC_HEAD + len > o->max_bytes) {
		unlink_open(o, b);
		send_batch(o, b);
		b = NULL;
	}
	if (!b) {
		if (!(b = batch_get(o, tag)))
			return -ENOMEM;
	}
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? 2 * b->cap : 8;
		waiter *w = realloc(b->w, cap * sizeof(*w));

		if (!w)
			goto nomem;
		b->w = w;
		b->cap = cap;
	}
	if ((r = pt_ibatch_add(&b->buf, m, len))) {
		if (!b->n)
			batch_put(o, b);
		return r;
	}
	b->w[b->n].fn = fn;
	b->w[b->n++].arg = arg;
	o->held++;
	if (!o->open[tag]) {
		o->open[tag] = b;
		b->prev = o->last;
		if (o->last)
			o->last->next = b;
		else
			o->first = b;
		o->last = b;
	}
	if (!o->linger_us || b->buf.len >= o->max_bytes) {
		unlink_open(o, b);
		send_batch(o, b);
	} else if (!o->armed) {
		arm(o, o->linger_us);
	}
	return 0;
nomem:
	if (!b->n)
		batch_put(o, b);
	return -ENOMEM;
}

const pt_outbox_stats *pt_outbox_stats_get(const pt_outbox *o)
{
	return &o->stats;
}
