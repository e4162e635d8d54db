/* symbolizer/line_table.c — decodes a DWARF line number program (DWARF 2 to
 * 5, as the DWARF standard's section 6.2 defines it) into rows, sequence by
 * sequence, in the order the program states them.
 *
 * Why not libdw's dwarf_getsrclines: it builds a linked list, sorts all rows
 * (losing which sequence a row belongs to, so an empty last row and the
 * first row of the next sequence at the same address look alike), and was
 * two thirds of the time of indexing a large binary. This reader makes one
 * pass and keeps sequence boundaries exact.
 *
 * Every read is bounds-checked: a truncated or corrupt program stops the
 * decoding with -EINVAL and keeps the rows already emitted. Must never: read
 * past a section, or trust a length field.
 */
#include "line_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DWARF constants (DWARF 5 standard, 7.22 and 7.5.6). */
enum {
	LNS_copy = 1,
	LNS_advance_pc,
	LNS_advance_line,
	LNS_set_file,
	LNS_set_column,
	LNS_negate_stmt,
	LNS_set_basic_block,
	LNS_const_add_pc,
	LNS_fixed_advance_pc,
	LNS_set_prologue_end,
	LNS_set_epilogue_begin,
	LNS_set_isa,
	LNE_end_sequence = 1,
	LNE_set_address,
	LNE_define_file,
	LNE_set_discriminator,
	LNCT_path = 1,
	LNCT_directory_index,
	FORM_block2 = 0x03,
	FORM_block4 = 0x04,
	FORM_data2 = 0x05,
	FORM_data4 = 0x06,
	FORM_data8 = 0x07,
	FORM_string = 0x08,
	FORM_block = 0x09,
	FORM_block1 = 0x0a,
	FORM_data1 = 0x0b,
	FORM_sdata = 0x0d,
	FORM_strp = 0x0e,
	FORM_udata = 0x0f,
	FORM_data16 = 0x1e,
	FORM_line_strp = 0x1f,
};

typedef struct rd {
	const uint8_t *p, *end;
	bool bad;
} rd;

static bool need(rd *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return false;
	}
	return true;
}

static uint64_t rd_fixed(rd *r, size_t n)
{
	if (!need(r, n))
		return 0;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i); /* little endian (x86-64, aarch64) */
	r->p += n;
	return v;
}

static uint64_t rd_uleb(rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; need(r, 1); shift += 7) {
		uint8_t b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	return 0;
}

static int64_t rd_sleb(rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	while (need(r, 1)) {
		uint8_t b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
	return 0;
}

static const char *rd_str(rd *r)
{
	const uint8_t *nul = r->bad ? NULL : memchr(r->p, 0, (size_t)(r->end - r->p));
	if (!nul) {
		r->bad = true;
		r->p = r->end;
		return NULL;
	}
	const char *s = (const char *)r->p;
	r->p = nul + 1;
	return s;
}

/* A string at an offset of a string section, or NULL. */
static const char *str_at(const uint8_t *sec, size_t len, uint64_t off)
{
	if (!sec || off >= len || !memchr(sec + off, 0, len - off))
		return NULL;
	return (const char *)sec + off;
}

/* Skips a block whose length was just read. */
static void skip(rd *r, uint64_t n)
{
	if (need(r, n))
		r->p += n;
}

/* Reads one attribute of a DWARF 5 directory/file entry: a string (path) or
 * a number (directory index); other forms are skipped. */
static void rd_form(rd *r, const lt_sections *s, uint64_t form, size_t offset_size,
                    const char **str, uint64_t *num)
{
	switch (form) {
	case FORM_string:
		*str = rd_str(r);
		break;
	case FORM_line_strp:
		*str = str_at(s->line_str, s->line_str_len, rd_fixed(r, offset_size));
		break;
	case FORM_strp:
		*str = str_at(s->str, s->str_len, rd_fixed(r, offset_size));
		break;
	case FORM_udata:
		*num = rd_uleb(r);
		break;
	case FORM_sdata:
		*num = (uint64_t)rd_sleb(r);
		break;
	case FORM_data1:
		*num = rd_fixed(r, 1);
		break;
	case FORM_data2:
		*num = rd_fixed(r, 2);
		break;
	case FORM_data4:
		*num = rd_fixed(r, 4);
		break;
	case FORM_data8:
		*num = rd_fixed(r, 8);
		break;
	case FORM_data16:
		skip(r, 16);
		break;
	default:
		r->bad = true;
		break;
	}
}

typedef struct entry {
	const char *path;
	uint64_t dir;
} entry;

/* Reads a DWARF 5 entry table (directories or files) into *out. */
static entry *read_entries(rd *r, const lt_sections *s, size_t offset_size, size_t *n_out)
{
	uint64_t fmt[16][2];
	unsigned nfmt = (unsigned)rd_fixed(r, 1);
	if (nfmt > 16) {
		r->bad = true;
		return NULL;
	}
	for (unsigned i = 0; i < nfmt; i++) {
		fmt[i][0] = rd_uleb(r);
		fmt[i][1] = rd_uleb(r);
	}
	uint64_t n = rd_uleb(r);
	if (r->bad || n > (uint64_t)(r->end - r->p))
		return r->bad = true, NULL;
	entry *e = calloc(n ? n : 1, sizeof *e);
	if (!e)
		return NULL;
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		for (unsigned k = 0; k < nfmt; k++) {
			const char *str = NULL;
			uint64_t num = 0;
			if (fmt[k][1] == FORM_block) {
				skip(r, rd_uleb(r));
				continue;
			}
			if (fmt[k][1] == FORM_block1) {
				skip(r, rd_fixed(r, 1));
				continue;
			}
			if (fmt[k][1] == FORM_block2) {
				skip(r, rd_fixed(r, 2));
				continue;
			}
			if (fmt[k][1] == FORM_block4) {
				skip(r, rd_fixed(r, 4));
				continue;
			}
			rd_form(r, s, fmt[k][1], offset_size, &str, &num);
			if (fmt[k][0] == LNCT_path)
				e[i].path = str;
			else if (fmt[k][0] == LNCT_directory_index)
				e[i].dir = num;
		}
	}
	*n_out = n;
	return e;
}

