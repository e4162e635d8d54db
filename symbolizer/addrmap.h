/* symbolizer/addrmap.h — private to symbolizer/: a sorted table of named
 * address ranges (addrmap.c), the shape of /proc/kallsyms (kallsyms.c) and
 * perf map files (perfmap.c). */
#ifndef EMBER_SYMBOLIZER_ADDRMAP_H
#define EMBER_SYMBOLIZER_ADDRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/error.h"

typedef struct addrmap_entry {
	uint64_t lo, hi;    /* [lo, hi) */
	char *name;         /* owned */
	const char *module; /* kallsyms: module name (owned by the map), or NULL */
	uint32_t order;     /* input order: later definitions win */
} addrmap_entry;

typedef struct addrmap {
	addrmap_entry *e;
	size_t n, cap;
	char **modules; /* interned module names */
	size_t n_modules;
	bool sorted;
} addrmap;

/* Appends [lo, hi) named name (copied); 0 or -ENOMEM. */
int addrmap_add(addrmap *m, uint64_t lo, uint64_t hi, const char *name, size_t name_len,
                const char *module, size_t module_len);
/* Sorts; call once after the last add. */
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

#endif
