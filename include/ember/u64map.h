/* ember/u64map.h — an open-addressing hash map from uint64_t keys to
 * uint64_t values (linear probing, backward-shift deletion), the one such
 * map of every wing (core/u64map.c). The process table uses it for
 * pid -> process and tid -> thread, the window builder for per-window id
 * tables, the pprof decoder for a file's ids -> the model's ids.
 *
 * Invariants: capacity is a power of two; the load stays <= 1/2, so every
 * probe ends at an empty slot; a key appears at most once. Lookups never
 * allocate; inserts allocate only when the table grows.
 */
#ifndef EMBER_U64MAP_H
#define EMBER_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct u64map_slot {
	uint64_t key;
	uint64_t value;
	bool used;
} u64map_slot;

typedef struct u64map {
	u64map_slot *slots;
	size_t mask;   /* capacity - 1; 0 with slots == NULL when empty */
	size_t len;
} u64map;

#define U64MAP_INIT { NULL, 0, 0 }

/* Pointer to the value of key, or NULL. */
uint64_t *u64map_get(const u64map *m, uint64_t key);
/* Sets key to value (inserting or overwriting): 0 or -ENOMEM. */
int u64map_put(u64map *m, uint64_t key, uint64_t value);
/* Removes key; true when it was there. */
bool u64map_del(u64map *m, uint64_t key);
void u64map_clear(u64map *m);   /* empties, keeps memory */
void u64map_free(u64map *m);

/* Iteration: for (size_t i = 0; i <= m->mask && m->slots; i++) if used... */
#define u64map_foreach(m, s)                                                   \
	for (u64map_slot *s = (m)->slots; (m)->slots && s <= (m)->slots + (m)->mask; s++) \
		if (s->used)

#endif
