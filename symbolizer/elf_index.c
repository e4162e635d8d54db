/* symbolizer/elf_index.c — the index of one binary: every function range,
 * every inlined-instance range and every line row, read once with libdw into
 * sorted arrays, plus the ELF symbol table and PT_LOAD segments. Lookups are
 * binary searches over those arrays; libdw is never asked per address.
 *
 * How it is built:
 *  - functions: a walk over each CU's DIE tree keeps DW_TAG_subprogram with
 *    code (ranges) and DW_TAG_inlined_subroutine (parent = the enclosing
 *    instance, call site = DW_AT_call_file/DW_AT_call_line). Their ranges are
 *    then flattened by a sweep into non-overlapping intervals, each naming the
 *    innermost instance that covers it; the parent links give the chain.
 *  - lines: all rows of all line tables, sorted by address. At one address
 *    the last row of the sequence wins (binutils does the same); an
 *    end_sequence row leaves a hole (no line) up to the next row.
 *  - symbols: .symtab of the debug file, else of the binary, else .dynsym;
 *    function symbols with their sizes, used when DWARF names nothing.
 *
 *  - lazily (EI_BUILD_LAZY, for profiles): first only an address -> CU map
 *    from each CU DIE's low/high_pc or DW_AT_ranges (no DIE walk, no line
 *    program), then the three steps above for one CU, into an elf_index of
 *    its own (cus[].sub), the first time an address in it is asked. When
 *    the map cannot stand in for the whole index (a CU with line rows but
 *    no ranges, CUs overlapping, unreadable ranges) everything is indexed
 *    at once as without the flag.
 *
 * Invariants: ranges[] and rows[] are sorted by address; ranges[] do not
 * overlap; every node's parent index is smaller than the node's own.
 * Strings point into libdw/libelf data, alive as long as the index.
 * Must never: open files (debuginfo.c does), or crash on corrupt input.
 */
#include "elf_index.h"
#include "ember/elf_section.h"
#include "ember/gopclntab.h"
#include "ember/grow.h"
#include "demangle.h"
#include "dwarf_sections.h"
#include "line_table.h"
#include "upper_bound.h"

#include <assert.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/buf.h"

enum { MAX_DIE_DEPTH = 128 };

typedef struct ei_node {
	const char *name;    /* DW_AT_name (through origin/specification) */
	const char *linkage; /* DW_AT_linkage_name, or NULL */
	const char *decl_file;
	const char *call_file; /* inlined instances: the call site */
	char *demangled;       /* computed on first use, owned */
	int32_t parent;        /* -1 for an out-of-line function */
	uint32_t depth;        /* 0 for a subprogram, +1 per inline level */
	uint32_t decl_line;
	uint32_t call_line;
	bool demangle_tried;
	bool mangling_lang;  /* its CU's language mangles names (C++, Rust...) */
	bool symtab_checked; /* binutils mode: the symbol table was asked */
	const char *renamed; /* binutils mode: the name it then took */
	uint64_t low;        /* its first range's start */
} ei_node;

typedef struct ei_range {
	uint64_t lo, hi;
	int32_t node;
	uint32_t depth;
} ei_range;

typedef struct ei_row {
	uint64_t addr;
	const char *file; /* NULL: a hole after an end_sequence */
	uint32_t line;
	uint32_t column;
	uint32_t disc;
	uint32_t order; /* input order, for a stable sort */
} ei_row;

typedef struct ei_sym {
	uint64_t lo, hi;
	uint64_t sec_hi; /* end of the symbol's section */
	const char *name;
	const char *file; /* local symbols: the STT_FILE before them */
	uint32_t order;   /* index in the symbol table */
	char *demangled;
	bool demangle_tried;
	bool global;
} ei_sym;

typedef struct ei_seg {
	uint64_t off, vaddr, filesz, memsz;
	bool exec;
} ei_seg;

typedef struct ei_cu {
	Dwarf_Die die;
	elf_index *sub; /* NULL until indexed */
	bool tried;
} ei_cu;

typedef struct ei_cuspan {
	uint64_t lo, hi;
	size_t cu;
} ei_cuspan;

struct elf_index {
	ei_file bin, dbg;
	Dwarf *dw;
	ei_node *nodes;
	size_t n_nodes;
	ei_range *ranges;
	size_t n_ranges;
	ei_row *rows;
	size_t n_rows;
	ei_sym *syms;
	size_t n_syms;
	ei_seg *segs;
	size_t n_segs;
	char **owned; /* joined file paths */
	size_t n_owned, cap_owned;
	bool dwarf_error;
	/* lazy mode: the address -> CU map, and each CU's own index (nodes,
	 * ranges, rows only) built when an address in it is first asked */
	bool lazy;
	lt_sections secs;
	ei_cu *cus;
	size_t n_cus;
	ei_cuspan *spans; /* sorted, non-overlapping */
	size_t n_spans;
	ds_buffers inflated; /* back dbg's decompressed sections */
	/* Go's own table (ember/gopclntab.h), answering where DWARF does not */
	ember_gopcln go;
	bool has_go;
};

/* ---- building ---------------------------------------------------------- */

typedef struct builder {
	ember_buf nodes, ranges, rows, syms;
	ember_buf runs; /* size_t: where each CU's rows start */
	uint32_t row_order;
	/* the current CU's file table (line_table.c), for DW_AT_call_file */
	lt_unit unit;
	Dwarf_CU *cu;
	bool mangling_lang;
	ember_buf lrows, seqs; /* the current CU's lt_rows and sequences */
} builder;

