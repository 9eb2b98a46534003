/* drain.c — a leaving peer's index entries go within the turn's budget.
 *
 * Taking a peer out of the index costs about half a microsecond per entry.
 * When the 640 connections of an index flood (2 M entries) closed at once,
 * one loop turn took all their entries out and a bystander's ping waited
 * 1.1 s. Now removal counts against the turn's budget (turn_budget_us,
 * shared with defer.c): while the budget lasts a peer leaves the index at
 * once, as before; once it is spent, what is left of the peer waits in a
 * queue and the following turns take it out, oldest first, in slices,
 * before they poll. Meanwhile nothing can reach the peer: its handle is
 * held in the registry (its id is gone, the handle is not reused until
 * its last entry is out) and the matcher never picks it (pt_match_drop_peer),
 * so lookups skip it while it is still among a hash's holders.
 *
 * A parked peer (park.c) keeps its handle: its entries drain the same way,
 * and a resume stops the drain and adds back what was taken (the entries
 * still there count as added); giving up on it turns the drain into an
 * ordinary leave.
 */
#include <stdlib.h>
#include <string.h>

#include "peertrack/clock.h"
#include "net.h"

/* Entries taken out between two looks at the clock (~100 us). */
#define SLICE 256u
/* Entries taken out per turn whatever the budget, so a queue behind a
 * spent budget still moves. */
#define MIN_PER_TURN SLICE

static void on_idle(uv_idle_t *h)
{
	(void)h; /* only keeps the poll from blocking while peers drain */
}

/* Takes entries of handle out until none is left (true) or the turn's
 * budget is spent, having taken at least floor. */
static bool take(struct pt_server *srv, uint32_t handle, size_t floor)
{
	pt_defer *d = &srv->defer;
	uint64_t budget = srv->cfg.turn_budget_us;
	size_t taken = 0;

	while (pt_index_peer_count(srv->index, handle)) {
		if (budget && d->turn_us >= budget && taken >= floor)
			return false;
		uint64_t t0 = pt_clock_mono_us();

		taken += pt_index_remove_peer_some(srv->index, handle, SLICE);
		d->turn_us += pt_clock_mono_us() - t0;
	}
	return true;
}

static void finish(struct pt_server *srv, pt_drain_item *it)
{
	if (it->owner)
		it->owner->drain_slot = 0;
	else
		pt_registry_release(srv->registry, it->handle);
	it->handle = PT_HANDLE_NONE;
	it->owner = NULL;
	srv->drain.peers--;
}

void pt__drain_turn(struct pt_server *srv)
{
	pt_drain *dr = &srv->drain;
	size_t floor = MIN_PER_TURN;

	while (dr->head < dr->n) {
		pt_drain_item *it = &dr->q[dr->head];

		if (it->handle != PT_HANDLE_NONE) {
			size_t before = pt_index_peer_count(srv->index, it->handle), gone;
			bool done = take(srv, it->handle, floor);

			gone = before - pt_index_peer_count(srv->index, it->handle);
			dr->entries -= gone < dr->entries ? gone : dr->entries;
			floor -= gone < floor ? gone : floor;
			if (!done)
				break;
			finish(srv, it);
		}
		dr->head++;
	}
	if (dr->head == dr->n) {
		dr->head = dr->n = 0;
		if (dr->active) {
			dr->active = false;
			uv_idle_stop(&dr->idle);
		}
	}
}

/* A place at the queue's end; NULL out of memory. */
static pt_drain_item *push(pt_drain *dr)
{
	if (dr->n == dr->cap && dr->head) {
		memmove(dr->q, dr->q + dr->head, (dr->n - dr->head) * sizeof(*dr->q));
		dr->n -= dr->head;
		dr->head = 0;
		for (uint32_t i = 0; i < dr->n; i++)
			if (dr->q[i].owner)
				dr->q[i].owner->drain_slot = i + 1;
	}
	if (dr->n == dr->cap) {
		uint32_t cap = dr->cap ? dr->cap * 2 : 64;
		pt_drain_item *q = realloc(dr->q, cap * sizeof(*q));

		if (!q)
			return NULL;
		dr->q = q;
		dr->cap = cap;
	}
	return &dr->q[dr->n++];
}

bool pt__drain(pt_session *s, bool release)
{
	struct pt_server *srv = s->srv;
	pt_drain *dr = &srv->drain;
	pt_drain_item *it;
	size_t left;

	if (s->drain_slot) { /* a parked peer, draining already, given up */
		if (release) {
			dr->q[s->drain_slot - 1].owner = NULL;
			s->drain_slot = 0;
		}
		return false;
	}
	/* Behind others waiting, it waits too: the oldest go first. */
	if (dr->head == dr->n && take(srv, s->handle, 0)) {
		pt_match_clear_peer(srv->match, s->handle);
		return true;
	}
	left = pt_index_peer_count(srv->index, s->handle);
	if (!dr->ready || pt_match_drop_peer(srv->match, s->handle) < 0 || !(it = push(dr))) {
		/* Cannot wait (stopping, or out of memory): out now. */
		pt_index_remove_peer(srv->index, s->handle);
		pt_match_clear_peer(srv->match, s->handle);
		return true;
	}
	it->handle = s->handle;
	it->owner = release ? NULL : s;
	if (!release)
		s->drain_slot = dr->n;
	dr->peers++;
	dr->entries += left;
	dr->deferred++;
	if (!dr->active) {
		dr->active = true;
		uv_idle_start(&dr->idle, on_idle);
	}
	return false;
}

void pt__drain_cancel(pt_session *s)
{
	pt_drain *dr = &s->srv->drain;
	pt_drain_item *it;
	size_t left;

	if (!s->drain_slot)
		return;
	it = &dr->q[s->drain_slot - 1];
	left = pt_index_peer_count(s->srv->index, it->handle);
	pt_log_debug("peer %s: back while leaving the index, %zu entries kept", s->id_str, left);
	dr->entries -= left < dr->entries ? left : dr->entries;
	it->handle = PT_HANDLE_NONE;
	it->owner = NULL;
	s->drain_slot = 0;
	dr->peers--;
}

void pt__drain_init(struct pt_server *srv)
{
	pt_drain *dr = &srv->drain;

	uv_idle_init(srv->loop, &dr->idle);
	dr->idle.data = srv;
	dr->ready = true;
}

void pt__drain_close(struct pt_server *srv)
{
	pt_drain *dr = &srv->drain;

	if (!dr->ready)
		return;
	dr->ready = false;
	uv_close((uv_handle_t *)&dr->idle, NULL);
}

void pt__drain_free(struct pt_server *srv)
{
	free(srv->drain.q);
	memset(&srv->drain, 0, sizeof(srv->drain));
}
