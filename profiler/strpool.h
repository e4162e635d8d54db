/* profiler/strpool.h — a reference-counted string interner, private to
 * profiler/. The process table keeps each mapping's file name and build id
 * here, so a fork (which copies its parent's mappings) takes references
 * instead of copying strings: thousands of processes of one binary share one
 * copy, and a fork storm allocates one array per process, not one string
 * per mapping.
 *
 * Invariants: each distinct string is stored once; a stored string lives
 * while its count is > 0; the slot table's load stays <= 1/2.
 */
#ifndef EMBER_PROFILER_STRPOOL_H
#define EMBER_PROFILER_STRPOOL_H

#include <stddef.h>

typedef struct strpool strpool;

int strpool_new(strpool **out);
/* Frees every string, whatever its count. */
void strpool_free(strpool *p);

/* The pooled copy of s with one more reference, or NULL on ENOMEM. */
const char *strpool_get(strpool *p, const char *s);
/* One more reference to a string strpool_get returned. */
const char *strpool_ref(const char *pooled);
/* Drops a reference; the string is freed with its last one. NULL is ignored. */
void strpool_put(strpool *p, const char *pooled);

/* Distinct strings held (for tests). */
size_t strpool_len(const strpool *p);

#endif
