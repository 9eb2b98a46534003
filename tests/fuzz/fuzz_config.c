/* fuzz_config.c — pt_config_load on arbitrary file contents: either an
 * error "FILE:LINE: ..." or a config; a loaded config that also passes
 * pt_config_validate is dumped (pt_config_write_effective) and that dump
 * must load again to an identical dump. Copy and free on every path, so
 * LeakSanitizer sees every allocation the loader makes.
 *
 * Replay:   build/tests/fuzz/fuzz_config tests/fuzz/corpus/config
 * libFuzzer: make fuzz && build/libfuzzer/fuzz_config -dict=tests/fuzz/config.dict CORPUS */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "peertrack/config.h"
#include "peertrack/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* The loader takes a path: the bytes go into an anonymous file. */
static int to_file(const void *p, size_t n, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz_config", 0);

	CHECK(fd >= 0);
	CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

static char *dump(const pt_config *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	CHECK(f);
	pt_config_write_effective(f, c, "fuzz");
	CHECK(fclose(f) == 0);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	char path[64], err[512];
	pt_config c, copy;

	if (!once++)
		pt_log_configure(PT_LOG_ERROR, PT_LOG_TEXT); /* no warning per removed key */
	int fd = to_file(data, size, path, sizeof(path));
	pt_config_defaults(&c);
	err[0] = '\0';
	int rc = pt_config_load(&c, path, err, sizeof(err));
	close(fd);
	if (rc != 0) {
		CHECK(rc == -1);
		/* "FILE:LINE: ..." — the operator sees where. */
		CHECK(err[0] && strlen(err) < sizeof(err) && strncmp(err, path, strlen(path)) == 0);
		pt_config_free(&c);
		return 0;
	}
	CHECK(pt_config_copy(&copy, &c) == 0);
	pt_config_free(&c);
	/* The dump masks secrets ("(set, not shown)"), which do not load back
	 * as the secret: the round trip holds only for configs without one. */
	bool secret = false;
	for (size_t i = 0; i < pt_config_nkeys; i++)
		if (pt_config_keys[i].secret && pt_config_keys[i].type == PT_CFG_STR)
			secret |= *((const char *)&copy + pt_config_keys[i].offset) != '\0';
	int valid = pt_config_validate(&copy, err, sizeof(err)) == 0;
	if (valid && !secret) {
		size_t len1, len2;
		char *d1 = dump(&copy, &len1);
		fd = to_file(d1, len1, path, sizeof(path));
		pt_config_defaults(&c);
		err[0] = '\0';
		int rc2 = pt_config_load(&c, path, err, sizeof(err));
		/* Known, not fixed: inih's 200-byte lines. A value that filled its
		 * line as "key=VALUE" does not fit as "key = VALUE" in the dump
		 * (docs/FUZZING.md, open findings); tolerated so the rest is checked. */
		if (rc2 != 0 && strstr(err, "line is longer than")) {
			close(fd);
			free(d1);
			pt_config_free(&c);
			pt_config_free(&copy);
			return 0;
		}
		if (rc2 != 0) {
			fprintf(stderr, "fuzz_config: the dump does not load: %s\n%s", err, d1);
			CHECK(0);
		}
		close(fd);
		char *d2 = dump(&c, &len2);
		CHECK(len1 == len2 && memcmp(d1, d2, len1) == 0);
		free(d1);
		free(d2);
		pt_config_free(&c);
	} else if (!valid) {
		CHECK(err[0]);
	}
	pt_config_free(&copy);
	return 0;
}
