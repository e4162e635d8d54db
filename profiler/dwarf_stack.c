/* profiler/dwarf_stack.c — glue between the sampler and the DWARF unwinder
 * (dwarf_stack.h). Owns the frame conventions of the dwarf path (caller
 * frames minus 1, the [truncated] marker, error counting); the unwinding
 * itself is profiler/unwind_dwarf.c's. */
#include "dwarf_stack.h"

#include "window.h"

enum { MAX_USER_FRAMES = 256 };

int dwarf_stack_new(ember_unwinder **out, proctab *pt, ember_error *err)
{
	ember_unwind_callbacks cb = { .ctx = pt, .find_mapping = proctab_unwind_find_mapping };
	int rc = ember_unwinder_new(out, &cb, err);
	if (rc < 0)
		ember_error_prefix(err, "stack unwinder");
	return rc;
}

uint32_t dwarf_stack_append(ember_unwinder *u, const perf_sample *ps, uint64_t *frames,
			    uint32_t n, uint32_t max, uint64_t *unwind_errors)
{
	if (ps->regs_abi == PERF_SAMPLE_REGS_ABI_NONE || !ps->regs || n + 1 >= max)
		return n;   /* a kernel thread, or no room: nothing to unwind */
	uint64_t ips[MAX_USER_FRAMES];
	uint32_t room = max - n - 1;   /* keep one slot for the truncation marker */
	if (room > MAX_USER_FRAMES)
		room = MAX_USER_FRAMES;
	ember_unwind_reason stopped = EMBER_UNWIND_N_REASONS;
	int got = ember_unwinder_unwind(u, (int32_t)ps->pid, ps->regs, ps->n_regs, ps->stack,
					(size_t)ps->stack_size, ips, room, &stopped);
	if (got < 0) {
		got = 0;
		if (stopped == EMBER_UNWIND_N_REASONS)
			stopped = EMBER_UNWIND_OTHER;
	}
	for (int i = 0; i < got; i++) {
		/* only the very first frame of the whole stack is exact */
		frames[n] = n == 0 ? ips[i] : ips[i] - 1;
		n++;
	}
	if (stopped < EMBER_UNWIND_N_REASONS) {
		frames[n++] = WINDOW_FRAME_TRUNCATED;
		__atomic_store_n(&unwind_errors[stopped],
				 __atomic_load_n(&unwind_errors[stopped], __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELAXED);
	}
	return n;
}
