/* tests/profiler/test_perf_ring.c — the ring-buffer reader and the record
 * decoders over a ring laid out in ordinary memory exactly as the kernel
 * lays out an mmap'd perf buffer: records that wrap the end come out whole,
 * LOST records are decoded, the tail is published, garbage is refused. */
#include "perf_merge.h"
#include "perf_ring.h"
#include "perf_sample.h"

#include "fake_ring.h"

#include "../check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_wrap(void)
{
	fake f;
	fake_init(&f);
	perf_ring r;
	CHECK_EQ_INT(perf_ring_init(&r, f.mem, PAGE, DATA), 0);

	/* fill to 40 bytes before the end, then a 96-byte record straddles it */
	unsigned char filler[DATA];
	struct perf_event_header fh = { PERF_RECORD_THROTTLE, 0, (uint16_t)(DATA - 40) };
	memset(filler, 0xab, sizeof filler);
	memcpy(filler, &fh, sizeof fh);
	fake_write(&f, filler, fh.size);
	CHECK_EQ_INT(perf_ring_begin(&r), DATA - 40);
	const struct perf_event_header *h = perf_ring_next(&r);
	CHECK(h && h->type == PERF_RECORD_THROTTLE && h->size == DATA - 40);
	CHECK(perf_ring_next(&r) == NULL);
	perf_ring_end(&r);
	CHECK_EQ_INT(f.meta->data_tail, DATA - 40);

	uint64_t ips[6] = { (uint64_t)PERF_CONTEXT_USER, 0x401000, 0x401234, 0x402000, 0x403000,
			    0x404000 };
	unsigned char rec[256];
	size_t len = make_sample(rec, 42, 43, ips, 6);
	CHECK(len > 40);
	fake_write(&f, rec, len);
	CHECK_EQ_INT(perf_ring_begin(&r), len);
	h = perf_ring_next(&r);
	CHECK(h != NULL);
	if (h) {
		CHECK_EQ_INT(h->size, len);
		CHECK(memcmp(h, rec, len) == 0);   /* copied out whole */
		perf_sample ps;
		CHECK_EQ_INT(perf_sample_parse(h, EMBER_SAMPLE_TYPE_FP, 0, &ps), 0);
		CHECK_EQ_INT(ps.pid, 42);
		CHECK_EQ_INT(ps.tid, 43);
		CHECK_EQ_INT(ps.period, 1001001);
		CHECK_EQ_INT(ps.n_chain, 6);
		CHECK(perf_chain_is_context(ps.chain[0]));
		CHECK_EQ_INT(ps.chain[5], 0x404000);
	}
	CHECK(perf_ring_next(&r) == NULL);
	perf_ring_end(&r);
	CHECK_EQ_INT(f.meta->data_tail, DATA - 40 + len);

	/* a record whose header is the last 8 bytes before the end and whose
	 * body starts at the beginning */
	uint64_t pos = f.head % DATA;
	struct perf_event_header ph = { PERF_RECORD_UNTHROTTLE, 0, (uint16_t)(DATA - pos - 8) };
	memcpy(filler, &ph, sizeof ph);
	fake_write(&f, filler, ph.size);
	perf_ring_begin(&r);
	CHECK((h = perf_ring_next(&r)) && h->type == PERF_RECORD_UNTHROTTLE);
	perf_ring_end(&r);
	CHECK_EQ_INT(f.head % DATA, DATA - 8);
	len = make_sample(rec, 7, 8, ips, 3);
	fake_write(&f, rec, len);
	perf_ring_begin(&r);
	h = perf_ring_next(&r);
	CHECK(h && h->type == PERF_RECORD_SAMPLE && h->size == len && memcmp(h, rec, len) == 0);
	CHECK(perf_ring_next(&r) == NULL);
	perf_ring_end(&r);
	CHECK_EQ_INT(f.meta->data_tail, f.head);
	perf_ring_fini(&r);
	free(f.mem);
}

