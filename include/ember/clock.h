/* ember/clock.h — the clocks every wing reads, in nanoseconds: CLOCK_REALTIME
 * for the times written into profiles, window ids and the API, and
 * CLOCK_MONOTONIC for deadlines and durations. clock_gettime is a vDSO call,
 * cheap but not free: read once per poll or per window, not per sample. */
#ifndef EMBER_CLOCK_H
#define EMBER_CLOCK_H

#include <stdint.h>
#include <time.h>

#define EMBER_NS_PER_S 1000000000LL

static inline int64_t ember_clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * EMBER_NS_PER_S + ts.tv_nsec;
}

/* Wall-clock time, ns since the epoch. */
static inline int64_t ember_real_ns(void)
{
	return ember_clock_ns(CLOCK_REALTIME);
}

/* Monotonic time, ns since an arbitrary start (boot). */
static inline int64_t ember_mono_ns(void)
{
	return ember_clock_ns(CLOCK_MONOTONIC);
}

#endif
