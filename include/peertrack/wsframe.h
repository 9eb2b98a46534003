/* wsframe.h — the header of one WebSocket frame (RFC 6455 §5.2), for the
 * places that write frames themselves: the daemon's coalesced writes, the
 * load generator, the bench baseline and the raw test client. Pure, no
 * allocation. */
#ifndef PEERTRACK_WSFRAME_H
#define PEERTRACK_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_WS_FIN 0x80
enum { PT_WS_CONT = 0, PT_WS_TEXT = 1, PT_WS_BINARY = 2, PT_WS_CLOSE = 8, PT_WS_PING = 9,
       PT_WS_PONG = 10 };
/* The longest header: 2 bytes, an 8-byte length, a 4-byte masking key. */
#define PT_WS_HDR_MAX 14

/* Writes into h the header of a frame whose first byte is b0 (PT_WS_FIN |
 * opcode, or an opcode alone for a non-final fragment) and whose payload is
 * len bytes, in the shortest length form; with masked, sets the mask bit —
 * the caller appends the 4-byte key. Returns the bytes written (2, 4 or
 * 10; the key not counted). */
size_t pt_ws_header(uint8_t *h, uint8_t b0, bool masked, uint64_t len);

#endif
