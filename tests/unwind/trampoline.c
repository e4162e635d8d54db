/* tests/unwind/trampoline.c — CPython's -X perf case, made deterministic:
 * code without frame pointers (this file is built -fomit-frame-pointer)
 * calls through small trampolines it writes into an anonymous executable
 * mapping, each of which pushes a frame pointer and has no unwind tables,
 * and names them in /tmp/perf-PID.map as CPython does. DWARF-mode unwinding
 * must take an fp step through each trampoline and go back to the tables
 * after it, all the way to main.
 *
 * main -> burn_alpha/beta/gamma (through tramp::alpha/beta/gamma) ->
 * work_leaf (through tramp::work); the burns run 5, 3 and 2 units of work,
 * so they hold 50/30/20 % of the CPU.
 *
 * usage: trampoline SECONDS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef uint64_t (*fn_t)(uint64_t);
typedef uint64_t (*tramp_t)(uint64_t arg, fn_t target);

/* push %rbp; mov %rsp,%rbp; call *%rsi; pop %rbp; ret */
static const unsigned char TRAMP[] = {0x55, 0x48, 0x89, 0xe5, 0xff, 0xd6, 0x5d, 0xc3};
enum { SLOT = 16 };
static tramp_t tramp_alpha, tramp_beta, tramp_gamma, tramp_work;
static volatile uint64_t sink;

__attribute__((noinline)) uint64_t work_leaf(uint64_t n)
{
	uint64_t x = sink;
	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

#define BURN(name, units)                                                                  \
	__attribute__((noinline)) uint64_t name(uint64_t n)                                 \
	{                                                                                  \
		uint64_t s = 0;                                                            \
		for (int i = 0; i < (units); i++)                                          \
			s += tramp_work(n, work_leaf);                                     \
		return s;                                                                  \
	}
BURN(burn_alpha, 5)
BURN(burn_beta, 3)
BURN(burn_gamma, 2)

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		return 1;
	static const char *const names[] = {"tramp::alpha", "tramp::beta", "tramp::gamma",
	                                    "tramp::work"};
	char path[64];
	snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
	FILE *map = fopen(path, "w");
	for (int i = 0; i < 4; i++) {
		memcpy(code + i * SLOT, TRAMP, sizeof TRAMP);
		if (map)
			fprintf(map, "%lx %x %s\n", (unsigned long)(uintptr_t)(code + i * SLOT),
			        (unsigned)sizeof TRAMP, names[i]);
	}
	if (map)
		fclose(map);
	if (mprotect(code, 4096, PROT_READ | PROT_EXEC) != 0)
		return 1;
	tramp_alpha = (tramp_t)(void *)code;
	tramp_beta = (tramp_t)(void *)(code + SLOT);
	tramp_gamma = (tramp_t)(void *)(code + 2 * SLOT);
	tramp_work = (tramp_t)(void *)(code + 3 * SLOT);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long rounds = 0;
	do {
		sink += tramp_alpha(1000000, burn_alpha);
		sink += tramp_beta(1000000, burn_beta);
		sink += tramp_gamma(1000000, burn_gamma);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	/* the map stays, as CPython's does: it is read after the exit */
	printf("trampoline: rounds=%lu map=%s\n", rounds, path);
	return 0;
}
