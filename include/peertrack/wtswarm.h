/* wtswarm.h — WebTorrent swarms: which connection announced which peer_id
 * in which swarm (info_hash), and each swarm's seeder/leecher counts.
 *
 * A peer_id is bound, per swarm, to the connection that first announced it:
 * another connection announcing it in that swarm is refused (-EEXIST), so
 * nobody can take over or stop someone else's peer. One connection may be
 * in many swarms and may use one peer_id or several (a new peer_id is just
 * another binding, never a reason to close). Connections are the caller's
 * dense handles (the registry's), as in pt_index; the caller drops a
 * handle's bindings when its connection closes (pt_wt_swarms_drop_conn).
 *
 * Which connections are in a swarm (for matching) is the caller's index;
 * join/leave/drop return when a connection enters or leaves a swarm, so
 * the caller keeps that index in step. Errors are negative errno values.
 * Not thread-safe.
 */
#ifndef PEERTRACK_WTSWARM_H
#define PEERTRACK_WTSWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "peertrack/wtmsg.h"
#include "peertrack/wtreply.h"

typedef struct pt_wt_swarms pt_wt_swarms;

/* seed keys the table hashes (ids are chosen by clients). NULL on ENOMEM. */
pt_wt_swarms *pt_wt_swarms_new(uint64_t seed);
void pt_wt_swarms_free(pt_wt_swarms *t);

/* An announce of (ih, pid) from conn. seeder: "left" was 0; completed: the
 * event was "completed" (counted in "downloaded"). At most max_per_conn
 * bindings per connection. Returns 1 when conn just entered swarm ih (its
 * first peer_id there), 0 when already in it, -EEXIST when pid is bound to
 * another connection in ih, -ENOSPC at max_per_conn, -ENOMEM. */
int pt_wt_swarms_join(pt_wt_swarms *t, uint32_t conn, const pt_wt_id *ih, const pt_wt_id *pid,
                      bool seeder, bool completed, uint32_t max_per_conn);

/* A "stopped" of (ih, pid) from conn. 1 when conn left swarm ih (that was
 * its last peer_id there), 0 when it is still in it with another peer_id,
 * -ENOENT when pid is not bound to conn in ih (refused: not its peer). */
int pt_wt_swarms_leave(pt_wt_swarms *t, uint32_t conn, const pt_wt_id *ih, const pt_wt_id *pid);

/* Removes every binding of conn; calls left(ih, arg) once per swarm conn
 * was in (left may be NULL). Returns how many bindings went. */
size_t pt_wt_swarms_drop_conn(pt_wt_swarms *t, uint32_t conn,
                              void (*left)(const pt_wt_id *ih, void *arg), void *arg);

/* The connection pid is bound to in ih: 0 and *conn, or -ENOENT. */
int pt_wt_swarms_owner(const pt_wt_swarms *t, const pt_wt_id *ih, const pt_wt_id *pid,
                       uint32_t *conn);

/* Seeders, leechers and completed events of swarm ih (zeros if none). */
void pt_wt_swarms_counts(const pt_wt_swarms *t, const pt_wt_id *ih, pt_wt_counts *c);

/* Bindings of conn; bindings and swarms in all. */
size_t pt_wt_swarms_conn_count(const pt_wt_swarms *t, uint32_t conn);
size_t pt_wt_swarms_bindings(const pt_wt_swarms *t);
size_t pt_wt_swarms_count(const pt_wt_swarms *t);

#endif
