/* symbolizer/dwarf_sections.c — what libdw sees of a debug file. libdw's
 * dwarf_begin_elf inflates every compressed DWARF section it recognises,
 * with zlib, before the first question is asked: for a distribution's debug
 * file (libc6-dbg's libc: 3.8 MB compressed) that was the larger part of
 * symbolizing a whole profile. Here, before dwarf_begin_elf:
 *  - sections no lookup reads are renamed to "" so libdw skips them;
 *  - the compressed sections a lookup reads are inflated with libdeflate
 *    into memory of our own, and the section headers say they are plain.
 * libdw then finds plain sections and takes their data as it is.
 *
 * The memory: one region per file, sized from the compression headers.
 * Written once, page by page, it used to cost more in page faults than in
 * inflating (libc6-dbg's libc: 7.8 MB, ~1,950 faults, each ~12 us on this
 * project's VMs). A region of 1 MiB and more is therefore an ember_bigmem
 * region (2 MiB-aligned, advised MADV_HUGEPAGE), so the kernel can back it
 * with a few huge pages (where transparent huge pages are "madvise" or
 * "always"; elsewhere it is plain memory, as before).
 *
 * Owns: the inflated region (ds_buffers). Must never: leave a section
 * half-changed (the header is updated only once its data is ready), trust
 * a header's uncompressed size beyond what deflate can produce, or fail the
 * whole file for one section it cannot allocate.
 */
#include "dwarf_sections.h"

#include <errno.h>
#include <gelf.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* DWARF sections the symbolizer never reads (elf_index.c walks DIEs for
 * names, ranges and call sites; line_table.c reads .debug_line itself). */
static const char *const unused[] = {
    ".debug_loc",         ".debug_loclists",    ".debug_macro",     ".debug_macinfo",
    ".debug_pubnames",    ".debug_pubtypes",    ".debug_gnu_pubnames",
    ".debug_gnu_pubtypes", ".debug_names",      ".debug_frame",
};

/* DWARF sections a lookup reads, through libdw or line_table.c: inflated
 * here. Any other .debug_* section is left to libdw as it was. */
static const char *const read_by_lookups[] = {
    ".debug_info",     ".debug_abbrev",  ".debug_line",    ".debug_str",
    ".debug_line_str", ".debug_str_offsets", ".debug_addr", ".debug_ranges",
    ".debug_rnglists", ".debug_aranges", ".debug_types",   ".debug_cu_index",
    ".debug_tu_index",
};

/* Deflate cannot expand by more than this factor (a 258-byte match per
 * 2 bits, rounded up). */
enum { MAX_INFLATE_RATIO = 1032 };

