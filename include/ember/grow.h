/* ember/grow.h — growing a heap array by doubling: the one primitive the
 * tables of every module (profile model, process table, merger, metrics)
 * share. Amortized O(1) appends; overflow-checked. */
#ifndef EMBER_GROW_H
#define EMBER_GROW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Ensures *arr holds at least `need` elements of `elem` bytes (capacity in
 * *cap, doubled from 16 as needed); false on overflow or ENOMEM, leaving
 * *arr and *cap as they were. */
static inline bool ember_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap : 16;
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
