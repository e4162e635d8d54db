/* ember/hash.h — the hash functions shared by ember's hash tables (string
 * interner, stack table, symbol caches). Fast, not cryptographic; tables that
 * take input from users must still bound their probe lengths. */
#ifndef EMBER_HASH_H
#define EMBER_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Finalizer of a 64-bit value (the splitmix64 / murmur3 fmix64 constants). */
static inline uint64_t ember_hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Hash of an array of 64-bit words: one multiply-mix per word. */
static inline uint64_t ember_hash_words(const uint64_t *w, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	for (size_t i = 0; i < n; i++)
		h = ember_hash_mix64(h ^ w[i]) + 0x9e3779b97f4a7c15ULL;
	return ember_hash_mix64(h);
}

/* Hash of bytes: 8 bytes at a time, tail folded in. */
static inline uint64_t ember_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = ember_hash_mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
		p += 8;
		len -= 8;
	}
	uint64_t t = 0;
	memcpy(&t, p, len);
	return ember_hash_mix64(h ^ t ^ ((uint64_t)len << 56));
}

#endif