/* The file of index i in the current CU's line table, or NULL. */
static const char *unit_file(const builder *b, uint64_t i)
{
	return i < b->unit.n_files ? b->unit.files[i] : NULL;
}

/* Whether a language's function names are mangled into linkage names; for
 * these binutils trusts only DW_AT_linkage_name and otherwise asks the
 * symbol table (its dwarf2.c non_mangled()). */
static bool lang_mangles(int lang)
{
	switch (lang) {
	case DW_LANG_C89:
	case DW_LANG_C:
	case DW_LANG_Ada83:
	case DW_LANG_Cobol74:
	case DW_LANG_Cobol85:
	case DW_LANG_Fortran77:
	case DW_LANG_Pascal83:
	case DW_LANG_C99:
	case DW_LANG_Ada95:
	case DW_LANG_PLI:
	case DW_LANG_UPC:
	case DW_LANG_C11:
	case DW_LANG_Mips_Assembler:
		return false;
	default:
		return true;
	}
}

static const char *attr_string(Dwarf_Die *die, int name)
{
	Dwarf_Attribute a;
	return dwarf_formstring(dwarf_attr_integrate(die, name, &a));
}

static uint32_t attr_udata(Dwarf_Die *die, int name)
{
	Dwarf_Attribute a;
	Dwarf_Word w = 0;
	if (!dwarf_attr(die, name, &a) || dwarf_formudata(&a, &w) != 0 || w > UINT32_MAX)
		return 0;
	return (uint32_t)w;
}

/* Adds the DIE's code ranges; returns how many (0: no code). A read error
 * sets *bad and keeps the ranges read so far. */
static int add_ranges(builder *b, Dwarf_Die *die, int32_t node, uint32_t depth, bool *bad)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	int n = 0;
	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		/* Address 0 is where the linker leaves discarded functions. */
		if (hi <= lo || lo == 0)
			continue;
		ei_range r = {lo, hi, node, depth};
		ember_buf_append(&b->ranges, &r, sizeof r);
		if (n++ == 0 && ember_buf_ok(&b->nodes))
			((ei_node *)b->nodes.data)[node].low = lo;
	}
	if (off < 0)
		*bad = true;
	return n;
}

static int32_t add_node(builder *b, Dwarf_Die *die, int32_t parent)
{
	ei_node n = {0};
	n.name = attr_string(die, DW_AT_name);
	n.linkage = attr_string(die, DW_AT_linkage_name);
	if (!n.linkage)
		n.linkage = attr_string(die, DW_AT_MIPS_linkage_name);
	Dwarf_Attribute fa;
	Dwarf_Word fi;
	if (dwarf_attr_integrate(die, DW_AT_decl_file, &fa) && dwarf_formudata(&fa, &fi) == 0)
		/* an origin in another CU counts in that CU's file table */
		n.decl_file = fa.cu == b->cu ? unit_file(b, fi) : dwarf_decl_file(die);
	int line = 0;
	if (dwarf_decl_line(die, &line) == 0 && line > 0)
		n.decl_line = (uint32_t)line;
	n.parent = parent;
	n.mangling_lang = b->mangling_lang;
	if (parent >= 0) {
		const ei_node *p = (const ei_node *)b->nodes.data + parent;
		n.depth = p->depth + 1;
		n.call_file = unit_file(b, attr_udata(die, DW_AT_call_file));
		n.call_line = attr_udata(die, DW_AT_call_line);
	}
	size_t idx = b->nodes.len / sizeof n;
	if (idx >= INT32_MAX)
		return -1;
	ember_buf_append(&b->nodes, &n, sizeof n);
	return (int32_t)idx;
}

/* Drops the node just added (it turned out to have no code). */
static void drop_last_node(builder *b)
{
	assert(b->nodes.len >= sizeof(ei_node));
	b->nodes.len -= sizeof(ei_node);
}

static bool walk_cu(elf_index *ix, builder *b, Dwarf_Die *cudie)
{
	struct {
		Dwarf_Die die;
		int32_t node;
	} stack[MAX_DIE_DEPTH];
	if (dwarf_child(cudie, &stack[0].die) != 0)
		return true;
	stack[0].node = -1;
	int sp = 0;
	while (sp >= 0) {
		Dwarf_Die *die = &stack[sp].die;
		int32_t parent = stack[sp].node, me = parent;
		bool descend = false;
		switch (dwarf_tag(die)) {
		case DW_TAG_subprogram: {
			/* A nested function is a function of its own. */
			int32_t n = add_node(b, die, -1);
			if (n < 0)
				return false;
			const ei_node *nn = (const ei_node *)b->nodes.data + n;
			int r = add_ranges(b, die, n, nn->depth, &ix->dwarf_error);
			if (r == 0) {
				drop_last_node(b);
				break;
			}
			me = n;
			descend = true;
			break;
		}
		case DW_TAG_inlined_subroutine: {
			if (parent < 0)
				break;
			int32_t n = add_node(b, die, parent);
			if (n < 0)
				return false;
			const ei_node *nn = (const ei_node *)b->nodes.data + n;
			int r = add_ranges(b, die, n, nn->depth, &ix->dwarf_error);
			me = n;
			descend = true;
			if (r == 0) {
				/* No code of its own; its children (if any) belong
				 * to the enclosing instance. */
				drop_last_node(b);
				me = parent;
			}
			break;
		}
		case DW_TAG_lexical_block:
			descend = parent >= 0;
			break;
		case DW_TAG_namespace:
		case DW_TAG_module:
			descend = parent < 0;
			break;
		default:
			break;
		}
		if (!ember_buf_ok(&b->nodes) || !ember_buf_ok(&b->ranges))
			return false;
		if (descend && sp + 1 < MAX_DIE_DEPTH &&
		    dwarf_child(die, &stack[sp + 1].die) == 0) {
			stack[sp + 1].node = me;
			sp++;
			continue;
		}
		while (sp >= 0) {
			int r = dwarf_siblingof(&stack[sp].die, &stack[sp].die);
			if (r == 0)
				break;
			if (r < 0)
				ix->dwarf_error = true;
			sp--;
		}
	}
	return true;
}

