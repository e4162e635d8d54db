/* server/serve_worker.c — serve's worker thread: symbolizes each slice, adds
 * it to the current window and to the profile requests it falls in, and at
 * a window's end stores the window and feeds the metrics registry with the
 * window id as the exemplar's profile_id.
 *
 * While no slice is queued it folds, for the UI, the windows of the last
 * hour stored before this start (server/ui.h).
 *
 * Owns: the symbolizer (no other thread touches it), the window being
 * assembled, completing profile requests. Must never: hold the queue lock
 * while working, or leave a request waiting after the final slice.
 */
#include "server/serve.h"
#include "server/ui.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARM_NS (3600LL * 1000000000)   /* windows folded at start: the last hour's */

/* The UI's warm-up: the windows stored before this start (the last hour's,
 * newest first) folded while the worker has nothing else to do, one at a
 * time, so a slice waits for at most one window's decoding. It stops early
 * once the folded windows' memory is full (older windows would only push
 * newer ones out). */
typedef struct warmup {
	ember_window_info *v;
	size_t left;           /* v[0..left) still to fold */
	uint64_t evictions;    /* of the folds when it started */
} warmup;

static void warm_start(serve_state *st, warmup *w)
{
	*w = (warmup){ 0 };
	ember_error err = { 0 };
	if (!st->folds || ember_store_list(st->store, ember_real_ns() - WARM_NS, INT64_MAX, &w->v,
					   &w->left, &err) < 0)
		w->left = 0;
	ember_ui_folds_stat s;
	ember_ui_folds_stats(st->folds, &s);
	w->evictions = s.evictions;
}

static void warm_one(serve_state *st, warmup *w)
{
	const ember_window_info *i = &w->v[--w->left];
	ember_ui_fold_ref *ref = ember_ui_folds_get(st->folds, i->id, i->bytes);
	if (ref) {   /* a request folded it already */
		ember_ui_folds_release(st->folds, ref);
	} else {
		ember_profile *p = NULL;
		ember_error err = { 0 };
		if (ember_store_load(st->store, i->id, &p, &err) == 0)   /* else: pruned meanwhile */
			ember_ui_folds_keep(st->folds, i, p, &err);
		ember_profile_free(p);
		ember_ui_folds_stat s;
		ember_ui_folds_stats(st->folds, &s);
		if (s.evictions != w->evictions)
			w->left = 0;
	}
	if (!w->left) {
		free(w->v);
		w->v = NULL;
	}
}

/* The next slice; while none is queued, the warm-up goes on. */
static serve_slice pop(serve_state *st, warmup *w)
{
	pthread_mutex_lock(&st->mu);
	while (st->q_len == 0) {
		if (w->left) {
			pthread_mutex_unlock(&st->mu);
			warm_one(st, w);
			pthread_mutex_lock(&st->mu);
		} else {
			pthread_cond_wait(&st->work, &st->mu);
		}
	}
	serve_slice sl = st->queue[st->q_head];
	st->q_head = (st->q_head + 1) % SERVE_QUEUE_CAP;
	st->q_len--;
	pthread_cond_signal(&st->space);
	pthread_mutex_unlock(&st->mu);
	return sl;
}

static void symbolize(serve_state *st, ember_profile *p)
{
	ember_error err = { 0 };
	int64_t t0 = ember_mono_ns();
	if (st->ops.symbolize(st->ops.symbolizer, p, &err) < 0)
		fprintf(stderr, "ember serve: symbolize: %s (the window is kept with addresses)\n",
			err.msg);
	double secs = (double)(ember_mono_ns() - t0) / 1e9;
	ember_symbolizer_stats s;
	st->ops.symbolizer_stats(st->ops.symbolizer, &s);
	pthread_mutex_lock(&st->mu);
	st->sym_stats = s;
	st->symbolize_seconds += secs;
	pthread_mutex_unlock(&st->mu);
}

