/* tests/unwind/debugframe_lib.c — a shared library whose only call frame
 * information is .debug_frame (built -g -fno-asynchronous-unwind-tables
 * -fno-unwind-tables) and no frame pointers: only the unwinder's
 * .debug_frame path can cross it. */
#include <stdint.h>

static volatile uint64_t sink;

__attribute__((noinline)) int df_mid(int (*cb)(int), int x)
{
	int r = cb(x + 1);
	sink += (uint64_t)r;
	return r + 1;
}

__attribute__((noinline)) int df_enter(int (*cb)(int), int x)
{
	int r = df_mid(cb, x + 1);
	sink ^= (uint64_t)r;
	return r + 2;
}
