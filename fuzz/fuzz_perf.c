/* fuzz/fuzz_perf.c — libFuzzer target for the perf ring-buffer reader and
 * record decoders (profiler/perf_ring.c, perf_sample.c), and what the
 * sampler does with decoded records: the process table (MMAP2, COMM, FORK,
 * EXIT), the stack table and the window builder.
 *
 * The input is laid out as a ring's data area behind a fake control page,
 * starting at an offset taken from the first two bytes so records wrap past
 * the end (the bounce-buffer path). Every record is decoded for both sample
 * layouts ember asks for (frame pointers, and DWARF with a register mask).
 * Pids are mapped to negative numbers so the process table never reads
 * /proc of a real process or opens a file the record names. The window built
 * at the end must pass ember_profile_check. */
#include "perf_ring.h"
#include "perf_sample.h"
#include "proctab.h"
#include "stacktab.h"
#include "unwind.h"
#include "window.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

enum { PAGE = 4096, RING = 65536, MAX_FRAMES = 128 };

/* A pid the process table will not look up in /proc. */
static uint32_t fake_pid(uint32_t pid)
{
	return (uint32_t)(-1 - (int32_t)(pid & 0x3f));
}

static void on_sample(proctab *pt, stacktab *st, const struct perf_event_header *h)
{
	perf_sample ps;
	/* the DWARF layout, with the register mask the sampler asks for */
	if (perf_sample_parse(h, EMBER_SAMPLE_TYPE_DWARF, ember_unwind_regs_mask(), &ps) == 0) {
		assert(ps.n_regs == 0 || ps.regs);
		assert(ps.stack_size == 0 || ps.stack);
		const unsigned char *b = (const unsigned char *)h;
		if (ps.stack_size) {   /* the whole copy lies inside the record */
			assert((const unsigned char *)ps.stack >= b);
			assert((const unsigned char *)ps.stack + ps.stack_size <= b + h->size);
			volatile unsigned char last = ((const unsigned char *)ps.stack)[ps.stack_size - 1];
			(void)last;
		}
	}
	if (perf_sample_parse(h, EMBER_SAMPLE_TYPE_FP, 0, &ps) < 0)
		return;
	uint64_t f[MAX_FRAMES];
	uint32_t n = 0;
	for (uint64_t i = 0; i < ps.n_chain && n < MAX_FRAMES - 1; i++) {
		uint64_t ip = ps.chain[i];
		if (perf_chain_is_context(ip) || ip == 0)
			continue;
		f[n] = n == 0 ? ip : ip - 1;
		n++;
	}
	if (n == 0)
		f[n++] = ps.ip;
	if (ps.n_chain > 4)   /* sometimes a cut chain, as the sampler marks it */
		f[n++] = WINDOW_FRAME_TRUNCATED;
	uint32_t proc = proctab_get(pt, (int32_t)fake_pid(ps.pid));
	if (proc != PROCTAB_NONE)
		stacktab_add(st, proc, ps.tid, f, n, ps.period);
}

static void on_record(proctab *pt, stacktab *st, const struct perf_event_header *h)
{
	assert(h->size >= sizeof *h && (h->size & 7) == 0);
	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		on_sample(pt, st, h);
		break;
	case PERF_RECORD_MMAP2: {
		perf_mmap2 m;
		if (perf_mmap2_parse(h, &m) == 0) {
			assert(m.filename && memchr(m.filename, 0, h->size));
			assert(m.build_id_size <= 20);
			m.pid = fake_pid(m.pid);
			proctab_on_mmap2(pt, &m);
		}
		break;
	}
	case PERF_RECORD_COMM: {
		perf_comm c;
		if (perf_comm_parse(h, &c) == 0) {
			c.pid = fake_pid(c.pid);
			c.tid = fake_pid(c.tid);
			proctab_on_comm(pt, &c);
		}
		break;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		perf_task t;
		if (perf_task_parse(h, &t) < 0)
			break;
		t.pid = fake_pid(t.pid);
		t.ppid = fake_pid(t.ppid);
		t.tid = fake_pid(t.tid);
		t.ptid = fake_pid(t.ptid);
		if (h->type == PERF_RECORD_FORK)
			proctab_on_fork(pt, &t);
		else
			proctab_on_exit(pt, &t);
		break;
	}
	case PERF_RECORD_LOST: {
		uint64_t lost;
		(void)perf_lost_parse(h, &lost);
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 2)
		return 0;
	uint64_t start = ((uint64_t)data[0] | (uint64_t)data[1] << 8) & (RING - 8);
	data += 2;
	len -= 2;
	if (len > RING)
		len = RING;
	unsigned char *mem = aligned_alloc(PAGE, PAGE + RING);
	assert(mem);
	memset(mem, 0, PAGE);
	struct perf_event_mmap_page *meta = (struct perf_event_mmap_page *)mem;
	meta->data_offset = PAGE;
	meta->data_size = RING;
	meta->data_tail = start;
	meta->data_head = start + len;
	for (size_t i = 0; i < len; i++)   /* the data area, wrapped */
		mem[PAGE + ((start + i) & (RING - 1))] = data[i];

	perf_ring r;
	int rc = perf_ring_init(&r, mem, PAGE, RING);
	assert(rc == 0);
	proctab *pt = NULL;
	rc = proctab_new(&pt);
	assert(rc == 0);
	stacktab st;
	rc = stacktab_init(&st, 64);
	assert(rc == 0);

	uint64_t avail = perf_ring_begin(&r);
	assert(avail == len);
	const struct perf_event_header *h;
	uint64_t consumed = 0;
	while ((h = perf_ring_next(&r))) {
		consumed += h->size;
		on_record(pt, &st, h);
	}
	perf_ring_end(&r);
	assert(meta->data_tail <= meta->data_head);
	assert(meta->data_tail - start >= consumed);

	window_info wi = { .time_nanos = 1700000000000000000LL,
			   .duration_nanos = 10000000000LL,
			   .period = 10000000,
			   .kernel_start = WINDOW_KERNEL_MIN,
			   .kernel_build_id = "" };
	ember_profile *p = NULL;
	if (window_build(&st, pt, &wi, &p, NULL) == 0) {
		char msg[256];
		rc = ember_profile_check(p, msg, sizeof msg);
		assert(rc == 0);
		ember_profile_free(p);
	}
	proctab_reap(pt);
	stacktab_fini(&st);
	proctab_free(pt);
	perf_ring_fini(&r);
	free(mem);
	return 0;
}
