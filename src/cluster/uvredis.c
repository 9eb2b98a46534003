/* uvredis.c — hiredis' async context on libuv, interest changes applied
 * once per loop turn (uvredis.h). */
#include <stdlib.h>

#include "peertrack/uvredis.h"

typedef struct rev {
	redisAsyncContext *ac;     /* NULL once hiredis let go of it */
	uv_poll_t poll;
	uv_prepare_t apply;
	int want, have;            /* UV_READABLE | UV_WRITABLE: asked for, given to libuv */
	int open;                  /* handles not closed yet */
} rev;

static void on_poll(uv_poll_t *h, int status, int events)
{
	rev *p = h->data;

	if (status)
		return;
	if (p->ac && (events & UV_READABLE))
		redisAsyncHandleRead(p->ac);
	if (p->ac && (events & UV_WRITABLE))
		redisAsyncHandleWrite(p->ac);
}

static void on_apply(uv_prepare_t *h)
{
	rev *p = h->data;

	uv_prepare_stop(h);
	if (!p->ac || p->want == p->have)
		return;
	if (p->want)
		uv_poll_start(&p->poll, p->want, on_poll);
	else
		uv_poll_stop(&p->poll);
	p->have = p->want;
}

static void change(void *privdata, int add, int del)
{
	rev *p = privdata;

	p->want = (p->want | add) & ~del;
	/* Started only when it differs; a change undone within the turn
	 * (a command written at once) then costs nothing. */
	if (p->want != p->have)
		uv_prepare_start(&p->apply, on_apply);
}

static void add_read(void *privdata)
{
	change(privdata, UV_READABLE, 0);
}

static void del_read(void *privdata)
{
	change(privdata, 0, UV_READABLE);
}

static void add_write(void *privdata)
{
	change(privdata, UV_WRITABLE, 0);
}

static void del_write(void *privdata)
{
	change(privdata, 0, UV_WRITABLE);
}

static void closed(uv_handle_t *h)
{
	rev *p = h->data;

	if (--p->open == 0)
		free(p);
}

static void cleanup(void *privdata)
{
	rev *p = privdata;

	p->ac = NULL;
	uv_prepare_stop(&p->apply);
	uv_close((uv_handle_t *)&p->poll, closed);
	uv_close((uv_handle_t *)&p->apply, closed);
}

int pt_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
	rev *p;

	if (ac->ev.data || !(p = calloc(1, sizeof(*p))))
		return REDIS_ERR;
	if (uv_poll_init(loop, &p->poll, ac->c.fd)) {
		free(p);
		return REDIS_ERR;
	}
	uv_prepare_init(loop, &p->apply);
	/* A helper: the poll handle is what keeps the loop alive, as with
	 * hiredis' own adapter. */
	uv_unref((uv_handle_t *)&p->apply);
	p->poll.data = p->apply.data = p;
	p->open = 2;
	p->ac = ac;
	ac->ev.data = p;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	return REDIS_OK;
}
