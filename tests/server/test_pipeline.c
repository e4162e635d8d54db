/* tests/server/test_pipeline.c — serve's threads without perf: the sampling
 * loop (server/serve_collect.c) and the worker (server/serve_worker.c) run over a
 * fake sampler that yields one sample per millisecond, with the real store,
 * merger and metrics registry. Checks: windows aligned to wall-clock
 * multiples, every sample stored exactly once, /debug/pprof/profile's
 * exact N seconds (through the api), and that a slow worker makes slices
 * drop (counted) while the sampling thread keeps polling on time. */
#include "../check.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ember/agent.h"
#include "server/serve.h"

#define MS 1000000LL

typedef struct fake {
	int64_t last_take;        /* CLOCK_MONOTONIC */
	atomic_uint_fast64_t total;   /* samples handed out */
	int64_t max_poll_gap, last_poll_end;
	atomic_int polls;
	int symbolize_ms;         /* worker delay per slice */
} fake;

static int f_poll(void *ctx, uint64_t deadline, volatile sig_atomic_t *stop, ember_error *err)
{
	(void)err;
	fake *f = ctx;
	int64_t start = ember_mono_ns();
	if (f->last_poll_end && start - f->last_poll_end > f->max_poll_gap)
		f->max_poll_gap = start - f->last_poll_end;
	while ((uint64_t)ember_mono_ns() < deadline && !*stop) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	f->polls++;
	f->last_poll_end = ember_mono_ns();
	return 0;
}

/* A raw-looking profile with one sample per elapsed millisecond. */
static int f_take(void *ctx, ember_profile **out, ember_error *err)
{
	fake *f = ctx;
	int64_t now = ember_mono_ns();
	int64_t n = (now - f->last_take) / MS;
	f->last_take += n * MS;   /* carry the remainder into the next slice */
	ember_profile *p = ember_profile_new();
	if (!p)
		return ember_errorf(err, ENOMEM, "oom");
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->period = MS;
	ember_mapping m = { .filename = ember_profile_intern(p, "/bin/work"),
			    .memory_start = 0x1000, .memory_limit = 0x2000 };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	uint64_t loc = ember_profile_add_location(p, mid, 0x1234);
	uint64_t fn = ember_profile_intern_function(p, ember_profile_intern(p, "work"), 0, 0, 0);
	ember_profile_location_add_line(p, loc, fn, 0);
	if (n > 0) {
		int64_t v[2] = { n, n * MS };
		ember_label l = { .key = ember_profile_intern(p, "comm"),
				  .str = ember_profile_intern(p, "work") };
		ember_profile_add_sample(p, &loc, 1, v, &l, 1);
	}
	f->total += (uint64_t)n;
	*out = p;
	return 0;
}

static void f_sampler_stats(void *ctx, ember_sampler_stats *out)
{
	memset(out, 0, sizeof *out);
	out->samples = ((fake *)ctx)->total;
}