/* dir/name, then comp_dir/that when still relative (binutils' and libdw's
 * way of naming a file). */
static char *join_path(const char *comp_dir, const char *dir, const char *name)
{
	char *out = NULL;
	int n;
	if (!name)
		return NULL;
	if (name[0] == '/' || ((!dir || !dir[0]) && (!comp_dir || !comp_dir[0])))
		n = asprintf(&out, "%s", name);
	else if (dir && dir[0] == '/')
		n = asprintf(&out, "%s/%s", dir, name);
	else if (dir && dir[0] && comp_dir && comp_dir[0])
		n = asprintf(&out, "%s/%s/%s", comp_dir, dir, name);
	else if (dir && dir[0])
		n = asprintf(&out, "%s/%s", dir, name);
	else
		n = asprintf(&out, "%s/%s", comp_dir, name);
	return n < 0 ? NULL : out;
}

void lt_unit_free(lt_unit *u)
{
	for (size_t i = 0; i < u->n_files; i++)
		free(u->files[i]);
	free(u->files);
	*u = (lt_unit){0};
}

static bool add_file(lt_unit *u, char *path)
{
	char **nf = realloc(u->files, (u->n_files + 1) * sizeof *nf);
	if (!nf) {
		free(path);
		return false;
	}
	u->files = nf;
	u->files[u->n_files++] = path;
	return true;
}

/* Appends a row; within a sequence a row at the address of the previous
 * one replaces it (the earlier would cover nothing). */
static void emit(ember_buf *rows, size_t seq_start, const lt_row *row)
{
	size_t n = rows->len / sizeof(lt_row);
	lt_row *last = n > seq_start ? (lt_row *)rows->data + n - 1 : NULL;
	if (last && last->addr == row->addr) {
		*last = *row;
		return;
	}
	ember_buf_append(rows, row, sizeof *row);
}

