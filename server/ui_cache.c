/* server/ui_cache.c — the timeline's memory (server/ui.h): each stored
 * window's JSON entry (its CPU and top functions), kept after the first
 * time the window was read, so /ui/ redraws an hour of windows without
 * decoding them again. Windows do not change once stored; an entry is keyed
 * by the window id, its file size and the number of functions asked for,
 * so a window stored again under its id is read again.
 *
 * Owns: copies of the entries, at most max of them (then it starts
 * over: bounded memory, no eviction bookkeeping). Must never: block a
 * reader for longer than a copy (one mutex, held for a lookup or an insert).
 */
#include "server/ui.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ember/hash.h"

typedef struct cache_entry {
	char *key;     /* "id/bytes/top" */
	char *frag;
	size_t len;
} cache_entry;

struct ember_ui_cache {
	pthread_mutex_t mu;
	cache_entry *slots;   /* open addressing, 2 x max slots */
	size_t mask, n, max;
};

int ember_ui_cache_new(ember_ui_cache **out, size_t max)
{
	ember_ui_cache *c = calloc(1, sizeof *c);
	size_t cap = 16;
	while (cap < 2 * max)
		cap *= 2;
	if (!c || !(c->slots = calloc(cap, sizeof *c->slots))) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->mask = cap - 1;
	c->max = max;
	*out = c;
	return 0;
}

static void clear(ember_ui_cache *c)
{
	for (size_t i = 0; i <= c->mask; i++) {
		free(c->slots[i].key);
		free(c->slots[i].frag);
		c->slots[i] = (cache_entry){ 0 };
	}
	c->n = 0;
}

void ember_ui_cache_free(ember_ui_cache *c)
{
	if (!c)
		return;
	clear(c);
	free(c->slots);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static cache_entry *slot(ember_ui_cache *c, const char *key)
{
	size_t h = (size_t)ember_hash_bytes(key, strlen(key), 0x7e11) & c->mask;
	while (c->slots[h].key && strcmp(c->slots[h].key, key))
		h = (h + 1) & c->mask;
	return &c->slots[h];
}

bool ember_ui_cache_get(ember_ui_cache *c, const char *key, ember_buf *out)
{
	if (!c)
		return false;
	pthread_mutex_lock(&c->mu);
	cache_entry *e = slot(c, key);
	bool hit = e->key != NULL;
	if (hit)
		ember_buf_append(out, e->frag, e->len);
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void ember_ui_cache_put(ember_ui_cache *c, const char *key, const char *frag, size_t len)
{
	if (!c)
		return;
	char *k = strdup(key), *f = malloc(len ? len : 1);
	if (!k || !f) {   /* a cache that cannot grow just forgets */
		free(k);
		free(f);
		return;
	}
	memcpy(f, frag, len);
	pthread_mutex_lock(&c->mu);
	if (c->n >= c->max)
		clear(c);
	cache_entry *e = slot(c, key);
	if (e->key) {   /* another thread put it meanwhile */
		free(k);
		free(f);
	} else {
		*e = (cache_entry){ k, f, len };
		c->n++;
	}
	pthread_mutex_unlock(&c->mu);
}
