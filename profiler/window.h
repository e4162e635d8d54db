/* profiler/window.h — turning one window's stack table into a RAW profile
 * (ember/profile.h conventions), private to profiler/. Per-window work: it
 * may allocate freely; it never touches perf or the file system.
 */
#ifndef EMBER_PROFILER_WINDOW_H
#define EMBER_PROFILER_WINDOW_H

#include <stdint.h>

#include "ember/error.h"
#include "ember/profile.h"
#include "cgroup.h"
#include "proctab.h"
#include "stacktab.h"

/* A frame value no instruction has: the stack was cut short here; it becomes
 * a location whose one line is the function "[truncated]". */
#define WINDOW_FRAME_TRUNCATED UINT64_MAX

typedef struct window_info {
	int64_t time_nanos;         /* window start, unix ns */
	int64_t duration_nanos;
	int64_t period;             /* sampling period, ns */
	uint64_t kernel_start;      /* start of the [kernel.kallsyms] mapping */
	const char *kernel_build_id;
	cgroup_map *cgroups;        /* resolves the stacks' cgroup ids; NULL: no cgroup labels */
} window_info;

/* Addresses at or above this are kernel addresses (x86-64 upper half). */
#define WINDOW_KERNEL_MIN 0xffff800000000000ULL

int window_build(const stacktab *st, const proctab *pt, const window_info *wi,
		 ember_profile **out, ember_error *err);

#endif
