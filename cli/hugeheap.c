/* cli/hugeheap.c — the one-shot commands' heap on transparent huge pages.
 *
 * Why: symbolizing builds large tables once and exits: /proc/kallsyms read
 * and parsed (5 MB and 120,000 entries), inflated DWARF, symbol indexes,
 * the profile. Fresh heap memory costs a page fault per 4 KiB on first
 * write, and on this project's VMs a fault costs ~10 us: `ember symbolize`
 * of a 4 s profile took ~5,600 faults, over half of its 160 ms (cold
 * kernel symbols). With the heap on 2 MiB pages it takes ~600 faults and
 * 80-100 ms (43 ms instead of 60 with the kernel symbols cached).
 *
 * How: glibc grows its heap with brk. Before the command, one block of
 * HUGEHEAP_BYTES (30 MiB) is allocated (address space only: no page of it is
 * touched), the whole-huge-page part of the heap is advised MADV_HUGEPAGE,
 * and the block is freed back into the heap, which glibc is told not to
 * trim (M_TRIM_THRESHOLD) and to use for large blocks too instead of
 * separate mappings (M_MMAP_THRESHOLD). This is glibc's own
 * glibc.malloc.hugetlb=1 tunable, which can only be set in the environment
 * before exec. Where transparent huge pages are "never" the kernel ignores
 * the advice; under a sanitizer's allocator the heap is not brk's and
 * nothing is advised.
 *
 * Not for serve: a long-lived agent's resident memory is what a node
 * pays for, and huge pages round every touched heap range up to 2 MiB.
 *
 * Must never: advise memory that is not the heap's.
 */
#include "hugeheap.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

enum { HUGE_PAGE = 2 << 20 };

bool hugeheap_prefer(void)
{
	/* blocks up to 32 MiB (glibc's largest threshold on 64-bit) from the
	 * heap; never give its top back */
	if (mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 || mallopt(M_TRIM_THRESHOLD, 256 << 20) != 1)
		return false;
	/* MALLOC_PERTURB_ (tests, debugging) makes glibc fill every block on
	 * malloc and free, which would write all of this one: it is off for
	 * this block only (read as glibc reads it, and not at all in a secure
	 * exec, where glibc ignores it; glibc.malloc.perturb set through
	 * GLIBC_TUNABLES is not seen, and then the block is written). */
	const char *pe = getauxval(AT_SECURE) ? NULL : getenv("MALLOC_PERTURB_");
	int perturb = pe ? (int)(strtol(pe, NULL, 0) & 0xff) : 0;
	if (perturb)
		(void)mallopt(M_PERTURB, 0);
	char *before = sbrk(0);
	char *block = malloc(HUGEHEAP_BYTES);
	char *after = sbrk(0);
	bool ok = false;
	/* the block must lie below the break that it just moved (a
	 * sanitizer's block, or an mmap'd one, lies elsewhere) */
	if (block && before != (char *)-1 && after != (char *)-1 &&
	    (size_t)(after - before) >= HUGEHEAP_BYTES / 2 && block < after &&
	    HUGEHEAP_BYTES <= (size_t)(after - block)) {
		uintptr_t lo = ((uintptr_t)block + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
		uintptr_t hi = (uintptr_t)after & ~(uintptr_t)(HUGE_PAGE - 1);
		ok = hi > lo && madvise((void *)lo, hi - lo, MADV_HUGEPAGE) == 0;
	}
	free(block);
	if (perturb)
		(void)mallopt(M_PERTURB, perturb);
	return ok;
}