/* Keeps file path strings for the life of the index. */
static bool own_strings(elf_index *ix, char **strs, size_t n)
{
	if (!ember_grow((void **)&ix->owned, &ix->cap_owned, ix->n_owned + n, sizeof *ix->owned))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strs[i])
			ix->owned[ix->n_owned++] = strs[i];
	return true;
}

/* Decodes the CU's line program (line_table.c) into rows and its file
 * table (b->unit, for the DIE walk). */
static void read_lines(elf_index *ix, builder *b, Dwarf_Die *cudie, const lt_sections *secs)
{
	Dwarf_Attribute a;
	Dwarf_Word off;
	b->unit = (lt_unit){0};
	if (!dwarf_attr(cudie, DW_AT_stmt_list, &a) || dwarf_formudata(&a, &off) != 0)
		return;
	const char *comp_dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &a));
	b->lrows.len = 0;
	b->seqs.len = 0;
	int r = line_table_read(secs, off, comp_dir, &b->lrows, &b->seqs, &b->unit);
	if (r < 0)
		ix->dwarf_error = true;
	if (!own_strings(ix, b->unit.files, b->unit.n_files)) {
		lt_unit_free(&b->unit);
		return;
	}
	const lt_row *lr = (const lt_row *)b->lrows.data;
	size_t n = b->lrows.len / sizeof *lr, base = b->rows.len / sizeof(ei_row);
	const size_t *seq = (const size_t *)b->seqs.data;
	for (size_t i = 0; i < b->seqs.len / sizeof *seq; i++) {
		size_t start = base + seq[i];
		ember_buf_append(&b->runs, &start, sizeof start);
	}
	for (size_t i = 0; i < n; i++) {
		ei_row row = {.addr = lr[i].addr, .order = b->row_order++};
		if (!lr[i].end) {
			row.file = unit_file(b, lr[i].file);
			if (!row.file)
				row.file = "??";
			row.line = lr[i].line;
			row.column = lr[i].column;
			row.disc = lr[i].disc;
		}
		ember_buf_append(&b->rows, &row, sizeof row);
	}
}

static int cmp_range(const void *a, const void *b)
{
	const ei_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

static void emit(ei_range *out, size_t *n, uint64_t lo, uint64_t hi, int32_t node)
{
	if (hi <= lo)
		return;
	if (*n && out[*n - 1].hi == lo && out[*n - 1].node == node) {
		out[*n - 1].hi = hi;
		return;
	}
	out[(*n)++] = (ei_range){lo, hi, node, 0};
}

/* Turns nested ranges into non-overlapping intervals naming the innermost
 * instance. Each input range adds at most two output intervals. */
static bool flatten_ranges(elf_index *ix, ei_range *in, size_t n)
{
	if (n)
		qsort(in, n, sizeof *in, cmp_range);
	ei_range *out = malloc((2 * n + 1) * sizeof *out);
	ei_range *stack = malloc((n + 1) * sizeof *stack);
	if (!out || !stack) {
		free(out);
		free(stack);
		return false;
	}
	size_t no = 0, sp = 0;
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		ei_range e = in[i];
		while (sp && stack[sp - 1].hi <= e.lo) {
			ei_range top = stack[--sp];
			if (pos < top.hi) {
				emit(out, &no, pos, top.hi, top.node);
				pos = top.hi;
			}
		}
		if (sp) {
			emit(out, &no, pos, e.lo, stack[sp - 1].node);
			if (e.hi > stack[sp - 1].hi)
				e.hi = stack[sp - 1].hi; /* improperly nested: clamp */
		}
		if (pos < e.lo)
			pos = e.lo;
		stack[sp++] = e;
	}
	while (sp) {
		ei_range top = stack[--sp];
		if (pos < top.hi) {
			emit(out, &no, pos, top.hi, top.node);
			pos = top.hi;
		}
	}
	free(stack);
	for (size_t i = 1; i < no; i++)
		assert(out[i - 1].hi <= out[i].lo);
	ix->ranges = out;
	ix->n_ranges = no;
	return true;
}

