/* ember/bigmem.h — memory for large buffers written once and kept (MiBs:
 * a copy of /proc/kallsyms, its symbol table, inflated DWARF sections), on
 * transparent huge pages where the kernel offers them (core/bigmem.c).
 *
 * Why not malloc: a fresh 4 KiB page costs a page fault on first write, and
 * on the VMs ember was measured on a fault costs ~10 us: writing a 5 MB
 * table page by page cost more than parsing it. A region here is an
 * anonymous mapping aligned to 2 MiB and advised MADV_HUGEPAGE, so the
 * kernel backs it with 2 MiB pages, one fault each. Address space costs
 * nothing until written, so a region may be reserved generously. */
#ifndef EMBER_BIGMEM_H
#define EMBER_BIGMEM_H

#include <stddef.h>

typedef struct ember_bigmem {
	void *p;    /* NULL when empty */
	size_t len; /* bytes mapped at p */
} ember_bigmem;

/* Maps at least len bytes (rounded up to 2 MiB) into an empty m. 0 or
 * -ENOMEM (m stays empty). */
int ember_bigmem_reserve(ember_bigmem *m, size_t len);

/* Makes m at least len bytes long, keeping its contents (it may move, and
 * then loses its 2 MiB alignment). 0 or -ENOMEM (m unchanged). */
int ember_bigmem_grow(ember_bigmem *m, size_t len);

/* Gives back what lies beyond the first keep bytes: unmapped in whole
 * 2 MiB steps, the pages of the last step past keep emptied. */
void ember_bigmem_trim(ember_bigmem *m, size_t keep);

/* Unmaps m; m is then empty. */
void ember_bigmem_free(ember_bigmem *m);

#endif
