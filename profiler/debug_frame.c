/* profiler/debug_frame.c — rewrites .debug_frame as an .eh_frame blob with
 * its search table (debug_frame.h). Pure byte work on a buffer: no I/O, no
 * libunwind. Runs once per binary; never on the per-sample path.
 *
 * Differences handled (DWARF 4 section 6.4.1 vs. the LSB .eh_frame format):
 * CIE id 0xffffffff -> 0; FDE CIE pointer = section offset -> distance back
 * from the field; absolute initial_location/address_range -> pc-relative
 * sdata4 through augmentation "zR"; CIE version 4's address and segment
 * sizes dropped (version 1, or 3 when the return-address register needs a
 * ULEB128). Call frame instructions are copied unchanged.
 */
#include "debug_frame.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct cie {
	uint64_t off; /* in .debug_frame */
	bool ok;
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra;
	const uint8_t *instr;
	size_t instr_len;
	size_t out_off; /* in the blob */
} cie;

typedef struct entry {
	int64_t start; /* initial_location - at_vaddr */
	uint32_t fde_off;
} entry;

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* LEB128 readers: false when the value runs past end. */
static bool uleb(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

static bool sleb(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	uint64_t r = 0;
	unsigned shift = 0;
	for (; *p < end && shift < 64;) {
		uint8_t c = *(*p)++;
		r |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80)) {
			if (shift < 64 && (c & 0x40))
				r |= ~0ull << shift;
			*v = (int64_t)r;
			return true;
		}
	}
	return false;
}

typedef struct out {
	uint8_t *p;
	size_t n, cap;
} out;

static void put(out *o, const void *src, size_t len)
{
	if (o->n + len <= o->cap)
		memcpy(o->p + o->n, src, len);
	o->n += len; /* an overflow shows as n > cap and is caught by the caller */
}

static void put_u8(out *o, uint8_t v)
{
	put(o, &v, 1);
}

static void put_u32(out *o, uint32_t v)
{
	put(o, &v, 4);
}

static void put_uleb(out *o, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		put_u8(o, (uint8_t)(c | (v ? 0x80 : 0)));
	} while (v);
}

static void put_sleb(out *o, int64_t v)
{
	for (;;) {
		uint8_t c = v & 0x7f;
		v >>= 7; /* arithmetic shift on gcc/clang */
		bool done = (v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40));
		put_u8(o, (uint8_t)(c | (done ? 0 : 0x80)));
		if (done)
			return;
	}
}

/* Pads the entry that started at `start` with DW_CFA_nop to a multiple of
 * 8 bytes and writes its length field. */
static void finish_entry(out *o, size_t start)
{
	while ((o->n - start) % 8)
		put_u8(o, 0);
	if (o->n <= o->cap) {
		uint32_t len = (uint32_t)(o->n - start - 4);
		memcpy(o->p + start, &len, 4);
	}
}

static bool parse_cie(const uint8_t *sec, uint64_t off, uint64_t end, cie *c)
{
	const uint8_t *p = sec + off + 8, *e = sec + end;
	memset(c, 0, sizeof *c);
	c->off = off;
	if (p >= e)
		return false;
	uint8_t version = *p++;
	if (version != 1 && version != 3 && version != 4)
		return false;
	if (p >= e || *p != 0) /* augmentation: only "" */
		return false;
	p++;
	if (version == 4) {
		if (e - p < 2 || p[0] != 8 || p[1] != 0) /* address size 8, no segment */
			return false;
		p += 2;
	}
	if (!uleb(&p, e, &c->code_align) || !sleb(&p, e, &c->data_align))
		return false;
	if (version == 1) {
		if (p >= e)
			return false;
		c->ra = *p++;
	} else if (!uleb(&p, e, &c->ra)) {
		return false;
	}
	c->instr = p;
	c->instr_len = (size_t)(e - p);
	c->ok = true;
	return true;
}

