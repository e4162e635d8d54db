/* profiler/perf_merge.c — the time-ordered merge of perf_merge.h: a binary
 * min-heap of one pending record per ring. Owns only the heap array; never
 * decodes records beyond their time and never makes a syscall. */
#include "perf_merge.h"

#include "perf_sample.h"

#include <assert.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>

int perf_merge_init(perf_merge *m, perf_ring **rings, size_t n, uint64_t sample_type)
{
	m->rings = rings;
	m->n = n;
	m->sample_type = sample_type;
	m->heap = calloc(n ? n : 1, sizeof *m->heap);
	return m->heap ? 0 : -ENOMEM;
}

void perf_merge_fini(perf_merge *m)
{
	free(m->heap);
	m->heap = NULL;
}

typedef struct perf_merge_item item;

static bool older(const item *a, const item *b)
{
	/* ties keep CPU order, so the merge is deterministic */
	return a->time < b->time || (a->time == b->time && a->ring < b->ring);
}

static void sift_down(item *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		if (l < n && older(&h[l], &h[min]))
			min = l;
		if (r < n && older(&h[r], &h[min]))
			min = r;
		if (min == i)
			return;
		item t = h[i];
		h[i] = h[min];
		h[min] = t;
		i = min;
	}
}

size_t perf_merge_pass(perf_merge *m, perf_merge_fn fn, void *ctx)
{
	size_t n = 0, count = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (!perf_ring_begin(m->rings[i]))
			continue;
		const struct perf_event_header *h = perf_ring_next(m->rings[i]);
		if (h)
			m->heap[n++] = (item){ perf_record_time(h, m->sample_type), i, h };
	}
	for (size_t i = n / 2; i-- > 0;)
		sift_down(m->heap, n, i);
	while (n) {
		item *top = &m->heap[0];
		fn(ctx, top->h);
		count++;
		/* the next record of the same ring replaces the top (the pointer
		 * just handed over is dead now) */
		const struct perf_event_header *h = perf_ring_next(m->rings[top->ring]);
		if (h) {
			top->h = h;
			top->time = perf_record_time(h, m->sample_type);
		} else {
			m->heap[0] = m->heap[--n];
		}
		sift_down(m->heap, n, 0);
	}
	for (size_t i = 0; i < m->n; i++)
		perf_ring_end(m->rings[i]);
	return count;
}
