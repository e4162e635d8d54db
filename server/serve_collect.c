/* server/serve_collect.c — serve's sampling loop: polls the sampler and cuts
 * slices at wall-clock-aligned window boundaries and at the start and end
 * of /debug/pprof/profile requests, handing each slice to the worker.
 *
 * Owns: the sampler's thread, window alignment, the slice queue's producer
 * side. Must never: wait on the worker (a full queue drops the slice and
 * counts it; only the final slice waits), block on the request lock
 * (trylock), symbolize, touch the disk or HTTP.
 */
#include "server/serve.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Longest single poll: bounds how late a stop or a new request is seen
 * even if the sampler's poll looks at its stop flag only between reads. */
#define POLL_SLICE_NS 250000000LL

void serve_collect_wake(serve_state *st)
{
	pthread_kill(st->sampling_thread, SIGUSR1);
}

/* Queues a slice; drops it when the worker is behind, except the final. */
static void push(serve_state *st, serve_slice *sl)
{
	pthread_mutex_lock(&st->mu);
	while (sl->final && st->q_len == SERVE_QUEUE_CAP)
		pthread_cond_wait(&st->space, &st->mu);
	if (st->q_len == SERVE_QUEUE_CAP) {
		pthread_mutex_unlock(&st->mu);
		ember_profile_free(sl->raw);
		atomic_fetch_add(&st->windows_dropped, 1);
		return;
	}
	st->queue[(st->q_head + st->q_len) % SERVE_QUEUE_CAP] = *sl;
	st->q_len++;
	pthread_cond_signal(&st->work);
	pthread_mutex_unlock(&st->mu);
}

/* What the pending requests want of the next cut (trylock: never waits). */
typedef struct request_view {
	bool cut_now;        /* a new request waits for its start cut */
	int64_t next_end;    /* earliest end still to cut at, or INT64_MAX */
	bool locked_out;     /* the worker holds the lock: look again soon */
} request_view;

static request_view view_requests(serve_state *st)
{
	request_view v = { false, INT64_MAX, false };
	if (pthread_mutex_trylock(&st->req_mu) != 0) {
		v.locked_out = true;
		return v;
	}
	for (serve_request *r = st->requests; r; r = r->next) {
		if (r->done)
			continue;
		if (!r->start_ns)
			v.cut_now = true;
		else if (!r->end_cut && r->end_ns < v.next_end)
			v.next_end = r->end_ns;
	}
	pthread_mutex_unlock(&st->req_mu);
	return v;
}

/* After a cut at `now`: new requests start here, due ones end here. */
static void mark_requests(serve_state *st, int64_t now)
{
	pthread_mutex_lock(&st->req_mu);   /* held by the worker for one merge at most */
	for (serve_request *r = st->requests; r; r = r->next) {
		if (!r->start_ns) {
			r->start_ns = now;
			r->end_ns = now + r->duration_ns;
		} else if (r->end_ns <= now) {
			r->end_cut = true;
		}
	}
	pthread_mutex_unlock(&st->req_mu);
}

int serve_collect_run(serve_state *st, ember_error *err)
{
	const int64_t w = (int64_t)st->cfg.window_ns;
	int64_t now = ember_real_ns();
	int64_t win_start = now, next_b = (now / w + 1) * w, slice_start = now;
	int rc = 0;
	atomic_store(&st->last_poll_ns, ember_mono_ns());
	for (;;) {
		st->wake = 0;
		request_view v = view_requests(st);
		int prc = 0;
		now = ember_real_ns();
		if (!v.cut_now) {
			int64_t deadline = next_b < v.next_end ? next_b : v.next_end;
			int64_t wait = deadline - now;
			if (v.locked_out && wait > 10000000)
				wait = 10000000;
			if (wait > POLL_SLICE_NS)
				wait = POLL_SLICE_NS;
			if (wait < 0)
				wait = 0;
			prc = st->ops.poll(st->ops.sampler, (uint64_t)(ember_mono_ns() + wait),
					   &st->wake, err);
			if (prc >= 0)
				atomic_store(&st->last_poll_ns, ember_mono_ns());
			now = ember_real_ns();
		}
		bool stop = serve_terminating(st) || prc != 0;
		bool closes = now >= next_b || stop;
		bool due = v.next_end != INT64_MAX && now >= v.next_end;
		if (!(closes || v.cut_now || due))
			continue;
		if (prc < 0) {
			rc = prc;
			snprintf(st->fail_msg, sizeof st->fail_msg, "%s", err->msg);
			atomic_store(&st->sampling_failed, true);
		}
		ember_profile *raw = NULL;
		ember_error terr = { 0 };
		int trc = st->ops.take_window(st->ops.sampler, &raw, &terr);
		if (trc < 0) {
			fprintf(stderr, "ember serve: %s\n", terr.msg);
			if (rc == 0) {
				rc = trc;
				*err = terr;
				snprintf(st->fail_msg, sizeof st->fail_msg, "%s", terr.msg);
				atomic_store(&st->sampling_failed, true);
			}
			raw = NULL;
			stop = closes = true;
		}
		/* A window closes at its nominal boundary; a partial last one at
		 * the cut; and one cut more than a window late (the thread was
		 * stalled) stretches to the last boundary passed, so windows
		 * stay back to back and their ends on boundaries. */
		int64_t win_end = next_b;
		if (closes && now < next_b)
			win_end = now;
		else if (closes && now / w * w > next_b)
			win_end = now / w * w;
		serve_slice sl = {
			.raw = raw,
			.start_ns = slice_start,
			.end_ns = now,
			.win_start_ns = win_start,
			.win_end_ns = win_end,
			.closes_window = closes,
			.final = stop,
		};
		mark_requests(st, now);
		push(st, &sl);
		slice_start = now;
		if (closes) {
			/* the next window starts at its nominal boundary, even if this
			 * cut came a few ms late */
			win_start = win_end;
			next_b = now / w * w + w;
		}
		if (prc == 1 && !serve_terminating(st))
			fprintf(stderr, "ember serve: the target has exited: storing the last window and stopping\n");
		if (stop)
			return rc;
	}
}
