/* tests/labels/test_move.c — which cgroup source stays right when a
 * process moves between cgroups: the measurement behind
 * docs/ARCHITECTURE.md, "Cgroup labels".
 *
 * For each source (per sample: PERF_SAMPLE_CGROUP; per process:
 * /proc/PID/cgroup read when the process is first seen), it runs the split
 * workload (one thread) in cgroup A under a sampler for it (-p), moves it
 * to cgroup B halfway, and counts its samples labelled A and B.
 *
 *   usage: test_move SPLIT_WORKLOAD
 *
 * Per sample must give both A and B, in proportion to the CPU time spent in
 * each (within 15 points, or 3 standard deviations); per process keeps A
 * for the whole run, which the test also asserts, since it is what the
 * documentation says. Prints one line per source. Cgroups are removed at
 * the end, also on failure. */
#include "ember/sampler.h"
#include "target.h"

#include "../check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir_top[PATH_MAX + 128], dir_a[PATH_MAX + 256], dir_b[PATH_MAX + 256];
static volatile pid_t child;   /* the workload running now, for on_term */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int join(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 512], buf[32];
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(buf, sizeof buf, "%d", (int)pid);
	int rc = write(fd, buf, (size_t)n) == n ? 0 : -errno;
	close(fd);
	return rc;
}

/* The workload, in cgroup A before it execs; returns once it has. */
static pid_t start_split(const char *split)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (join(dir_a, getpid()) < 0)
			_exit(126);
		execl(split, split, "3", "1", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	child = pid;
	char c;
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;   /* EOF at exec (or exit) */
	close(p[0]);
	return pid;
}

/* The CPU seconds pid has used (utime + stime of /proc/PID/stat). */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *s = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct result {
	uint64_t in_a, in_b, other;   /* the workload's samples by cgroup label */
	double ns_a, ns_b;            /* their cpu/nanoseconds: random periods keep a
				       * draw for a while, so counts alone can skew */
	double cpu_before, cpu_total; /* its CPU seconds before the move, in all */
} result;

static int run(const char *split, ember_cgroup_source src, const char *rel_a, const char *rel_b,
	       result *r)
{
	memset(r, 0, sizeof *r);
	pid_t pid = start_split(split);
	if (pid <= 0)
		return -1;
	ember_sampler_opts o = { .kind = EMBER_TARGET_PIDS, .pids = &pid, .n_pids = 1,
				 .freq_hz = 1471, .quiet = true, .cgroups = src };
	ember_sampler *s = NULL;
	ember_error err = { 0 };
	int rc = ember_sampler_open(&s, &o, &err);
	if (rc == 0)
		rc = ember_sampler_start(s, &err);
	double c0 = cpu_seconds(pid);
	if (rc == 0 && ember_sampler_poll(s, mono_ns() + 1500000000ULL, NULL, &err) < 0)
		rc = -1;
	double c1 = cpu_seconds(pid);
	if (rc == 0 && join(dir_b, pid) < 0)
		rc = -1;
	int prc = 0;
	while (rc == 0 && prc == 0)   /* until it exits (3 s of wall time) */
		if ((prc = ember_sampler_poll(s, mono_ns() + 10000000000ULL, NULL, &err)) < 0)
			rc = -1;
	double c2 = cpu_seconds(pid);   /* a zombie until reaped below */
	int st;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	child = 0;
	ember_profile *p = NULL;
	if (rc == 0 && ember_sampler_take_window(s, &p, &err) < 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "sampler: %s\n", err.msg);
	for (size_t i = 0; p && i < p->n_samples; i++) {
		const ember_sample *sm = &p->samples[i];
		int64_t spid;
		const char *comm = ember_sample_label_str(p, sm, "comm");
		if (!ember_sample_label_num(p, sm, "pid", &spid) || spid != pid || !comm ||
		    strcmp(comm, "split") != 0)
			continue;
		const char *cg = ember_sample_label_str(p, sm, "cgroup");
		uint64_t n = (uint64_t)sm->values[0];
		double ns = (double)sm->values[1];
		if (cg && strcmp(cg, rel_a) == 0) {
			r->in_a += n;
			r->ns_a += ns;
		} else if (cg && strcmp(cg, rel_b) == 0) {
			r->in_b += n;
			r->ns_b += ns;
		} else
			r->other += n;
	}
	ember_profile_free(p);
	ember_sampler_close(s);
	r->cpu_before = c1 - c0;
	r->cpu_total = c2 - c0;
	return rc;
}

static void cleanup(void)
{
	rmdir(dir_b);
	rmdir(dir_a);
	rmdir(dir_top);
}

/* meson's timeout sends SIGTERM: the cgroups go too (all async-signal-safe). */
static void on_term(int sig)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	cleanup();
	_exit(128 + sig);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_move SPLIT_WORKLOAD\n");
		return 2;
	}
	char mnt[PATH_MAX];
	if (target_cgroup2_mount(mnt, sizeof mnt) < 0) {
		fprintf(stderr, "no cgroup2 hierarchy is mounted: nothing to move between\n");
		return 77;
	}
	char rel_top[64], rel_a[128], rel_b[128];
	snprintf(rel_top, sizeof rel_top, "/ember-move-test-%d.slice", (int)getpid());
	snprintf(rel_a, sizeof rel_a, "%s/a.scope", rel_top);
	snprintf(rel_b, sizeof rel_b, "%s/b.scope", rel_top);
	snprintf(dir_top, sizeof dir_top, "%s%s", mnt, rel_top);
	snprintf(dir_a, sizeof dir_a, "%s%s", mnt, rel_a);
	snprintf(dir_b, sizeof dir_b, "%s%s", mnt, rel_b);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (mkdir(dir_top, 0755) < 0 || mkdir(dir_a, 0755) < 0 || mkdir(dir_b, 0755) < 0) {
		fprintf(stderr, "mkdir under %s: %s (run as root)\n", mnt, strerror(errno));
		cleanup();
		return 77;
	}
	static const struct {
		ember_cgroup_source src;
		const char *name;
	} sources[] = { { EMBER_CGROUP_AUTO, "per sample (PERF_SAMPLE_CGROUP)" },
			{ EMBER_CGROUP_PROC, "per process (/proc/PID/cgroup)" } };
	for (size_t i = 0; i < 2; i++) {
		result r;
		int rc = run(argv[1], sources[i].src, rel_a, rel_b, &r);
		CHECK_EQ_INT(rc, 0);
		uint64_t n = r.in_a + r.in_b;
		double share = r.ns_a + r.ns_b > 0 ? r.ns_a / (r.ns_a + r.ns_b) : 0;
		double want = r.cpu_total > 0 ? r.cpu_before / r.cpu_total : 0;
		printf("%-32s %5llu samples in the old cgroup, %5llu in the new, %llu other: "
		       "old share %.3f; by CPU time before the move %.3f\n",
		       sources[i].name, (unsigned long long)r.in_a, (unsigned long long)r.in_b,
		       (unsigned long long)r.other, share, want);
		CHECK(n > 50);
		CHECK(r.other == 0);
		if (sources[i].src == EMBER_CGROUP_AUTO) {
			double sd = n ? sqrt(want * (1 - want) / (double)n) : 1;
			double tol = 3 * sd > 0.15 ? 3 * sd : 0.15;
			CHECK(r.in_a > 0 && r.in_b > 0);
			CHECK(fabs(share - want) <= tol);
		} else {
			CHECK(r.in_a > 0 && r.in_b == 0);   /* stale, as documented */
		}
	}
	cleanup();
	return check_exit();
}
