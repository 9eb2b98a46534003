/* errors.c — the wire names of enum pt_err (docs/PROTOCOL.md, "Errors"). */
#include "peertrack/errors.h"

static const char *const codes[PT_E__COUNT] = {
	[PT_OK]                = "ok",
	[PT_E_BAD_JSON]        = "bad-json",
	[PT_E_BAD_MESSAGE]     = "bad-message",
	[PT_E_UNKNOWN_TYPE]    = "unknown-type",
	[PT_E_BAD_HASH]        = "bad-hash",
	[PT_E_TOO_MANY_HASHES] = "too-many-hashes",
	[PT_E_TOO_LARGE]       = "too-large",
	[PT_E_RATE_LIMITED]    = "rate-limited",
	[PT_E_PEER_GONE]       = "peer-gone",
	[PT_E_INTERNAL]        = "internal",
};

const char *pt_err_code(enum pt_err e)
{
	/* An out-of-range value is a server bug; "internal" is the honest
	 * thing to tell the client. */
	if ((unsigned)e >= PT_E__COUNT || !codes[e])
		return "internal";
	return codes[e];
}
