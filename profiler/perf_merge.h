/* profiler/perf_merge.h — reading several rings as one stream in time
 * order, private to profiler/.
 *
 * Each CPU's ring is in time order by itself, but a process's records can
 * land on different CPUs: its FORK on one, its first samples on another.
 * Handing records over ring by ring would let a sample overtake the FORK,
 * exec or mmap it depends on. The merge keeps one current record per ring
 * (valid in that ring's bounce buffer) in a min-heap by time and always
 * hands over the oldest, over what the rings hold at the start of a pass.
 */
#ifndef EMBER_PROFILER_PERF_MERGE_H
#define EMBER_PROFILER_PERF_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "perf_ring.h"

typedef void (*perf_merge_fn)(void *ctx, const struct perf_event_header *h);

typedef struct perf_merge {
	perf_ring **rings;
	size_t n;
	uint64_t sample_type;
	struct perf_merge_item {
		uint64_t time;
		size_t ring;
		const struct perf_event_header *h;
	} *heap;   /* n slots */
} perf_merge;

/* 0 or -ENOMEM. The rings must outlive the merge. */
int perf_merge_init(perf_merge *m, perf_ring **rings, size_t n, uint64_t sample_type);
void perf_merge_fini(perf_merge *m);

/* One pass: hands every record the rings hold now to fn, oldest first, then
 * releases the space to the kernel. Returns the number of records. */
size_t perf_merge_pass(perf_merge *m, perf_merge_fn fn, void *ctx);

#endif
