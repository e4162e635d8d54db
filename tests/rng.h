/* tests/rng.h — the xorshift64 generator of ember's C tests: reproducible
 * runs of random corruptions and inputs. */
#ifndef EMBER_TESTS_RNG_H
#define EMBER_TESTS_RNG_H

#include <stdint.h>

static inline uint64_t test_rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

#endif