int line_table_read(const lt_sections *s, uint64_t offset, const char *comp_dir, ember_buf *rows,
                    ember_buf *seqs, lt_unit *out)
{
	*out = (lt_unit){0};
	if (!s->line || offset >= s->line_len)
		return -EINVAL;
	rd r = {s->line + offset, s->line + s->line_len, false};
	size_t offset_size = 4;
	uint64_t unit_len = rd_fixed(&r, 4);
	if (unit_len == 0xffffffffu) {
		offset_size = 8;
		unit_len = rd_fixed(&r, 8);
	}
	if (r.bad || unit_len > (uint64_t)(r.end - r.p))
		return -EINVAL;
	r.end = r.p + unit_len;
	unsigned version = (unsigned)rd_fixed(&r, 2);
	if (version < 2 || version > 5)
		return -EINVAL;
	if (version >= 5) {
		unsigned asz = (unsigned)rd_fixed(&r, 1);
		rd_fixed(&r, 1); /* segment selector size */
		if (asz != 8 && asz != 4)
			return -EINVAL;
	}
	uint64_t header_len = rd_fixed(&r, offset_size);
	if (r.bad || header_len > (uint64_t)(r.end - r.p))
		return -EINVAL;
	const uint8_t *program = r.p + header_len;
	unsigned min_inst = (unsigned)rd_fixed(&r, 1);
	if (version >= 4)
		rd_fixed(&r, 1); /* maximum operations per instruction: VLIW only */
	bool default_stmt = rd_fixed(&r, 1) != 0;
	(void)default_stmt;
	int line_base = (int8_t)rd_fixed(&r, 1);
	unsigned line_range = (unsigned)rd_fixed(&r, 1);
	unsigned opcode_base = (unsigned)rd_fixed(&r, 1);
	uint8_t std_len[256] = {0};
	for (unsigned i = 1; i < opcode_base; i++)
		std_len[i] = (uint8_t)rd_fixed(&r, 1);
	if (r.bad || line_range == 0 || opcode_base == 0)
		return -EINVAL;

	/* Directory and file tables, as one file table indexed the way the
	 * program's DW_LNS_set_file counts (1-based before DWARF 5). */
	if (version >= 5) {
		size_t nd = 0, nf = 0;
		entry *dirs = read_entries(&r, s, offset_size, &nd);
		entry *files = dirs ? read_entries(&r, s, offset_size, &nf) : NULL;
		for (size_t i = 0; files && i < nf; i++) {
			const char *dir = files[i].dir < nd ? dirs[files[i].dir].path : NULL;
			char *p = join_path(comp_dir, dir, files[i].path);
			if (!add_file(out, p) && p) {
				free(dirs);
				free(files);
				return -ENOMEM;
			}
		}
		free(dirs);
		free(files);
		if (r.bad || !files) {
			lt_unit_free(out);
			return -EINVAL;
		}
	} else {
		const char *dirs[1024];
		size_t nd = 0;
		const char *d;
		while ((d = rd_str(&r)) && d[0])
			if (nd < 1024)
				dirs[nd++] = d;
		if (!add_file(out, NULL))
			return -ENOMEM;
		const char *name;
		while ((name = rd_str(&r)) && name[0]) {
			uint64_t di = rd_uleb(&r);
			rd_uleb(&r);
			rd_uleb(&r);
			const char *dir = di == 0 ? NULL : di <= nd ? dirs[di - 1] : NULL;
			char *p = join_path(comp_dir, dir, name);
			if (!add_file(out, p) && p)
				return -ENOMEM;
		}
		if (r.bad) {
			lt_unit_free(out);
			return -EINVAL;
		}
	}

	/* The program. */
	r.p = program;
	lt_row st = {.file = 1, .line = 1};
	size_t seq_start = rows->len / sizeof(lt_row);
	bool in_seq = false;
	while (r.p < r.end && !r.bad) {
		unsigned op = *r.p++;
		bool row = false;
		if (op >= opcode_base) {
			unsigned adj = op - opcode_base;
			st.addr += (uint64_t)(adj / line_range) * min_inst;
			st.line += (uint32_t)(line_base + (int)(adj % line_range));
			row = true;
		} else if (op == 0) {
			uint64_t len = rd_uleb(&r);
			if (len == 0 || !need(&r, len))
				break;
			const uint8_t *next = r.p + len;
			unsigned sub = *r.p++;
			if (sub == LNE_end_sequence) {
				st.end = true;
				row = true;
			} else if (sub == LNE_set_address) {
				st.addr = rd_fixed(&r, len - 1 > 8 ? 8 : len - 1);
			} else if (sub == LNE_define_file) {
				const char *name = rd_str(&r);
				uint64_t di = rd_uleb(&r);
				(void)di;
				char *p = join_path(comp_dir, NULL, name);
				if (!add_file(out, p) && p)
					return -ENOMEM;
			} else if (sub == LNE_set_discriminator) {
				st.disc = (uint32_t)rd_uleb(&r);
			}
			r.p = next;
		} else {
			switch (op) {
			case LNS_copy:
				row = true;
				break;
			case LNS_advance_pc:
				st.addr += rd_uleb(&r) * min_inst;
				break;
			case LNS_advance_line:
				st.line += (uint32_t)rd_sleb(&r);
				break;
			case LNS_set_file:
				st.file = (uint32_t)rd_uleb(&r);
				break;
			case LNS_set_column:
				st.column = (uint32_t)rd_uleb(&r);
				break;
			case LNS_const_add_pc:
				st.addr += (uint64_t)((255 - opcode_base) / line_range) * min_inst;
				break;
			case LNS_fixed_advance_pc:
				st.addr += rd_fixed(&r, 2);
				break;
			case LNS_negate_stmt:
			case LNS_set_basic_block:
			case LNS_set_prologue_end:
			case LNS_set_epilogue_begin:
				break;
			default:
				for (unsigned i = 0; i < std_len[op]; i++)
					rd_uleb(&r);
				break;
			}
		}
		if (!row)
			continue;
		if (!in_seq) {
			seq_start = rows->len / sizeof(lt_row);
			ember_buf_append(seqs, &seq_start, sizeof seq_start);
			in_seq = true;
		}
		emit(rows, seq_start, &st);
		st.disc = 0;
		if (st.end) {
			st = (lt_row){.file = 1, .line = 1};
			in_seq = false;
		}
	}
	if (!ember_buf_ok(rows) || !ember_buf_ok(seqs))
		return -ENOMEM;
	return r.bad ? -EINVAL : 0;
}
