/* check.h — CHECK(cond) for the fuzz targets: a broken invariant prints
 * where and aborts, which both libFuzzer and the replay driver report. */
#ifndef PEERTRACK_FUZZ_CHECK_H
#define PEERTRACK_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                  \
		}                                                                 \
	} while (0)

#endif
