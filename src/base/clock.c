/* clock.c — see include/peertrack/clock.h. */
#include <time.h>

#include "peertrack/clock.h"

uint64_t pt_clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t pt_clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t pt_clock_mono_ms(void)
{
	return pt_clock_mono_us() / 1000;
}
