/* tests/core/test_bigmem.c — ember/bigmem.h: regions are 2 MiB-aligned
 * multiples of 2 MiB, keep their contents when grown (also when moved) and
 * trimmed, refuse impossible sizes without change, and free to empty. */
#include "ember/bigmem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../check.h"

enum { MIB = 1 << 20 };

static size_t pattern_errors(const unsigned char *p, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += p[i] != (unsigned char)(i * 13 + 5);
	return bad;
}

int main(void)
{
	ember_bigmem m = {0};
	CHECK_EQ_INT(ember_bigmem_reserve(&m, 3 * MIB), 0);
	CHECK(m.p != NULL && m.len == 4 * MIB);
	CHECK_EQ_INT((uintptr_t)m.p % (2 * MIB), 0);
	unsigned char *p = m.p;
	for (size_t i = 0; i < 3 * MIB; i++)
		p[i] = (unsigned char)(i * 13 + 5);

	/* grown (a mapping next to it forces a move now and then) */
	void *block = mmap((char *)m.p + m.len, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_EQ_INT(ember_bigmem_grow(&m, 40 * MIB), 0);
	CHECK(m.len >= 40 * MIB && m.len % (2 * MIB) == 0);
	CHECK_EQ_INT(pattern_errors(m.p, 3 * MIB), 0);
	CHECK_EQ_INT(ember_bigmem_grow(&m, 10), 0); /* already large enough */
	CHECK(m.len >= 40 * MIB);
	if (block != MAP_FAILED)
		munmap(block, 4096);

	/* trimmed to 2.5 MiB: 4 MiB stay mapped, the first 2.5 MiB intact, the
	 * rest of the last huge page reads as zero again */
	ember_bigmem_trim(&m, 5 * MIB / 2);
	CHECK_EQ_INT(m.len, 4 * MIB);
	CHECK_EQ_INT(pattern_errors(m.p, 5 * MIB / 2), 0);
	CHECK(((unsigned char *)m.p)[3 * MIB - 1] == 0);

	/* impossible sizes: -ENOMEM, nothing changed */
	ember_bigmem before = m;
	CHECK_EQ_INT(ember_bigmem_grow(&m, SIZE_MAX - 5), -ENOMEM);
	CHECK(m.p == before.p && m.len == before.len);
	ember_bigmem none = {0};
	CHECK_EQ_INT(ember_bigmem_reserve(&none, SIZE_MAX - 5), -ENOMEM);
	CHECK(none.p == NULL && none.len == 0);

	ember_bigmem_free(&m);
	CHECK(m.p == NULL && m.len == 0);
	ember_bigmem_free(&m); /* twice: harmless */
	/* a region grown from empty is a reserve */
	CHECK_EQ_INT(ember_bigmem_grow(&m, 1), 0);
	CHECK(m.p != NULL && m.len == 2 * MIB);
	ember_bigmem_free(&m);
	return check_exit();
}
