/* symbolizer/symcache.h — private to symbolizer/: binaries indexed so far,
 * keyed by build id (symcache.c). */
#ifndef EMBER_SYMBOLIZER_SYMCACHE_H
#define EMBER_SYMBOLIZER_SYMCACHE_H

#include <stdbool.h>

#include "elf_index.h"

typedef struct symcache symcache;

/* What is known about one key: an index, or why there is none. */
typedef struct symcache_entry {
	elf_index *ix; /* NULL: failed (err says why) */
	int err;       /* 0, or the negative errno of the failure */
	char msg[512]; /* the failure's one line */
	bool dwarf_warned; /* the symbolizer warned of unreadable DWARF */
} symcache_entry;

/* A cache of at most max_entries (>= 1); adding past that evicts the least
 * recently used entry, freeing its index. */
symcache *symcache_new(size_t max_entries);
/* Frees every entry and its index. */
void symcache_free(symcache *c);
/* The entry for key, or NULL; marks it used. */
symcache_entry *symcache_get(symcache *c, const char *key);
/* Adds a new entry for key (which must not be present) and returns it, or
 * NULL on ENOMEM. The entry then owns the index put in it. May evict: entry
 * pointers from before a put are valid only while symcache_evictions() is
 * unchanged. */
symcache_entry *symcache_put(symcache *c, const char *key);
size_t symcache_count(const symcache *c);
uint64_t symcache_evictions(const symcache *c);

#endif
