/* core/u64map.c — the uint64 -> uint64 hash map of ember/u64map.h. Owns its
 * slot array; never holds pointers into anything else. */
#include "ember/u64map.h"

#include "ember/hash.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t home(const u64map *m, uint64_t key)
{
	return (size_t)ember_hash_mix64(key) & m->mask;
}

uint64_t *u64map_get(const u64map *m, uint64_t key)
{
	if (!m->slots)
		return NULL;
	for (size_t i = home(m, key);; i = (i + 1) & m->mask) {
		u64map_slot *s = &m->slots[i];
		if (!s->used)
			return NULL;
		if (s->key == key)
			return &s->value;
	}
}

static int grow(u64map *m)
{
	size_t ncap = m->slots ? (m->mask + 1) * 2 : 16;
	u64map_slot *old = m->slots;
	size_t oldcap = m->slots ? m->mask + 1 : 0;
	u64map_slot *slots = calloc(ncap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->mask = ncap - 1;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].used)
			continue;
		size_t j = home(m, old[i].key);
		while (slots[j].used)
			j = (j + 1) & m->mask;
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

int u64map_put(u64map *m, uint64_t key, uint64_t value)
{
	uint64_t *v = u64map_get(m, key);
	if (v) {
		*v = value;
		return 0;
	}
	if (!m->slots || (m->len + 1) * 2 > m->mask + 1) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	size_t i = home(m, key);
	while (m->slots[i].used)
		i = (i + 1) & m->mask;
	m->slots[i] = (u64map_slot){ key, value, true };
	m->len++;
	assert(m->len * 2 <= m->mask + 1);
	return 0;
}

bool u64map_del(u64map *m, uint64_t key)
{
	if (!m->slots)
		return false;
	size_t i = home(m, key);
	while (1) {
		if (!m->slots[i].used)
			return false;
		if (m->slots[i].key == key)
			break;
		i = (i + 1) & m->mask;
	}
	/* backward-shift: pull later members of the probe run into the hole */
	size_t hole = i;
	for (size_t j = (i + 1) & m->mask; m->slots[j].used; j = (j + 1) & m->mask) {
		size_t h = home(m, m->slots[j].key);
		/* j may move to hole when its home is not in (hole, j] cyclically */
		bool stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
		if (!stays) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].used = false;
	assert(m->len > 0);
	m->len--;
	return true;
}

void u64map_clear(u64map *m)
{
	if (m->slots)
		memset(m->slots, 0, (m->mask + 1) * sizeof *m->slots);
	m->len = 0;
}

void u64map_free(u64map *m)
{
	free(m->slots);
	*m = (u64map)U64MAP_INIT;
}
