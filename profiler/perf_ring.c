/* profiler/perf_ring.c — the ring-buffer reader of perf_ring.h. Owns the
 * read cursor and the bounce buffer of one ring; never decodes records (that
 * is perf_sample.c's) and never makes a syscall. */
#include "perf_ring.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { BOUNCE_SIZE = 65536 };

int perf_ring_init(perf_ring *r, void *base, size_t page_size, uint64_t size)
{
	assert(size && (size & (size - 1)) == 0);
	memset(r, 0, sizeof *r);
	r->bounce = malloc(BOUNCE_SIZE);
	if (!r->bounce)
		return -ENOMEM;
	r->meta = base;
	/* data_offset is set by kernels since 4.1; older ones put data at page 1 */
	uint64_t off = r->meta->data_offset ? r->meta->data_offset : page_size;
	r->data = (unsigned char *)base + off;
	r->size = size;
	r->tail = r->meta->data_tail;
	r->head = r->tail;
	return 0;
}

void perf_ring_fini(perf_ring *r)
{
	free(r->bounce);
	r->bounce = NULL;
}

uint64_t perf_ring_begin(perf_ring *r)
{
	r->head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	assert(r->head - r->tail <= r->size);
	return r->head - r->tail;
}

const struct perf_event_header *perf_ring_next(perf_ring *r)
{
	assert(r->tail <= r->head);
	uint64_t avail = r->head - r->tail;
	if (avail < sizeof(struct perf_event_header))
		return NULL;
	uint64_t off = r->tail & (r->size - 1);
	struct perf_event_header h;
	if (off + sizeof h <= r->size) {
		memcpy(&h, r->data + off, sizeof h);
	} else {
		size_t first = r->size - off;
		memcpy(&h, r->data + off, first);
		memcpy((unsigned char *)&h + first, r->data, sizeof h - first);
	}
	if (h.size < sizeof h || h.size > avail || (h.size & 7)) {
		/* the kernel never writes this: skip the whole batch rather than
		 * walk garbage */
		r->corrupt++;
		r->tail = r->head;
		return NULL;
	}
	const struct perf_event_header *rec;
	if (off + h.size <= r->size) {
		rec = (const struct perf_event_header *)(r->data + off);
	} else {
		size_t first = r->size - off;
		memcpy(r->bounce, r->data + off, first);
		memcpy(r->bounce + first, r->data, h.size - first);
		rec = (const struct perf_event_header *)r->bounce;
	}
	r->tail += h.size;
	return rec;
}

void perf_ring_end(perf_ring *r)
{
	assert(r->tail <= r->head);
	__atomic_store_n(&r->meta->data_tail, r->tail, __ATOMIC_RELEASE);
}
