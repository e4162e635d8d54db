/* tests/workloads/split.c — a workload whose CPU split is known by
 * construction: every thread runs split_a, split_b, split_c in turn, each
 * spinning on the thread's own CPU clock for 5, 3 and 2 ms, so CPU time is
 * 50% / 30% / 20% whatever the machine's load. Two threads (main and one
 * started with pthread_create), so stacks end in main and start_thread.
 *
 * usage: split [SECONDS] [THREADS] [ROUND_MS]
 *   (default 2 s of wall time, 2 threads, 10 ms rounds: 5, 3 and 2 ms; a
 *   ROUND_MS of 20 makes them 10, 6 and 4 ms, the same shares at another
 *   period, for the aliasing tests of tests/profiler/fidelity.py)
 * It prints "split: ops=N cpu=S" at the end: N slices completed (throughput
 * for benchmarks) and S the process CPU seconds from getrusage.
 *
 * Its CPU time is all in its own pid: in a sanitizer build the leak check
 * at exit is turned off (__lsan_is_turned_off), because LeakSanitizer scans
 * from a tracer task it clones without CLONE_THREAD, a process of its own
 * whose samples would carry another pid.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double wall_seconds = 2.0;
static double round_ms = 10.0;
static atomic_ulong ops;
static _Thread_local volatile unsigned long sink; /* per thread: no shared writes */

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spins until this thread has used `ms` more milliseconds of CPU. */
static __attribute__((noinline)) void spin_cpu(double ms)
{
	double end = now(CLOCK_THREAD_CPUTIME_ID) + ms / 1e3;
	while (now(CLOCK_THREAD_CPUTIME_ID) < end)
		for (int i = 0; i < 200; i++)
			sink += (unsigned long)i * 7;
}

__attribute__((noinline)) void split_a(void) { spin_cpu(0.5 * round_ms); }
__attribute__((noinline)) void split_b(void) { spin_cpu(0.3 * round_ms); }
__attribute__((noinline)) void split_c(void) { spin_cpu(0.2 * round_ms); }

static __attribute__((noinline)) void run_slices(double until)
{
	while (now(CLOCK_MONOTONIC) < until) {
		split_a();
		split_b();
		split_c();
		atomic_fetch_add(&ops, 1);
	}
}

static void *worker(void *arg)
{
	run_slices(*(double *)arg);
	return NULL;
}

/* Read by LeakSanitizer before its exit-time check; unused without it. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return 1;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		wall_seconds = atof(argv[1]);
	int threads = argc > 2 ? atoi(argv[2]) : 2;
	if (argc > 3)
		round_ms = atof(argv[3]);
	if (wall_seconds <= 0 || threads < 1 || threads > 64 || !(round_ms > 0 && round_ms <= 1000)) {
		fprintf(stderr, "usage: split [SECONDS] [THREADS] [ROUND_MS]\n");
		return 2;
	}
	double until = now(CLOCK_MONOTONIC) + wall_seconds;
	pthread_t tid[64];
	for (int i = 1; i < threads; i++)
		pthread_create(&tid[i], NULL, worker, &until);
	run_slices(until);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		     ru.ru_stime.tv_usec / 1e6;
	printf("split: ops=%lu cpu=%.3f\n", (unsigned long)atomic_load(&ops), cpu);
	return 0;
}
