/* fastsig.h — the relay's fast path: recognise a plain `signal` message and
 * find its fields without building a JSON tree or allocating.
 *
 * It only ever says "certainly a valid signal, here are its parts" or "not
 * sure": every rejection, and everything unusual (escaped keys, \u escapes
 * outside strings' plain forms, real numbers, deep nesting, many keys,
 * "data" larger than the limit), goes to pt_msg_parse, which has the final
 * word and the error codes. So the fast path cannot accept what the full
 * parser rejects — tests/fuzz/fuzz_fastsig.c checks exactly that.
 *
 * `data` points into the frame: the client's bytes are relayed verbatim
 * (same meaning as the full parser's compact re-serialisation, and never
 * longer than it, since reals — whose re-serialisation can grow — fall back).
 */
#ifndef PEERTRACK_FASTSIG_H
#define PEERTRACK_FASTSIG_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/id.h"
#include "peertrack/msg.h"

typedef struct pt_fastsig {
	pt_rid rid;
	pt_id to;
	const char *data; /* into the frame */
	size_t data_len;
} pt_fastsig;

/* 1: frame is a valid signal message, *out filled. 0: use pt_msg_parse. */
int pt_fastsig_parse(const char *frame, size_t len, uint32_t max_signal_bytes, pt_fastsig *out);

#endif