static int cmp_row(const void *a, const void *b)
{
	const ei_row *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* At one address an end of sequence sorts before a start, so the
	 * sequence that starts there is not shadowed. */
	if ((x->file == NULL) != (y->file == NULL))
		return x->file == NULL ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts rows and keeps one per address: the last real row, else the hole.
 * libdw sorts an end_sequence before a normal row at the same address, and
 * does not say whether that row is an empty last row of the ending sequence
 * or the first of one starting there. Function ranges decide: a row at an
 * address inside a function starts code; outside, it is the empty tail. */
static bool rows_sorted(const ei_row *rows, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (cmp_row(&rows[i - 1], &rows[i]) > 0)
			return false;
	return true;
}

/* Puts rows in cmp_row order. libdw hands each CU's rows already sorted
 * that way, so the CU runs are merged pairwise (O(n log runs)) instead of
 * sorted afresh; a full sort is the fallback when a run is not in order.
 * Returns the array to use (rows itself, or a new one; the other is freed). */
static ei_row *sort_rows(ei_row *rows, size_t n, const size_t *starts, size_t n_runs)
{
	if (rows_sorted(rows, n))
		return rows;
	size_t *bound = malloc((n_runs + 1) * sizeof *bound);
	ei_row *tmp = malloc((n ? n : 1) * sizeof *tmp);
	bool runs_ok = bound && tmp && n_runs;
	for (size_t i = 0; runs_ok && i < n_runs; i++) {
		size_t end = i + 1 < n_runs ? starts[i + 1] : n;
		runs_ok = rows_sorted(rows + starts[i], end - starts[i]);
		bound[i] = starts[i];
	}
	if (!runs_ok) {
		free(bound);
		free(tmp);
		qsort(rows, n, sizeof *rows, cmp_row);
		return rows;
	}
	bound[n_runs] = n;
	size_t k = n_runs;
	while (k > 1) {
		size_t nk = 0;
		for (size_t i = 0; i < k; i += 2) {
			size_t lo = bound[i], mid = bound[i + 1 < k ? i + 1 : k];
			size_t hi = i + 2 <= k ? bound[i + 2 < k ? i + 2 : k] : mid;
			size_t x = lo, y = mid, o = lo;
			while (x < mid && y < hi)
				tmp[o++] = cmp_row(&rows[y], &rows[x]) < 0 ? rows[y++] : rows[x++];
			while (x < mid)
				tmp[o++] = rows[x++];
			while (y < hi)
				tmp[o++] = rows[y++];
			bound[nk++] = lo;
		}
		bound[nk] = n;
		ei_row *t = rows;
		rows = tmp;
		tmp = t;
		k = nk;
	}
	free(bound);
	free(tmp);
	assert(rows_sorted(rows, n));
	return rows;
}

/* Keeps one row per address. Within a sequence the line table reader
 * already dropped rows left empty; what remains at one address is the end
 * of one sequence and the start of another, sorted end first, so the last
 * row wins. */
static void finish_rows(elf_index *ix, ei_row *rows, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o && rows[o - 1].addr == rows[i].addr)
			rows[o - 1] = rows[i];
		else
			rows[o++] = rows[i];
	}
	ix->rows = rows;
	ix->n_rows = o;
}

static int cmp_sym(const void *a, const void *b)
{
	const ei_sym *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	/* At one address: sized before unsized, then symbol table order (as
	 * binutils picks among aliases). */
	if ((x->hi > x->lo) != (y->hi > y->lo))
		return x->hi > x->lo ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static Elf_Scn *find_section(Elf *elf, Elf64_Word type)
{
	Elf_Scn *scn = NULL;
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type && sh.sh_size > 0)
			return scn;
	}
	return NULL;
}

static void read_symbols(elf_index *ix, builder *b)
{
	Elf *elf = ix->dbg.elf;
	Elf_Scn *scn = find_section(elf, SHT_SYMTAB);
	if (!scn) {
		elf = ix->bin.elf;
		scn = find_section(elf, SHT_SYMTAB);
	}
	if (!scn) {
		elf = ix->bin.elf ? ix->bin.elf : ix->dbg.elf;
		scn = find_section(elf, SHT_DYNSYM);
	}
	if (!scn)
		return;
	GElf_Shdr sh;
	Elf_Data *data = elf_getdata(scn, NULL);
	if (!gelf_getshdr(scn, &sh) || !data || sh.sh_entsize == 0)
		return;
	size_t n = sh.sh_size / sh.sh_entsize;
	const char *file = NULL;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(data, (int)i, &sym))
			break;
		int type = GELF_ST_TYPE(sym.st_info);
		if (type == STT_FILE) {
			file = elf_strptr(elf, sh.sh_link, sym.st_name);
			continue;
		}
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    sym.st_value == 0)
			continue;
		const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || !name[0])
			continue;
		ei_sym s = {.lo = sym.st_value,
		            .hi = sym.st_value + sym.st_size,
		            .name = name,
		            .global = GELF_ST_BIND(sym.st_info) != STB_LOCAL};
		s.order = (uint32_t)i;
		if (!s.global && file) /* even "" (binutils then prints ":?") */
			s.file = file;
		GElf_Shdr ssh;
		Elf_Scn *sscn = sym.st_shndx < SHN_LORESERVE ? elf_getscn(elf, sym.st_shndx) : NULL;
		s.sec_hi = sscn && gelf_getshdr(sscn, &ssh) ? ssh.sh_addr + ssh.sh_size : s.hi;
		if (s.hi < s.lo)
			s.hi = s.lo;
		ember_buf_append(&b->syms, &s, sizeof s);
	}
}

