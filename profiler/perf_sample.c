/* profiler/perf_sample.c — decoders of perf_sample.h. Pure functions over a
 * record's bytes: no allocation, no syscalls, no state. Every length read
 * from a record is checked against the record's size before use. */
#include "perf_sample.h"

#include <errno.h>
#include <string.h>

typedef struct cursor {
	const unsigned char *p, *end;
} cursor;

static bool take(cursor *c, void *dst, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return false;
	memcpy(dst, c->p, n);
	c->p += n;
	return true;
}

static bool take_u64(cursor *c, uint64_t *v)
{
	return take(c, v, sizeof *v);
}

/* Returns a pointer to n u64s in the record (records are 8-byte aligned). */
static const uint64_t *take_u64s(cursor *c, uint64_t n)
{
	if (n > (uint64_t)(c->end - c->p) / 8)
		return NULL;
	const uint64_t *r = (const uint64_t *)(const void *)c->p;
	c->p += n * 8;
	return r;
}

static cursor body(const struct perf_event_header *h)
{
	const unsigned char *b = (const unsigned char *)h;
	return (cursor){ b + sizeof *h, b + h->size };
}

int perf_sample_parse(const struct perf_event_header *h, uint64_t sample_type,
		      uint64_t regs_mask, perf_sample *out)
{
	memset(out, 0, sizeof *out);
	out->misc = h->misc;
	cursor c = body(h);
	uint32_t pair[2];
	if ((sample_type & PERF_SAMPLE_IP) && !take_u64(&c, &out->ip))
		return -EINVAL;
	if (sample_type & PERF_SAMPLE_TID) {
		if (!take(&c, pair, sizeof pair))
			return -EINVAL;
		out->pid = pair[0];
		out->tid = pair[1];
	}
	if ((sample_type & PERF_SAMPLE_TIME) && !take_u64(&c, &out->time))
		return -EINVAL;
	if (sample_type & PERF_SAMPLE_CPU) {
		if (!take(&c, pair, sizeof pair))
			return -EINVAL;
		out->cpu = pair[0];
	}
	if ((sample_type & PERF_SAMPLE_PERIOD) && !take_u64(&c, &out->period))
		return -EINVAL;
	if ((sample_type & PERF_SAMPLE_READ) && !take_u64(&c, &out->count))
		return -EINVAL;   /* read_format 0: the value alone */
	if (sample_type & PERF_SAMPLE_CALLCHAIN) {
		if (!take_u64(&c, &out->n_chain))
			return -EINVAL;
		out->chain = take_u64s(&c, out->n_chain);
		if (!out->chain && out->n_chain)
			return -EINVAL;
	}
	if (sample_type & PERF_SAMPLE_REGS_USER) {
		if (!take_u64(&c, &out->regs_abi))
			return -EINVAL;
		if (out->regs_abi != PERF_SAMPLE_REGS_ABI_NONE) {
			/* bits set in the mask (no __builtin_popcount: without
			 * -mpopcnt it drags libgcc's __popcountdi2 in) */
			size_t n = 0;
			for (uint64_t m = regs_mask; m; m &= m - 1)
				n++;
			out->n_regs = n;
			out->regs = take_u64s(&c, out->n_regs);
			if (!out->regs && out->n_regs)
				return -EINVAL;
		}
	}
	if (sample_type & PERF_SAMPLE_STACK_USER) {
		uint64_t size;
		if (!take_u64(&c, &size))
			return -EINVAL;
		if (size) {
			if (size > (uint64_t)(c.end - c.p))
				return -EINVAL;
			out->stack = c.p;
			c.p += size;
			uint64_t dyn;
			if (!take_u64(&c, &dyn) || dyn > size)
				return -EINVAL;
			out->stack_size = dyn;
		}
	}
	/* WEIGHT .. PHYS_ADDR lie between: ember never asks for them */
	if ((sample_type & PERF_SAMPLE_CGROUP) && !take_u64(&c, &out->cgroup))
		return -EINVAL;
	return 0;
}

uint32_t perf_sample_frames(const perf_sample *ps, uint64_t *f, uint32_t max)
{
	uint32_t n = 0;
	for (uint64_t i = 0; i < ps->n_chain && n < max; i++) {
		uint64_t ip = ps->chain[i];
		if (perf_chain_is_context(ip) || ip == 0)
			continue;
		f[n] = n == 0 ? ip : ip - 1;
		n++;
	}
	return n;
}

