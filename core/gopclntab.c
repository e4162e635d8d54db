/* core/gopclntab.c — the reader of Go's .gopclntab bytes (ember/gopclntab.h):
 * header, function table, pc-value tables (pcsp, pcfile, pcln, pcdata),
 * names, files, inline trees. Layouts are Go's own (runtime/symtab.go,
 * runtime/runtime2.go of each release); ember/gopclntab.h says who uses it.
 * Owns only decoding: never opens files, allocates or writes, and every
 * read is checked against the bounds of what it was given.
 */
#include "ember/gopclntab.h"

#include <errno.h>
#include <string.h>

enum {
	MAGIC_116 = 0xfffffffa,
	MAGIC_118 = 0xfffffff0,
	MAGIC_120 = 0xfffffff1,
	PCDATA_INLTREE_INDEX = 2,
	FUNCDATA_INLTREE = 3,
	FUNCFLAG_TOPFRAME = 1,
	MAX_PCVALUE_STEPS = 1 << 20,
};

static bool rd32(const uint8_t *base, size_t size, size_t off, uint32_t *v)
{
	if (off > size || size - off < 4)
		return false;
	memcpy(v, base + off, 4);
	return true;
}

static bool rd64(const uint8_t *base, size_t size, size_t off, uint64_t *v)
{
	if (off > size || size - off < 8)
		return false;
	memcpy(v, base + off, 8);
	return true;
}

/* A NUL-terminated string at off, or NULL. */
static const char *str_at(const ember_gopcln *t, size_t base, uint64_t off)
{
	if (base > t->size || off >= t->size - base)
		return NULL;
	const char *s = (const char *)t->data + base + off;
	return memchr(s, 0, t->size - base - off) ? s : NULL;
}

int ember_gopcln_init(ember_gopcln *t, const uint8_t *data, size_t size, uint64_t text)
{
	memset(t, 0, sizeof *t);
	uint32_t magic;
	if (!rd32(data, size, 0, &magic) || size < 8 || data[4] || data[5] || data[7] != 8)
		return -EINVAL;
	t->data = data;
	t->size = size;
	t->quantum = data[6];
	uint64_t h[8]; /* the header's words after magic..ptrSize */
	int nw;
	switch (magic) {
	case MAGIC_116:
		t->version = 116;
		nw = 7;
		break;
	case MAGIC_118:
		t->version = 118;
		nw = 8;
		break;
	case MAGIC_120:
		t->version = 120;
		nw = 8;
		break;
	default:
		return -EINVAL;
	}
	for (int i = 0; i < nw; i++)
		if (!rd64(data, size, 8 + 8 * (size_t)i, &h[i]))
			return -EINVAL;
	t->nfunc = h[0];
	const uint64_t *o = h + 2;
	if (t->version >= 118) {
		t->text = h[2] ? h[2] : text;
		o = h + 3;
	}
	for (int i = 0; i < 5; i++)
		if (o[i] >= size)
			return -EINVAL;
	t->funcnames = o[0];
	t->cutab = o[1];
	t->filetab = o[2];
	t->pctab = o[3];
	t->pcln = o[4];
	size_t ent = t->version >= 118 ? 8 : 16;
	if (t->quantum == 0 || t->nfunc == 0 || t->nfunc > (size - t->pcln) / ent - 1)
		return -EINVAL;
	return 0;
}

/* Entry pc of functab slot i (i <= nfunc) and its _func offset. */
static bool slot(const ember_gopcln *t, uint64_t i, uint64_t *entry, size_t *func)
{
	if (t->version >= 118) {
		uint32_t e, f;
		size_t at = t->pcln + (size_t)i * 8;
		if (!rd32(t->data, t->size, at, &e) || !rd32(t->data, t->size, at + 4, &f))
			return false;
		*entry = t->text + e;
		*func = t->pcln + f;
		return true;
	}
	uint64_t e, f;
	size_t at = t->pcln + (size_t)i * 16;
	if (!rd64(t->data, t->size, at, &e) || !rd64(t->data, t->size, at + 8, &f) ||
	    f > t->size)
		return false;
	*entry = e;
	*func = t->pcln + (size_t)f;
	return true;
}

