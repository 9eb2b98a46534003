/* test_wsframe.c — frame headers at every length-form boundary, masked
 * and not, against RFC 6455 §5.2 written out byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/wsframe.h"

static void expect(uint8_t b0, bool masked, uint64_t len, const uint8_t *want, size_t want_len)
{
	uint8_t h[PT_WS_HDR_MAX + 2];

	memset(h, 0xee, sizeof(h));
	assert_int_equal(pt_ws_header(h, b0, masked, len), want_len);
	assert_memory_equal(h, want, want_len);
	assert_int_equal(h[want_len], 0xee); /* nothing past the header */
}

static void test_forms(void **state)
{
	(void)state;
	expect(PT_WS_FIN | PT_WS_TEXT, false, 0, (const uint8_t[]){ 0x81, 0x00 }, 2);
	expect(PT_WS_FIN | PT_WS_TEXT, false, 125, (const uint8_t[]){ 0x81, 0x7d }, 2);
	expect(PT_WS_FIN | PT_WS_TEXT, false, 126, (const uint8_t[]){ 0x81, 0x7e, 0x00, 0x7e }, 4);
	expect(PT_WS_FIN | PT_WS_BINARY, false, 65535, (const uint8_t[]){ 0x82, 0x7e, 0xff, 0xff }, 4);
	expect(PT_WS_FIN | PT_WS_BINARY, false, 65536,
	       (const uint8_t[]){ 0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 }, 10);
	expect(PT_WS_FIN | PT_WS_TEXT, false, 0x0102030405060708ull,
	       (const uint8_t[]){ 0x81, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8 }, 10);
}

static void test_masked_and_fragments(void **state)
{
	(void)state;
	expect(PT_WS_FIN | PT_WS_TEXT, true, 5, (const uint8_t[]){ 0x81, 0x85 }, 2);
	expect(PT_WS_TEXT, true, 300, (const uint8_t[]){ 0x01, 0xfe, 0x01, 0x2c }, 4);
	expect(PT_WS_CONT, true, 70000, (const uint8_t[]){ 0x00, 0xff, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70 }, 10);
	expect(PT_WS_FIN | PT_WS_CLOSE, true, 2, (const uint8_t[]){ 0x88, 0x82 }, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_masked_and_fragments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
