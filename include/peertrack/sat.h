/* sat.h — saturating arithmetic for running totals fed by clients (report
 * byte counts): a total that reaches UINT64_MAX stays there instead of
 * wrapping, so a counter never appears to reset and a sum never turns
 * small. */
#ifndef PEERTRACK_SAT_H
#define PEERTRACK_SAT_H

#include <stdint.h>

static inline uint64_t pt_sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

#endif
