/* uvredis.h — hiredis 0.14's async context on a libuv loop, in place of
 * hiredis/adapters/libuv.h.
 *
 * That adapter calls uv_poll_start on every interest hiredis registers,
 * changed or not: hiredis re-registers read interest after every read, and
 * write interest for every command, and each restart costs libuv two
 * epoll_ctl calls (its stop forgets the kernel's state). Here the interest
 * hiredis asks for is applied once per loop turn (a uv_prepare, before the
 * loop next polls) and only when it changed; a write done at once
 * (pt_rlink_write_now) then costs no epoll_ctl at all. Poll errors are
 * dropped as that adapter drops them (the link's timers see the silence).
 * Everything runs on the loop thread.
 */
#ifndef PEERTRACK_UVREDIS_H
#define PEERTRACK_UVREDIS_H
#include <uv.h>
#include <hiredis/async.h>

/* Attaches ac (not yet attached) to loop: REDIS_OK, or REDIS_ERR (then ac
 * is untouched). The attachment is freed with ac (hiredis' cleanup). */
int pt_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop);
#endif
