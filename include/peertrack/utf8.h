/* utf8.h — UTF-8 well-formedness (RFC 3629): no overlong forms, no
 * surrogates, nothing beyond U+10FFFF, no cut sequences. Pure functions,
 * no allocation. Text frames are checked here once, not by libwebsockets
 * as well: the JSON scanners call pt_utf8_seq on every non-ASCII byte, and
 * a frame they reject is checked whole with pt_utf8_valid to tell invalid
 * UTF-8 (close 1007) from bad JSON. */
#ifndef PEERTRACK_UTF8_H
#define PEERTRACK_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (2..4) of the sequence starting at p, where p < end and
 * *p >= 0x80; 0 if it is not well-formed. */
size_t pt_utf8_seq(const unsigned char *p, const unsigned char *end);

/* Whether all of buf[0..len) is well-formed UTF-8. */
bool pt_utf8_valid(const void *buf, size_t len);

#endif
