/* symbolizer/debuginfo.h — private to symbolizer/: finding a binary and its
 * separate debug file (debuginfo.c). */
#ifndef EMBER_SYMBOLIZER_DEBUGINFO_H
#define EMBER_SYMBOLIZER_DEBUGINFO_H

#include <stddef.h>
#include <stdint.h>

#include "elf_index.h"
#include "ember/error.h"
#include "ember/symbolize.h"

typedef struct debuginfo_search {
	const char *const *debug_dirs; /* --debug-dir trees, in order */
	size_t n_debug_dirs;
	const char *system_dir;               /* "/usr/lib/debug" unless a test says */
	const ember_symbolizer_callbacks *cb; /* may be NULL */
} debuginfo_search;

typedef struct debuginfo_found {
	ei_file bin;        /* the binary ({-1, NULL, NULL} when only debug info exists) */
	ei_file dbg;        /* the file with DWARF: bin itself, a separate file, or none */
	unsigned refused;   /* candidates refused for a wrong build id */
	char build_id[129]; /* what was matched (mapping's, else the binary's) */
} debuginfo_found;

/* Finds the binary at `path` (or through cb->find_elf, or /proc/PID/root
 * when pid > 0) and its debug info. `build_id` is the mapping's ("" if
 * unknown); files whose build id differs are refused and counted. Returns 0
 * when something usable was found (the caller owns found->bin/dbg), -ENOENT
 * when nothing was, -EINVAL for a file that is not a valid ELF; err says
 * which and why. */
int debuginfo_find(const debuginfo_search *s, const char *path, const char *build_id, int64_t pid,
                   debuginfo_found *found, ember_error *err);

/* Opens an ELF read-only; -errno / -EINVAL with a message. */
int debuginfo_open_elf(const char *path, ei_file *out, ember_error *err);

/* vdso.c: the vDSO image of this process (the running kernel's), copied
 * into memory as an ELF. -ENOENT when there is none. */
int vdso_open(ei_file *out, ember_error *err);
#endif
