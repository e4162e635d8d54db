/* bench/workloads/forkstorm.c — a storm of short-lived processes, for
 * measuring what a profiler pays per process (new mappings, names, exits).
 *
 * usage: forkstorm SECONDS RATE [CHILD_MS]
 * For SECONDS of wall time the parent starts RATE processes per second, each
 * by fork + exec of this same binary ("forkstorm --child MS"), so every one
 * maps its binary, ld.so and libc anew, as the commands of a shell script
 * do. A child spins CHILD_MS (default 1) ms on its CPU clock in child_work
 * and exits. At most 64 children run at once; when that many are alive the
 * parent waits, so the rate it reaches is what the machine allows. At the end
 * it prints "forkstorm: procs=N cpu=S" (S: CPU seconds of the parent and all
 * its children, from getrusage).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((noinline)) void child_work(double ms)
{
	double end = now(CLOCK_PROCESS_CPUTIME_ID) + ms / 1e3;
	while (now(CLOCK_PROCESS_CPUTIME_ID) < end)
		for (int i = 0; i < 500; i++)
			sink += (unsigned long)i * 13;
}

static double cpu_of(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		child_work(atof(argv[2]));
		return 0;
	}
	double secs = argc > 1 ? atof(argv[1]) : 5;
	double rate = argc > 2 ? atof(argv[2]) : 100;
	const char *ms = argc > 3 ? argv[3] : "1";
	if (secs <= 0 || rate <= 0 || atof(ms) < 0) {
		fprintf(stderr, "usage: forkstorm SECONDS RATE [CHILD_MS]\n");
		return 2;
	}
	double start = now(CLOCK_MONOTONIC), next = start;
	unsigned long procs = 0;
	int alive = 0;
	while (now(CLOCK_MONOTONIC) < start + secs) {
		while (alive > 0 && waitpid(-1, NULL, WNOHANG) > 0)
			alive--;
		double t = now(CLOCK_MONOTONIC);
		if (t < next || alive >= 64) {
			if (alive >= 64 || next - t > 0.002) {
				if (alive > 0 && wait(NULL) > 0) {
					alive--;
					continue;
				}
			}
			if (t < next) {
				struct timespec d = {0, (long)((next - t) * 1e9)};
				nanosleep(&d, NULL);
			}
			continue;
		}
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "forkstorm: fork: %s\n", strerror(errno));
			break;
		}
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "--child", ms, (char *)NULL);
			_exit(127);
		}
		alive++;
		procs++;
		next += 1.0 / rate;
		if (next < t - 0.1)
			next = t;   /* behind: do not burst to catch up */
	}
	while (alive > 0 && wait(NULL) > 0)
		alive--;
	printf("forkstorm: procs=%lu cpu=%.3f\n", procs,
	       cpu_of(RUSAGE_SELF) + cpu_of(RUSAGE_CHILDREN));
	return 0;
}
