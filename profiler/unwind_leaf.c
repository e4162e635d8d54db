/* profiler/unwind_leaf.c — frame-pointer mode's frameless-leaf fix-up
 * (unwind_leaf.h): compares the kernel's chain with the leaf's own unwind
 * rule and puts back the caller the chain skipped. Owns only that
 * comparison; the rules are the unwinder's (unwind_dwarf.c: Go's pcsp
 * table, else .eh_frame/.debug_frame). Never allocates, reads files or
 * symbolizes per sample once the binaries are cached.
 */
#include "unwind_leaf.h"

#include <linux/perf_event.h>
#include <string.h>

/* x86-64 perf_regs numbering: the sample holds them in this order. */
enum { PR_BP = 6, PR_SP = 7, PR_IP = 8 };

uint64_t unwind_leaf_regs_mask(void)
{
	return 1ull << PR_BP | 1ull << PR_SP | 1ull << PR_IP;
}

uint32_t unwind_leaf_fix(ember_unwinder *u, const perf_sample *ps, uint64_t *frames,
                         uint32_t user_at, uint32_t n, uint32_t max)
{
	if (ps->regs_abi == PERF_SAMPLE_REGS_ABI_NONE || ps->n_regs != 3 || user_at >= n ||
	    n >= max)
		return n;
	uint64_t bp = ps->regs[0], sp = ps->regs[1], ip = ps->regs[2];
	/* the chain's user leaf is this very pc (minus 1 after kernel frames) */
	if (frames[user_at] != (user_at == 0 ? ip : ip - 1))
		return n;
	uint64_t ret;
	if (!ember_unwinder_leaf_return(u, (int32_t)ps->pid, ip, sp, bp, ps->stack,
	                                (size_t)ps->stack_size, &ret))
		return n;
	uint32_t at = user_at + 1;
	if (at < n && frames[at] == ret - 1)
		return n; /* the frame was set up: the chain is right */
	memmove(frames + at + 1, frames + at, (n - at) * sizeof *frames);
	frames[at] = ret - 1;
	return n + 1;
}
