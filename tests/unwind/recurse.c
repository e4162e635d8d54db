/* tests/unwind/recurse.c — a workload for the dwarf end-to-end test: a
 * recursion DEPTH frames deep (each frame ~256 bytes, so 4000 frames are far
 * more than a 32 KiB stack copy) spinning at the bottom for SECONDS of CPU.
 * Its stacks must end in [truncated], never in garbage frames.
 *
 * usage: recurse [SECONDS] [DEPTH]   (default 1.5 s, 4000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;
static double until;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void recurse_spin(void)
{
	while (cpu_now() < until)
		for (int i = 0; i < 20000; i++)
			sink += (unsigned long)i;
}

__attribute__((noinline)) int recurse_down(int depth)
{
	volatile char pad[200];
	pad[depth % 200] = (char)depth;
	if (depth > 0)
		recurse_down(depth - 1);
	else
		recurse_spin();
	return pad[depth % 200];
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.5;
	int depth = argc > 2 ? atoi(argv[2]) : 4000;
	if (seconds <= 0 || depth < 1 || depth > 20000) {
		fprintf(stderr, "usage: recurse [SECONDS] [DEPTH]\n");
		return 2;
	}
	until = cpu_now() + seconds;
	sink += (unsigned long)recurse_down(depth);
	printf("recurse: done\n");
	return 0;
}
