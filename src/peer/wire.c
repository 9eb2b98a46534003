/* wire.c — peer wire framing (see wire.h and docs/PROTOCOL.md). Integers
 * are big-endian so a browser's DataView reads them with its defaults. */
#include <errno.h>
#include <string.h>
#include "wire.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t pt_wire_encode(const pt_wire_hdr *h, const void *payload, size_t plen, uint8_t *out)
{
	if (plen > PT_WIRE_PAYLOAD)
		return 0;
	out[0] = PT_WIRE_VERSION;
	out[1] = h->type;
	out[2] = out[3] = 0;
	memcpy(out + 4, h->from, PT_ID_CHARS);
	memcpy(out + 28, h->hash.b, PT_HASH_BYTES);
	put32(out + 60, h->index);
	put32(out + 64, h->count);
	if (plen)
		memcpy(out + PT_WIRE_HEADER, payload, plen);
	return PT_WIRE_HEADER + plen;
}

int pt_wire_decode(const uint8_t *msg, size_t len, pt_wire_hdr *h,
                   const uint8_t **payload, size_t *plen)
{
	pt_id id;

	if (len < PT_WIRE_HEADER || len > PT_WIRE_MAX || msg[0] != PT_WIRE_VERSION)
		return -EINVAL;
	h->type = msg[1];
	if (h->type < PT_WIRE_REQUEST || h->type > PT_WIRE_ERROR)
		return -EINVAL;
	/* Bytes 2-3 are reserved: ignored on receipt so they can carry flags later. */
	if (pt_id_decode((const char *)msg + 4, PT_ID_CHARS, &id) != 0)
		return -EINVAL;
	memcpy(h->from, msg + 4, PT_ID_CHARS);
	memcpy(h->hash.b, msg + 28, PT_HASH_BYTES);
	h->index = get32(msg + 60);
	h->count = get32(msg + 64);
	*payload = msg + PT_WIRE_HEADER;
	*plen = len - PT_WIRE_HEADER;
	if (*plen && (h->type == PT_WIRE_REQUEST || h->type == PT_WIRE_NOT_FOUND))
		return -EINVAL;
	if (h->type == PT_WIRE_CHUNK && (h->count == 0 || h->index >= h->count))
		return -EINVAL;
	return 0;
}

uint32_t pt_wire_chunks(uint64_t size)
{
	uint64_t n = (size + PT_WIRE_PAYLOAD - 1) / PT_WIRE_PAYLOAD;

	return n ? (uint32_t)n : 1;
}

const char *pt_wire_type_name(uint8_t type)
{
	switch (type) {
	case PT_WIRE_REQUEST: return "request";
	case PT_WIRE_CHUNK: return "chunk";
	case PT_WIRE_NOT_FOUND: return "not-found";
	case PT_WIRE_ERROR: return "error";
	default: return "unknown";
	}
}
