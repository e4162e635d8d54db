/* profiler/dwarf_stack.h — the --call-graph dwarf path of the sampler, in
 * one place, private to profiler/: the event's extra sample fields and the
 * per-sample unwind of the user stack copy through profiler/unwind.h.
 */
#ifndef EMBER_PROFILER_DWARF_STACK_H
#define EMBER_PROFILER_DWARF_STACK_H

#include <stdint.h>

#include "ember/error.h"
#include "perf_sample.h"
#include "proctab.h"
#include "unwind.h"

/* Creates the unwinder, its mapping lookups backed by the process table
 * (dwarf mode's, and fp mode's leaf fix-up: unwind_leaf.h). Fails (with
 * the unwinder's message) when unwinding is unavailable. */
int dwarf_stack_new(ember_unwinder **out, proctab *pt, ember_error *err);

/* Appends the user frames of a dwarf-mode sample to frames[n..max), leaf
 * first, return addresses minus 1 for caller frames (and for the user leaf
 * when kernel frames precede it). When the unwind stops early it appends
 * WINDOW_FRAME_TRUNCATED and counts the reason in unwind_errors. Returns the
 * new frame count. No allocation (the unwinder caches per binary). */
uint32_t dwarf_stack_append(ember_unwinder *u, const perf_sample *ps, uint64_t *frames,
			    uint32_t n, uint32_t max, uint64_t *unwind_errors);

#endif