/* A string field: NUL-terminated within the record. */
static const char *take_str(cursor *c)
{
	const char *s = (const char *)c->p;
	const void *nul = memchr(c->p, '\0', (size_t)(c->end - c->p));
	if (!nul)
		return NULL;
	c->p = (const unsigned char *)nul + 1;
	return s;
}

int perf_mmap2_parse(const struct perf_event_header *h, perf_mmap2 *out)
{
	memset(out, 0, sizeof *out);
	cursor c = body(h);
	uint32_t pair[2];
	if (!take(&c, pair, sizeof pair))
		return -EINVAL;
	out->pid = pair[0];
	out->tid = pair[1];
	if (!take_u64(&c, &out->addr) || !take_u64(&c, &out->len) || !take_u64(&c, &out->pgoff))
		return -EINVAL;
	unsigned char u[24];   /* maj, min, ino, ino_generation | build id */
	const unsigned char *ustart = c.p;
	if (!take(&c, u, sizeof u))
		return -EINVAL;
	if (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
		out->build_id_size = u[0] > 20 ? 20 : u[0];
		out->build_id = ustart + 4;
	} else {
		memcpy(&out->maj, u, 4);
		memcpy(&out->min, u + 4, 4);
		memcpy(&out->ino, u + 8, 8);
	}
	if (!take(&c, &out->prot, 4) || !take(&c, &out->flags, 4))
		return -EINVAL;
	out->filename = take_str(&c);
	return out->filename ? 0 : -EINVAL;
}

int perf_comm_parse(const struct perf_event_header *h, perf_comm *out)
{
	cursor c = body(h);
	uint32_t pair[2];
	if (!take(&c, pair, sizeof pair))
		return -EINVAL;
	out->pid = pair[0];
	out->tid = pair[1];
	out->exec = h->misc & PERF_RECORD_MISC_COMM_EXEC;
	out->comm = take_str(&c);
	return out->comm ? 0 : -EINVAL;
}

int perf_cgroup_parse(const struct perf_event_header *h, perf_cgroup *out)
{
	cursor c = body(h);
	if (h->type != PERF_RECORD_CGROUP || !take_u64(&c, &out->id))
		return -EINVAL;
	out->path = take_str(&c);
	return out->path ? 0 : -EINVAL;
}

int perf_task_parse(const struct perf_event_header *h, perf_task *out)
{
	cursor c = body(h);
	uint32_t v[4];
	if (!take(&c, v, sizeof v) || !take_u64(&c, &out->time))
		return -EINVAL;
	out->pid = v[0];
	out->ppid = v[1];
	out->tid = v[2];
	out->ptid = v[3];
	return 0;
}

int perf_lost_parse(const struct perf_event_header *h, uint64_t *lost)
{
	cursor c = body(h);
	uint64_t id;
	if (!take_u64(&c, &id) || !take_u64(&c, lost))
		return -EINVAL;
	return 0;
}

uint64_t perf_record_time(const struct perf_event_header *h, uint64_t sample_type)
{
	if (!(sample_type & PERF_SAMPLE_TIME))
		return 0;
	size_t off;
	if (h->type == PERF_RECORD_SAMPLE) {
		/* IDENTIFIER, IP, TID precede TIME */
		off = sizeof *h + 8 * (size_t)(!!(sample_type & PERF_SAMPLE_IDENTIFIER) +
					       !!(sample_type & PERF_SAMPLE_IP) +
					       !!(sample_type & PERF_SAMPLE_TID));
	} else {
		/* the trailer: TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER */
		size_t after = 8 * (size_t)(1 + !!(sample_type & PERF_SAMPLE_ID) +
					    !!(sample_type & PERF_SAMPLE_STREAM_ID) +
					    !!(sample_type & PERF_SAMPLE_CPU) +
					    !!(sample_type & PERF_SAMPLE_IDENTIFIER));
		if (h->size < sizeof *h + after)
			return 0;
		off = h->size - after;
	}
	if (off + 8 > h->size)
		return 0;
	uint64_t t;
	memcpy(&t, (const unsigned char *)h + off, 8);
	return t;
}