static void read_segments(elf_index *ix)
{
	Elf *elf = ix->bin.elf ? ix->bin.elf : ix->dbg.elf;
	size_t n;
	if (!elf || elf_getphdrnum(elf, &n) != 0 || n == 0)
		return;
	ix->segs = calloc(n, sizeof *ix->segs);
	if (!ix->segs)
		return;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			ix->segs[ix->n_segs++] = (ei_seg){ph.p_offset, ph.p_vaddr, ph.p_filesz,
			                                  ph.p_memsz, (ph.p_flags & PF_X) != 0};
	}
}

void ei_file_close(ei_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	free(f->mem);
	*f = (ei_file){-1, NULL, NULL};
}

/* The bytes of a named section, decompressed if need be (libdw usually
 * did that already when it opened the file). */
static void debug_section(Elf *elf, const char *want, const uint8_t **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	Elf_Scn *scn = ember_elf_section(elf, want);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh))
		return;
	if ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
		return;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (d && d->d_buf) {
		*data = d->d_buf;
		*len = d->d_size;
	}
}

static bool has_dwarf_sections(Elf *elf)
{
	return ember_elf_section(elf, ".debug_info") || ember_elf_section(elf, ".zdebug_info");
}

/* Indexes one CU (functions, inlines, line rows) into b. False on ENOMEM. */
static bool index_cu(elf_index *ix, builder *b, Dwarf_Die *cudie)
{
	b->mangling_lang = lang_mangles(dwarf_srclang(cudie));
	b->cu = cudie->cu;
	read_lines(ix, b, cudie, &ix->secs);
	bool ok_cu = walk_cu(ix, b, cudie);
	free(b->unit.files); /* the strings are owned by ix */
	b->unit = (lt_unit){0};
	return ok_cu && ember_buf_ok(&b->rows);
}

static bool skipped_unit(uint8_t unit_type)
{
	return unit_type == DW_UT_skeleton || unit_type == DW_UT_split_compile;
}

/* Eager: every CU into one set of arrays. */
static void index_all_cus(elf_index *ix, builder *b)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie, subdie;
	Dwarf_Half version;
	uint8_t unit_type;
	int r;
	while ((r = dwarf_get_units(ix->dw, cu, &cu, &version, &unit_type, &cudie, &subdie)) ==
	       0) {
		if (skipped_unit(unit_type))
			continue; /* split DWARF (.dwo) is not searched */
		if (!index_cu(ix, b, &cudie))
			break;
	}
	if (r < 0)
		ix->dwarf_error = true;
}

/* Turns what b collected into ix's sorted arrays; frees b's DWARF buffers.
 * False on ENOMEM. */
static bool finish_dwarf(elf_index *ix, builder *b)
{
	bool ok = ember_buf_ok(&b->nodes) && ember_buf_ok(&b->ranges) && ember_buf_ok(&b->rows);
	ix->nodes = (ei_node *)b->nodes.data;
	ix->n_nodes = b->nodes.len / sizeof(ei_node);
	b->nodes.data = NULL;
	if (ok)
		ok = flatten_ranges(ix, (ei_range *)b->ranges.data,
		                    b->ranges.len / sizeof(ei_range));
	ember_buf_free(&b->ranges);
	/* after flatten_ranges: finish_rows asks find_range */
	size_t n_rows = b->rows.len / sizeof(ei_row);
	ei_row *rows = sort_rows((ei_row *)b->rows.data, n_rows, (const size_t *)b->runs.data,
	                         b->runs.len / sizeof(size_t));
	ember_buf_free(&b->runs);
	ember_buf_free(&b->lrows);
	ember_buf_free(&b->seqs);
	finish_rows(ix, rows, n_rows);
	b->rows.data = NULL;
	for (size_t i = 0; i < ix->n_nodes; i++)
		assert(ix->nodes[i].parent < (int32_t)i);
	return ok;
}

/* Whether a CU's line table (if any) has rows: a CU without code ranges
 * (data only, as glibc's abi-note.c) normally has none. Unreadable counts
 * as having rows, which keeps such binaries indexed whole. */
static bool cu_has_rows(const elf_index *ix, Dwarf_Die *cudie)
{
	Dwarf_Attribute a;
	Dwarf_Word off;
	if (!dwarf_attr(cudie, DW_AT_stmt_list, &a))
		return false;
	if (dwarf_formudata(&a, &off) != 0)
		return true;
	ember_buf rows = EMBER_BUF_INIT, seqs = EMBER_BUF_INIT;
	lt_unit unit;
	int r = line_table_read(&ix->secs, off, NULL, &rows, &seqs, &unit);
	bool has = r < 0 || rows.len > 0;
	lt_unit_free(&unit);
	ember_buf_free(&rows);
	ember_buf_free(&seqs);
	return has;
}

