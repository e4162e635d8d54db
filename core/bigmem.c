/* core/bigmem.c — large write-once buffers on transparent huge pages (see
 * ember/bigmem.h for why). Owns: the mappings. Must never: hand out memory
 * that is not its own mapping, or leave a mapping behind on failure. */
#include "ember/bigmem.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

enum { HUGE_PAGE = 2 << 20 };

static size_t round_up(size_t n)
{
	return n > SIZE_MAX - (HUGE_PAGE - 1) ? 0 : (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
}

int ember_bigmem_reserve(ember_bigmem *m, size_t len)
{
	size_t want = round_up(len ? len : 1);
	if (want == 0 || want > SIZE_MAX - HUGE_PAGE)
		return -ENOMEM;
	/* over-map by a huge page and cut both ends, so the region starts on one */
	char *raw = mmap(NULL, want + HUGE_PAGE, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -ENOMEM;
	uintptr_t start = ((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	size_t head = start - (uintptr_t)raw;
	if (head)
		munmap(raw, head);
	if (HUGE_PAGE - head)
		munmap((char *)start + want, HUGE_PAGE - head);
	(void)madvise((void *)start, want, MADV_HUGEPAGE); /* advice: may be refused */
	m->p = (void *)start;
	m->len = want;
	return 0;
}

int ember_bigmem_grow(ember_bigmem *m, size_t len)
{
	if (len <= m->len)
		return 0;
	if (!m->p)
		return ember_bigmem_reserve(m, len);
	size_t want = round_up(len);
	if (want == 0)
		return -ENOMEM;
	void *n = mremap(m->p, m->len, want, MREMAP_MAYMOVE);
	if (n == MAP_FAILED)
		return -ENOMEM;
	(void)madvise(n, want, MADV_HUGEPAGE);
	m->p = n;
	m->len = want;
	return 0;
}

void ember_bigmem_trim(ember_bigmem *m, size_t keep)
{
	if (!m->p)
		return;
	size_t k = round_up(keep ? keep : 1);
	if (k && k < m->len) {
		munmap((char *)m->p + k, m->len - k);
		m->len = k;
	}
	/* the written pages past keep inside the last huge page, freed too */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t from = (keep + page - 1) / page * page;
	if (from < m->len)
		(void)madvise((char *)m->p + from, m->len - from, MADV_DONTNEED);
}

void ember_bigmem_free(ember_bigmem *m)
{
	if (m->p)
		munmap(m->p, m->len);
	*m = (ember_bigmem){0};
}