static void test_lost_and_garbage(void)
{
	fake f;
	fake_init(&f);
	perf_ring r;
	perf_ring_init(&r, f.mem, PAGE, DATA);
	struct {
		struct perf_event_header h;
		uint64_t id, lost;
	} lost = { { PERF_RECORD_LOST, 0, sizeof lost }, 9, 17 };
	fake_write(&f, &lost, sizeof lost);
	perf_ring_begin(&r);
	const struct perf_event_header *h = perf_ring_next(&r);
	uint64_t n = 0;
	CHECK(h && h->type == PERF_RECORD_LOST);
	CHECK_EQ_INT(perf_lost_parse(h, &n), 0);
	CHECK_EQ_INT(n, 17);
	perf_ring_end(&r);

	/* a half-written record (size beyond head) is not returned */
	struct perf_event_header big = { PERF_RECORD_SAMPLE, 0, 64 };
	fake_write(&f, &big, sizeof big);
	perf_ring_begin(&r);
	CHECK(perf_ring_next(&r) == NULL);
	CHECK_EQ_INT(r.corrupt, 1);
	/* a zero-sized header would loop forever: refused */
	struct perf_event_header zero = { PERF_RECORD_SAMPLE, 0, 0 };
	fake_write(&f, &zero, sizeof zero);
	perf_ring_begin(&r);
	CHECK(perf_ring_next(&r) == NULL);
	CHECK_EQ_INT(r.corrupt, 2);
	perf_ring_end(&r);
	CHECK_EQ_INT(f.meta->data_tail, f.head);
	perf_ring_fini(&r);
	free(f.mem);
}

static void test_decoders(void)
{
	/* a truncated sample (callchain count larger than the record) */
	unsigned char rec[256];
	uint64_t ips[4] = { 1, 2, 3, 4 };
	size_t len = make_sample(rec, 1, 1, ips, 4);
	uint64_t bogus = 1000;
	memcpy(rec + len - 5 * 8, &bogus, 8);
	perf_sample ps;
	CHECK_EQ_INT(perf_sample_parse((struct perf_event_header *)rec, EMBER_SAMPLE_TYPE_FP, 0, &ps),
		     -EINVAL);

	/* MMAP2 with a build id */
	unsigned char m[256] = { 0 };
	struct perf_event_header h = { PERF_RECORD_MMAP2, PERF_RECORD_MISC_MMAP_BUILD_ID, 0 };
	size_t off = sizeof h;
	uint32_t pt[2] = { 5, 6 };
	uint64_t addr = 0x1000, mlen = 0x2000, pgoff = 0x3000;
	memcpy(m + off, pt, 8), off += 8;
	memcpy(m + off, &addr, 8), off += 8;
	memcpy(m + off, &mlen, 8), off += 8;
	memcpy(m + off, &pgoff, 8), off += 8;
	m[off] = 20;
	for (int i = 0; i < 20; i++)
		m[off + 4 + i] = (unsigned char)i;
	off += 24;
	uint32_t prot = 5, flags = 2;
	memcpy(m + off, &prot, 4), off += 4;
	memcpy(m + off, &flags, 4), off += 4;
	memcpy(m + off, "/bin/x\0\0", 8), off += 8;
	h.size = (uint16_t)off;
	memcpy(m, &h, sizeof h);
	perf_mmap2 mm;
	CHECK_EQ_INT(perf_mmap2_parse((struct perf_event_header *)m, &mm), 0);
	CHECK_EQ_INT(mm.pid, 5);
	CHECK_EQ_INT(mm.addr, 0x1000);
	CHECK_EQ_INT(mm.pgoff, 0x3000);
	CHECK_EQ_INT(mm.build_id_size, 20);
	CHECK(mm.build_id && mm.build_id[19] == 19);
	CHECK(strcmp(mm.filename, "/bin/x") == 0);
	/* a filename without its NUL is refused */
	memcpy(m + off - 8, "/bin/xyz", 8);
	CHECK_EQ_INT(perf_mmap2_parse((struct perf_event_header *)m, &mm), -EINVAL);
}

