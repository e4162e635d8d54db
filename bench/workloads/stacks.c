/* bench/workloads/stacks.c — a CPU-bound workload with a chosen number of
 * distinct call stacks, for measuring how a profiler's cost grows with the
 * number of stacks it has to keep apart.
 *
 * usage: stacks SECONDS THREADS NSTACKS
 * Sixteen functions level_0 .. level_f call each other through a table. Op i
 * (i = 0, 1, ... NSTACKS-1, then again) walks the base-16 digits of i: digit
 * d picks level_d as the next frame, so op i runs on its own stack of DEPTH
 * frames (DEPTH = digits of NSTACKS-1 in base 16) and there are exactly
 * NSTACKS distinct stacks. Every frame does a little work after its call
 * returns, so no call is a tail call and every frame stays on the stack.
 * At the end it prints "stacks: ops=N stacks=S depth=D cpu=C" (C: the
 * process's CPU seconds from getrusage).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_DEPTH 8

typedef uint64_t (*level_fn)(const uint8_t *digits, int depth, uint64_t h);

static double deadline;
static unsigned long nstacks;
static int depth;
static atomic_ullong total_ops;
static const level_fn levels[16];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The work at the end of a walk: a few hundred cycles of arithmetic, done
 * inside the last level's own frame. (A separate leaf function would lose
 * its caller from frame-pointer stacks: GCC 12 omits the frame pointer of
 * leaf functions even with -mno-omit-leaf-frame-pointer.) */
static inline __attribute__((always_inline)) uint64_t leaf_work(uint64_t h)
{
	for (int i = 0; i < 64; i++) {
		h ^= h >> 31;
		h *= 0x9e3779b97f4a7c15ULL;
	}
	return h;
}

/* level_K: one frame of the walk; calls the level named by the next digit. */
#define LEVEL(K)                                                                            \
	static __attribute__((noinline)) uint64_t level_##K(const uint8_t *d, int n, uint64_t h) \
	{                                                                                   \
		h = h * 31 + 0x##K;                                                         \
		if (n > 0)                                                                  \
			h = levels[d[0]](d + 1, n - 1, h);                                  \
		else                                                                        \
			h = leaf_work(h);                                                   \
		return h ^ (h >> 7); /* work after the call: no tail call */               \
	}
LEVEL(0) LEVEL(1) LEVEL(2) LEVEL(3) LEVEL(4) LEVEL(5) LEVEL(6) LEVEL(7)
LEVEL(8) LEVEL(9) LEVEL(a) LEVEL(b) LEVEL(c) LEVEL(d) LEVEL(e) LEVEL(f)

static const level_fn levels[16] = {
	level_0, level_1, level_2, level_3, level_4, level_5, level_6, level_7,
	level_8, level_9, level_a, level_b, level_c, level_d, level_e, level_f,
};

static void *worker(void *arg)
{
	unsigned long i = (unsigned long)(uintptr_t)arg % nstacks;
	unsigned long long ops = 0;
	uint64_t h = 1;
	uint8_t digits[MAX_DEPTH];
	while (now() < deadline) {
		for (int k = 0; k < 256; k++) {
			unsigned long v = i;
			for (int j = depth - 1; j >= 0; j--) {
				digits[j] = v & 15;
				v >>= 4;
			}
			h = levels[digits[0]](digits + 1, depth - 1, h);
			if (++i == nstacks)
				i = 0;
		}
		ops += 256;
	}
	atomic_fetch_add(&total_ops, ops);
	return (void *)(uintptr_t)(h & 1);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	nstacks = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000;
	if (secs <= 0 || threads < 1 || threads > 256 || nstacks < 1 ||
	    nstacks > (1UL << (4 * MAX_DEPTH))) {
		fprintf(stderr, "usage: stacks SECONDS THREADS NSTACKS (1..%lu)\n",
			1UL << (4 * MAX_DEPTH));
		return 2;
	}
	depth = 1;
	while (depth < MAX_DEPTH && (1UL << (4 * depth)) < nstacks)
		depth++;
	deadline = now() + secs;
	pthread_t t[256];
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker,
			       (void *)(uintptr_t)((unsigned long)i * (nstacks / threads + 1)));
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		     ru.ru_stime.tv_usec / 1e6;
	printf("stacks: ops=%llu stacks=%lu depth=%d cpu=%.3f\n",
	       (unsigned long long)atomic_load(&total_ops), nstacks, depth, cpu);
	return 0;
}
