/* ember/symbolize.h — the symbolizer's contract (symbolizer/): turn a RAW
 * profile into a symbolized one, offline, with libdw; and answer
 * addr2line-style questions about one ELF file.
 *
 * Knows nothing of perf. Finds binaries and debug files through a callback
 * struct (so tests can feed files from anywhere) whose default searches, in
 * order: the binary itself; each --debug-dir build-id tree; /usr/lib/debug;
 * .gnu_debuglink next to the binary, in its .debug/ and under /usr/lib/debug.
 * A file whose build id does not match the mapping's is never used.
 *
 * Per binary (keyed by build id, else path + size + mtime) an index of
 * function ranges, inline ranges and line rows is built and cached (up to
 * opts.max_binaries, least recently used evicted); lookups answer from the
 * index. For profiles (ember_symbolizer_run) the index is lazy: an address ->
 * compile unit map from the CUs' own ranges first, then each CU's functions,
 * inlines and lines the first time an address in it is asked, so a profile
 * touching a few functions of libc reads a few CUs of its debug file, not
 * all. An address outside every CU's ranges then gets symbol-table answers
 * only (binutils' addr2line does the same). ember_symbolizer_addr2line
 * indexes each file whole at once, as it is asked many addresses.
 */
#ifndef EMBER_SYMBOLIZE_H
#define EMBER_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/error.h"
#include "ember/profile.h"

/* Where binaries and debug files come from. Each returns an open fd (the
 * callee owns nothing after returning) or -errno. Any member may be NULL to
 * use the default behaviour. */
typedef struct ember_symbolizer_callbacks {
	void *ctx;
	/* The ELF for a mapping: path as recorded, build id as lowercase hex
	 * ("" if unknown), pid that mapped it (0 if unknown). */
	int (*find_elf)(void *ctx, const char *path, const char *build_id, int64_t pid);
	/* A separate debug file for a binary. */
	int (*find_debuginfo)(void *ctx, const char *path, const char *build_id,
	                      const char *debuglink);
} ember_symbolizer_callbacks;

typedef struct ember_symbolizer_opts {
	const char *const *debug_dirs; /* --debug-dir, searched in order */
	size_t n_debug_dirs;
	bool no_demangle;                            /* keep linker names as the function name */
	const char *kallsyms_path;                   /* NULL: /proc/kallsyms */
	const char *perfmap_dir;                     /* NULL: /tmp (perf-PID.map files) */
	const ember_symbolizer_callbacks *callbacks; /* NULL: defaults */
	bool quiet;                                  /* no warnings on stderr */
	size_t max_binaries;                         /* indexes kept, least recently used
	                                              * evicted; 0: 512 */
	const char *cache_dir; /* NULL: no cache. Else, when running as root,
	                        * the core kernel's symbols (/proc/kallsyms'
	                        * [_stext, _etext)) are kept in cache_dir/kallsyms
	                        * for the rest of the boot, so later runs skip
	                        * reading /proc/kallsyms unless a profile holds
	                        * module or BPF addresses. Only with the default
	                        * kallsyms_path. */
} ember_symbolizer_opts;

/* Where ember keeps caches: $EMBER_CACHE_DIR if set (set but empty: no
 * cache, NULL returned), else /var/cache/ember for root, else none (NULL):
 * the kernel symbol cache is root's alone. Written to buf. */
const char *ember_default_cache_dir(char *buf, size_t len);

typedef struct ember_symbolizer_stats {
	uint64_t locations;        /* locations looked at */
	uint64_t unsymbolized;     /* left with an address only */
	uint64_t binaries;         /* distinct binaries indexed */
	uint64_t missing;          /* mappings whose binary could not be found */
	uint64_t buildid_mismatch; /* candidate files refused for a wrong build id */
	uint64_t corrupt;          /* files that failed to parse */
	uint64_t kallsyms_reads;   /* times /proc/kallsyms was read (0 when the
	                            * kernel symbol cache answered everything) */
	double seconds;            /* wall time spent symbolizing */
} ember_symbolizer_stats;

typedef struct ember_symbolizer ember_symbolizer;

int ember_symbolizer_new(ember_symbolizer **out, const ember_symbolizer_opts *opts,
                         ember_error *err);
void ember_symbolizer_free(ember_symbolizer *s);

/* Symbolizes p in place: adds functions and lines to its locations and sets
 * each mapping's has_* flags truthfully. Locations already carrying lines are
 * left alone, so a symbolized profile passes through unchanged. Missing or
 * corrupt binaries are warnings (once per mapping), not errors; only ENOMEM
 * and the like fail. */
int ember_symbolizer_run(ember_symbolizer *s, ember_profile *p, ember_error *err);

void ember_symbolizer_get_stats(const ember_symbolizer *s, ember_symbolizer_stats *out);

/* One frame of an addr2line answer. Strings belong to the symbolizer and live
 * as long as it does. Unknowns are NULL / 0. */
typedef struct ember_frame {
	const char *function;     /* demangled unless opts.no_demangle */
	const char *linkage_name; /* mangled name, or NULL */
	const char *file;         /* of this frame's line */
	int line;
	int column;
	unsigned discriminator; /* of the innermost line row, else 0 */
	const char *decl_file;  /* where the function is declared, or NULL */
	int start_line;         /* the function's DW_AT_decl_line, or 0 */
} ember_frame;

/* addr2line on one ELF file: `addr` is a file virtual address (as binutils
 * addr2line takes it). Fills up to max frames, innermost first, and returns
 * how many (0 when unknown), or -errno. */
int ember_symbolizer_addr2line(ember_symbolizer *s, const char *elf_path, uint64_t addr,
                               ember_frame *frames, size_t max, ember_error *err);

#endif