static int cmp_span(const void *a, const void *b)
{
	const ei_cuspan *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Lazy: reads only CU headers and each CU DIE's address ranges
 * (DW_AT_low_pc/high_pc/ranges) into a sorted address -> CU map. Returns
 * 1 when the map is usable, 0 when the DWARF must be indexed whole (a CU
 * with a line table but no ranges, overlapping CUs, unreadable ranges: the
 * map could not answer as the whole index would), -ENOMEM. */
static int map_cus(elf_index *ix)
{
	ember_buf cus = EMBER_BUF_INIT, spans = EMBER_BUF_INIT;
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie, subdie;
	Dwarf_Half version;
	uint8_t unit_type;
	int r;
	bool usable = true;
	while (usable && (r = dwarf_get_units(ix->dw, cu, &cu, &version, &unit_type, &cudie,
	                                      &subdie)) == 0) {
		if (skipped_unit(unit_type))
			continue;
		ei_cu c = {.die = cudie};
		size_t idx = cus.len / sizeof c;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;
		size_t n = 0;
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (hi <= lo || lo == 0)
				continue;
			ei_cuspan sp = {lo, hi, idx};
			ember_buf_append(&spans, &sp, sizeof sp);
			n++;
		}
		if (off < 0 || (n == 0 && cu_has_rows(ix, &cudie)))
			usable = false;
		ember_buf_append(&cus, &c, sizeof c);
	}
	if (usable && r < 0)
		usable = false;
	if (!ember_buf_ok(&cus) || !ember_buf_ok(&spans)) {
		ember_buf_free(&cus);
		ember_buf_free(&spans);
		return -ENOMEM;
	}
	ei_cuspan *sp = (ei_cuspan *)spans.data;
	size_t ns = spans.len / sizeof *sp;
	if (usable && ns)
		qsort(sp, ns, sizeof *sp, cmp_span);
	for (size_t i = 1; usable && i < ns; i++)
		if (sp[i].lo < sp[i - 1].hi)
			usable = false;
	if (!usable || ns == 0) {
		ember_buf_free(&cus);
		ember_buf_free(&spans);
		return 0;
	}
	ix->cus = (ei_cu *)cus.data;
	ix->n_cus = cus.len / sizeof(ei_cu);
	ix->spans = sp;
	ix->n_spans = ns;
	return 1;
}

/* Lazy: the index of the CU holding vaddr, built on first use; NULL when
 * no CU holds it (or it could not be built). */
static elf_index *cu_index(elf_index *ix, uint64_t vaddr)
{
	size_t i = sym_upper_bound(ix->spans, ix->n_spans, sizeof *ix->spans, vaddr);
	if (i == 0 || vaddr >= ix->spans[i - 1].hi)
		return NULL;
	ei_cu *c = &ix->cus[ix->spans[i - 1].cu];
	if (c->tried)
		return c->sub;
	c->tried = true;
	elf_index *sub = calloc(1, sizeof *sub);
	if (!sub)
		return NULL;
	sub->bin = sub->dbg = (ei_file){-1, NULL, NULL};
	sub->secs = ix->secs;
	builder b = {.nodes = EMBER_BUF_INIT, .rows = EMBER_BUF_INIT};
	b.ranges = (ember_buf)EMBER_BUF_INIT;
	b.syms = (ember_buf)EMBER_BUF_INIT;
	bool ok = index_cu(sub, &b, &c->die);
	ok = finish_dwarf(sub, &b) && ok;
	ix->dwarf_error |= sub->dwarf_error;
	if (!ok) {
		elf_index_free(sub);
		return NULL;
	}
	c->sub = sub;
	return sub;
}

int elf_index_new(elf_index **out, ei_file bin, ei_file dbg, unsigned flags, ember_error *err)
{
	*out = NULL;
	elf_index *ix = calloc(1, sizeof *ix);
	if (!ix) {
		ei_file_close(&bin);
		if (dbg.elf != bin.elf)
			ei_file_close(&dbg);
		return ember_errorf(err, ENOMEM, "out of memory");
	}
	if (dbg.elf == bin.elf && bin.elf) {
		/* One file serves both roles; own it once. */
		ix->bin = bin;
		ix->dbg = (ei_file){-1, bin.elf, NULL};
	} else {
		ix->bin = bin;
		ix->dbg = dbg;
	}
	Elf *main_elf = ix->bin.elf ? ix->bin.elf : ix->dbg.elf;
	if (!main_elf || elf_kind(main_elf) != ELF_K_ELF) {
		elf_index_free(ix);
		return ember_errorf(err, EINVAL, "not an ELF file");
	}
	GElf_Ehdr eh;
	if (!gelf_getehdr(main_elf, &eh)) {
		elf_index_free(ix);
		return ember_errorf(err, EINVAL, "corrupt ELF header: %s", elf_errmsg(-1));
	}
	Elf *both[2] = {ix->bin.elf, ix->dbg.elf};
	for (int i = 0; i < 2; i++) {
		size_t shnum, shstrndx;
		GElf_Ehdr h;
		if (!both[i] || !gelf_getehdr(both[i], &h) || h.e_shoff == 0)
			continue;
		/* Section headers promised but unreadable (libelf then
		 * shows none). */
		if (elf_getshdrnum(both[i], &shnum) != 0 || shnum == 0 ||
		    elf_getshdrstrndx(both[i], &shstrndx) != 0 || !elf_nextscn(both[i], NULL)) {
			elf_index_free(ix);
			return ember_errorf(err, EINVAL, "corrupt section headers: %s",
			                    elf_errmsg(-1));
		}
	}

	builder b = {.nodes = EMBER_BUF_INIT, .rows = EMBER_BUF_INIT};
	b.ranges = (ember_buf)EMBER_BUF_INIT;
	b.syms = (ember_buf)EMBER_BUF_INIT;
	if (ix->dbg.elf && has_dwarf_sections(ix->dbg.elf)) {
		if (ds_prepare(ix->dbg.elf, &ix->inflated) < 0) {
			elf_index_free(ix);
			return ember_errorf(err, ENOMEM, "out of memory while decompressing");
		}
		ix->dw = dwarf_begin_elf(ix->dbg.elf, DWARF_C_READ, NULL);
		if (!ix->dw)
			ix->dwarf_error = true;
	}
	bool ok = true;
	if (ix->dw) {
		debug_section(ix->dbg.elf, ".debug_line", &ix->secs.line, &ix->secs.line_len);
		debug_section(ix->dbg.elf, ".debug_str", &ix->secs.str, &ix->secs.str_len);
		debug_section(ix->dbg.elf, ".debug_line_str", &ix->secs.line_str,
		              &ix->secs.line_str_len);
		int m = (flags & EI_BUILD_LAZY) ? map_cus(ix) : 0;
		if (m < 0)
			ok = false;
		else if (m > 0)
			ix->lazy = true;
		else
			index_all_cus(ix, &b);
	}
	read_symbols(ix, &b);
	read_segments(ix);
	ix->has_go = ember_gopcln_from_elf(&ix->go, main_elf) == 0 ||
	             (ix->dbg.elf && ix->dbg.elf != main_elf &&
	              ember_gopcln_from_elf(&ix->go, ix->dbg.elf) == 0);
	ok = ok && finish_dwarf(ix, &b) && ember_buf_ok(&b.syms);
	ix->syms = (ei_sym *)b.syms.data;
	ix->n_syms = b.syms.len / sizeof(ei_sym);
	b.syms.data = NULL;
	if (ix->n_syms)
		qsort(ix->syms, ix->n_syms, sizeof *ix->syms, cmp_sym);
	if (!ok) {
		elf_index_free(ix);
		return ember_errorf(err, ENOMEM, "out of memory while indexing");
	}
	for (size_t i = 0; i < ix->n_nodes; i++)
		assert(ix->nodes[i].parent < (int32_t)i);
	*out = ix;
	return 0;
}

