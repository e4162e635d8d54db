/* profiler/unwind.h — the DWARF unwinder's contract, private to profiler/.
 *
 * The sampler (profiler/sampler.c) owns perf and the process table; the
 * unwinder (profiler/unwind_dwarf.c) owns libunwind. In --call-graph dwarf
 * mode each sample carries the user registers named by
 * ember_unwind_regs_mask() and a copy of the user stack starting at SP; the
 * sampler hands both to ember_unwinder_unwind() and aggregates the frames it
 * gets back. The unwinder reads unwind tables (.eh_frame_hdr/.eh_frame, and
 * .debug_frame where present) from the mapped ELF files, which it finds
 * through the sampler's callback, and caches them per build id (else per
 * path): no file I/O and no malloc per sample once a binary is cached.
 *
 * Frame convention: ips[0] is the sampled instruction pointer; ips[i > 0]
 * are return addresses exactly as found on the stack. The sampler subtracts 1
 * from caller frames (ember/profile.h), as it does for the kernel callchain.
 */
#ifndef EMBER_PROFILER_UNWIND_H
#define EMBER_PROFILER_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "ember/error.h"
#include "ember/sampler.h"

/* The PERF_SAMPLE_REGS_USER mask (x86-64 perf_regs numbering) a dwarf-mode
 * event must request; the sample's regs array holds these registers in
 * ascending bit order. */
uint64_t ember_unwind_regs_mask(void);

/* One executable mapping of a process, as the process table knows it. */
typedef struct ember_unwind_mapping {
	uint64_t start, end;     /* [start, end) in the process's address space */
	uint64_t pgoff;          /* file offset mapped at start */
	const char *path;        /* a path that opens the ELF from here (e.g. under
				    /proc/PID/root or /proc/PID/map_files); "[vdso]"
				    for the vDSO (the unwinder reads its own, which
				    is the same image for every 64-bit process) */
	const char *build_id;    /* lowercase hex, "" when unknown: the cache key */
} ember_unwind_mapping;

typedef struct ember_unwind_callbacks {
	void *ctx;
	/* The executable mapping of pid that contains addr: 0 and *out filled
	 * (strings must stay valid until the next call), or -ENOENT. */
	int (*find_mapping)(void *ctx, int32_t pid, uint64_t addr, ember_unwind_mapping *out);
} ember_unwind_callbacks;

typedef struct ember_unwinder ember_unwinder;

int ember_unwinder_new(ember_unwinder **out, const ember_unwind_callbacks *cb, ember_error *err);
void ember_unwinder_free(ember_unwinder *u);

/* Unwinds one sample of pid. regs: the n_regs values of the sample's
 * PERF_SAMPLE_REGS_USER block (ascending bit order of the mask); stack: the
 * sample's user stack copy (dyn_size valid bytes, starting at regs' SP).
 * Writes at most max_ips frames to ips, leaf first, and returns how many
 * (>= 0; -EINVAL when n_regs is too short for the mask). *stopped is EMBER_UNWIND_N_REASONS when the unwind reached the
 * outermost frame, else the reason it stopped early (the sampler then marks
 * the stack [truncated] and counts the reason). Where DWARF info ends early,
 * a valid frame-pointer chain inside the stack copy may finish the stack. */
int ember_unwinder_unwind(ember_unwinder *u, int32_t pid, const uint64_t *regs, size_t n_regs,
			  const void *stack, size_t stack_size, uint64_t *ips, size_t max_ips,
			  ember_unwind_reason *stopped);

/* Frame-pointer mode's leaf fix-up (profiler/unwind_leaf.c): the return
 * address of the sampled function at ip, by the unwind rule at ip (Go's
 * pcsp table, else .eh_frame/.debug_frame through libunwind), reading the
 * few bytes of user stack copied at sp. 1 and *ret set, or 0 when no rule
 * or the copy is too short. Where the function has set up its frame the
 * answer is what the kernel's frame-pointer chain gives; in a prologue, an
 * epilogue or a frameless leaf it is the caller that chain skips. */
int ember_unwinder_leaf_return(ember_unwinder *u, int32_t pid, uint64_t ip, uint64_t sp,
                               uint64_t bp, const void *stack, size_t stack_size, uint64_t *ret);

/* The process exited, exec'd or unmapped code: drop what is cached per
 * process (libunwind's register rules by instruction address). Cheap;
 * binaries stay cached. */
void ember_unwinder_forget(ember_unwinder *u, int32_t pid);

/* Counters for tests and self-observability. binaries_loaded grows only on
 * a binary's first sight (the only time the unwinder opens a file), and
 * again after a cache trim. */
typedef struct ember_unwinder_stats {
	uint64_t binaries_loaded;   /* cache entries created (files opened) */
	uint64_t binaries_failed;   /* of those, without usable unwind info */
	uint64_t address_spaces;    /* libunwind address spaces created (at most 32) */
	uint64_t as_flushes;        /* address spaces flushed: forget, or reuse for another process */
	uint64_t fp_steps;          /* frames recovered by the frame-pointer fallback */
	uint64_t cache_trims;       /* times the binary cache hit its cap and was emptied */
	uint64_t debug_frame_lookups; /* procedures found through .debug_frame */
	uint64_t go_steps;          /* frames stepped by Go's pcsp table */
	uint64_t scan_steps;        /* frames found by scanning for a return address */
} ember_unwinder_stats;

void ember_unwinder_get_stats(const ember_unwinder *u, ember_unwinder_stats *out);

/* sigprocmask calls of libunwind's made no-ops on this thread, since it
 * started (see unwind_dwarf.c: libunwind's signal masking). Non-zero after
 * any unwind when ember's sigprocmask is the one libunwind calls. */
uint64_t ember_unwind_sigmask_elided(void);

#endif
