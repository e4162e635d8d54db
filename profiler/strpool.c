/* profiler/strpool.c — the interner of strpool.h: strings with a header
 * (count, hash) in front, found through an open-addressing table of
 * pointers (linear probing, backward-shift deletion). Owns the strings and
 * the table; knows nothing of processes. */
#include "strpool.h"

#include "ember/hash.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pstr {
	uint64_t hash;
	uint32_t refs;
	char s[];
} pstr;

struct strpool {
	pstr **slots;
	size_t mask;   /* capacity - 1 */
	size_t len;
};

static pstr *header(const char *s)
{
	return (pstr *)(void *)(s - offsetof(pstr, s));
}

int strpool_new(strpool **out)
{
	strpool *p = calloc(1, sizeof *p);
	if (!p || !(p->slots = calloc(64, sizeof *p->slots))) {
		free(p);
		return -ENOMEM;
	}
	p->mask = 63;
	*out = p;
	return 0;
}

void strpool_free(strpool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i <= p->mask; i++)
		free(p->slots[i]);
	free(p->slots);
	free(p);
}

static bool grow(strpool *p)
{
	size_t ncap = (p->mask + 1) * 2;
	pstr **slots = calloc(ncap, sizeof *slots);
	if (!slots)
		return false;
	for (size_t i = 0; i <= p->mask; i++) {
		if (!p->slots[i])
			continue;
		size_t j = p->slots[i]->hash & (ncap - 1);
		while (slots[j])
			j = (j + 1) & (ncap - 1);
		slots[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = slots;
	p->mask = ncap - 1;
	return true;
}

const char *strpool_get(strpool *p, const char *s)
{
	size_t len = strlen(s);
	uint64_t h = ember_hash_bytes(s, len, 0x73747270);
	size_t i = h & p->mask;
	for (; p->slots[i]; i = (i + 1) & p->mask) {
		pstr *e = p->slots[i];
		if (e->hash == h && strcmp(e->s, s) == 0) {
			e->refs++;
			return e->s;
		}
	}
	if ((p->len + 1) * 2 > p->mask + 1) {
		if (!grow(p))
			return NULL;
		for (i = h & p->mask; p->slots[i]; i = (i + 1) & p->mask)
			;
	}
	pstr *e = malloc(sizeof *e + len + 1);
	if (!e)
		return NULL;
	e->hash = h;
	e->refs = 1;
	memcpy(e->s, s, len + 1);
	p->slots[i] = e;
	p->len++;
	return e->s;
}

const char *strpool_ref(const char *pooled)
{
	pstr *e = header(pooled);
	assert(e->refs > 0);
	e->refs++;
	return pooled;
}

void strpool_put(strpool *p, const char *pooled)
{
	if (!pooled)
		return;
	pstr *e = header(pooled);
	assert(e->refs > 0);
	if (--e->refs)
		return;
	size_t i = e->hash & p->mask;
	while (p->slots[i] != e) {
		assert(p->slots[i]);
		i = (i + 1) & p->mask;
	}
	/* backward-shift: pull later members of the probe run into the hole */
	size_t hole = i;
	for (size_t j = (i + 1) & p->mask; p->slots[j]; j = (j + 1) & p->mask) {
		size_t home = p->slots[j]->hash & p->mask;
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			p->slots[hole] = p->slots[j];
			hole = j;
		}
	}
	p->slots[hole] = NULL;
	p->len--;
	free(e);
}

size_t strpool_len(const strpool *p)
{
	return p->len;
}
