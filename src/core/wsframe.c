/* wsframe.c — see include/peertrack/wsframe.h. */
#include "peertrack/wsframe.h"

size_t pt_ws_header(uint8_t *h, uint8_t b0, bool masked, uint64_t len)
{
	uint8_t m = masked ? 0x80 : 0;

	h[0] = b0;
	if (len < 126) {
		h[1] = (uint8_t)(m | len);
		return 2;
	}
	if (len < 65536) {
		h[1] = m | 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		return 4;
	}
	h[1] = m | 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}
