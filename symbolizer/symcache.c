/* symbolizer/symcache.c — the cache of indexed binaries, keyed by build id
 * ("b:" + hex) or, without one, by path, size and mtime ("p:" ...), so a
 * binary is indexed once however many processes and profiles map it. A failure
 * is cached too: a missing or corrupt binary is looked for and reported once.
 *
 * Bounded: past max_entries the least recently used entry goes (a node
 * agent sees binaries come and go for weeks). An open-addressing table of
 * entry pointers, load kept under 1/2; eviction rebuilds it (rare, O(cap)).
 * Must never: decide how keys are made or what goes in an entry.
 */
#include "symcache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ember/hash.h"

typedef struct slot {
	char *key;
	symcache_entry *e;
	uint64_t used; /* tick of the last get or put */
} slot;

struct symcache {
	slot *slots;
	size_t cap; /* power of two */
	size_t n, max;
	uint64_t tick, evictions;
};

symcache *symcache_new(size_t max_entries)
{
	symcache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->max = max_entries ? max_entries : 1;
	c->cap = 64;
	c->slots = calloc(c->cap, sizeof *c->slots);
	if (!c->slots) {
		free(c);
		return NULL;
	}
	return c;
}

void symcache_free(symcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++) {
		if (!c->slots[i].key)
			continue;
		elf_index_free(c->slots[i].e->ix);
		free(c->slots[i].e);
		free(c->slots[i].key);
	}
	free(c->slots);
	free(c);
}

static size_t probe(const symcache *c, const char *key)
{
	size_t mask = c->cap - 1;
	size_t h = (size_t)ember_hash_bytes(key, strlen(key), 0x51c0ffee) & mask;
	while (c->slots[h].key && strcmp(c->slots[h].key, key) != 0)
		h = (h + 1) & mask;
	return h;
}

symcache_entry *symcache_get(symcache *c, const char *key)
{
	slot *s = &c->slots[probe(c, key)];
	if (!s->key)
		return NULL;
	s->used = ++c->tick;
	return s->e;
}

/* Drops the least recently used entry and rehashes the rest. */
static void evict_one(symcache *c)
{
	size_t victim = c->cap;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].key &&
		    (victim == c->cap || c->slots[i].used < c->slots[victim].used))
			victim = i;
	assert(victim < c->cap);
	elf_index_free(c->slots[victim].e->ix);
	free(c->slots[victim].e);
	free(c->slots[victim].key);
	c->slots[victim] = (slot){0};
	c->n--;
	c->evictions++;
	/* Re-place the entries after the hole so every probe chain still
	 * reaches its key. */
	slot *old = c->slots;
	slot *ns = calloc(c->cap, sizeof *ns);
	if (!ns) {
		/* keep the table; fill the hole the slow way */
		for (size_t i = (victim + 1) & (c->cap - 1); old[i].key;
		     i = (i + 1) & (c->cap - 1)) {
			slot moved = old[i];
			old[i] = (slot){0};
			old[probe(c, moved.key)] = moved;
		}
		return;
	}
	c->slots = ns;
	for (size_t i = 0; i < c->cap; i++)
		if (old[i].key)
			c->slots[probe(c, old[i].key)] = old[i];
	free(old);
}

static bool grow(symcache *c)
{
	size_t ncap = c->cap * 2;
	slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return false;
	slot *old = c->slots;
	size_t ocap = c->cap;
	c->slots = ns;
	c->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			c->slots[probe(c, old[i].key)] = old[i];
	free(old);
	return true;
}

symcache_entry *symcache_put(symcache *c, const char *key)
{
	assert(!symcache_get(c, key));
	while (c->n >= c->max)
		evict_one(c);
	if ((c->n + 1) * 2 > c->cap && !grow(c))
		return NULL;
	symcache_entry *e = calloc(1, sizeof *e);
	char *k = strdup(key);
	if (!e || !k) {
		free(e);
		free(k);
		return NULL;
	}
	slot *s = &c->slots[probe(c, key)];
	assert(!s->key);
	s->key = k;
	s->e = e;
	s->used = ++c->tick;
	c->n++;
	assert(c->n * 2 <= c->cap);
	return e;
}

size_t symcache_count(const symcache *c)
{
	return c->n;
}

uint64_t symcache_evictions(const symcache *c)
{
	return c->evictions;
}
