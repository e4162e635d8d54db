/* tests/unwind/fp_noinfo.c — a function with a frame pointer but no unwind
 * tables at all (built -fno-asynchronous-unwind-tables -g0: no .eh_frame
 * entry, no .debug_frame): the unwinder must cross it
 * with its frame-pointer fallback and resume DWARF unwinding above it. */
#include <stdint.h>

static volatile uint64_t sink;

__attribute__((noinline)) int fp_noinfo_call(int (*cb)(int), int x)
{
	volatile char pad[40];
	pad[0] = (char)x;
	int r = cb(x + pad[0]);
	sink += (uint64_t)r;
	return r + 1;
}