/* The window [start, end) is complete: store it, then count it. */
static void close_window(serve_state *st, ember_merger **mp, int64_t start, int64_t end)
{
	ember_merger *m = *mp;
	*mp = NULL;
	if (!m)
		return;
	ember_error err = { 0 };
	ember_profile *p = NULL;
	int rc = ember_merger_result(m, &p, &err);
	ember_merger_free(m);
	if (rc < 0) {
		fprintf(stderr, "ember serve: window lost: %s\n", err.msg);
		atomic_fetch_add(&st->windows_dropped, 1);
		return;
	}
	p->time_nanos = start;
	p->duration_nanos = end - start;
	if (ember_profile_sample_total(p) == 0) {   /* nothing ran: nothing to store or count */
		atomic_fetch_add(&st->windows_empty, 1);
		ember_profile_free(p);
		/* retention by age still runs while the target idles */
		ember_store_prune(st->store, ember_real_ns());
		return;
	}
	ember_window_info info;
	rc = ember_store_put(st->store, p, &info, &err);
	if (rc < 0) {
		atomic_fetch_add(&st->store_errors, 1);
		fprintf(stderr, "ember serve: storing a window failed: %s\n", err.msg);
	} else {
		atomic_fetch_add(&st->windows_stored, 1);
		/* the UI's call trees merge it from memory, never decoding it */
		if (ember_ui_folds_keep(st->folds, &info, p, &err) < 0)
			fprintf(stderr, "ember serve: the UI reads the window from disk: %s\n",
				err.msg);
	}
	if (ember_metrics_add_profile(st->metrics, p, rc == 0 ? info.id : NULL, end / 1000000,
				      &err) < 0)
		fprintf(stderr, "ember serve: metrics: %s\n", err.msg);
	ember_profile_free(p);
}

static int add(ember_merger **mp, const ember_profile *p, ember_error *err)
{
	if (!*mp) {
		int rc = ember_merger_new(mp, err);
		if (rc < 0)
			return rc;
	}
	return ember_merger_add(*mp, p, err);
}

/* Completes r with what it collected (caller holds req_mu). */
static void finish_request(serve_request *r, int64_t end_ns)
{
	if (r->merger) {
		r->rc = ember_merger_result(r->merger, &r->result, &r->err);
		ember_merger_free(r->merger);
		r->merger = NULL;
		if (r->rc == 0) {
			r->result->time_nanos = r->start_ns;
			r->result->duration_nanos = end_ns - r->start_ns;
		}
	} else {
		r->rc = ember_errorf(&r->err, EAGAIN,
				     "no samples were collected in that time (dropped or "
				     "shutting down): try again");
	}
	r->done = true;
}

static void feed_requests(serve_state *st, const serve_slice *sl, const ember_profile *p)
{
	pthread_mutex_lock(&st->req_mu);
	bool any = false;
	for (serve_request *r = st->requests; r; r = r->next) {
		if (r->done || !r->start_ns || sl->start_ns < r->start_ns)
			continue;
		if (p && sl->start_ns < r->end_ns && r->rc == 0) {
			int rc = add(&r->merger, p, &r->err);
			if (rc < 0)
				r->rc = rc;
		}
		if (sl->end_ns >= r->end_ns || sl->final) {
			if (r->rc < 0) {
				ember_merger_free(r->merger);
				r->merger = NULL;
				r->done = true;
			} else {
				finish_request(r, sl->end_ns);
			}
			any = true;
		}
	}
	if (sl->final) {
		for (serve_request *r = st->requests; r; r = r->next) {
			if (!r->done) {   /* never started: the sampler has stopped */
				r->rc = ember_errorf(&r->err, ECANCELED,
						     "ember serve is shutting down");
				r->done = true;
			}
		}
		st->finished = true;
		any = true;
	}
	if (any)
		pthread_cond_broadcast(&st->done);
	pthread_mutex_unlock(&st->req_mu);
}

void *serve_worker_main(void *arg)
{
	serve_state *st = arg;
	ember_merger *win = NULL;
	int64_t win_start = 0, win_end = 0;
	warmup warm;
	warm_start(st, &warm);
	for (;;) {
		serve_slice sl = pop(st, &warm);
		if (sl.raw)
			symbolize(st, sl.raw);
		/* a window whose closing slice was dropped closes when the next
		 * window's first slice arrives */
		if (win && win_start != sl.win_start_ns)
			close_window(st, &win, win_start, win_end);
		if (sl.raw) {
			ember_error err = { 0 };
			if (add(&win, sl.raw, &err) < 0) {
				fprintf(stderr, "ember serve: %s\n", err.msg);
				atomic_fetch_add(&st->windows_dropped, 1);
			}
			win_start = sl.win_start_ns;
			win_end = sl.win_end_ns;
		}
		feed_requests(st, &sl, sl.raw);
		ember_profile_free(sl.raw);
		if (sl.closes_window || sl.final)
			close_window(st, &win, win_start, win_end);
		if (sl.final)
			break;
	}
	free(warm.v);
	return NULL;
}
