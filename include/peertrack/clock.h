/* clock.h — the two clocks the project reads. Wall time (CLOCK_REALTIME)
 * is what rows, bans and logs record; monotonic time (CLOCK_MONOTONIC)
 * measures intervals and deadlines. Loop code uses uv_now instead: it is
 * cached per loop turn. Thread-safe, no allocation. */
#ifndef PEERTRACK_CLOCK_H
#define PEERTRACK_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch. */
uint64_t pt_clock_wall_ms(void);
/* Monotonic microseconds and milliseconds (arbitrary origin). */
uint64_t pt_clock_mono_us(void);
uint64_t pt_clock_mono_ms(void);

#endif
