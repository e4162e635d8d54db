/* profiler/unwind_leaf.h — frame-pointer mode's frameless-leaf fix-up,
 * private to profiler/ (unwind_leaf.c).
 *
 * The kernel walks user stacks by rbp. A function that has not set up its
 * frame when the sample lands (Go's frameless leaves, any C function in its
 * prologue or epilogue) still has its caller's rbp, so the kernel's chain
 * names the leaf and then its caller's caller: the caller is lost. Each
 * fp-mode sample therefore also carries rbp, rsp, rip and a few bytes of
 * user stack; the unwind rule at the leaf's pc (profiler/unwind.h:
 * ember_unwinder_leaf_return) gives the leaf's return address, and where it
 * is not the chain's second frame it is put there. The unwinder is the
 * one dwarf_stack_new makes (dwarf_stack.h), which fp mode uses for this
 * alone.
 */
#ifndef EMBER_PROFILER_UNWIND_LEAF_H
#define EMBER_PROFILER_UNWIND_LEAF_H

#include <stdint.h>

#include "perf_sample.h"
#include "unwind.h"

/* Bytes of user stack each fp-mode sample copies: a leaf's return address
 * sits within its frame, which in a prologue or a frameless leaf is small. */
enum { UNWIND_LEAF_STACK = 256 };

/* The PERF_SAMPLE_REGS_USER mask of fp mode: rbp, rsp, rip. */
uint64_t unwind_leaf_regs_mask(void);

/* frames[0..n) is the sample's callchain as the sampler keeps it (callers
 * minus 1), its user part starting at frames[user_at] (the user leaf).
 * Inserts the leaf's caller after it where the chain skipped it (or
 * appends it where the chain holds the leaf alone), keeping n < max.
 * Returns the new count. No allocation. */
uint32_t unwind_leaf_fix(ember_unwinder *u, const perf_sample *ps, uint64_t *frames,
                         uint32_t user_at, uint32_t n, uint32_t max);

#endif
