/* tests/unwind/deep_lib.c — a shared library built without frame pointers,
 * dlopen'd by the unwinder tests (test_unwind) and the end-to-end workload:
 * three frames that call back into the caller's function. */
#include <stdint.h>

static volatile uint64_t sink;

__attribute__((noinline)) int deep_leaf(int (*cb)(int), int x)
{
	int r = cb(x + 1);
	sink += (uint64_t)r;
	return r + 1;
}

__attribute__((noinline)) int deep_mid(int (*cb)(int), int x)
{
	int r = deep_leaf(cb, x + 1);
	sink += (uint64_t)r * 3;
	return r + 2;
}

__attribute__((noinline)) int deep_enter(int (*cb)(int), int x)
{
	int r = deep_mid(cb, x + 1);
	sink ^= (uint64_t)r;
	return r + 3;
}
