/* tests/cli/test_hugeheap.c — cli/hugeheap.c: with glibc's heap and a
 * kernel that offers transparent huge pages ("always" or "madvise"), the
 * one-shot commands' large heap blocks land on huge pages; under a
 * sanitizer's allocator nothing is advised; in every case the heap still
 * works (blocks written and read back, freed, allocated again). */
#include "hugeheap.h"

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* The kernel's THP mode: 1 when it honours MADV_HUGEPAGE. */
static int thp_offered(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

/* AnonHugePages of the mapping holding p, in kB (-1 when not found). */
static long huge_kb_at(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512];
	bool in = false;
	long kb = -1;
	uintptr_t a = (uintptr_t)p;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int main(void)
{
	bool advised = hugeheap_prefer();
	int thp = thp_offered();
	fprintf(stderr, "advised %d, THP offered %d, sanitized %d\n", advised, thp, SANITIZED);
	if (SANITIZED)
		CHECK(!advised);
	else
		CHECK_EQ_INT(advised, thp);

	/* MALLOC_PERTURB_ (meson sets one) is back on: glibc fills a new
	 * block with the perturb byte's complement (glibc's allocator only) */
	const char *pe = getenv("MALLOC_PERTURB_");
	int perturb = pe ? (int)(strtol(pe, NULL, 0) & 0xff) : 0;
	if (perturb && !SANITIZED) {
		unsigned char *small = malloc(64);
		size_t filled = 0;
		for (int i = 0; small && i < 64; i++)
			filled += small[i] == (unsigned char)(perturb ^ 0xff);
		CHECK_EQ_INT(filled, 64);
		free(small);
	}

	/* an 8 MiB table, written once, as kallsyms_load's */
	size_t len = 8 << 20;
	unsigned char *t = malloc(len);
	CHECK(t != NULL);
	if (!t)
		return check_exit();
	for (size_t i = 0; i < len; i++)
		t[i] = (unsigned char)(i * 7);
	long kb = huge_kb_at(t + len / 2); /* the head may precede the first whole huge page */
	fprintf(stderr, "8 MiB block: AnonHugePages %ld kB\n", kb);
	if (advised)
		CHECK(kb >= 2048); /* at least one huge page under it */
	size_t bad = 0;
	for (size_t i = 0; i < len; i++)
		bad += t[i] != (unsigned char)(i * 7);
	CHECK_EQ_INT(bad, 0);
	free(t);
	void *again = malloc(len);
	CHECK(again != NULL);
	free(again);
	return check_exit();
}
