/* errors.c — the wire names of enum pt_err (docs/PROTOCOL.md, "Errors"). */
#include "peertrack/errors.h"

#define X(e, name) [e] = name,
static const char *const codes[PT_E__COUNT] = { PT_ERRORS(X) };
#undef X

const char *pt_err_code(enum pt_err e)
{
	/* An out-of-range value is a server bug; "internal" is the honest
	 * thing to tell the client. */
	if ((unsigned)e >= PT_E__COUNT || !codes[e])
		return "internal";
	return codes[e];
}
