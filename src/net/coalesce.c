/* coalesce.c — a client's frames written together, once per loop turn.
 *
 * A busy relay hands one peer several messages within one turn of the loop:
 * signals pipelined by a pair, a burst of ICE candidates, the replies to a
 * batch of requests. Written one by one, each costs a send() here, a TCP
 * segment, and a wake-up and a read on the client's side. Instead each
 * frame is built into one shared arena as it comes, chained per session,
 * and each session's chain goes out in one write once the turn's I/O is
 * done (uv_check). A uv_prepare does the same before the loop could next
 * block, for frames added after the check ran (close callbacks).
 *
 * The write is raw (LWS_WRITE_HTTP on a ws connection is lws_issue_raw):
 * the frames are ours, server to client, unmasked. So only connections
 * whose bytes are ours to frame take this path — not an HTTP/2 stream, and
 * never with permessage-deflate (not offered). lws still does the writing:
 * TLS, and keeping whatever the kernel refused until the socket drains.
 *
 * Ordering: anything lws writes for a session on our behalf (a queued
 * frame, a ping, the close frame) first flushes that session's chain.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/wsframe.h"
#include "net.h"

/* An arena or gather buffer that grew past this in a burst is freed after
 * the turn, so a one-off spike does not stay resident. */
#define KEEP_BYTES (256u * 1024u)

/* One frame in the arena, 4-byte aligned; the chain is by offset + 1
 * (0 ends it). */
typedef struct chunk {
	uint32_t next;
	uint32_t len;
	char data[]; /* header + payload */
} chunk;

static chunk *at(const pt_coalesce *co, uint32_t ref)
{
	return (chunk *)(pt_buf_text(&co->arena) + ref - 1);
}

/* A buffer a burst grew past KEEP_BYTES is freed, else kept for reuse. */
static void trim(pt_buf *b)
{
	if (b->cap > KEEP_BYTES)
		pt_buf_free(b);
	else
		pt_buf_reset(b);
}

static void on_check(uv_check_t *h)
{
	pt__coalesce_flush(h->data);
}

static void on_prepare(uv_prepare_t *h)
{
	pt__coalesce_flush(h->data);
}

void pt__coalesce_init(struct pt_server *srv)
{
	pt_coalesce *co = &srv->co;

	uv_check_init(srv->loop, &co->check);
	uv_prepare_init(srv->loop, &co->prepare);
	co->check.data = co->prepare.data = srv;
	pt_buf_init(&co->arena, 0);
	pt_buf_init(&co->gather, 0);
	co->ready = true;
}

bool pt__coalesce_usable(struct lws *wsi)
{
	return lws_get_network_wsi(wsi) == wsi;
}

int pt__coalesce_add(pt_session *s, const char *text, size_t len)
{
	struct pt_server *srv = s->srv;
	pt_coalesce *co = &srv->co;
	static const char pad[4];
	uint8_t h[PT_WS_HDR_MAX];
	size_t hl = pt_ws_header(h, PT_WS_FIN | PT_WS_TEXT, false, len);
	chunk c = { .next = 0, .len = (uint32_t)(hl + len) };
	size_t off = co->arena.len;

	if (!co->ready)
		return -EAGAIN;
	if (off + sizeof(c) + hl + len + sizeof(pad) > UINT32_MAX / 2)
		return -ENOMEM;
	if (pt_buf_append(&co->arena, &c, sizeof(c)) || pt_buf_append(&co->arena, h, hl) ||
	    pt_buf_append(&co->arena, text, len) ||
	    pt_buf_append(&co->arena, pad, -(sizeof(c) + hl + len) & 3))
		goto oom;
	if (!s->co_slot) {
		if (co->n == co->dirty_cap) {
			uint32_t cap = co->dirty_cap ? co->dirty_cap * 2 : 64;
			pt_session **d = realloc(co->dirty, cap * sizeof(*d));

			if (!d)
				goto oom;
			co->dirty = d;
			co->dirty_cap = cap;
		}
		co->dirty[co->n++] = s;
		s->co_slot = co->n;
		if (!co->active) {
			co->active = true;
			uv_check_start(&co->check, on_check);
			uv_prepare_start(&co->prepare, on_prepare);
		}
	}
	if (s->co_tail)
		at(co, s->co_tail)->next = (uint32_t)off + 1;
	else
		s->co_head = (uint32_t)off + 1;
	s->co_tail = (uint32_t)off + 1;
	s->co_bytes += c.len;
	return 0;
oom:
	co->arena.len = off; /* what the failed appends added is dropped */
	return -ENOMEM;
}

/* Unchains s; its frames stay in the arena until the turn ends. */
static void unlink_session(pt_coalesce *co, pt_session *s)
{
	co->dirty[s->co_slot - 1] = NULL;
	s->co_slot = 0;
	s->co_head = s->co_tail = 0;
	s->co_bytes = 0;
}

void pt__coalesce_write(pt_session *s)
{
	pt_coalesce *co = &s->srv->co;
	const chunk *c;
	const char *p;
	size_t len = s->co_bytes;

	if (!s->co_slot)
		return;
	c = at(co, s->co_head);
	if (!c->next) {
		p = c->data;
	} else {
		pt_buf_reset(&co->gather);
		for (uint32_t ref = s->co_head; ref; ref = at(co, ref)->next) {
			if (pt_buf_append(&co->gather, at(co, ref)->data, at(co, ref)->len)) {
				unlink_session(co, s);
				pt__session_close(s, PT_CLOSE_INTERNAL, "out of memory", PT_LEAVE_INTERNAL);
				return;
			}
		}
		p = pt_buf_text(&co->gather);
	}
	unlink_session(co, s);
	/* lws returns the whole length when it kept a part the kernel refused;
	 * less only when the connection is failing. */
	if (lws_write(s->wsi, (unsigned char *)p, len, LWS_WRITE_HTTP) < (int)len)
		pt__session_close(s, PT_CLOSE_INTERNAL, "write failed", PT_LEAVE_CLOSED);
	else
		s->srv->stats.writes_out++;
}

void pt__coalesce_drop(pt_session *s)
{
	if (s->co_slot)
		unlink_session(&s->srv->co, s);
}

void pt__coalesce_flush(struct pt_server *srv)
{
	pt_coalesce *co = &srv->co;

	/* pt__coalesce_write may close a session, which may send to others
	 * (peer-left): those join the list and are written in this pass. */
	for (uint32_t i = 0; i < co->n; i++)
		if (co->dirty[i])
			pt__coalesce_write(co->dirty[i]);
	co->n = 0;
	trim(&co->arena);
	trim(&co->gather);
	if (co->active) {
		co->active = false;
		uv_check_stop(&co->check);
		uv_prepare_stop(&co->prepare);
	}
}

void pt__coalesce_close(struct pt_server *srv)
{
	pt_coalesce *co = &srv->co;

	if (!co->ready)
		return;
	pt__coalesce_flush(srv);
	co->ready = false;
	uv_close((uv_handle_t *)&co->check, NULL);
	uv_close((uv_handle_t *)&co->prepare, NULL);
}

void pt__coalesce_free(struct pt_server *srv)
{
	pt_coalesce *co = &srv->co;

	pt_buf_free(&co->arena);
	pt_buf_free(&co->gather);
	free(co->dirty);
	memset(co, 0, sizeof(*co));
}
