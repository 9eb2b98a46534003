/* registry.h — live peers: dense handles, unique ids, and the id -> handle
 * map used to route signals. The registry stores an opaque pointer per
 * handle (the front-end's session) and never dereferences it.
 *
 * Handles are reused after removal; each reuse bumps the slot's generation,
 * so (handle, gen) names one peer for ever — used by anything that keeps
 * references past a peer's life (recent-contact lists).
 */
#ifndef PEERTRACK_REGISTRY_H
#define PEERTRACK_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/id.h"

#define PT_HANDLE_NONE UINT32_MAX

typedef struct pt_registry pt_registry;

/* max: most peers at once (>= 1). NULL on ENOMEM. */
pt_registry *pt_registry_new(uint32_t max, uint64_t seed);
void pt_registry_free(pt_registry *r);

/* Creates a peer with a fresh random id, unique among live peers.
 * Returns 0 and sets *handle and *id; -EAGAIN when full (max reached),
 * -ENOMEM, or -EIO if the CSPRNG failed. */
int pt_registry_add(pt_registry *r, void *session, uint32_t *handle, pt_id *id);

/* Cluster mode: every id made from now on carries this node tag
 * (pt_id_set_tag); -1 (the default) leaves ids wholly random. */
void pt_registry_set_tag(pt_registry *r, int tag);

/* Removes a live handle (no-op for a dead one). */
void pt_registry_remove(pt_registry *r, uint32_t handle);

/* Like pt_registry_remove, but the handle is not reused until
 * pt_registry_release: for a peer that is gone (its id no longer found,
 * its session NULL, its generation 0) while other tables indexed by
 * handle (the index) still name it. No-op if not live. */
void pt_registry_hold(pt_registry *r, uint32_t handle);
/* Makes a held handle free for reuse. No-op if not held. */
void pt_registry_release(pt_registry *r, uint32_t handle);
/* How many handles are held. */
uint32_t pt_registry_held(const pt_registry *r);

/* Points a live handle at another session (a peer that changes
 * connections keeps its handle, id and generation). No-op if dead. */
void pt_registry_set_session(pt_registry *r, uint32_t handle, void *session);

/* Handle of a live id, or PT_HANDLE_NONE. */
uint32_t pt_registry_find(const pt_registry *r, const pt_id *id);

/* Session pointer / id / generation of a live handle; NULL/NULL/0 if dead. */
void *pt_registry_session(const pt_registry *r, uint32_t handle);
const pt_id *pt_registry_id(const pt_registry *r, uint32_t handle);
uint32_t pt_registry_gen(const pt_registry *r, uint32_t handle);

uint32_t pt_registry_count(const pt_registry *r);
/* One past the highest handle ever handed out: iterate 0..limit and skip
 * dead handles (pt_registry_session == NULL). */
uint32_t pt_registry_limit(const pt_registry *r);

/* Changes max at run time; lowering it never removes live peers. */
void pt_registry_set_max(pt_registry *r, uint32_t max);

#endif
