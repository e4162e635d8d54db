/* tests/symbolizer/inline_work.c — a workload with an always_inline helper:
 * every address of helper_mix's code lies inside work_inline, so the
 * symbolizer must report helper_mix as an inline frame of work_inline.
 * usage: sym_inline [N] — prints a checksum of N rounds. */
#include <stdio.h>
#include <stdlib.h>

static inline __attribute__((always_inline)) unsigned helper_mix(unsigned x)
{
	x ^= x >> 7;
	x *= 0x9e3779b1u;
	return x ^ (x >> 13);
}

__attribute__((noinline)) unsigned work_inline(unsigned n)
{
	unsigned s = 1;
	for (unsigned i = 0; i < n; i++)
		s += helper_mix(s + i);
	return s;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	printf("%u\n", work_inline(n));
	return 0;
}