static bool listed(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

static void hide(Elf_Scn *scn, GElf_Shdr *sh)
{
	GElf_Shdr h = *sh;
	h.sh_name = 0; /* the empty name at the start of .shstrtab */
	(void)gelf_update_shdr(scn, &h);
}

enum {
	MAX_INFLATED = sizeof read_by_lookups / sizeof read_by_lookups[0],
	MAPPED_FROM = 1 << 20, /* regions this large go on huge pages */
};

/* A compressed section to inflate, found in the first pass. */
typedef struct pending {
	Elf_Scn *scn;
	GElf_Shdr sh;
	GElf_Chdr ch;
	size_t at; /* offset in the region */
} pending;

/* The compression header of a section worth inflating: zlib, a size deflate
 * can produce from the bytes there are, and data libelf can read. */
static bool inflatable(Elf *elf, Elf_Scn *scn, GElf_Chdr *ch)
{
	if (!gelf_getchdr(scn, ch) || ch->ch_type != ELFCOMPRESS_ZLIB)
		return false;
	Elf_Data *raw = elf_rawdata(scn, NULL);
	size_t hdr = gelf_getclass(elf) == ELFCLASS32 ? sizeof(Elf32_Chdr) : sizeof(Elf64_Chdr);
	if (!raw || !raw->d_buf || raw->d_size <= hdr)
		return false;
	size_t in_len = raw->d_size - hdr;
	return ch->ch_size != 0 && ch->ch_size / MAX_INFLATE_RATIO <= in_len + 1 &&
	       ch->ch_size <= (uint64_t)SIZE_MAX / 4;
}

/* len bytes for the region, on huge pages when large (ember/bigmem.h);
 * NULL when out of memory. */
static char *region_alloc(ds_buffers *bufs, size_t len)
{
	if (len < MAPPED_FROM)
		return bufs->small = malloc(len);
	return ember_bigmem_reserve(&bufs->big, len) == 0 ? bufs->big.p : NULL;
}

/* Inflates p's section into out; the section then reads as plain. True
 * when done, false when left as it was. */
static bool inflate_section(Elf *elf, pending *p, void *out, struct libdeflate_decompressor *dd)
{
	Elf_Data *raw = elf_rawdata(p->scn, NULL);
	size_t hdr = gelf_getclass(elf) == ELFCLASS32 ? sizeof(Elf32_Chdr) : sizeof(Elf64_Chdr);
	enum libdeflate_result r = libdeflate_zlib_decompress(
	    dd, (const char *)raw->d_buf + hdr, raw->d_size - hdr, out, p->ch.ch_size, NULL);
	if (r != LIBDEFLATE_SUCCESS)
		return false;
	/* Headers first (libelf keeps the raw data it already read), then the
	 * data descriptor libdw will be handed. */
	GElf_Shdr h = p->sh;
	h.sh_flags &= ~(GElf_Xword)SHF_COMPRESSED;
	h.sh_size = p->ch.ch_size;
	h.sh_addralign = p->ch.ch_addralign ? p->ch.ch_addralign : 1;
	Elf_Data *d = gelf_update_shdr(p->scn, &h) ? elf_getdata(p->scn, NULL) : NULL;
	if (!d) {
		h = p->sh;
		(void)gelf_update_shdr(p->scn, &h);
		return false;
	}
	d->d_buf = out;
	d->d_size = p->ch.ch_size;
	d->d_type = ELF_T_BYTE;
	d->d_off = 0;
	d->d_align = h.sh_addralign;
	return true;
}

int ds_prepare(Elf *elf, ds_buffers *bufs)
{
	*bufs = (ds_buffers){0};
	size_t shstrndx;
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	/* hiding names a section by offset 0 of .shstrtab, "" in any sane file */
	const char *first = elf_strptr(elf, shstrndx, 0);
	bool can_hide = first && first[0] == '\0';
	pending todo[MAX_INFLATED];
	size_t n = 0, total = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strncmp(name, ".debug_", 7) != 0)
			continue;
		if (listed(name, unused, sizeof unused / sizeof unused[0])) {
			if (can_hide)
				hide(scn, &sh);
			continue;
		}
		GElf_Chdr ch;
		if (!(sh.sh_flags & SHF_COMPRESSED) || n == MAX_INFLATED ||
		    !listed(name, read_by_lookups, MAX_INFLATED) || !inflatable(elf, scn, &ch))
			continue;
		size_t size = ((size_t)ch.ch_size + 15) & ~(size_t)15;
		if (size > SIZE_MAX / 2 - total)
			continue; /* not a real file's: libdw may try, and lose only this section */
		todo[n++] = (pending){scn, sh, ch, total};
		total += size;
	}
	if (n == 0)
		return 0;
	char *region = region_alloc(bufs, total);
	if (!region)
		return 0; /* libdw inflates them itself, or reports them */
	struct libdeflate_decompressor *dd = libdeflate_alloc_decompressor();
	if (!dd) {
		ds_buffers_free(bufs);
		return -ENOMEM;
	}
	int done = 0;
	for (size_t i = 0; i < n; i++)
		done += inflate_section(elf, &todo[i], region + todo[i].at, dd);
	libdeflate_free_decompressor(dd);
	if (done == 0)
		ds_buffers_free(bufs);
	return done;
}

void ds_buffers_free(ds_buffers *bufs)
{
	ember_bigmem_free(&bufs->big);
	free(bufs->small);
	bufs->small = NULL;
}
