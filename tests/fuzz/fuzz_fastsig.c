/* fuzz_fastsig.c — differential test of the relay fast path against the
 * full parser: whenever pt_fastsig_parse accepts a frame, pt_msg_parse must
 * accept it too, as a signal with the same rid and target, and the relayed
 * data bytes must mean the same JSON as the full parser's. (The fast path
 * may decline anything; it must never accept more.)
 *
 * Replay:   build/tests/fuzz/fuzz_fastsig tests/fuzz/corpus/fastsig
 * libFuzzer: make fuzz && build/libfuzzer/fuzz_fastsig CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "check.h"
#include "peertrack/fastsig.h"
#include "peertrack/msg.h"
#include "peertrack/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small limits too, so the size fallback is exercised. */
	static const uint32_t limits[] = { 16384, 64 };

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		pt_msg_limits lim = { 256, limits[l], 1073741824 };
		pt_fastsig fs;
		pt_msg m = {0};
		const char *why = NULL;

		if (!pt_fastsig_parse((const char *)data, size, limits[l], &fs))
			continue;
		CHECK(pt_msg_parse((const char *)data, size, &lim, &m, &why) == PT_OK);
		CHECK(m.type == PT_MSG_SIGNAL);
		CHECK(pt_id_equal(&m.to, &fs.to));
		CHECK(m.rid.kind == fs.rid.kind);
		if (m.rid.kind == PT_RID_INT)
			CHECK(m.rid.i == fs.rid.i);
		if (m.rid.kind == PT_RID_STR)
			CHECK(m.rid.len == fs.rid.len && !memcmp(m.rid.s, fs.rid.s, m.rid.len));
		/* Verbatim bytes are never longer than the compact form's limit. */
		CHECK(fs.data_len <= limits[l] && m.data_len <= fs.data_len);

		json_error_t e1, e2;
		json_t *a = json_loadb(fs.data, fs.data_len, JSON_REJECT_DUPLICATES, &e1);
		json_t *b = json_loadb(m.data, m.data_len, JSON_REJECT_DUPLICATES, &e2);
		CHECK(a && b && json_is_object(a) && json_equal(a, b));

		/* And what the target receives is one valid JSON object. */
		pt_buf out;
		pt_id from = {{0}};
		pt_buf_init(&out, 16);
		CHECK(pt_reply_signal(&out, &from, fs.data, fs.data_len) == 0);
		json_t *r = json_loadb(pt_buf_text(&out), out.len, JSON_REJECT_DUPLICATES, &e1);
		CHECK(r && json_equal(json_object_get(r, "data"), a));
		json_decref(r);
		pt_buf_free(&out);
		json_decref(a);
		json_decref(b);
		pt_msg_clear(&m);
	}
	return 0;
}
