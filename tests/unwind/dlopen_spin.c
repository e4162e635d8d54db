/* tests/unwind/dlopen_spin.c — a workload for the dwarf end-to-end test:
 * after DELAY seconds (so a profiler is already recording) it dlopens
 * LIB (deep_lib.so, built without frame pointers) and spends SECONDS of CPU
 * in deep_enter -> deep_mid -> deep_leaf -> dlspin_work, so every sample's
 * stack must cross the library to reach main.
 *
 * usage: dlopen_spin LIB [SECONDS] [DELAY]   (default 1.5 s, 0.3 s)
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;
static double until;

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) int dlspin_work(int x)
{
	while (now(CLOCK_PROCESS_CPUTIME_ID) < until)
		for (int i = 0; i < 20000; i++)
			sink += (unsigned long)i * (unsigned long)x;
	return x;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: dlopen_spin LIB [SECONDS] [DELAY]\n");
		return 2;
	}
	double seconds = argc > 2 ? atof(argv[2]) : 1.5;
	double delay = argc > 3 ? atof(argv[3]) : 0.3;
	struct timespec d = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
	nanosleep(&d, NULL);
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen_spin: %s\n", dlerror());
		return 1;
	}
	int (*enter)(int (*)(int), int) = (int (*)(int (*)(int), int))dlsym(h, "deep_enter");
	if (!enter) {
		fprintf(stderr, "dlopen_spin: deep_enter: %s\n", dlerror());
		return 1;
	}
	until = now(CLOCK_PROCESS_CPUTIME_ID) + seconds;
	int r = enter(dlspin_work, 1);
	sink += (unsigned long)r;
	printf("dlopen_spin: done\n");
	return 0;
}