bool ember_gopcln_find(const ember_gopcln *t, uint64_t pc, ember_gofunc *out)
{
	if (!t->data)
		return false;
	uint64_t lo = 0, hi = t->nfunc; /* the last slot i with entry(i) <= pc */
	uint64_t e;
	size_t f;
	if (!slot(t, 0, &e, &f) || pc < e)
		return false;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (!slot(t, mid, &e, &f))
			return false;
		if (e <= pc)
			lo = mid;
		else
			hi = mid;
	}
	uint64_t end;
	size_t unused;
	if (!slot(t, lo, &e, &f) || !slot(t, lo + 1, &end, &unused) || pc >= end)
		return false;
	*out = (ember_gofunc){f, e, end};
	return true;
}

/* Field offsets of _func per layout. */
typedef struct func_layout {
	size_t nameoff, pcsp, pcfile, pcln, npcdata, cuoff, startline, funcid, flag, nfuncdata,
	    size;
} func_layout;

static const func_layout *layout(const ember_gopcln *t)
{
	static const func_layout l116 = {8, 20, 24, 28, 32, 36, 0, 40, 0, 43, 44};
	static const func_layout l118 = {4, 16, 20, 24, 28, 32, 0, 36, 37, 39, 40};
	static const func_layout l120 = {4, 16, 20, 24, 28, 32, 36, 40, 41, 43, 44};
	return t->version >= 120 ? &l120 : t->version >= 118 ? &l118 : &l116;
}

static bool field32(const ember_gopcln *t, const ember_gofunc *f, size_t at, uint32_t *v)
{
	return rd32(t->data, t->size, f->off + at, v);
}

static int field8(const ember_gopcln *t, const ember_gofunc *f, size_t at)
{
	return f->off + at < t->size ? t->data[f->off + at] : -1;
}

const char *ember_gopcln_name(const ember_gopcln *t, const ember_gofunc *f)
{
	uint32_t off;
	if (!field32(t, f, layout(t)->nameoff, &off))
		return NULL;
	return str_at(t, t->funcnames, off);
}