static int f_symbolize(void *ctx, ember_profile *p, ember_error *err)
{
	(void)p;
	(void)err;
	fake *f = ctx;
	if (f->symbolize_ms) {
		struct timespec ts = { 0, f->symbolize_ms * MS };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void f_sym_stats(void *ctx, ember_symbolizer_stats *out)
{
	(void)ctx;
	memset(out, 0, sizeof *out);
}

static serve_state *current;
static int collect_rc;

/* As in cmd_serve.c: handlers run on the sampling thread, SIGUSR2 plays
 * SIGTERM. */
static void on_signal(int sig)
{
	if (sig == SIGUSR2)
		serve_set_terminate(&current->terminate);
	current->wake = 1;
}

static void *collect_thread(void *arg)
{
	serve_state *st = arg;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	ember_error err = { 0 };
	collect_rc = serve_collect_run(st, &err);   /* checked by main: CHECK is not thread-safe */
	return NULL;
}

typedef struct run {
	serve_state st;
	fake f;
	pthread_t collect, worker;
	char dir[64];
} run;

static void start(run *r, int64_t window_ns, int symbolize_ms)
{
	memset(r, 0, sizeof *r);
	serve_state_init(&r->st, EMBER_AGENT_UI_CACHE_BYTES);
	r->st.cfg.window_ns = (uint64_t)window_ns;
	r->f.last_take = ember_mono_ns();
	r->f.symbolize_ms = symbolize_ms;
	r->st.ops = (serve_ops){ &r->f, f_poll, f_take, f_sampler_stats,
				 &r->f, f_symbolize, f_sym_stats };
	strcpy(r->dir, "/tmp/ember-pipeline-XXXXXX");
	CHECK(mkdtemp(r->dir) != NULL);
	ember_store_opts so = { .path = r->dir, .no_fsync = true };
	ember_error err = { 0 };
	CHECK(ember_store_open(&r->st.store, &so, &err) == 0);
	ember_metrics_opts mo = { 0 };
	CHECK(ember_metrics_new(&r->st.metrics, &mo, &err) == 0);
	current = &r->st;
	/* only the sampling thread takes the signals (it unblocks them) */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	pthread_create(&r->worker, NULL, serve_worker_main, &r->st);
	pthread_create(&r->collect, NULL, collect_thread, &r->st);
	r->st.sampling_thread = r->collect;
}

static void stop(run *r)
{
	pthread_kill(r->st.sampling_thread, SIGUSR2);
	pthread_join(r->collect, NULL);
	pthread_join(r->worker, NULL);
	CHECK(collect_rc == 0);
}

static void cleanup(run *r)
{
	ember_store_free(r->st.store);
	ember_metrics_free(r->st.metrics);
	serve_state_destroy(&r->st);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
	CHECK(system(cmd) == 0);
}

static void test_windows_and_profile(void)
{
	run r;
	start(&r, 200 * MS, 0);
	usleep(300000);
	ember_http_api api;
	serve_api_init(&r.st, &api);
	ember_profile *p = NULL;
	ember_error err = { 0 };
	int64_t t0 = ember_mono_ns();
	CHECK(api.profile(api.ctx, 500 * MS, &p, &err) == 0);
	int64_t took = ember_mono_ns() - t0;
	CHECK(took >= 500 * MS && took < 700 * MS);
	if (p) {
		/* exactly the samples between the two cuts: 1 per ms of ~500 ms */
		CHECK(p->duration_nanos >= 500 * MS && p->duration_nanos < 560 * MS);
		int64_t n = 0;
		for (size_t i = 0; i < p->n_samples; i++)
			n += p->samples[i].values[0];
		fprintf(stderr, "profile of 500 ms: %lld samples, duration %lld ms\n",
			(long long)n, (long long)(p->duration_nanos / MS));
		CHECK(n >= p->duration_nanos / MS - 2 && n <= p->duration_nanos / MS + 1);
		ember_profile_free(p);
	}
	usleep(200000);
	stop(&r);

	/* every sample handed out is in exactly one stored window */
	ember_window_info *v;
	size_t n;
	CHECK(ember_store_list(r.st.store, 0, INT64_MAX, &v, &n, &err) == 0);
	uint64_t stored = 0;
	int stretched = 0;
	for (size_t i = 0; i < n; i++) {
		stored += v[i].samples;
		if (i > 0 && i + 1 < n) {   /* whole windows: on boundaries, 200 ms long
					       (longer only if the thread stalled) */
			CHECK(v[i].start_ns % (200 * MS) == 0);
			CHECK(v[i].end_ns % (200 * MS) == 0);
			CHECK(v[i].end_ns - v[i].start_ns >= 200 * MS);
			stretched += v[i].end_ns - v[i].start_ns > 200 * MS;
		}
		if (i > 0 && v[i].start_ns != v[i - 1].end_ns)
			fprintf(stderr, "gap: %s then %s\n", v[i - 1].id, v[i].id);
		if (i > 0)
			CHECK(v[i].start_ns == v[i - 1].end_ns);   /* no gaps, no overlaps */
	}
	fprintf(stderr, "%zu windows, %llu samples stored of %llu\n", n,
		(unsigned long long)stored, (unsigned long long)r.f.total);
	CHECK(n >= 5);
	CHECK(stretched <= 1);
	CHECK(stored == r.f.total);
	CHECK(atomic_load(&r.st.windows_dropped) == 0);
	CHECK(atomic_load(&r.st.windows_stored) == n);
	free(v);
	/* the metrics registry saw every window, exemplar = the last window id */
	ember_buf b = EMBER_BUF_INIT;
	CHECK(ember_metrics_render(r.st.metrics, EMBER_EXPO_OPENMETRICS, &b, &err) == 0);
	CHECK(b.data && strstr(b.data, "function=\"work\"") && strstr(b.data, "profile_id=\""));
	ember_buf_free(&b);
	/* after the worker finished, profile requests fail fast */
	CHECK(api.profile(api.ctx, 100 * MS, &p, &err) == -ECANCELED);
	cleanup(&r);
}

static void test_slow_worker_drops(void)
{
	run r;
	/* 10 ms windows, 60 ms of "symbolizing" each: the queue (16) fills */
	start(&r, 10 * MS, 60);
	usleep(1500000);
	stop(&r);
	uint64_t dropped = atomic_load(&r.st.windows_dropped);
	fprintf(stderr, "slow worker: %llu dropped, %llu stored, %d polls, max poll gap %.1f ms\n",
		(unsigned long long)dropped,
		(unsigned long long)atomic_load(&r.st.windows_stored), r.f.polls,
		(double)r.f.max_poll_gap / MS);
	CHECK(dropped > 50);
	CHECK(atomic_load(&r.st.windows_stored) >= 16);
	/* the sampling thread never waited for the worker */
	CHECK(r.f.max_poll_gap < 20 * MS);
	CHECK(r.f.polls > 100);
	cleanup(&r);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	test_windows_and_profile();
	test_slow_worker_drops();
	return check_exit();
}