/* A COMM record with the sample_id trailer (pid/tid, time, cpu). */
static size_t make_comm(unsigned char *buf, uint32_t pid, const char *name, uint64_t time)
{
	struct perf_event_header h = { PERF_RECORD_COMM, 0, 0 };
	size_t off = sizeof h;
	uint32_t pt[2] = { pid, pid }, cpu[2] = { 0, 0 };
	memcpy(buf + off, pt, 8), off += 8;
	memset(buf + off, 0, 16);
	strcpy((char *)buf + off, name);
	off += 16;
	memcpy(buf + off, pt, 8), off += 8;
	memcpy(buf + off, &time, 8), off += 8;
	memcpy(buf + off, cpu, 8), off += 8;
	h.size = (uint16_t)off;
	memcpy(buf, &h, sizeof h);
	return off;
}

static uint64_t seen[64];
static size_t n_seen;

static void collect(void *ctx, const struct perf_event_header *h)
{
	(void)ctx;
	if (n_seen < 64)
		seen[n_seen++] = perf_record_time(h, EMBER_SAMPLE_TYPE_FP);
}

static void test_merge(void)
{
	fake f[3];
	perf_ring r[3];
	perf_ring *rings[3] = { &r[0], &r[1], &r[2] };
	for (int i = 0; i < 3; i++) {
		fake_init(&f[i]);
		perf_ring_init(&r[i], f[i].mem, PAGE, DATA);
	}
	/* ring 0 starts near its end, so its records wrap */
	unsigned char filler[DATA - 24] = { 0 };
	struct perf_event_header fh = { PERF_RECORD_UNTHROTTLE, 0, sizeof filler };
	memcpy(filler, &fh, sizeof fh);
	fake_write(&f[0], filler, sizeof filler);
	perf_ring_begin(&r[0]);
	perf_ring_next(&r[0]);
	perf_ring_end(&r[0]);

	unsigned char rec[256];
	uint64_t ips[2] = { 0x1000, 0x2000 };
	/* times: ring0 10 40 50, ring1 20 (comm) 30 60, ring2 empty */
	uint64_t t0[3] = { 10, 40, 50 };
	for (int i = 0; i < 3; i++) {
		sample_time = t0[i];
		fake_write(&f[0], rec, make_sample(rec, 1, 1, ips, 2));
	}
	fake_write(&f[1], rec, make_comm(rec, 2, "x", 20));
	sample_time = 30;
	fake_write(&f[1], rec, make_sample(rec, 2, 2, ips, 2));
	sample_time = 60;
	fake_write(&f[1], rec, make_sample(rec, 2, 2, ips, 2));

	perf_merge m;
	CHECK_EQ_INT(perf_merge_init(&m, rings, 3, EMBER_SAMPLE_TYPE_FP), 0);
	n_seen = 0;
	CHECK_EQ_INT(perf_merge_pass(&m, collect, NULL), 6);
	uint64_t want[6] = { 10, 20, 30, 40, 50, 60 };
	CHECK_EQ_INT(n_seen, 6);
	for (size_t i = 0; i < 6 && i < n_seen; i++)
		CHECK_EQ_INT(seen[i], want[i]);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(f[i].meta->data_tail, f[i].head);   /* all released */
	n_seen = 0;
	CHECK_EQ_INT(perf_merge_pass(&m, collect, NULL), 0);
	perf_merge_fini(&m);
	for (int i = 0; i < 3; i++) {
		perf_ring_fini(&r[i]);
		free(f[i].mem);
	}
	sample_time = 123;
}

int main(void)
{
	test_merge();
	test_wrap();
	test_lost_and_garbage();
	test_decoders();
	return check_exit();
}
