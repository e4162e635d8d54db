/* exporter/grow.h — private to exporter/: the one array-growth step its
 * tables share (doubling, overflow-checked). */
#ifndef EMBER_EXPORTER_GROW_H
#define EMBER_EXPORTER_GROW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Makes *arr hold at least `need` elements of `elem` bytes; false on ENOMEM
 * (the array is then unchanged). */
static inline bool exporter_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 64;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem)
			return false;
		n *= 2;
	}
	void *a = realloc(*arr, n * elem);
	if (!a)
		return false;
	*arr = a;
	*cap = n;
	return true;
}

#endif