static int cmp_entry(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Steps to the next 32-bit DWARF entry after *end (start with *end = 0):
 * its offset, end and CIE id / CIE pointer. False at the end of the section
 * or at anything malformed (a 64-bit entry, a length past the end). */
static bool next_entry(const uint8_t *sec, size_t size, uint64_t *off, uint64_t *end, uint32_t *id)
{
	*off = *end;
	if (*off + 8 > size)
		return false;
	uint32_t len = rd32(sec + *off);
	if (len == 0xffffffffu || len < 4 || len > size - *off - 4)
		return false;
	*end = *off + 4 + len;
	*id = rd32(sec + *off + 4);
	return true;
}

int debug_frame_convert(const uint8_t *sec, size_t sec_size, uint64_t at_vaddr,
                        debug_frame_blob *res)
{
	memset(res, 0, sizeof *res);
	size_t n_cies = 0, n_fdes = 0;
	uint64_t off, end = 0;
	uint32_t id;
	while (next_entry(sec, sec_size, &off, &end, &id)) {
		if (id == 0xffffffffu)
			n_cies++;
		else
			n_fdes++;
	}
	if (!n_fdes)
		return -ENOENT;
	cie *cies = calloc(n_cies ? n_cies : 1, sizeof *cies);
	entry *ents = calloc(n_fdes, sizeof *ents);
	out o = {0};
	int ret = -ENOMEM;
	if (!cies || !ents)
		goto done;
	size_t k = 0;
	for (end = 0; next_entry(sec, sec_size, &off, &end, &id);) {
		if (id == 0xffffffffu)
			parse_cie(sec, off, end, &cies[k++]);
	}
	/* worst case: each CIE grows by its new header, each FDE keeps its size */
	o.cap = n_fdes * 8 + sec_size + n_cies * 32 + n_fdes * 8 + 16;
	o.p = malloc(o.cap);
	if (!o.p)
		goto done;
	o.n = n_fdes * 8; /* the table comes first */
	for (size_t i = 0; i < n_cies; i++) {
		cie *c = &cies[i];
		if (!c->ok)
			continue;
		size_t start = o.n;
		c->out_off = start;
		put_u32(&o, 0); /* length, filled in below */
		put_u32(&o, 0); /* CIE id */
		put_u8(&o, c->ra < 256 ? 1 : 3);
		put(&o, "zR", 3);
		put_uleb(&o, c->code_align);
		put_sleb(&o, c->data_align);
		if (c->ra < 256)
			put_u8(&o, (uint8_t)c->ra);
		else
			put_uleb(&o, c->ra);
		put_uleb(&o, 1);  /* augmentation data: */
		put_u8(&o, 0x1b); /* FDE addresses pcrel | sdata4 */
		put(&o, c->instr, c->instr_len);
		finish_entry(&o, start);
	}
	size_t n = 0;
	for (end = 0; next_entry(sec, sec_size, &off, &end, &id);) {
		if (id == 0xffffffffu || end - off < 24)
			continue;
		cie *c = NULL;
		for (size_t i = 0; i < n_cies; i++) /* few CIEs: usually one */
			if (cies[i].off == id) {
				c = &cies[i];
				break;
			}
		uint64_t loc = rd64(sec + off + 8), range = rd64(sec + off + 16);
		if (!c || !c->ok || range == 0 || range > INT32_MAX || loc < at_vaddr ||
		    loc - at_vaddr > INT32_MAX)
			continue; /* discarded (--gc-sections leaves location 0) or unusable */
		size_t start = o.n;
		put_u32(&o, 0);
		put_u32(&o, (uint32_t)(o.n - c->out_off));              /* back to the CIE */
		int64_t rel = (int64_t)(loc - at_vaddr) - (int64_t)o.n; /* pcrel */
		put_u32(&o, (uint32_t)(int32_t)rel);
		put_u32(&o, (uint32_t)range);
		put_uleb(&o, 0); /* no augmentation data */
		put(&o, sec + off + 24, (size_t)(end - off - 24));
		finish_entry(&o, start);
		if (start > INT32_MAX)
			continue;
		ents[n++] = (entry){(int64_t)(loc - at_vaddr), (uint32_t)start};
	}
	if (o.n > o.cap || o.n > INT32_MAX) {
		ret = -ENOMEM;
		goto done;
	}
	if (!n) {
		ret = -ENOENT;
		goto done;
	}
	qsort(ents, n, sizeof *ents, cmp_entry);
	/* unused table slots (skipped FDEs) stay in front of the CIEs, harmless:
	 * the table length is n */
	for (size_t i = 0; i < n; i++) {
		int32_t e[2] = {(int32_t)ents[i].start, (int32_t)ents[i].fde_off};
		memcpy(o.p + i * 8, e, 8);
	}
	res->data = o.p;
	res->size = o.n;
	res->n_fdes = n;
	o.p = NULL;
	ret = 0;
done:
	free(o.p);
	free(cies);
	free(ents);
	return ret;
}

void debug_frame_blob_free(debug_frame_blob *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}
