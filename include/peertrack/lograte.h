/* lograte.h — at most one log line per interval for an event a client can
 * cause at will (a refused connection): the first of a burst is logged at
 * once, the others are counted, and the count goes out with the next line,
 * or on its own once the interval is over (pt_lograte_flush). Pure: the
 * caller passes the clock and does the logging. 16 bytes. */
#ifndef PEERTRACK_LOGRATE_H
#define PEERTRACK_LOGRATE_H

#include <stdint.h>
#include <stdbool.h>

typedef struct pt_lograte {
	uint64_t next_ms;    /* no line before this */
	uint64_t suppressed; /* events counted, not logged, since the last line */
} pt_lograte;

/* One event. true: log it now, mentioning *suppressed earlier ones (the
 * count restarts); false: it was counted instead. */
bool pt_lograte_take(pt_lograte *r, uint32_t interval_ms, uint64_t now_ms, uint64_t *suppressed);

/* true, with *suppressed > 0, when counted events wait and the interval is
 * over: log the count now (the count restarts, the interval too). */
bool pt_lograte_flush(pt_lograte *r, uint32_t interval_ms, uint64_t now_ms, uint64_t *suppressed);

#endif
