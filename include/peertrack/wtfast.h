/* wtfast.h — the /announce fast path: recognise a plain announce (with or
 * without offers) or answer frame of the WebTorrent tracker protocol and
 * fill a pt_wt_msg from it in one pass, without a JSON tree or any
 * allocation (jscan.h).
 *
 * It only ever says "certainly valid, here it is" or "not sure": errors,
 * scrapes and anything unusual (escaped keys or event names, reals, more
 * than PT_WT_FAST_OFFERS offers, an offer longer than the limit as the
 * client spelled it, deep nesting) go to the full parser
 * (pt_wt_msg_parse_json), which has the final word and the error messages.
 * Whatever it accepts, the full parser accepts with the same meaning;
 * tests/fuzz/fuzz_wtfast.c checks exactly that.
 *
 * Offer and answer texts point into the frame: the client's bytes are
 * relayed verbatim. They mean the same JSON as the full parser's compact
 * re-serialisation and are never shorter than it (reals, whose spelling
 * may grow, fall back), so the size limit cannot let more through.
 */
#ifndef PEERTRACK_WTFAST_H
#define PEERTRACK_WTFAST_H

#include <stddef.h>
#include "peertrack/wtmsg.h"

/* 1: frame is a valid announce or answer, msg filled (borrowing from
 * frame; pt_wt_msg_clear is still safe and frees nothing). 0: use the full
 * parser; msg is then unspecified but safe to parse into. */
int pt_wt_fast_parse(const char *frame, size_t len, const pt_wt_limits *lim, pt_wt_msg *msg);

#endif