void elf_index_free(elf_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->n_nodes; i++)
		free(ix->nodes[i].demangled);
	for (size_t i = 0; i < ix->n_syms; i++)
		free(ix->syms[i].demangled);
	free(ix->nodes);
	free(ix->ranges);
	free(ix->rows);
	free(ix->syms);
	free(ix->segs);
	for (size_t i = 0; i < ix->n_owned; i++)
		free(ix->owned[i]);
	free(ix->owned);
	for (size_t i = 0; i < ix->n_cus; i++)
		elf_index_free(ix->cus[i].sub);
	free(ix->cus);
	free(ix->spans);
	if (ix->dw)
		dwarf_end(ix->dw);
	if (ix->dbg.elf != ix->bin.elf)
		ei_file_close(&ix->dbg);
	else
		ix->dbg = (ei_file){-1, NULL, NULL};
	ei_file_close(&ix->bin);
	ds_buffers_free(&ix->inflated);
	free(ix);
}

/* ---- lookups ----------------------------------------------------------- */

static const ei_range *find_range(const elf_index *ix, uint64_t a)
{
	size_t lo = sym_upper_bound(ix->ranges, ix->n_ranges, sizeof *ix->ranges, a);
	if (lo == 0 || a >= ix->ranges[lo - 1].hi)
		return NULL;
	return &ix->ranges[lo - 1];
}

static const ei_row *find_row(const elf_index *ix, uint64_t a)
{
	size_t lo = sym_upper_bound(ix->rows, ix->n_rows, sizeof *ix->rows, a);
	if (lo == 0 || !ix->rows[lo - 1].file)
		return NULL;
	return &ix->rows[lo - 1];
}

/* The function symbol covering a: by its size, or (nearest, as binutils
 * does) the closest one before a in the same section. */
static ei_sym *find_sym(const elf_index *ix, uint64_t a, bool nearest)
{
	size_t lo = sym_upper_bound(ix->syms, ix->n_syms, sizeof *ix->syms, a);
	if (lo == 0)
		return NULL;
	/* Several symbols may start at one address: take the first of them
	 * (sorted best first). */
	size_t first = lo - 1;
	while (first > 0 && ix->syms[first - 1].lo == ix->syms[lo - 1].lo)
		first--;
	if (nearest)
		return a < ix->syms[first].sec_hi ? &ix->syms[first] : NULL;
	/* Look back a little for a sized symbol that covers a (symbols may
	 * nest). */
	for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++) {
		ei_sym *s = &ix->syms[i - 1];
		if (a < s->hi)
			return s;
	}
	return NULL;
}

static const char *node_function(ei_node *n, bool demangle)
{
	if (!demangle)
		return n->linkage ? n->linkage : n->name;
	if (n->linkage && !n->demangle_tried) {
		n->demangled = sym_demangle(n->linkage);
		n->demangle_tried = true;
	}
	if (n->demangled)
		return n->demangled;
	return n->name ? n->name : n->linkage;
}

static const char *sym_function(ei_sym *s, bool demangle)
{
	if (!demangle)
		return s->name;
	if (!s->demangle_tried) {
		s->demangled = sym_demangle(s->name);
		s->demangle_tried = true;
	}
	return s->demangled ? s->demangled : s->name;
}

static void fill_node(ember_frame *f, ei_node *n, bool demangle)
{
	f->function = n->renamed ? n->renamed : node_function(n, demangle);
	f->linkage_name = n->linkage;
	f->decl_file = n->decl_file;
	f->start_line = (int)n->decl_line;
}

