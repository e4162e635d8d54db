/* bench/label_cost.c — what the cgroup labels cost per sample and per
 * window, against the same work without them, in one run.
 *
 * Per sample: the profiler's hot path as profiler/sampler.c's on_sample
 * runs it (decode the record, copy the callchain, find the process, count
 * the stack in the stack table), over records written in memory: "off"
 * records have ember's FP sample_type and count with cgroup 0; "on" records
 * also carry PERF_SAMPLE_CGROUP and count under their process's cgroup id
 * (8 ids over 64 processes, 512 stacks of 16 frames).
 * The tables are warm (every stack seen once before timing), as in steady
 * state. Per window: window_build over the same stack table, without a
 * cgroup map and with one over the live cgroup2 hierarchy (ids taken from
 * it, so every lookup hits). Rounds alternate off and on; medians of the
 * thread CPU time.
 *
 *   usage: label_cost [-n RECORDS] [-r ROUNDS]
 *   output: one line of key=value pairs (ns per sample off/on, ratio;
 *           us per window off/on, stacks per window; walk_us: the wall time
 *           of one walk of the live hierarchy, what a miss costs).
 */
#include "cgroup.h"
#include "perf_sample.h"
#include "proctab.h"
#include "stacktab.h"
#include "target.h"
#include "window.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { PIDS = 64, STACKS = 512, DEPTH = 16, CGROUPS = 8, MAX_FRAMES = 160 };

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* n sample records of sample_type into one buffer; their offsets in offs. */
static unsigned char *make_records(size_t n, uint64_t type, const uint64_t *ids, size_t **offs)
{
	size_t rec = 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8 * (DEPTH + 1) + 8;
	unsigned char *buf = calloc(n, rec);
	*offs = calloc(n, sizeof **offs);
	if (!buf || !*offs)
		return NULL;
	unsigned char *p = buf;
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint32_t pid = 4000000 + (uint32_t)(x % PIDS);
		uint64_t stack = (x >> 16) % STACKS;
		uint64_t w[64];
		size_t k = 0;
		w[k++] = 0x400000 + stack * 16;                /* IP */
		w[k++] = (uint64_t)pid | (uint64_t)pid << 32;   /* PID, TID */
		w[k++] = 1000 + i;                               /* TIME */
		w[k++] = 0;                                      /* CPU, res */
		w[k++] = 1000000;                                /* PERIOD */
		w[k++] = DEPTH + 1;                              /* CALLCHAIN nr */
		w[k++] = (uint64_t)PERF_CONTEXT_USER;
		for (int d = 0; d < DEPTH; d++)
			w[k++] = 0x400000 + ((stack * 31 + (uint64_t)d * 7) % 4096) * 16;
		if (type & PERF_SAMPLE_CGROUP)
			w[k++] = ids[pid % CGROUPS];   /* a process runs in one cgroup */
		struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .misc = 0,
					       .size = (uint16_t)(sizeof h + 8 * k) };
		(*offs)[i] = (size_t)(p - buf);
		memcpy(p, &h, sizeof h);
		memcpy(p + sizeof h, w, 8 * k);
		p += h.size;
	}
	return buf;
}

typedef struct side {
	uint64_t type;
	unsigned char *buf;
	size_t *offs;
	proctab *pt;
	stacktab st;
	bool cgroup;
} side;

/* What on_sample does with each record; returns samples counted. */
static size_t pass(side *s, size_t n, uint64_t *frames)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		const struct perf_event_header *h = (const void *)(s->buf + s->offs[i]);
		perf_sample ps;
		if (perf_sample_parse(h, s->type, 0, &ps) < 0)
			continue;
		uint32_t nf = perf_sample_frames(&ps, frames, MAX_FRAMES - 1);
		uint32_t proc = proctab_get(s->pt, (int32_t)ps.pid);
		if (proc != PROCTAB_NONE &&
		    stacktab_add_cgroup(&s->st, proc, ps.tid, s->cgroup ? ps.cgroup : 0, frames, nf,
					ps.period) == 0)
			ok++;
	}
	return ok;
}

/* Up to CGROUPS ids of real cgroups (the root and its children). */
static size_t real_ids(uint64_t *ids)
{
	char mnt[PATH_MAX];
	size_t n = 0;
	if (target_cgroup2_mount(mnt, sizeof mnt) < 0)
		return 0;
	struct stat st;
	if (stat(mnt, &st) == 0)
		ids[n++] = st.st_ino;
	DIR *d = opendir(mnt);
	struct dirent *de;
	while (d && n < CGROUPS && (de = readdir(d))) {
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", mnt, de->d_name);
		if (de->d_type == DT_DIR && de->d_name[0] != '.' && stat(path, &st) == 0)
			ids[n++] = st.st_ino;
	}
	if (d)
		closedir(d);
	for (size_t i = n; i < CGROUPS && n; i++)
		ids[i] = ids[i % n];
	return n;
}

