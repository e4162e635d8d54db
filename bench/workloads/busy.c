/* bench/workloads/busy.c — a CPU-bound workload that reports its own
 * throughput, for measuring what a profiler costs the code it watches.
 *
 * usage: busy SECONDS [THREADS]
 * Each thread repeats a fixed unit of work (hashing a 16 KiB buffer through a
 * few levels of calls, so stacks have some depth) until SECONDS of wall time
 * have passed, then prints "busy: ops_per_sec=X ops=N threads=T".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double deadline;
static atomic_ullong total_ops;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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
	while (1) {
		for (int k = 0; k < 64; k++)
			h = one_op(b, n, h);
		ops += 64;
		if (now() >= deadline)
			break;
	}
	atomic_fetch_add(&total_ops, ops);
	free(b);
	return (void *)(uintptr_t)(h & 1);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	if (secs <= 0 || threads < 1 || threads > 256) {
		fprintf(stderr, "usage: busy SECONDS [THREADS]\n");
		return 2;
	}
	double start = now();
	deadline = start + secs;
	pthread_t t[256];
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double el = now() - start;
	unsigned long long ops = atomic_load(&total_ops);
	printf("busy: ops_per_sec=%.1f ops=%llu threads=%d\n", ops / el, ops, threads);
	return 0;
}
