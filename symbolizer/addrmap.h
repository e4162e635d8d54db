/* symbolizer/addrmap.h — private to symbolizer/: a sorted table of named
 * address ranges (addrmap.c), the shape of /proc/kallsyms (kallsyms.c) and
 * perf map files (perfmap.c). */
#ifndef EMBER_SYMBOLIZER_ADDRMAP_H
#define EMBER_SYMBOLIZER_ADDRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/bigmem.h"
#include "ember/error.h"

typedef struct addrmap_entry {
	uint64_t lo, hi;    /* [lo, hi) */
	char *name;         /* owned, or in the map's arena */
	const char *module; /* kallsyms: module name (owned by the map), or NULL */
	uint32_t order;     /* input order: later definitions win */
} addrmap_entry;

typedef struct addrmap {
	addrmap_entry *e;
	size_t n, cap;
	char **modules; /* interned module names */
	size_t n_modules;
	char *arena; /* owned: when set, every name points into it */
	bool sorted;
	ember_bigmem e_mem;     /* e's memory when reserved with addrmap_reserve_big */
	ember_bigmem arena_mem; /* the arena's when adopted with addrmap_adopt_big_arena */
} addrmap;

/* Appends [lo, hi) named name (copied); 0 or -ENOMEM. */
int addrmap_add(addrmap *m, uint64_t lo, uint64_t hi, const char *name, size_t name_len,
                const char *module, size_t module_len);
/* Makes room for n entries in all, for a large table built once
 * (kallsyms), on huge pages (ember/bigmem.h); before the first add, or
 * again on a map it reserved. 0 or -ENOMEM. */
int addrmap_reserve_big(addrmap *m, size_t n);
/* Appends [lo, hi) named name, which points into m->arena (NUL-terminated
 * there; a loader may store offsets into the arena and rebase them all
 * before the first lookup); 0 or -ENOMEM. */
int addrmap_add_in_arena(addrmap *m, uint64_t lo, uint64_t hi, char *name, const char *module,
                         size_t module_len);
/* For loaders that fill entries before their names' final home is known,
 * an arena in a bigmem region: addrmap_own_big_arena hands
 * the region to the map at once (*mem is left empty; the map frees it,
 * also on a loader's error path), so names can be added in it as offsets;
 * addrmap_adopt_big_arena then trims it to `used` and rebases them. */
void addrmap_own_big_arena(addrmap *m, ember_bigmem *mem);
void addrmap_adopt_big_arena(addrmap *m, size_t used);
/* Sorts (unless already in order); call once after the last add. */
void addrmap_finish(addrmap *m);
/* The latest entry covering a, or NULL. */
const addrmap_entry *addrmap_find(const addrmap *m, uint64_t a);
void addrmap_free(addrmap *m);

/* kallsyms.c: parses a /proc/kallsyms-format file of text symbols (each
 * symbol ends where the next begins). -EPERM when every address is 0
 * (kptr_restrict), -errno when unreadable. */
int kallsyms_load(const char *path, addrmap *out, ember_error *err);

/* perfmap.c: parses a perf map file ("START SIZE NAME" per line, hex). */
int perfmap_load(const char *path, addrmap *out, ember_error *err);

/* jitdump.c: reads a jitdump file's code loads and moves (-EINVAL when it is
 * no jitdump, -errno when unreadable). */
int jitdump_load(const char *path, addrmap *out, ember_error *err);

#endif
