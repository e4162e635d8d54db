/* symbolizer/dwarf_sections.c — what libdw sees of a debug file. libdw's
 * dwarf_begin_elf inflates every compressed DWARF section it recognises,
 * with zlib, before the first question is asked: for a distribution's debug
 * file (libc6-dbg's libc: 3.8 MB compressed) that was the larger part of
 * symbolizing a whole profile. Here, before dwarf_begin_elf:
 *  - sections no lookup reads are renamed to "" so libdw skips them;
 *  - the compressed sections a lookup reads are inflated with libdeflate
 *    into buffers of our own, and the section headers say they are plain.
 * libdw then finds plain sections and takes their data as it is.
 *
 * Owns: the inflated buffers (ds_buffers). Must never: leave a section
 * half-changed (the header is updated only once its data is ready), trust
 * a header's uncompressed size beyond what deflate can produce, or fail the
 * whole file for one section it cannot allocate.
 */
#include "dwarf_sections.h"
#include "ember/grow.h"

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

/* Inflates one SHF_COMPRESSED section into a new buffer; the section then
 * reads as plain. 1 when done, 0 when left as it was, -ENOMEM. */
static int inflate_section(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh,
                           struct libdeflate_decompressor *dd, ds_buffers *bufs)
{
	GElf_Chdr ch;
	if (!gelf_getchdr(scn, &ch) || ch.ch_type != ELFCOMPRESS_ZLIB)
		return 0;
	Elf_Data *raw = elf_rawdata(scn, NULL);
	size_t hdr = gelf_getclass(elf) == ELFCLASS32 ? sizeof(Elf32_Chdr) : sizeof(Elf64_Chdr);
	if (!raw || !raw->d_buf || raw->d_size <= hdr)
		return 0;
	size_t in_len = raw->d_size - hdr;
	if (ch.ch_size == 0 || ch.ch_size / MAX_INFLATE_RATIO > in_len + 1 ||
	    ch.ch_size > (uint64_t)SIZE_MAX / 2)
		return 0;
	if (!ember_grow((void **)&bufs->buf, &bufs->cap, bufs->n + 1, sizeof *bufs->buf))
		return -ENOMEM;
	void *out = malloc(ch.ch_size);
	if (!out)
		return 0; /* a size no file of ours needs: libdw may try, and lose only this section */
	enum libdeflate_result r = libdeflate_zlib_decompress(
	    dd, (const char *)raw->d_buf + hdr, in_len, out, ch.ch_size, NULL);
	if (r != LIBDEFLATE_SUCCESS) {
		free(out);
		return 0;
	}
	/* Headers first (libelf keeps the raw data it already read), then the
	 * data descriptor libdw will be handed. */
	GElf_Shdr h = *sh;
	h.sh_flags &= ~(GElf_Xword)SHF_COMPRESSED;
	h.sh_size = ch.ch_size;
	h.sh_addralign = ch.ch_addralign ? ch.ch_addralign : 1;
	Elf_Data *d = gelf_update_shdr(scn, &h) ? elf_getdata(scn, NULL) : NULL;
	if (!d) {
		h = *sh;
		(void)gelf_update_shdr(scn, &h);
		free(out);
		return 0;
	}
	d->d_buf = out;
	d->d_size = ch.ch_size;
	d->d_type = ELF_T_BYTE;
	d->d_off = 0;
	d->d_align = h.sh_addralign;
	bufs->buf[bufs->n++] = out;
	return 1;
}

int ds_prepare(Elf *elf, ds_buffers *bufs)
{
	size_t shstrndx;
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	/* hiding names a section by offset 0 of .shstrtab, "" in any sane file */
	const char *first = elf_strptr(elf, shstrndx, 0);
	bool can_hide = first && first[0] == '\0';
	struct libdeflate_decompressor *dd = NULL;
	int done = 0;
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
		if (!(sh.sh_flags & SHF_COMPRESSED) ||
		    !listed(name, read_by_lookups, sizeof read_by_lookups / sizeof read_by_lookups[0]))
			continue;
		if (!dd && !(dd = libdeflate_alloc_decompressor())) {
			done = -ENOMEM;
			break;
		}
		int r = inflate_section(elf, scn, &sh, dd, bufs);
		if (r < 0) {
			done = r;
			break;
		}
		done += r;
	}
	if (dd)
		libdeflate_free_decompressor(dd);
	return done;
}

void ds_buffers_free(ds_buffers *bufs)
{
	for (size_t i = 0; i < bufs->n; i++)
		free(bufs->buf[i]);
	free(bufs->buf);
	*bufs = (ds_buffers){0};
}
