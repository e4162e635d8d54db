/* tests/core/test_gopclntab.c — the shared .gopclntab reader
 * (core/gopclntab.c) on a real Go binary, then on corrupted copies of its
 * table: truncated at many lengths and with bytes flipped, every lookup
 * must stay inside the buffer (run under ASan in CI) and never hang. A
 * Go 1.18 table is also rewritten in the Go 1.16 layout (no Go 1.16
 * compiler on the machine) and must answer every lookup alike.
 *
 * usage: test_gopclntab GO_BINARY VERSION   (VERSION: 118 or 120, the
 * layout the binary's Go release writes). Run by tests/symbolizer/
 * go_addr2line.py, which builds the binaries. */
#include "ember/gopclntab.h"

#include "../check.h"
#include "../rng.h"

#include <fcntl.h>
#include <gelf.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ull;
#define next_rand() test_rng_next(&rng)

/* Looks up n pcs spread over [lo, hi): everything the reader offers. */
static size_t exercise(const ember_gopcln *t, uint64_t lo, uint64_t hi, int n)
{
	size_t found = 0;
	for (int i = 0; i < n; i++) {
		uint64_t pc = lo + next_rand() % (hi - lo + 1);
		ember_gofunc f;
		if (!ember_gopcln_find(t, pc, &f))
			continue;
		found++;
		int32_t d;
		(void)ember_gopcln_sp_delta(t, &f, pc, &d);
		(void)ember_gopcln_is_top(t, &f);
		(void)ember_gopcln_name(t, &f);
		ember_goframe fr[16];
		size_t k = ember_gopcln_frames(t, &f, pc, fr, 16);
		for (size_t j = 0; j < k; j++)
			CHECK(fr[j].function && strlen(fr[j].function) < (1u << 20));
	}
	return found;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* t (1.18 layout) rewritten as Go 1.16 lays a table out: no text start in
 * the header, 16-byte function table entries with absolute pcs, _func with
 * an absolute entry and no flag byte, funcdata as absolute pointers. */
static uint8_t *as_116(const ember_gopcln *t, size_t *size)
{
	const uint8_t *d = t->data;
	size_t cap = t->pcln + (t->size - t->pcln) * 3 + 4096, at;
	uint8_t *b = calloc(1, cap);
	memcpy(b, d, t->pcln); /* header, names, CU and file tables, pctab */
	b[0] = 0xfa; /* magic 0xfffffffa */
	for (int i = 0; i < 7; i++) /* nfunc, nfiles, then the offsets */
		put64(b + 8 + 8 * i, get64(d + 8 + 8 * (i < 2 ? i : i + 1)));
	at = t->pcln + (t->nfunc + 1) * 16;
	for (uint64_t i = 0; i <= t->nfunc; i++) {
		const uint8_t *ft = d + t->pcln + i * 8;
		put64(b + t->pcln + i * 16, t->text + get32(ft));
		if (i == t->nfunc)
			break;
		const uint8_t *f = d + t->pcln + get32(ft + 4);
		at = (at + 7) & ~(size_t)7;
		put64(b + t->pcln + i * 16 + 8, at - t->pcln);
		uint32_t npcdata = get32(f + 28);
		uint8_t nfuncdata = f[39];
		put64(b + at, t->text + get32(f));  /* entry */
		memcpy(b + at + 8, f + 4, 32);      /* nameoff .. cuOffset */
		b[at + 40] = f[36];                 /* funcID */
		b[at + 43] = nfuncdata;
		memcpy(b + at + 44, f + 40, 4 * (size_t)npcdata);
		size_t fd = (at + 44 + 4 * (size_t)npcdata + 7) & ~(size_t)7;
		for (int k = 0; k < nfuncdata; k++) {
			uint32_t off = get32(f + 40 + 4 * npcdata + 4 * (size_t)k);
			put64(b + fd + 8 * (size_t)k, off == UINT32_MAX ? 0 : t->gofunc + off);
		}
		at = fd + 8 * (size_t)nfuncdata;
		CHECK(at + 256 < cap);
	}
	*size = at;
	return b;
}

static void check_116(const ember_gopcln *t, uint64_t lo, uint64_t hi)
{
	size_t size;
	uint8_t *b = as_116(t, &size);
	ember_gopcln o;
	CHECK_EQ_INT(ember_gopcln_init(&o, b, size, 0), 0);
	CHECK_EQ_INT(o.version, 116);
	o.ro = t->ro;
	o.ro_size = t->ro_size;
	o.ro_vaddr = t->ro_vaddr;
	size_t same = 0, n = 0, inlined = 0;
	for (uint64_t pc = lo; pc < hi; pc += 1 + next_rand() % 7, n++) {
		ember_gofunc f, g;
		bool a = ember_gopcln_find(t, pc, &f), c = ember_gopcln_find(&o, pc, &g);
		if (a != c || (a && (f.entry != g.entry || f.end != g.end)))
			continue;
		if (!a) {
			same++;
			continue;
		}
		int32_t d1 = -1, d2 = -1;
		ember_goframe x[16], y[16];
		size_t k1 = ember_gopcln_frames(t, &f, pc, x, 16);
		size_t k2 = ember_gopcln_frames(&o, &g, pc, y, 16);
		bool eq = ember_gopcln_sp_delta(t, &f, pc, &d1) ==
		              ember_gopcln_sp_delta(&o, &g, pc, &d2) &&
		          d1 == d2 && k1 == k2;
		for (size_t k = 0; eq && k < k1; k++)
			eq = strcmp(x[k].function, y[k].function) == 0 && x[k].line == y[k].line &&
			     (x[k].file == y[k].file ||
			      (x[k].file && y[k].file && strcmp(x[k].file, y[k].file) == 0));
		inlined += k1 > 1;
		same += eq;
	}
	fprintf(stderr, "as Go 1.16: %zu of %zu pcs answered alike (%zu inlined)\n", same, n,
	        inlined);
	CHECK_EQ_INT(same, n);
	CHECK(inlined > 0);
	free(b);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: test_gopclntab GO_BINARY VERSION\n");
		return 2;
	}
	elf_version(EV_CURRENT);
	int fd = open(argv[1], O_RDONLY);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	ember_gopcln t;
	CHECK(elf && ember_gopcln_from_elf(&t, elf) == 0);
	if (check_failures)
		return check_exit();
	CHECK_EQ_INT(t.version, atoi(argv[2]));
	CHECK(t.nfunc > 1000);
	CHECK(t.ro != NULL); /* moduledata found: inline trees readable */

	/* every function: found at its entry, named, SP delta 0 at entry */
	ember_gofunc first, last;
	CHECK(ember_gopcln_find(&t, t.text, &first) || t.text == 0);
	size_t named = 0, tops = 0, zero_at_entry = 0;
	bool goexit_top = false, main_top = true;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint64_t pc = 0, i = 0; i < t.nfunc; i++) {
		ember_gofunc f;
		/* walk the table through lookups: entry of the next function */
		if (i == 0) {
			CHECK(ember_gopcln_find(&t, first.entry, &f));
		} else if (!ember_gopcln_find(&t, pc, &f)) {
			CHECK(!"function table has a hole");
			break;
		}
		if (f.entry < lo)
			lo = f.entry;
		if (f.end > hi)
			hi = f.end;
		const char *n = ember_gopcln_name(&t, &f);
		named += n != NULL;
		int32_t d;
		zero_at_entry += ember_gopcln_sp_delta(&t, &f, f.entry, &d) && d == 0;
		bool top = ember_gopcln_is_top(&t, &f);
		tops += top;
		if (n && strcmp(n, "runtime.goexit") == 0)
			goexit_top = top;
		if (n && strcmp(n, "main.main") == 0)
			main_top = top;
		last = f;
		pc = f.end;
	}
	(void)last;
	CHECK_EQ_INT(named, t.nfunc);
	CHECK(zero_at_entry > t.nfunc * 9 / 10);
	CHECK(goexit_top && !main_top && tops >= 2 && tops < 20);
	size_t found = exercise(&t, lo, hi, 2000);
	CHECK(found > 1900);
	if (t.version == 118)
		check_116(&t, lo, hi);

	/* corrupted copies, each in a buffer of its exact size */
	const uint8_t *orig = t.data;
	size_t size = t.size;
	for (int round = 0; round < 300; round++) {
		size_t n = round < 100 ? size * (size_t)round / 100 : size;
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, orig, n);
		if (round >= 100)
			for (int k = 0; k < 1 + round % 8; k++) {
				/* most flips in the header and function table */
				size_t at = round % 2 ? next_rand() % 4096 : next_rand();
				copy[at % n] ^= (uint8_t)(1 + next_rand() % 255);
			}
		ember_gopcln c;
		if (ember_gopcln_init(&c, copy, n, t.text) == 0) {
			c.ro = t.ro;
			c.ro_size = t.ro_size;
			c.ro_vaddr = t.ro_vaddr;
			c.gofunc = t.gofunc;
			(void)exercise(&c, lo, hi, 300);
		}
		free(copy);
	}
	elf_end(elf);
	close(fd);
	return check_exit();
}
