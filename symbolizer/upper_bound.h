/* symbolizer/upper_bound.h — private to symbolizer/: the one binary search
 * of the symbolizer's sorted tables (ranges, line rows, symbols, kallsyms,
 * perf maps). Each table's element starts with its uint64_t start address. */
#ifndef EMBER_SYMBOLIZER_UPPER_BOUND_H
#define EMBER_SYMBOLIZER_UPPER_BOUND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* How many of the n elements (stride bytes apart, sorted by their leading
 * uint64_t) start at or before a; the last such is at index result - 1. */
static inline size_t sym_upper_bound(const void *base, size_t n, size_t stride, uint64_t a)
{
	const unsigned char *p = base;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t key;
		memcpy(&key, p + mid * stride, sizeof key);
		if (key <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
