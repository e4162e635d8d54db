/* tests/profiler/fake_ring.h — a perf ring laid out in ordinary memory
 * exactly as the kernel lays out an mmap'd buffer, and the records the
 * kernel would write into it (tests only). */
#ifndef EMBER_TESTS_FAKE_RING_H
#define EMBER_TESTS_FAKE_RING_H

#include "perf_ring.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { PAGE = 4096, DATA = 4096 };

typedef struct fake {
	unsigned char *mem;   /* control page + data */
	struct perf_event_mmap_page *meta;
	unsigned char *data;
	uint64_t head;        /* the "kernel's" write position */
} fake;

static inline void fake_init(fake *f)
{
	f->mem = aligned_alloc(PAGE, PAGE + DATA);
	memset(f->mem, 0, PAGE + DATA);
	f->meta = (struct perf_event_mmap_page *)f->mem;
	f->meta->data_offset = PAGE;
	f->meta->data_size = DATA;
	f->data = f->mem + PAGE;
	f->head = 0;
}

/* Writes bytes at the kernel's head, wrapping, then publishes data_head. */
static inline void fake_write(fake *f, const void *rec, size_t len)
{
	for (size_t i = 0; i < len; i++)
		f->data[(f->head + i) % DATA] = ((const unsigned char *)rec)[i];
	f->head += len;
	__atomic_store_n(&f->meta->data_head, f->head, __ATOMIC_RELEASE);
}

/* A SAMPLE record of the FP layout with a callchain of n ips. */
static uint64_t sample_time = 123;

static inline size_t make_sample(unsigned char *buf, uint32_t pid, uint32_t tid, const uint64_t *ips,
			  uint64_t n)
{
	struct perf_event_header h = { PERF_RECORD_SAMPLE, 0, 0 };
	size_t off = sizeof h;
	uint64_t ip = ips[0], time = sample_time, period = 1001001;
	uint32_t pt[2] = { pid, tid }, cpu[2] = { 1, 0 };
	memcpy(buf + off, &ip, 8), off += 8;
	memcpy(buf + off, pt, 8), off += 8;
	memcpy(buf + off, &time, 8), off += 8;
	memcpy(buf + off, cpu, 8), off += 8;
	memcpy(buf + off, &period, 8), off += 8;
	memcpy(buf + off, &n, 8), off += 8;
	memcpy(buf + off, ips, n * 8), off += n * 8;
	h.size = (uint16_t)off;
	memcpy(buf, &h, sizeof h);
	return off;
}

#endif
