/* profiler/perf_ring.h — reader of one perf_event mmap'd ring buffer,
 * private to profiler/.
 *
 * The kernel writes records at data_head and we consume at data_tail. We read
 * data_head with acquire semantics (so record bytes written before it are
 * visible) and publish data_tail with release semantics (so the kernel does
 * not overwrite bytes we are still reading). A record that wraps past the end
 * of the data area is copied into a bounce buffer, so callers always see one
 * contiguous record.
 *
 * Usage, one batch at a time:
 *     perf_ring_begin(r);
 *     while ((h = perf_ring_next(r))) handle(h);
 *     perf_ring_end(r);
 * Pointers returned by perf_ring_next stay valid until the next call to
 * perf_ring_next or perf_ring_end.
 */
#ifndef EMBER_PROFILER_PERF_RING_H
#define EMBER_PROFILER_PERF_RING_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>

typedef struct perf_ring {
	struct perf_event_mmap_page *meta;   /* the first (control) page */
	unsigned char *data;                 /* the data area */
	uint64_t size;                       /* bytes in the data area, a power of 2 */
	uint64_t head;                       /* data_head as read by begin */
	uint64_t tail;                       /* our read cursor, tail <= head */
	unsigned char *bounce;               /* 64 KiB: the largest record (u16 size) */
	uint64_t corrupt;                    /* batches cut short by a malformed header */
} perf_ring;

/* Sets up a reader over a mapping of 1 + n data pages at base (as mmap'd on
 * a perf fd, or any memory laid out the same way for tests). size is the
 * data area's length in bytes (a power of 2). 0 or -ENOMEM. */
int perf_ring_init(perf_ring *r, void *base, size_t page_size, uint64_t size);
void perf_ring_fini(perf_ring *r);

/* Snapshots data_head; returns the number of unread bytes. */
uint64_t perf_ring_begin(perf_ring *r);
/* The next complete record, or NULL when the batch is consumed. */
const struct perf_event_header *perf_ring_next(perf_ring *r);
/* Publishes the consumed position to the kernel. */
void perf_ring_end(perf_ring *r);

#endif
