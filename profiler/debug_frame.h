/* profiler/debug_frame.h — .debug_frame rewritten as .eh_frame, private to
 * profiler/ (used by unwind_dwarf.c).
 *
 * libunwind's remote search (dwarf_search_unwind_table) reads only
 * .eh_frame-style FDEs found through an .eh_frame_hdr-style table, all
 * through the address space's access_mem. A binary whose CFI lives only in
 * .debug_frame (built with -g -fno-asynchronous-unwind-tables) is made
 * readable the same way: its CIEs and FDEs are rewritten in .eh_frame form
 * (CIE id 0, augmentation "zR", pc-relative sdata4 addresses) behind a
 * sorted table, as one blob meant to be served at ELF address at_vaddr.
 * Addresses are pc-relative and the table is relative to the blob, so the
 * blob is independent of where the binary is loaded: it is built once per
 * binary and served at (load bias + at_vaddr).
 */
#ifndef EMBER_PROFILER_DEBUG_FRAME_H
#define EMBER_PROFILER_DEBUG_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct debug_frame_blob {
	uint8_t *data;   /* [n_fdes x {int32 start - at_vaddr, int32 FDE offset}][CIEs][FDEs] */
	size_t size;     /* a multiple of 8 */
	uint64_t n_fdes; /* table entries, sorted by start */
} debug_frame_blob;

/* Converts the .debug_frame section bytes (32-bit DWARF, CIE versions 1, 3
 * and 4, empty augmentation, 8-byte addresses). Entries it cannot convert
 * are skipped. 0 with out filled (n_fdes > 0), -ENOENT when nothing was
 * usable, -ENOMEM. */
int debug_frame_convert(const uint8_t *sec, size_t sec_size, uint64_t at_vaddr,
                        debug_frame_blob *out);

void debug_frame_blob_free(debug_frame_blob *b);

#endif
