/* symbolizer/dwarf_sections.h — private to symbolizer/: readies a debug
 * file's sections before libdw opens it (dwarf_sections.c). */
#ifndef EMBER_SYMBOLIZER_DWARF_SECTIONS_H
#define EMBER_SYMBOLIZER_DWARF_SECTIONS_H

#include <stddef.h>

#include <libelf.h>

#include "ember/bigmem.h"

/* The memory of decompressed sections: one region for all of a file's,
 * backing the Elf's section data, so freed only after dwarf_end and
 * elf_end. */
typedef struct ds_buffers {
	ember_bigmem big; /* the region when large (huge pages) */
	void *small;      /* else malloc'd */
} ds_buffers;

/* Prepares elf for dwarf_begin_elf, which otherwise decompresses (with
 * zlib) every DWARF section it knows at once:
 *  - sections the symbolizer never reads (location lists, macros, name
 *    indexes, call frames) are hidden from libdw (their names cleared), so
 *    they are neither decompressed nor kept;
 *  - the SHF_COMPRESSED (ELFCOMPRESS_ZLIB) sections it does read are
 *    decompressed here with libdeflate, about three times faster, into one
 *    region (transparent huge pages when it is large: see
 *    dwarf_sections.c), and installed as the sections' plain data.
 * A section that does not decompress cleanly is left as it was (libdw then
 * reports it as it would have). Returns the number of sections decompressed
 * here, or -ENOMEM; bufs receives the buffers to free later. */
int ds_prepare(Elf *elf, ds_buffers *bufs);

/* Frees what ds_prepare allocated; call after elf_end of that Elf. */
void ds_buffers_free(ds_buffers *bufs);

#endif
