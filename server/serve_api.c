/* server/serve_api.c — the ember_http_api of `ember serve`: what each endpoint
 * answers, from the store, the merger, the metrics registry and the
 * counters the other threads keep.
 *
 * Owns: the /metrics body (function series + self-observability +
 * process_*), profile requests' registration and waiting, merging stored
 * windows for a range. Must never: touch the sampler other than reading its
 * atomic stats, or the symbolizer at all (the worker owns it).
 */
#include "server/serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/http.h"
#include "server/push.h"

/* How long sampling may be silent before /healthz says so. */
#define HEALTH_STALE_NS 5000000000LL
/* Extra time a profile request waits beyond its seconds. */
#define PROFILE_GRACE_NS 30000000000LL

static void counter(ember_buf *b, ember_expo_format f, const char *name, const char *help,
		    double v)
{
	ember_expo_family(b, f, name, EMBER_COUNTER, help);
	ember_expo_sample(b, f, name, EMBER_COUNTER, NULL, v);
}

static void gauge(ember_buf *b, ember_expo_format f, const char *name, const char *help, double v)
{
	ember_expo_family(b, f, name, EMBER_GAUGE, help);
	ember_expo_sample(b, f, name, EMBER_GAUGE, NULL, v);
}

static void self_metrics(serve_state *st, ember_expo_format f, ember_buf *b)
{
	ember_sampler_stats ss;
	st->ops.sampler_stats(st->ops.sampler, &ss);
	pthread_mutex_lock(&st->mu);
	ember_symbolizer_stats sy = st->sym_stats;
	double sym_secs = st->symbolize_seconds;
	pthread_mutex_unlock(&st->mu);
	ember_store_stats sto;
	ember_store_get_stats(st->store, &sto);

	counter(b, f, "ember_samples", "Stack samples aggregated.", (double)ss.samples);
	counter(b, f, "ember_samples_lost",
		"Samples the kernel dropped (ring buffer full: PERF_RECORD_LOST).", (double)ss.lost);
	counter(b, f, "ember_samples_throttled",
		"Times the kernel throttled sampling (PERF_RECORD_THROTTLE).", (double)ss.throttled);
	ember_expo_family(b, f, "ember_unwind_errors", EMBER_COUNTER,
			  "Stacks whose unwinding stopped early, by reason.");
	for (int r = 0; r < EMBER_UNWIND_N_REASONS; r++) {
		char labels[96];
		snprintf(labels, sizeof labels, "reason=\"%s\"",
			 ember_unwind_reason_name((ember_unwind_reason)r));
		ember_expo_sample(b, f, "ember_unwind_errors", EMBER_COUNTER, labels,
				  (double)ss.unwind_errors[r]);
	}
	counter(b, f, "ember_unsymbolized_locations",
		"Locations left with an address only (no binary or no symbols).",
		(double)sy.unsymbolized);
	counter(b, f, "ember_symbolize_seconds", "Wall time spent symbolizing.", sym_secs);
	counter(b, f, "ember_windows_stored", "Windows written to the store.",
		(double)atomic_load(&st->windows_stored));
	counter(b, f, "ember_windows_dropped",
		"Windows (or slices of them) dropped because the worker fell behind.",
		(double)atomic_load(&st->windows_dropped));
	counter(b, f, "ember_windows_empty",
		"Windows in which the target used no CPU (not stored).",
		(double)atomic_load(&st->windows_empty));
	counter(b, f, "ember_store_errors", "Windows that could not be stored (disk full, I/O).",
		(double)atomic_load(&st->store_errors));
	counter(b, f, "ember_store_removed", "Windows removed by retention.", (double)sto.removed);
	gauge(b, f, "ember_store_bytes", "Bytes of stored windows.", (double)sto.bytes);
	gauge(b, f, "ember_store_windows", "Windows in the store.", (double)sto.windows);
	gauge(b, f, "ember_processes", "Processes in the profiler's process table.",
	      (double)ss.processes);
	gauge(b, f, "ember_function_series", "Function series exported.",
	      (double)ember_metrics_series(st->metrics));
	counter(b, f, "ember_function_series_folded",
		"Function samples folded into function=\"[other]\" by the series cap.",
		(double)ember_metrics_dropped(st->metrics));
	counter(b, f, "ember_scrapes", "Requests to /metrics.",
		(double)atomic_load(&st->scrapes));
	counter(b, f, "ember_http_read_timeouts",
		"Connections closed because a request was not received within --web.read-timeout.",
		(double)atomic_load(&st->http_read_timeouts));
}

static int api_metrics(void *ctx, ember_expo_format f, ember_buf *out, const char **ct,
		       ember_error *err)
{
	serve_state *st = ctx;
	atomic_fetch_add(&st->scrapes, 1);
	int rc = ember_metrics_render(st->metrics, f, out, err);
	if (rc < 0)
		return rc;
	self_metrics(st, f, out);
	push_agent_metrics(st->push, out, f);
	serve_process_metrics(out, f);
	if (f == EMBER_EXPO_OPENMETRICS)
		ember_buf_puts(out, "# EOF\n");
	*ct = ember_expo_content_type(f);
	return 0;
}

