/* bench/workloads/busy.c — a CPU-bound workload that reports its own
 * throughput, for measuring what a profiler costs the code it watches.
 *
 * usage: busy SECONDS [THREADS] [WARMUP]
 * Each thread repeats a fixed unit of work (hashing a 16 KiB buffer through a
 * few levels of calls, so stacks have some depth) until SECONDS of wall time
 * have passed, then prints
 *   "busy: ops_per_sec=X ops=N threads=T cpu=S ops_per_cpu_sec=Y"
 * X: operations per second of wall time, counted only after the first WARMUP
 * seconds (default 0), so a profiler's one-time start-up work (reading
 * binaries, building symbol indexes) can be left out of a steady-state
 * figure; N: those operations; S: the process's CPU seconds over its whole
 * life (getrusage), so a driver can take a profiler's own CPU out of a
 * process tree's total; Y: operations per CPU second of the worker threads
 * over the same interval as X (interrupt time spent in the threads' context
 * counts, other processes' use of the CPU does not).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double warm_end, deadline;
static atomic_ullong total_ops;
static _Atomic double total_thread_cpu;

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((noinline)) uint64_t mix_block(const uint64_t *b, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static __attribute__((noinline)) uint64_t hash_buffer(const uint64_t *b, size_t n, uint64_t h)
{
	for (size_t off = 0; off < n; off += 256)
		h = mix_block(b + off, 256, h);
	return h;
}

static __attribute__((noinline)) uint64_t one_op(uint64_t *b, size_t n, uint64_t seed)
{
	uint64_t h = hash_buffer(b, n, seed);
	b[h % n] ^= h;
	return h;
}

static void *worker(void *arg)
{
	(void)arg;
	size_t n = 2048;
	uint64_t *b = calloc(n, sizeof *b);
	for (size_t i = 0; i < n; i++)
		b[i] = i * 0x9e3779b97f4a7c15ULL;
	unsigned long long ops = 0;
	uint64_t h = 1;
	double cpu0 = 0, t = now(CLOCK_MONOTONIC);
	/* warm-up: the same work, not counted */
	while (t < warm_end && t < deadline) {
		for (int k = 0; k < 64; k++)
			h = one_op(b, n, h);
		t = now(CLOCK_MONOTONIC);
	}
	cpu0 = now(CLOCK_THREAD_CPUTIME_ID);
	while (t < deadline) {
		for (int k = 0; k < 64; k++)
			h = one_op(b, n, h);
		ops += 64;
		t = now(CLOCK_MONOTONIC);
	}
	double cpu = now(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	atomic_fetch_add(&total_ops, ops);
	double old = atomic_load(&total_thread_cpu);
	while (!atomic_compare_exchange_weak(&total_thread_cpu, &old, old + cpu))
		;
	free(b);
	return (void *)(uintptr_t)(h & 1);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	double warm = argc > 3 ? atof(argv[3]) : 0;
	if (secs <= 0 || threads < 1 || threads > 256 || warm < 0 || warm >= secs) {
		fprintf(stderr, "usage: busy SECONDS [THREADS] [WARMUP < SECONDS]\n");
		return 2;
	}
	double start = now(CLOCK_MONOTONIC);
	warm_end = start + warm;
	deadline = start + secs;
	pthread_t t[256];
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double el = now(CLOCK_MONOTONIC) - warm_end;
	unsigned long long ops = atomic_load(&total_ops);
	double tcpu = atomic_load(&total_thread_cpu);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		     ru.ru_stime.tv_usec / 1e6;
	printf("busy: ops_per_sec=%.1f ops=%llu threads=%d cpu=%.3f ops_per_cpu_sec=%.1f\n",
	       ops / el, ops, threads, cpu, tcpu > 0 ? ops / tcpu : 0.0);
	return 0;
}
