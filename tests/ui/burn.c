/* tests/ui/burn.c — the UI tests' workload: a CPU split known by
 * construction that changes on a signal. Each thread runs burn_alpha,
 * burn_beta and burn_gamma in turn, each spinning on the thread's own CPU
 * clock, 5/3/2 ms (50/30/20 %); after SIGUSR1, 2/3/5 ms (20/30/50 %).
 * burn_beta spins in beta_inner, a static inline function the compiler
 * inlines (always_inline at -O2), so the sandwich of burn_beta has an
 * inline callee that exists only in the debug info.
 *
 * usage: burn [SECONDS] [THREADS]   (default 30 s, 1 thread)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t switched;
static _Thread_local volatile unsigned long sink;

static __attribute__((noinline)) double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A macro, not a function: the burn_* frames are the spinning ones. */
#define SPIN(ms)                                                         \
	do {                                                             \
		double end_ = now(CLOCK_THREAD_CPUTIME_ID) + (ms) / 1e3; \
		while (now(CLOCK_THREAD_CPUTIME_ID) < end_)              \
			for (int i_ = 0; i_ < 4000; i_++)                \
				sink += (unsigned long)i_ * 7;           \
	} while (0)

__attribute__((noinline)) void burn_alpha(double ms) { SPIN(ms); }

static inline __attribute__((always_inline)) void beta_inner(double ms) { SPIN(ms); }

__attribute__((noinline)) void burn_beta(double ms) { beta_inner(ms); }

__attribute__((noinline)) void burn_gamma(double ms) { SPIN(ms); }

static __attribute__((noinline)) void run(double until)
{
	while (now(CLOCK_MONOTONIC) < until) {
		int s = switched;
		burn_alpha(s ? 2.0 : 5.0);
		burn_beta(3.0);
		burn_gamma(s ? 5.0 : 2.0);
	}
}

static void *worker(void *arg)
{
	run(*(double *)arg);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	switched = 1;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 30;
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	if (seconds <= 0 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: burn [SECONDS] [THREADS]\n");
		return 2;
	}
	signal(SIGUSR1, on_usr1);
	double until = now(CLOCK_MONOTONIC) + seconds;
	pthread_t tid[64];
	for (int i = 1; i < threads; i++)
		pthread_create(&tid[i], NULL, worker, &until);
	run(until);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	return 0;
}
