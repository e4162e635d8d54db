/* tests/exporter/synth.h — synthetic profiles for the exporter's tests, built
 * with core/profile.c the way the profiler and symbolizer fill them: sample
 * types samples/count and cpu/nanoseconds, period 10 ms, labels pid/comm. */
#ifndef EMBER_TESTS_SYNTH_H
#define EMBER_TESTS_SYNTH_H

#include "ember/profile.h"

#include <stdarg.h>
#include <string.h>

#define SYNTH_PERIOD 10000000LL /* 10 ms: 100 Hz */

static inline ember_profile *synth_new_kind(const char *type, const char *unit)
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, type, unit);
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->period = SYNTH_PERIOD;
	p->time_nanos = 1700000000000000000LL;
	p->duration_nanos = 10000000000LL;
	return p;
}

static inline ember_profile *synth_new(void)
{
	return synth_new_kind("cpu", "nanoseconds");
}

static inline uint64_t synth_mapping(ember_profile *p, const char *file, const char *build_id,
                                     uint64_t start, uint64_t limit, uint64_t offset)
{
	ember_mapping m = {.memory_start = start,
	                   .memory_limit = limit,
	                   .file_offset = offset,
	                   .filename = ember_profile_intern(p, file),
	                   .build_id = ember_profile_intern(p, build_id),
	                   .has_functions = true,
	                   .has_filenames = true,
	                   .has_line_numbers = true,
	                   .has_inline_frames = true};
	return ember_profile_add_mapping(p, &m);
}

static inline uint64_t synth_fn(ember_profile *p, const char *name)
{
	int64_t n = ember_profile_intern(p, name);
	return ember_profile_intern_function(p, n, n, ember_profile_intern(p, "src.c"), 1);
}

/* A location with n functions, innermost (inlined) first; n == 0: raw. */
static inline uint64_t synth_loc(ember_profile *p, uint64_t mapping, uint64_t addr, int n, ...)
{
	uint64_t id = ember_profile_add_location(p, mapping, addr);
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		ember_profile_location_add_line(p, id, synth_fn(p, va_arg(ap, const char *)),
		                                10 + i);
	va_end(ap);
	return id;
}

/* A sample of `count` samples from process comm (pid 100), stack leaf first. */
static inline void synth_sample(ember_profile *p, const char *comm, int64_t count, int n, ...)
{
	uint64_t stack[64];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n && i < 64; i++)
		stack[i] = va_arg(ap, uint64_t);
	va_end(ap);
	int64_t v[2] = {count, count * SYNTH_PERIOD};
	ember_label labels[2] = {
	    {.key = ember_profile_intern(p, "pid"), .num = 100},
	    {.key = ember_profile_intern(p, "comm"), .str = ember_profile_intern(p, comm)},
	};
	ember_profile_add_sample(p, stack, (size_t)n, v, labels, 2);
}

/* Leaf-only samples of functions named by the caller: fn i gets counts[i]. */
static inline ember_profile *synth_flat(const char *comm, int n, const char *const *names,
                                        const int64_t *counts)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0);
	for (int i = 0; i < n; i++) {
		uint64_t l = synth_loc(p, m, 0x401000 + 0x100 * (uint64_t)i, 1, names[i]);
		synth_sample(p, comm, counts[i], 1, l);
	}
	return p;
}

#endif
