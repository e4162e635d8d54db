/* symbolizer/kcache.h — private to symbolizer/: the core kernel's text
 * symbols kept on disk for the rest of the boot (kcache.c). */
#ifndef EMBER_SYMBOLIZER_KCACHE_H
#define EMBER_SYMBOLIZER_KCACHE_H

#include <stdint.h>

#include "addrmap.h"

/* The symbols of [lo, hi) = [_stext, _etext): they cannot change until the
 * next boot (KASLR picks the base once), unlike modules, BPF programs and
 * trampolines, so an address in that range is answered from the cache and
 * any other needs /proc/kallsyms itself. */
typedef struct kcache {
	addrmap map;
	uint64_t lo, hi;
} kcache;

/* Loads dir/kallsyms if it was written in this boot by root and is whole:
 * 1 and *out filled, 0 when there is no usable cache (not root, absent,
 * another boot, someone else's, damaged), -ENOMEM. */
int kcache_load(const char *dir, kcache *out);

/* Writes the [_stext, _etext) part of a table loaded from /proc/kallsyms
 * to dir/kallsyms (dir created 0700, file 0600: kernel addresses are not
 * for other users), atomically, when running as root (see kcache.c). Best
 * effort: 0, or -errno when nothing was written (not root, no
 * _stext/_etext, unwritable or untrusted directory). */
int kcache_store(const char *dir, const addrmap *full);

/* True when kc answers for a. */
static inline bool kcache_covers(const kcache *kc, uint64_t a)
{
	return kc->map.n && a >= kc->lo && a < kc->hi;
}

void kcache_free(kcache *kc);

#endif
