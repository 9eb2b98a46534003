/* lograte.c — see lograte.h. */
#include "peertrack/lograte.h"

bool pt_lograte_take(pt_lograte *r, uint32_t interval_ms, uint64_t now_ms, uint64_t *suppressed)
{
	if (now_ms < r->next_ms) {
		r->suppressed++;
		return false;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->next_ms = now_ms + interval_ms;
	return true;
}

bool pt_lograte_flush(pt_lograte *r, uint32_t interval_ms, uint64_t now_ms, uint64_t *suppressed)
{
	if (!r->suppressed || now_ms < r->next_ms)
		return false;
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->next_ms = now_ms + interval_ms;
	return true;
}
