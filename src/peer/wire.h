/* wire.h — the peer wire: binary messages on the WebRTC data channel between
 * two peers (docs/PROTOCOL.md, "Peer wire"). Every message is one binary
 * data-channel message of at most PT_WIRE_MAX bytes: a fixed 68-byte header,
 * then a payload. Pure code, no I/O, so it is the same for every transport. */
#ifndef PEERTRACK_PEER_WIRE_H
#define PEERTRACK_PEER_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/hash.h"
#include "peertrack/id.h"

#define PT_WIRE_VERSION 1
#define PT_WIRE_MAX     16384                        /* whole message */
#define PT_WIRE_HEADER  68
#define PT_WIRE_PAYLOAD (PT_WIRE_MAX - PT_WIRE_HEADER) /* 16316: bytes per chunk */

enum pt_wire_type {
	PT_WIRE_REQUEST   = 1, /* send me `hash` from chunk `index` on */
	PT_WIRE_CHUNK     = 2, /* chunk `index` of `count`; payload = the bytes */
	PT_WIRE_NOT_FOUND = 3, /* I do not hold `hash` */
	PT_WIRE_ERROR     = 4  /* payload = a UTF-8 reason */
};

typedef struct pt_wire_hdr {
	uint8_t type;
	char from[PT_ID_CHARS]; /* sender's client id, as the daemon spells it */
	pt_hash hash;
	uint32_t index;
	uint32_t count;
} pt_wire_hdr;

/* Writes header + payload into out (room for PT_WIRE_MAX). Returns the
 * message length, or 0 if plen exceeds PT_WIRE_PAYLOAD. */
size_t pt_wire_encode(const pt_wire_hdr *h, const void *payload, size_t plen, uint8_t *out);

/* Parses one message. 0, or -EINVAL: too short or too long, unknown version
 * or type, an id that is not 24 base64url characters, or a payload where
 * the type allows none. *payload points into msg. */
int pt_wire_decode(const uint8_t *msg, size_t len, pt_wire_hdr *h,
                   const uint8_t **payload, size_t *plen);

/* Chunks a resource of `size` bytes travels in; an empty one is one empty
 * chunk, so every resource has at least one. */
uint32_t pt_wire_chunks(uint64_t size);

const char *pt_wire_type_name(uint8_t type);

#endif
