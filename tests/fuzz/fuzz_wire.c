/* fuzz_wire.c — pt_wire_decode (the peer wire format peers exchange over
 * data channels, src/peer/wire.c) on arbitrary messages: a decoded message
 * re-encodes to the same bytes (the reserved bytes 2-3 as zero), with the
 * payload inside the message and the chunk index below the count.
 *
 * Replay:   build/tests/fuzz/fuzz_wire tests/fuzz/corpus/wire
 * libFuzzer: make fuzz && build/libfuzzer/fuzz_wire CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The peer is not in libpeertrack.a (it links GStreamer); its wire codec
 * is plain C with no such dependency, so the target compiles it in. */
#include "check.h"
#include "../../src/peer/wire.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PT_WIRE_MAX];
	pt_wire_hdr h;
	const uint8_t *payload;
	size_t plen;

	if (pt_wire_decode(data, size, &h, &payload, &plen) != 0)
		return 0;
	CHECK(payload == data + PT_WIRE_HEADER && plen == size - PT_WIRE_HEADER);
	CHECK(plen <= PT_WIRE_PAYLOAD);
	CHECK(strcmp(pt_wire_type_name(h.type), "unknown") != 0);
	CHECK(h.type != PT_WIRE_CHUNK || h.index < h.count);
	CHECK(pt_wire_encode(&h, payload, plen, out) == size);
	CHECK(out[0] == data[0] && out[1] == data[1] && out[2] == 0 && out[3] == 0);
	CHECK(memcmp(out + 4, data + 4, size - 4) == 0);
	return 0;
}
