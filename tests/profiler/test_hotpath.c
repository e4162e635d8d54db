/* tests/profiler/test_hotpath.c — the sampler's per-sample path allocates
 * nothing in steady state: reading records from the rings in time order
 * (perf_merge), decoding a sample, finding its process, interning a stack
 * that was seen before. malloc, calloc and realloc are wrapped (--wrap) and
 * counted while ten thousand samples go through. */
#include "perf_merge.h"
#include "perf_sample.h"
#include "proctab.h"
#include "stacktab.h"

#include "../check.h"
#include "fake_ring.h"

static size_t n_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
	n_allocs++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
	n_allocs++;
	return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
	n_allocs++;
	return __real_realloc(p, n);
}

enum { PID = 5000001, STACKS = 8 };

typedef struct ctx {
	proctab *pt;
	stacktab st;
	uint64_t samples;
} ctx;

/* what sampler.c's on_sample does with an FP-mode sample */
static void on_record(void *arg, const struct perf_event_header *h)
{
	ctx *c = arg;
	perf_sample ps;
	if (h->type != PERF_RECORD_SAMPLE ||
	    perf_sample_parse(h, EMBER_SAMPLE_TYPE_FP, 0, &ps) < 0)
		return;
	uint64_t f[32];
	uint32_t n = 0;
	for (uint64_t i = 0; i < ps.n_chain && n < 32; i++)
		if (!perf_chain_is_context(ps.chain[i])) {
			f[n] = n == 0 ? ps.chain[i] : ps.chain[i] - 1;
			n++;
		}
	uint32_t proc = proctab_get(c->pt, (int32_t)ps.pid);
	if (proc != PROCTAB_NONE && stacktab_add(&c->st, proc, ps.tid, f, n, ps.period) == 0)
		c->samples++;
}

/* Writes one sample of each stack into each ring, then drains. */
static void round_trip(ctx *c, fake *f, perf_merge *m)
{
	unsigned char rec[512];
	for (int r = 0; r < 2; r++)
		for (uint64_t k = 0; k < STACKS; k++) {
			uint64_t ips[6] = { (uint64_t)PERF_CONTEXT_USER, 0x401000 + k, 0x402000,
					    0x403000 + k, 0x404000, 0x405000 };
			sample_time++;
			fake_write(&f[r], rec, make_sample(rec, PID, PID + (uint32_t)r, ips, 6));
		}
	perf_merge_pass(m, on_record, c);
}

int main(void)
{
	ctx c = { 0 };
	proctab_new(&c.pt);
	stacktab_init(&c.st, 0);
	/* a process born under our eyes (no /proc for it) */
	proctab_on_fork(c.pt, &(perf_task){ .pid = PID, .ppid = 1, .tid = PID, .ptid = 1 });
	fake f[2];
	perf_ring r[2];
	perf_ring *rings[2] = { &r[0], &r[1] };
	for (int i = 0; i < 2; i++) {
		fake_init(&f[i]);
		perf_ring_init(&r[i], f[i].mem, 4096, 4096);
	}
	perf_merge m;
	perf_merge_init(&m, rings, 2, EMBER_SAMPLE_TYPE_FP);

	round_trip(&c, f, &m);   /* first sight of every stack: may allocate */
	CHECK_EQ_INT(c.samples, 2 * STACKS);
	n_allocs = 0;
	for (int i = 0; i < 625; i++)   /* 10000 samples, every stack seen before */
		round_trip(&c, f, &m);
	CHECK_EQ_INT(n_allocs, 0);
	CHECK_EQ_INT(c.samples, 2 * STACKS * 626);
	CHECK_EQ_INT(c.st.len, 2 * STACKS);   /* two threads x STACKS stacks */
	stacktab_foreach(&c.st, e) CHECK_EQ_INT(e->count, 626);

	perf_merge_fini(&m);
	for (int i = 0; i < 2; i++) {
		perf_ring_fini(&r[i]);
		free(f[i].mem);
	}
	stacktab_fini(&c.st);
	proctab_free(c.pt);
	return check_exit();
}