static void unlink_request(serve_state *st, serve_request *r)
{
	for (serve_request **pp = &st->requests; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			st->n_requests--;
			return;
		}
	}
}

static int api_profile(void *ctx, int64_t duration_ns, ember_profile **out, ember_error *err)
{
	serve_state *st = ctx;
	serve_request *r = calloc(1, sizeof *r);
	if (!r)
		return ember_errorf(err, ENOMEM, "out of memory");
	r->duration_ns = duration_ns;
	pthread_mutex_lock(&st->req_mu);
	if (st->finished || serve_terminating(st)) {
		pthread_mutex_unlock(&st->req_mu);
		free(r);
		return ember_errorf(err, ECANCELED, "ember serve is shutting down");
	}
	if (st->n_requests >= SERVE_MAX_PROFILE_REQUESTS) {
		pthread_mutex_unlock(&st->req_mu);
		free(r);
		return ember_errorf(err, EBUSY,
				    "%d profile requests are already running: try again later",
				    SERVE_MAX_PROFILE_REQUESTS);
	}
	r->next = st->requests;
	st->requests = r;
	st->n_requests++;
	serve_collect_wake(st);
	int64_t until = ember_mono_ns() + duration_ns + PROFILE_GRACE_NS;
	struct timespec dl = { .tv_sec = until / EMBER_NS_PER_S,
			       .tv_nsec = until % EMBER_NS_PER_S };
	int w = 0;
	while (!r->done && w != ETIMEDOUT)
		w = pthread_cond_timedwait(&st->done, &st->req_mu, &dl);
	unlink_request(st, r);
	pthread_mutex_unlock(&st->req_mu);
	int rc;
	if (!r->done) {
		ember_merger_free(r->merger);
		rc = ember_errorf(err, EAGAIN, "profiling took too long (the worker is behind)");
	} else if (r->rc < 0) {
		*err = r->err;
		rc = r->rc;
	} else {
		*out = r->result;
		rc = 0;
	}
	free(r);
	return rc;
}

static int api_list(void *ctx, int64_t start, int64_t end, ember_window_info **out, size_t *n,
		    ember_error *err)
{
	serve_state *st = ctx;
	return ember_store_list(st->store, start, end, out, n, err);
}

static int api_window(void *ctx, const char *id, ember_profile **out, ember_error *err)
{
	serve_state *st = ctx;
	return ember_store_load(st->store, id, out, err);
}

static int api_merge(void *ctx, int64_t start, int64_t end, const ember_focus *focus,
		     ember_profile **out, ember_error *err)
{
	serve_state *st = ctx;
	if (!ember_focus_empty(focus)) {   /* refuse a bad regex before reading any window */
		ember_profile *empty = ember_profile_new(), *none = NULL;
		if (!empty)
			return ember_errorf(err, ENOMEM, "out of memory");
		int rc = ember_profile_focus_by(empty, focus, &none, err);
		ember_profile_free(empty);
		ember_profile_free(none);
		if (rc < 0)
			return rc;
	}
	ember_window_info *v;
	size_t n;
	int rc = ember_store_list(st->store, start, end, &v, &n, err);
	if (rc < 0)
		return rc;
	ember_merger *m = NULL;
	size_t used = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		ember_profile *p;
		int lrc = ember_store_load(st->store, v[i].id, &p, err);
		if (lrc == -ENOENT)   /* removed by retention meanwhile */
			continue;
		if (lrc < 0) {
			rc = lrc;
			break;
		}
		if (!m)
			rc = ember_merger_new(&m, err);
		if (rc == 0)
			rc = ember_merger_add(m, p, err);
		ember_profile_free(p);
		used++;
	}
	free(v);
	if (rc == 0 && used == 0)
		rc = ember_errorf(err, ENOENT, "no stored windows in that range (see "
					       "/api/v1/profiles)");
	if (rc == 0)
		rc = ember_merger_result_focus(m, focus, out, err);
	ember_merger_free(m);
	return rc;
}

static bool api_healthy(void *ctx, ember_buf *why)
{
	serve_state *st = ctx;
	if (atomic_load(&st->sampling_failed)) {
		ember_buf_printf(why, "sampling failed: %s", st->fail_msg);
		return false;
	}
	if (serve_terminating(st)) {
		ember_buf_puts(why, "shutting down");
		return false;
	}
	int64_t age = ember_mono_ns() - atomic_load(&st->last_poll_ns);
	if (age > HEALTH_STALE_NS) {
		ember_buf_printf(why, "the sampler has not been polled for %.1f s",
				 (double)age / 1e9);
		return false;
	}
	return true;
}

void serve_api_init(serve_state *st, ember_http_api *api)
{
	*api = (ember_http_api){
		.ctx = st,
		.metrics = api_metrics,
		.profile = api_profile,
		.list = api_list,
		.window = api_window,
		.merge = api_merge,
		.healthy = api_healthy,
	};
}
