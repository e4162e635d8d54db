/* cli/hugeheap.h — the heap of the one-shot commands on huge pages
 * (cli/hugeheap.c). */
#ifndef EMBER_CLI_HUGEHEAP_H
#define EMBER_CLI_HUGEHEAP_H

#include <stdbool.h>

/* Before a one-shot command (record, symbolize, export, merge, addr2line)
 * runs: grows the heap once by HUGEHEAP_BYTES of address space advised
 * MADV_HUGEPAGE, and has glibc keep it and place large blocks in it. True
 * when the advice was given; false (nothing changed but glibc's mmap and
 * trim thresholds) where the heap is not glibc's brk heap (sanitizers) or
 * the kernel refuses the advice. Never for serve (see hugeheap.c). */
bool hugeheap_prefer(void);

enum { HUGEHEAP_BYTES = 30 << 20 }; /* under glibc's largest mmap threshold */

#endif
