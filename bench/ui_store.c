/* bench/ui_store.c — a store of synthetic windows for the UI benchmark
 * (bench/ui_load.py): N windows of 10 s, back to back, ending now, written
 * with the store API as `ember serve` writes them. Each window holds 1,500
 * sample records drawn (skewed: a few hot stacks, a long tail) from a
 * universe of 6,000 stacks 8..24 frames deep over 4,000 functions, with
 * comm, pid and tid labels; merged over 360 windows their call tree has
 * about 50,000 nodes, the size the UI must stay smooth with.
 *
 * With TEMPLATE files (pprof, e.g. windows a real `ember serve -a` stored),
 * the windows are copies of them in turn, retimed, instead.
 *
 * usage: ui_store DIR [N [TEMPLATE...]]   (N = 360: one hour).
 * Prints "start_ms end_ms".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ember/pprof.h"
#include "ember/profile.h"
#include "server/store.h"

#define FUNCS 4000
#define UNIVERSE 6000
#define RECORDS 1500
#define WINDOW_NS 10000000000LL
#define PERIOD_NS 10101010LL   /* 99 Hz */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Stack k of the universe, root first, into fr; its depth. */
static int stack_of(uint32_t k, uint32_t *fr)
{
	int depth = 8 + (int)(k % 17);
	fr[0] = 0;                 /* main */
	fr[1] = 1 + k % 8;         /* one of 8 services */
	uint64_t h = k * 0x9e3779b97f4a7c15ULL;
	for (int i = 2; i < depth; i++) {   /* 4 callees per function, from k's bits */
		h = (h >> 2) | (h << 62);
		fr[i] = (uint32_t)((fr[i - 1] * 31u + (h & 3) * 977u + (unsigned)i * 13u) % FUNCS);
		if (fr[i] < 9)
			fr[i] += 9;
	}
	return depth;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ui_store DIR [N]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 360;
	ember_store *store;
	ember_error err = { 0 };
	ember_store_opts so = { .path = argv[1], .no_fsync = true };
	if (ember_store_open(&store, &so, &err) < 0) {
		fprintf(stderr, "ui_store: %s\n", err.msg);
		return 1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000LL / WINDOW_NS * WINDOW_NS;
	int64_t t0 = now - (int64_t)n * WINDOW_NS;
	static const char *const comms[] = { "api", "worker", "db", "cron" };
	for (int w = 0; w < n && argc > 3; w++) {   /* copies of real windows */
		ember_profile *p;
		if (ember_pprof_read_file(argv[3 + w % (argc - 3)], &p, &err) < 0 ||
		    ((p->time_nanos = t0 + (int64_t)w * WINDOW_NS), (p->duration_nanos = WINDOW_NS),
		     ember_store_put(store, p, NULL, &err) < 0)) {
			fprintf(stderr, "ui_store: %s\n", err.msg);
			return 1;
		}
		ember_profile_free(p);
	}
	for (int w = 0; w < n && argc <= 3; w++) {
		ember_profile *p = ember_profile_new();
		ember_profile_add_sample_type(p, "samples", "count");
		ember_profile_add_sample_type(p, "cpu", "nanoseconds");
		ember_profile_set_period_type(p, "cpu", "nanoseconds");
		p->period = PERIOD_NS;
		p->time_nanos = t0 + (int64_t)w * WINDOW_NS;
		p->duration_nanos = WINDOW_NS;
		ember_mapping m = { .memory_start = 0x400000, .memory_limit = 0x800000,
				    .filename = ember_profile_intern(p, "/usr/bin/app"),
				    .build_id = ember_profile_intern(p, "5eedbeef"),
				    .has_functions = true, .has_filenames = true,
				    .has_line_numbers = true, .has_inline_frames = true };
		uint64_t map = ember_profile_add_mapping(p, &m);
		uint64_t *loc = calloc(FUNCS, sizeof *loc);
		int64_t src = ember_profile_intern(p, "app.c");
		int64_t kcomm = ember_profile_intern(p, "comm"), kpid = ember_profile_intern(p, "pid");
		int64_t ktid = ember_profile_intern(p, "tid");
		for (int r = 0; r < RECORDS; r++) {
			double u = (double)(next() % 1000000) / 1e6;
			uint32_t k = (uint32_t)(UNIVERSE * u * u * u);   /* hot head, long tail */
			uint32_t fr[32];
			int depth = stack_of(k, fr);
			uint64_t ids[32];
			for (int i = 0; i < depth; i++) {   /* leaf first */
				uint32_t f = fr[depth - 1 - i];
				if (!loc[f]) {
					char name[32];
					if (f == 0)
						snprintf(name, sizeof name, "main");
					else if (f < 9)
						snprintf(name, sizeof name, "service_%u", f);
					else
						snprintf(name, sizeof name, "fn_%04u", f);
					int64_t nm = ember_profile_intern(p, name);
					loc[f] = ember_profile_add_location(p, map, 0x401000 + f * 64);
					ember_profile_location_add_line(
						p, loc[f], ember_profile_intern_function(p, nm, nm, src, 1),
						(int64_t)f);
				}
				ids[i] = loc[f];
			}
			int64_t c = 1 + (int64_t)(next() % 4);
			int64_t v[2] = { c, c * PERIOD_NS };
			ember_label l[3] = {
				{ .key = kcomm, .str = ember_profile_intern(p, comms[k % 4]) },
				{ .key = kpid, .num = 1000 + k % 4 },
				{ .key = ktid, .num = 1000 + k % 16 },
			};
			ember_profile_add_sample(p, ids, (size_t)depth, v, l, 3);
		}
		free(loc);
		int rc = ember_store_put(store, p, NULL, &err);
		ember_profile_free(p);
		if (rc < 0) {
			fprintf(stderr, "ui_store: %s\n", err.msg);
			ember_store_free(store);
			return 1;
		}
	}
	ember_store_free(store);
	printf("%lld %lld\n", (long long)(t0 / 1000000), (long long)(now / 1000000));
	return 0;
}