int main(int argc, char **argv)
{
	size_t n = 200000, rounds = 9;
	int c;
	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		if (c == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (c == 'r')
			rounds = strtoul(optarg, NULL, 10);
		else {
			fprintf(stderr, "usage: label_cost [-n RECORDS] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (!n || !rounds) {
		fprintf(stderr, "label_cost: -n and -r must be positive\n");
		return 2;
	}
	uint64_t ids[CGROUPS] = { 0 };
	size_t real = real_ids(ids);
	if (!real)
		for (size_t i = 0; i < CGROUPS; i++)
			ids[i] = 1000 + i;   /* no cgroup2: ids only, no map */
	side sides[2] = {
		{ .type = EMBER_SAMPLE_TYPE_FP, .cgroup = false },
		{ .type = EMBER_SAMPLE_TYPE_FP | PERF_SAMPLE_CGROUP, .cgroup = true },
	};
	uint64_t *frames = malloc(MAX_FRAMES * sizeof *frames);
	for (int k = 0; k < 2; k++) {
		sides[k].buf = make_records(n, sides[k].type, ids, &sides[k].offs);
		if (!frames || !sides[k].buf || proctab_new(&sides[k].pt) < 0 ||
		    stacktab_init(&sides[k].st, 4096) < 0) {
			fprintf(stderr, "label_cost: out of memory\n");
			return 1;
		}
		pass(&sides[k], n, frames);   /* warm: every process and stack known */
	}
	/* one walk of the hierarchy: what a miss costs, once per window at most */
	cgroup_map *map = NULL;
	double walk_us = 0;
	if (real) {
		struct timespec w0, w1;
		clock_gettime(CLOCK_MONOTONIC, &w0);
		if (cgroup_map_new(&map) < 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &w1);
		walk_us = ((double)(w1.tv_sec - w0.tv_sec) * 1e9 + (double)(w1.tv_nsec - w0.tv_nsec)) / 1e3;
	}
	double *ns[2], *win[2];
	for (int k = 0; k < 2; k++) {
		ns[k] = calloc(rounds, sizeof *ns[k]);
		win[k] = calloc(rounds, sizeof *win[k]);
	}
	size_t counted = 0;
	for (size_t r = 0; r < rounds; r++) {
		for (int k = 0; k < 2; k++) {
			side *s = &sides[(r + (size_t)k) % 2];   /* alternate who goes first */
			int which = (int)((r + (size_t)k) % 2);
			double t0 = cpu_ns();
			counted += pass(s, n, frames);
			ns[which][r] = (cpu_ns() - t0) / (double)n;
			window_info wi = { .time_nanos = 1, .duration_nanos = 1, .period = 1000000,
					   .kernel_start = WINDOW_KERNEL_MIN, .kernel_build_id = "",
					   .cgroups = s->cgroup ? map : NULL };
			ember_profile *p = NULL;
			t0 = cpu_ns();
			if (window_build(&s->st, s->pt, &wi, &p, NULL) < 0)
				return 1;
			win[which][r] = (cpu_ns() - t0) / 1e3;
			ember_profile_free(p);
			if (map)
				cgroup_map_window_end(map);
		}
	}
	size_t stacks[2] = { sides[0].st.len, sides[1].st.len };
	double off = median(ns[0], rounds), on = median(ns[1], rounds);
	double woff = median(win[0], rounds), won = median(win[1], rounds);
	printf("records=%zu rounds=%zu cgroups=%zu ns_per_sample_off=%.1f ns_per_sample_on=%.1f "
	       "ratio=%.3f window_us_off=%.0f window_us_on=%.0f window_ratio=%.3f "
	       "stacks_off=%zu stacks_on=%zu map=%s walk_us=%.0f counted=%zu\n",
	       n, rounds, real, off, on, on / off, woff, won, won / woff, stacks[0], stacks[1],
	       map ? "live" : "none", walk_us, counted);
	for (int k = 0; k < 2; k++) {
		free(ns[k]);
		free(win[k]);
		free(sides[k].buf);
		free(sides[k].offs);
		proctab_free(sides[k].pt);
		stacktab_fini(&sides[k].st);
	}
	cgroup_map_free(map);
	free(frames);
	return 0;
}
