/* profiler/vec.h — growing a heap array by doubling, the one primitive the
 * profiler's tables share, private to profiler/. */
#ifndef EMBER_PROFILER_VEC_H
#define EMBER_PROFILER_VEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Ensures *arr holds at least need elements of elem bytes (capacity in
 * *cap); false on overflow or ENOMEM, leaving *arr as it was. */
static inline bool vec_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return false;
		ncap *= 2;
	}
	void *n = realloc(*arr, ncap * elem);
	if (!n)
		return false;
	*arr = n;
	*cap = ncap;
	return true;
}

#endif
