/* ember/gopclntab.h — Go's runtime symbol table (.gopclntab), read in place
 * (core/gopclntab.c, core/gopclntab_elf.c).
 *
 * Shared by two wings that may not call each other: the symbolizer names
 * functions, files, lines and inlined calls from it (Go binaries without
 * DWARF, `-ldflags=-s -w` included); the profiler's unwinder takes the SP
 * delta per pc (pcsp) and the top-of-stack flag from it. One reader, here.
 *
 * Layouts by header magic: Go 1.16-1.17 (0xfffffffa), 1.18-1.19
 * (0xfffffff0), 1.20 and later (0xfffffff1); 64-bit little-endian only.
 * Every read is bounds-checked against the section: a corrupt table gives
 * "not found", never a crash. Nothing is copied or allocated: strings point
 * into the table, which the caller keeps alive (and its Elf, for _elf).
 */
#ifndef EMBER_GOPCLNTAB_H
#define EMBER_GOPCLNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

typedef struct ember_gopcln {
	const uint8_t *data; /* the .gopclntab section */
	size_t size;
	int version; /* 116, 118 or 120 */
	uint8_t quantum;
	uint64_t nfunc;
	uint64_t text;   /* function entries count from here (1.18+) */
	uint64_t vaddr;  /* where the section is loaded (link time), or 0 */
	size_t funcnames, cutab, filetab, pctab, pcln; /* offsets in data */
	/* read-only memory holding the inline trees: funcdata offsets count
	 * from gofunc (1.18+), or are absolute addresses (1.16) */
	const uint8_t *ro;
	size_t ro_size;
	uint64_t ro_vaddr, gofunc;
} ember_gopcln;

/* One function of the table. */
typedef struct ember_gofunc {
	size_t off;          /* of its _func record in data */
	uint64_t entry, end; /* [entry, end) */
} ember_gofunc;

/* One frame at a pc, innermost first. Strings point into the table. */
typedef struct ember_goframe {
	const char *function;
	const char *file; /* NULL when unknown */
	int line;
	int start_line; /* the func line (1.20+), else 0 */
} ember_goframe;

/* Reads the header of a .gopclntab section (data, size). text: where the
 * text section starts, used when the header has no text start (1.16) or an
 * unrelocated 0 (PIE). 0, or -EINVAL when it is no table this reads. */
int ember_gopcln_init(ember_gopcln *t, const uint8_t *data, size_t size, uint64_t text);

/* The function holding pc; false when none. */
bool ember_gopcln_find(const ember_gopcln *t, uint64_t pc, ember_gofunc *out);

const char *ember_gopcln_name(const ember_gopcln *t, const ember_gofunc *f);

/* The SP at pc is the SP at entry minus *delta (pcsp): the return address
 * sits at SP + *delta. False when the table has no value for pc. */
bool ember_gopcln_sp_delta(const ember_gopcln *t, const ember_gofunc *f, uint64_t pc,
                           int32_t *delta);

/* Whether f starts a stack (runtime.goexit, mstart, rt0_go...): there is no
 * caller to unwind to. */
bool ember_gopcln_is_top(const ember_gopcln *t, const ember_gofunc *f);

/* Frames at pc (inlined calls first, f itself last); how many, at most max. */
size_t ember_gopcln_frames(const ember_gopcln *t, const ember_gofunc *f, uint64_t pc,
                           ember_goframe *out, size_t max);

/* Finds .gopclntab in an ELF, its text start and, where moduledata can be
 * found (non-PIE executables), the inline trees. 0, or -ENOENT when the
 * file has no Go table (-EINVAL when it has a corrupt one). Pointers stay
 * valid while elf is open. */
int ember_gopcln_from_elf(ember_gopcln *t, Elf *elf);

#endif
