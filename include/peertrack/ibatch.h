/* ibatch.h — several cluster inbox messages in one Redis PUBLISH (the
 * per-node batching of cluster_publish_linger_us, outbox.h).
 *
 * Wire form: 'B', then one or more records, each a 4-byte big-endian length
 * N (at least 1) and N bytes: one inbox message exactly as it would be
 * published alone. A record is never itself a batch (it may not start with
 * 'B'), so nothing nests.
 *
 * The bytes come from another node through Redis: the reader checks the
 * whole batch (pt_ibatch_count) before the caller acts on any record, and
 * never reads outside [m, m + len). Pure functions; the buffer belongs to
 * the caller.
 */
#ifndef PEERTRACK_IBATCH_H
#define PEERTRACK_IBATCH_H
#include <stdbool.h>
#include <stddef.h>

#include "peertrack/buf.h"

#define PT_IBATCH_TAG 'B'
#define PT_IBATCH_REC_HEAD 4   /* bytes of a record's length */

/* Appends message m as one record (the 'B' first when b is empty).
 * 0, -EINVAL (empty, starts with 'B', or longer than 2^32 - 1), -ENOMEM;
 * on error b is unchanged. */
int pt_ibatch_add(pt_buf *b, const char *m, size_t len);
/* The number of records of batch m if it is well formed ('B', at least
 * one record, every length 1..the bytes left, no record starting with
 * 'B', nothing after the last); -1 otherwise. */
long pt_ibatch_count(const char *m, size_t len);
/* Walks the records of a batch: *off starts at 0. True with the next
 * record in *rec (into m) and *rlen; false at the end or at the first
 * malformed record. */
bool pt_ibatch_next(const char *m, size_t len, size_t *off, const char **rec, size_t *rlen);
#endif
