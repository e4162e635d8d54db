/* symbolizer/elf_index.h — private to symbolizer/: the per-binary index
 * (elf_index.c). Built from libdw and libelf into sorted arrays, whole or
 * per compile unit on first use (EI_BUILD_LAZY); every lookup within what is
 * indexed is a binary search. Not thread-safe: lookups write (lazy CUs,
 * demangled names), so one symbolizer per thread. */
#ifndef EMBER_SYMBOLIZER_ELF_INDEX_H
#define EMBER_SYMBOLIZER_ELF_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

#include "ember/error.h"
#include "ember/symbolize.h"

typedef struct elf_index elf_index;

/* One open ELF file: the index takes ownership of both (elf_end, close). */
typedef struct ei_file {
	int fd; /* -1 for in-memory images */
	Elf *elf;
	void *mem; /* owned copy of an in-memory image, or NULL */
} ei_file;

/* Closes and frees whatever f holds; f becomes {-1, NULL, NULL}. */
void ei_file_close(ei_file *f);

enum {
	EI_BUILD_LAZY = 1, /* index each CU when an address in it is first asked
	              * (an address outside every CU's ranges then gets no
	              * DWARF answer); else, or when the CUs' ranges cannot
	              * map addresses to CUs, everything at once */
};

/* Builds the index. `bin` is the binary as loaded (program headers, symbols;
 * may be an empty ei_file {-1, NULL, NULL} when only the debug file exists);
 * `dbg` the file with DWARF (may be the same Elf as bin, or empty). Takes
 * ownership of both files even on failure. A file that cannot be parsed is an
 * error (-EINVAL, one line); DWARF that fails halfway keeps what was read. */
int elf_index_new(elf_index **out, ei_file bin, ei_file dbg, unsigned flags,
                  ember_error *err);
void elf_index_free(elf_index *ix);

enum {
	EI_DEMANGLE = 1,       /* demangled function names */
	EI_NEAREST_SYMBOL = 2, /* without DWARF, the nearest symbol before the
	                        * address even past its size (binutils'
	                        * addr2line); else only a symbol covering it */
};

/* Frames for a link-time virtual address, innermost first; returns how many
 * (0: nothing known). Strings live as long as the index. */
size_t elf_index_lookup(elf_index *ix, uint64_t vaddr, unsigned flags, ember_frame *out,
                        size_t max);

/* A process address in a mapping (start, file offset) -> link-time virtual
 * address, through the PT_LOAD program headers. False when no segment holds
 * it. */
bool elf_index_map_address(const elf_index *ix, uint64_t addr, uint64_t map_start,
                           uint64_t map_offset, uint64_t *vaddr);

typedef struct elf_index_info {
	bool has_dwarf;   /* function DIEs were found */
	bool has_lines;   /* a line table was found */
	bool has_symbols; /* .symtab or .dynsym */
	bool has_go;      /* Go's .gopclntab: functions, files, lines */
	bool go_inline;   /* ... and its inline trees */
	bool dwarf_error; /* DWARF was present but (partly) unreadable */
	bool lazy;        /* per-CU indexing; the has_* and n_* above then
	                   * count only the CUs indexed so far */
	size_t n_functions, n_ranges, n_rows, n_symbols;
	size_t n_cus, n_cus_indexed; /* lazy: CUs mapped, CUs indexed */
} elf_index_info;

void elf_index_get_info(const elf_index *ix, elf_index_info *out);


#endif
