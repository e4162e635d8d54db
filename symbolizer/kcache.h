/* symbolizer/kcache.h — private to symbolizer/: the core kernel's text
 * symbols kept on disk for the rest of the boot (kcache.c). */
#ifndef EMBER_SYMBOLIZER_KCACHE_H
#define EMBER_SYMBOLIZER_KCACHE_H

#include <stdint.h>

#include "addrmap.h"

/* The symbols of [lo, hi) = [_stext, _etext): they cannot change until the
 * next boot (KASLR picks the base once), unlike modules, BPF programs and
 * trampolines, so an address in that range is answered from the cache and
 * any other needs /proc/kallsyms itself. The file is mapped read-only and
 * looked up where it lies: loading copies nothing (a copy of its 5 MB
 * cost more than all lookups of a profile). */
typedef struct kcache {
	void *file;    /* the mapping, file_len bytes */
	size_t file_len;
	const struct kc_entry *e; /* n entries, sorted by address, in the mapping */
	uint32_t n;
	const char *names; /* names_len bytes, the last one NUL */
	uint64_t names_len;
	uint64_t lo, hi;
} kcache;

/* Maps dir/kallsyms if it was written in this boot by root and is whole
 * (every entry checked once here: sorted, inside [lo, hi), its name inside
 * the names): 1 and *out filled, 0 when there is no usable cache (not root,
 * absent, another boot, someone else's, damaged). */
int kcache_load(const char *dir, kcache *out);

/* The symbol covering a (the latest of aliases, as addrmap_find), as an
 * entry whose name points into the mapping and whose module is NULL: true,
 * or false when none covers a. Only for a with kcache_covers(kc, a). */
bool kcache_find(const kcache *kc, uint64_t a, addrmap_entry *out);

/* Writes the [_stext, _etext) part of a table loaded from /proc/kallsyms
 * to dir/kallsyms (dir created 0700, file 0600: kernel addresses are not
 * for other users), atomically, when running as root (see kcache.c). Best
 * effort: 0, or -errno when nothing was written (not root, no
 * _stext/_etext, unwritable or untrusted directory). */
int kcache_store(const char *dir, const addrmap *full);

/* True when kc answers for a. */
static inline bool kcache_covers(const kcache *kc, uint64_t a)
{
	return kc->n && a >= kc->lo && a < kc->hi;
}

void kcache_free(kcache *kc);

#endif
