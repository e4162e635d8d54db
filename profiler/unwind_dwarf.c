/* profiler/unwind_dwarf.c — PLACEHOLDER until issue 6 lands: the libunwind
 * remote unwinder behind profiler/unwind.h. */
#include "unwind.h"

#include <errno.h>

uint64_t ember_unwind_regs_mask(void) { return 0; }

int ember_unwinder_new(ember_unwinder **out, const ember_unwind_callbacks *cb, ember_error *err)
{
	(void)cb;
	*out = NULL;
	return ember_errorf(err, ENOSYS, "--call-graph dwarf: not built yet");
}

void ember_unwinder_free(ember_unwinder *u) { (void)u; }

int ember_unwinder_unwind(ember_unwinder *u, int32_t pid, const uint64_t *regs, size_t n_regs,
			  const void *stack, size_t stack_size, uint64_t *ips, size_t max_ips,
			  ember_unwind_reason *stopped)
{
	(void)u; (void)pid; (void)regs; (void)n_regs; (void)stack; (void)stack_size;
	(void)ips; (void)max_ips;
	*stopped = EMBER_UNWIND_OTHER;
	return -ENOSYS;
}
