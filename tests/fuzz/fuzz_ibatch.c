/* fuzz_ibatch.c — the reader of inbox batches (ibatch.h) on arbitrary
 * bytes: it never reads outside the input (ASan), pt_ibatch_count agrees
 * with a walk by pt_ibatch_next, and a batch it accepts is rebuilt byte for
 * byte by pt_ibatch_add from its records. The input is also cut into
 * records (by its own bytes) and batched: that batch must read back as
 * those records.
 *
 * Replay:   build/tests/fuzz/fuzz_ibatch tests/fuzz/corpus/ibatch
 * libFuzzer: make fuzz && build/libfuzzer/fuzz_ibatch CORPUS */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "peertrack/ibatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reader(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so any overread is outside the allocation. */
	char *m = malloc(size ? size : 1);
	long n, walked = 0;
	size_t off = 0, rlen;
	const char *rec;
	pt_buf b;

	CHECK(m);
	memcpy(m, data, size);
	n = pt_ibatch_count(m, size);
	pt_buf_init(&b, 0);
	while (pt_ibatch_next(m, size, &off, &rec, &rlen)) {
		CHECK(rec >= m && rlen >= 1 && rec + rlen <= m + size && rec[0] != PT_IBATCH_TAG);
		CHECK(pt_ibatch_add(&b, rec, rlen) == 0);
		walked++;
	}
	if (n >= 0) {
		CHECK(n == walked && off == size);
		CHECK(b.len == size && !memcmp(pt_buf_text(&b), m, size));
	} else {
		CHECK(walked == 0 || off != size);
	}
	pt_buf_free(&b);
	free(m);
}

/* Records cut from the input: each byte k (mod 8) + 1 long; records that
 * cannot be one (a leading 'B') are refused and left out. */
static void writer(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t at = 0, k = 0, nrec = 0, off = 0, rlen;
	size_t starts[4096], lens[4096];
	const char *rec;
	pt_buf b;

	pt_buf_init(&b, 0);
	while (at < size && nrec < 4096) {
		size_t len = (size_t)(data[k++ % size] % 8) + 1;

		if (len > size - at)
			len = size - at;
		if (pt_ibatch_add(&b, in + at, len) == 0) {
			starts[nrec] = at;
			lens[nrec++] = len;
		} else {
			CHECK(in[at] == PT_IBATCH_TAG);
		}
		at += len;
	}
	if (!nrec) {
		CHECK(b.len == 0);
		pt_buf_free(&b);
		return;
	}
	CHECK(pt_ibatch_count(pt_buf_text(&b), b.len) == (long)nrec);
	for (size_t i = 0; i < nrec; i++) {
		CHECK(pt_ibatch_next(pt_buf_text(&b), b.len, &off, &rec, &rlen));
		CHECK(rlen == lens[i] && !memcmp(rec, in + starts[i], rlen));
	}
	CHECK(!pt_ibatch_next(pt_buf_text(&b), b.len, &off, &rec, &rlen));
	pt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	reader(data, size);
	writer(data, size);
	return 0;
}
