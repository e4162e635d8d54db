/* tests/ui/test_ui_worker.c — how serve's worker (server/serve_worker.c)
 * fills the UI's folded windows (server/ui_folds.c), with a real store and
 * no sampler: at start it folds the windows of the last hour stored before
 * (not older ones), and it folds each window it stores; a call tree of the
 * range then reads no window and answers as reading every window does. */
#include "../check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/agent.h"
#include "server/serve.h"
#include "server/ui.h"
#include "window.h"

#define S 1000000000LL
#define MS 1000000LL

/* ui_window of fn as the window [start, start + 10 s) */
static ember_profile *profile(const char *fn, int64_t start, int64_t v)
{
	ember_profile *p = ui_window(fn, v);
	p->time_nanos = start;
	p->duration_nanos = 10 * S;
	return p;
}

static int f_symbolize(void *sym, ember_profile *p, ember_error *err)
{
	(void)sym, (void)p, (void)err;
	return 0;
}

static void f_sym_stats(void *sym, ember_symbolizer_stats *out)
{
	(void)sym;
	memset(out, 0, sizeof *out);
}

static void push(serve_state *st, serve_slice sl)
{
	pthread_mutex_lock(&st->mu);
	st->queue[(st->q_head + st->q_len) % SERVE_QUEUE_CAP] = sl;
	st->q_len++;
	pthread_cond_signal(&st->work);
	pthread_mutex_unlock(&st->mu);
}

/* Waits (up to 20 s) until the folds hold n windows. */
static bool wait_windows(serve_state *st, size_t n)
{
	ember_ui_folds_stat s;
	for (int i = 0; i < 2000; i++) {
		ember_ui_folds_stats(st->folds, &s);
		if (s.windows == n)
			return true;
		usleep(10000);
	}
	fprintf(stderr, "folds hold %zu windows, want %zu\n", s.windows, n);
	return false;
}

static ember_store *store_;

static int f_list(void *ctx, int64_t start, int64_t end, ember_window_info **out, size_t *n,
		  ember_error *err)
{
	(void)ctx;
	return ember_store_list(store_, start, end, out, n, err);
}

static int window_calls;

static int f_window(void *ctx, const char *id, ember_profile **out, ember_error *err)
{
	(void)ctx;
	window_calls++;
	return ember_store_load(store_, id, out, err);
}

static char *calltree(ember_ui_folds *folds, const char *start, const char *end)
{
	ember_http_api api = { .list = f_list, .window = f_window };
	ember_http_opts opts = { .ui_folds = folds };
	ember_http_arg args[2] = { { "start", start }, { "end", end } };
	ember_http_request req = { "GET", "/api/v1/calltree", NULL, args, 2 };
	ember_http_response r;
	ember_http_handle(&api, &opts, &req, &r);
	CHECK(r.status == 200);
	char *body = strdup(r.body.data ? r.body.data : "");
	ember_http_response_free(&r);
	return body;
}

int main(void)
{
	char dir[] = "/tmp/ember-ui-worker-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	ember_store_opts so = { .path = dir, .no_fsync = true };
	ember_error err = { 0 };
	serve_state st;
	memset(&st, 0, sizeof st);
	serve_state_init(&st, EMBER_AGENT_UI_CACHE_BYTES);
	CHECK(st.folds != NULL);
	CHECK(ember_store_open(&st.store, &so, &err) == 0);
	store_ = st.store;
	ember_metrics_opts mo = { 0 };
	CHECK(ember_metrics_new(&st.metrics, &mo, &err) == 0);
	st.ops = (serve_ops){ .symbolize = f_symbolize, .symbolizer_stats = f_sym_stats };

	/* before the start: 5 windows of the last hour and 2 older ones */
	int64_t now = ember_real_ns() / S * S;
	int64_t starts[7] = { now - 7200 * S, now - 3700 * S };
	for (int i = 0; i < 5; i++)
		starts[2 + i] = now - (int64_t)(600 - 100 * i) * S;
	ember_window_info info[7];
	for (int i = 0; i < 7; i++) {
		ember_profile *p = profile(i < 2 ? "old" : "recent", starts[i], 1 + i);
		CHECK(ember_store_put(st.store, p, &info[i], &err) == 0);
		ember_profile_free(p);
	}
	pthread_t worker;
	CHECK(pthread_create(&worker, NULL, serve_worker_main, &st) == 0);
	CHECK(wait_windows(&st, 5));
	for (int i = 0; i < 7; i++) {
		ember_ui_fold_ref *ref = ember_ui_folds_get(st.folds, info[i].id, info[i].bytes);
		CHECK((ref != NULL) == (i >= 2));
		ember_ui_folds_release(st.folds, ref);
	}

	/* a window the worker stores is folded as it is stored */
	serve_slice sl = { .raw = profile("new", now, 9), .start_ns = now, .end_ns = now + 10 * S,
			   .win_start_ns = now, .win_end_ns = now + 10 * S, .closes_window = true };
	push(&st, sl);
	CHECK(wait_windows(&st, 6));
	push(&st, (serve_slice){ .final = true });
	pthread_join(worker, NULL);

	/* the last hour's call tree from memory: the same JSON, no window read */
	char from[32], to[32];
	snprintf(from, sizeof from, "%lld", (long long)((now - 3000 * S) / MS));
	snprintf(to, sizeof to, "%lld", (long long)((now + 20 * S) / MS));
	char *want = calltree(NULL, from, to);
	CHECK(window_calls == 6);
	window_calls = 0;
	char *got = calltree(st.folds, from, to);
	CHECK(window_calls == 0);
	CHECK(strcmp(want, got) == 0);
	CHECK(strstr(got, "\"profiles\":6,") && strstr(got, "\"new\"") && !strstr(got, "\"old\""));
	free(want);
	free(got);

	ember_store_free(st.store);
	ember_metrics_free(st.metrics);
	serve_state_destroy(&st);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return check_exit();
}