/* Frames from .gopclntab (with its inlined calls); 0 when it has none. */
static size_t go_lookup(elf_index *ix, uint64_t vaddr, ember_frame *out, size_t max)
{
	ember_gofunc fn;
	ember_goframe gf[64];
	if (!ember_gopcln_find(&ix->go, vaddr, &fn))
		return 0;
	size_t n = ember_gopcln_frames(&ix->go, &fn, vaddr, gf, max < 64 ? max : 64);
	for (size_t i = 0; i < n; i++)
		out[i] = (ember_frame){.function = gf[i].function,
		                       .file = gf[i].file,
		                       .line = gf[i].line,
		                       .start_line = gf[i].start_line};
	return n;
}

size_t elf_index_lookup(elf_index *ix, uint64_t vaddr, unsigned flags, ember_frame *out, size_t max)
{
	bool demangle = flags & EI_DEMANGLE;
	if (max == 0)
		return 0;
	/* Go code: Go's own table first, as the runtime, pprof and `go tool
	 * addr2line` read it (its inline trees name inlined calls that DWARF
	 * readers such as binutils miss) */
	size_t g = ix->has_go ? go_lookup(ix, vaddr, out, max) : 0;
	if (g)
		return g;
	/* dx: where the DWARF answers come from (the CU's own index when
	 * lazy); symbols always come from ix */
	elf_index *dx = ix->lazy ? cu_index(ix, vaddr) : ix;
	const ei_range *r = dx ? find_range(dx, vaddr) : NULL;
	const ei_row *row = dx ? find_row(dx, vaddr) : NULL;
	ember_frame *f = &out[0];
	*f = (ember_frame){0};
	if (r) {
		ei_node *node = &dx->nodes[r->node];
		ei_sym *s;
		if ((flags & EI_NEAREST_SYMBOL) && node->mangling_lang && !node->linkage &&
		    !node->symtab_checked) {
			/* binutils (dwarf2.c): the first time a function of a
			 * mangling language without a linkage name is hit, the
			 * symbol table names it; if that symbol starts where
			 * the function does, the function keeps that name. */
			node->symtab_checked = true;
			s = find_sym(ix, vaddr, true);
			fill_node(f, node, demangle);
			if (s) {
				f->function = sym_function(s, demangle);
				f->linkage_name = s->name;
				if (s->lo == node->low)
					node->renamed = s->name;
			}
		} else {
			fill_node(f, node, demangle);
		}
	} else {
		ei_sym *s = find_sym(ix, vaddr, flags & EI_NEAREST_SYMBOL);
		if (s) {
			f->function = sym_function(s, demangle);
			f->linkage_name = s->name;
			f->file = s->file;
		}
	}
	if (row) {
		f->file = row->file;
		f->line = (int)row->line;
		f->column = (int)row->column;
		f->discriminator = row->disc;
	}
	if (!f->function && !f->file)
		return 0;
	size_t n = 1;
	for (int32_t cur = r ? r->node : -1; cur >= 0 && dx->nodes[cur].parent >= 0 && n < max;
	     n++) {
		const ei_node *inl = &dx->nodes[cur];
		ember_frame *g = &out[n];
		*g = (ember_frame){0};
		fill_node(g, &dx->nodes[inl->parent], demangle);
		g->file = inl->call_file;
		g->line = (int)inl->call_line;
		cur = inl->parent;
	}
	return n;
}

bool elf_index_map_address(const elf_index *ix, uint64_t addr, uint64_t map_start,
                           uint64_t map_offset, uint64_t *vaddr)
{
	if (addr < map_start)
		return false;
	uint64_t off = addr - map_start + map_offset;
	for (size_t i = 0; i < ix->n_segs; i++) {
		const ei_seg *s = &ix->segs[i];
		if (off >= s->off && off - s->off < s->filesz) {
			*vaddr = off - s->off + s->vaddr;
			return true;
		}
	}
	/* A debug-only file (objcopy --only-keep-debug) keeps the executable
	 * segment's address but not its contents or file offset: take the
	 * mapping as that segment's first page, which is how it was mapped. */
	for (size_t i = 0; i < ix->n_segs; i++) {
		const ei_seg *s = &ix->segs[i];
		uint64_t page = s->vaddr & ~(uint64_t)0xfff;
		if (s->exec && s->filesz == 0 && addr - map_start < s->vaddr + s->memsz - page) {
			*vaddr = addr - map_start + page;
			return true;
		}
	}
	return false;
}

void elf_index_get_info(const elf_index *ix, elf_index_info *out)
{
	*out = (elf_index_info){
	    .has_dwarf = ix->n_ranges > 0,
	    .lazy = ix->lazy,
	    .has_lines = ix->n_rows > 0,
	    .has_symbols = ix->n_syms > 0,
	    .has_go = ix->has_go,
	    .go_inline = ix->has_go && ix->go.ro != NULL,
	    .dwarf_error = ix->dwarf_error,
	    .n_functions = ix->n_nodes,
	    .n_ranges = ix->n_ranges,
	    .n_rows = ix->n_rows,
	    .n_symbols = ix->n_syms,
	};
	for (size_t i = 0; i < ix->n_cus; i++) {
		const elf_index *sub = ix->cus[i].sub;
		if (!sub)
			continue;
		out->has_dwarf |= sub->n_ranges > 0;
		out->has_lines |= sub->n_rows > 0;
		out->n_functions += sub->n_nodes;
		out->n_ranges += sub->n_ranges;
		out->n_rows += sub->n_rows;
		out->n_cus_indexed++;
	}
	out->n_cus = ix->n_cus;
}