static bool uvarint(const uint8_t *p, size_t len, size_t *i, uint32_t *out)
{
	uint32_t v = 0;
	for (unsigned shift = 0; shift < 35; shift += 7) {
		if (*i >= len)
			return false;
		uint8_t b = p[(*i)++];
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* The value of the pc-value table at pctab offset off for pc; false when
 * the table ends before pc or is malformed. */
static bool pcvalue(const ember_gopcln *t, const ember_gofunc *f, uint32_t off, uint64_t pc,
                    int32_t *out)
{
	if (off == 0 || t->pctab > t->size || off >= t->size - t->pctab)
		return false;
	const uint8_t *p = t->data + t->pctab + off;
	size_t len = t->size - t->pctab - off, i = 0;
	int32_t val = -1;
	uint64_t cur = f->entry;
	for (int step = 0; step < MAX_PCVALUE_STEPS; step++) {
		uint32_t uvdelta, pcdelta;
		if (!uvarint(p, len, &i, &uvdelta) || (uvdelta == 0 && step > 0) ||
		    !uvarint(p, len, &i, &pcdelta))
			return false;
		/* zig-zag; wraps (as Go's int32 does) on a corrupt table */
		val = (int32_t)((uint32_t)val + (-(uvdelta & 1) ^ (uvdelta >> 1)));
		cur += (uint64_t)pcdelta * t->quantum;
		if (pc < cur) {
			*out = val;
			return true;
		}
	}
	return false;
}

bool ember_gopcln_sp_delta(const ember_gopcln *t, const ember_gofunc *f, uint64_t pc,
                           int32_t *delta)
{
	uint32_t off;
	return field32(t, f, layout(t)->pcsp, &off) && pcvalue(t, f, off, pc, delta) &&
	       *delta >= 0;
}

bool ember_gopcln_is_top(const ember_gopcln *t, const ember_gofunc *f)
{
	if (t->version >= 118)
		return field8(t, f, layout(t)->flag) > 0 &&
		       (field8(t, f, layout(t)->flag) & FUNCFLAG_TOPFRAME);
	/* 1.16-1.17 mark no flag: the runtime's stack roots by name */
	const char *n = ember_gopcln_name(t, f);
	return n && (strcmp(n, "runtime.goexit") == 0 || strcmp(n, "runtime.mstart") == 0 ||
	             strcmp(n, "runtime.rt0_go") == 0);
}

static void file_line(const ember_gopcln *t, const ember_gofunc *f, uint64_t pc,
                      ember_goframe *fr)
{
	const func_layout *l = layout(t);
	uint32_t pcfile, pcln, cu, fileoff;
	int32_t fileno, line;
	if (field32(t, f, l->pcln, &pcln) && pcvalue(t, f, pcln, pc, &line))
		fr->line = line;
	if (field32(t, f, l->pcfile, &pcfile) && pcvalue(t, f, pcfile, pc, &fileno) &&
	    fileno >= 0 && field32(t, f, l->cuoff, &cu) &&
	    rd32(t->data, t->size, t->cutab + ((size_t)cu + (size_t)fileno) * 4, &fileoff) &&
	    fileoff != UINT32_MAX)
		fr->file = str_at(t, t->filetab, fileoff);
}

/* The inline tree of f as bytes, or NULL. */
static const uint8_t *inline_tree(const ember_gopcln *t, const ember_gofunc *f, size_t *len)
{
	const func_layout *l = layout(t);
	uint32_t npcdata;
	int nfuncdata = field8(t, f, l->nfuncdata);
	if (!t->ro || nfuncdata <= FUNCDATA_INLTREE || !field32(t, f, l->npcdata, &npcdata) ||
	    npcdata > 1024)
		return NULL;
	size_t at = f->off + l->size + (size_t)npcdata * 4;
	uint64_t addr;
	if (t->version >= 118) {
		uint32_t off;
		if (!rd32(t->data, t->size, at + FUNCDATA_INLTREE * 4, &off) || off == UINT32_MAX)
			return NULL;
		addr = t->gofunc + off;
	} else {
		at = (at + 7) & ~(size_t)7;
		if (!rd64(t->data, t->size, at + FUNCDATA_INLTREE * 8, &addr) || addr == 0)
			return NULL;
	}
	if (addr < t->ro_vaddr || addr - t->ro_vaddr >= t->ro_size)
		return NULL;
	*len = t->ro_size - (size_t)(addr - t->ro_vaddr);
	return t->ro + (addr - t->ro_vaddr);
}

size_t ember_gopcln_frames(const ember_gopcln *t, const ember_gofunc *f, uint64_t pc,
                           ember_goframe *out, size_t max)
{
	const func_layout *l = layout(t);
	size_t n = 0, tree_len = 0;
	const uint8_t *tree = inline_tree(t, f, &tree_len);
	uint32_t npcdata = 0, inl_off = 0;
	bool has_index = tree && field32(t, f, l->npcdata, &npcdata) &&
	                 npcdata > PCDATA_INLTREE_INDEX &&
	                 field32(t, f, l->size + PCDATA_INLTREE_INDEX * 4, &inl_off);
	size_t rec = t->version >= 120 ? 16 : 20;
	size_t name_at = t->version >= 120 ? 4 : 12, parent_at = t->version >= 120 ? 8 : 16;
	while (n < max) {
		ember_goframe *fr = &out[n];
		*fr = (ember_goframe){0};
		file_line(t, f, pc, fr);
		int32_t idx;
		uint32_t name, parent_pc;
		if (has_index && pcvalue(t, f, inl_off, pc, &idx) && idx >= 0 &&
		    rd32(tree, tree_len, (size_t)idx * rec + name_at, &name) &&
		    rd32(tree, tree_len, (size_t)idx * rec + parent_at, &parent_pc) &&
		    (fr->function = str_at(t, t->funcnames, name))) {
			uint32_t sl;
			if (t->version >= 120 && rd32(tree, tree_len, (size_t)idx * rec + 12, &sl))
				fr->start_line = (int32_t)sl;
			n++;
			pc = f->entry + parent_pc;
			continue;
		}
		fr->function = ember_gopcln_name(t, f);
		uint32_t sl;
		if (l->startline && field32(t, f, l->startline, &sl))
			fr->start_line = (int32_t)sl;
		if (fr->function)
			n++;
		break;
	}
	return n;
}
