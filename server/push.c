/* server/push.c — the delivery threads of `ember serve` (server/push.h): one
 * per destination, each sending every stored window once it is stored,
 * oldest first, at most once per PUSH_MIN_INTERVAL.
 *
 * The store is the spool. A destination's cursor is the last window it
 * acknowledged (2xx), kept in "<store>/push-<name>.cursor" (written
 * atomically, fsynced) and read at start, so a restart resumes after it.
 * Windows are ordered by (start, end); the next to send is the first after
 * the cursor. Network errors, 5xx, 408 and 429 are retried with capped
 * exponential backoff plus jitter (a 429's Retry-After, when given, is the
 * wait); any other answer drops the window (counted) and moves on. A window
 * is sent twice only when its acknowledgement was lost (the process ended
 * between the answer and the cursor write, or the answer never arrived).
 * Windows that retention removes before they were sent are counted under
 * reason="retention" (those removed while ember was not running cannot be).
 *
 * Owns: the cursors, the backoff, the ember_push_* counters. Must never:
 * block the sampling thread or the worker (it only reads the store), or
 * hold a lock while sending.
 */
#include "server/push.h"

#include "ember/clock.h"
#include "ember/pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000LL
#define PUSH_MIN_INTERVAL (100 * MS)   /* catch-up rate: 10 windows/s at most */
#define BACKOFF_FIRST (500 * MS)
#define BACKOFF_CAP (10000 * MS)
#define IDLE_POLL (200 * MS)           /* how often an idle thread looks at the store */

#define LOG(...) fprintf(stderr, "ember serve: push: " __VA_ARGS__)

enum { R_SENT, R_RETRIED, R_REJECTED, N_RESULTS };
static const char *const result_names[N_RESULTS] = { "sent", "retried", "rejected" };
enum { D_RETENTION, D_REJECTED, D_UNREADABLE, N_DROPS };
static const char *const drop_names[N_DROPS] = { "retention", "rejected", "unreadable" };

/* A window's place in the order. */
typedef struct wkey {
	int64_t start, end;
} wkey;

typedef struct pusher {
	const push_dest *d;
	struct push_agent *pa;
	push_http *http;
	pthread_t thread;
	bool started;
	char cursor_path[4200];
	char cursor_id[EMBER_WINDOW_ID_MAX];
	wkey cursor;               /* {INT64_MIN, INT64_MIN}: none yet */
	ember_window_info *pending;   /* last listing: windows after the cursor */
	size_t n_pending;
	uint64_t seen_stored, seen_removed;
	int attempts;              /* failed attempts at the window after the cursor */
	unsigned rand_state;
	long last_logged_status;   /* of the last failure logged; -1: none yet */
	bool said_retention;       /* a retention drop was logged since the last success */

	atomic_uint_fast64_t windows[N_RESULTS];
	atomic_uint_fast64_t dropped[N_DROPS];
	atomic_uint_fast64_t bytes;
	_Atomic int64_t oldest_unsent_end;   /* unix ns; 0: nothing pending */
} pusher;

struct push_agent {
	ember_store *store;
	push_dests *dests;
	pusher p[PUSH_MAX_DESTS];
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;          /* stop now: aborts a transfer in flight */
	bool draining;             /* (mu) stop once nothing is pending or past deadline */
	int64_t drain_deadline;    /* (mu) CLOCK_MONOTONIC */
};

static int wkey_cmp(wkey a, wkey b)
{
	if (a.start != b.start)
		return a.start < b.start ? -1 : 1;
	return (a.end > b.end) - (a.end < b.end);
}

static wkey info_key(const ember_window_info *w)
{
	return (wkey){ w->start_ns, w->end_ns };
}

static int info_cmp(const void *a, const void *b)
{
	return wkey_cmp(info_key(a), info_key(b));
}

/* Sleeps up to ns, or until the agent stops (true) or drains. */
static bool wait_ns(pusher *p, int64_t ns)
{
	struct push_agent *pa = p->pa;
	int64_t t = ember_mono_ns() + ns;
	struct timespec ts;
	ts.tv_sec = t / 1000000000LL;
	ts.tv_nsec = t % 1000000000LL;
	pthread_mutex_lock(&pa->mu);
	while (!atomic_load(&pa->stop) && !pa->draining &&
	       pthread_cond_timedwait(&pa->cv, &pa->mu, &ts) == 0)
		;
	bool stop = atomic_load(&pa->stop);
	pthread_mutex_unlock(&pa->mu);
	return stop;
}

static void read_cursor(pusher *p)
{
	p->cursor = (wkey){ INT64_MIN, INT64_MIN };
	FILE *f = fopen(p->cursor_path, "r");
	if (!f)
		return;
	char id[EMBER_WINDOW_ID_MAX + 2] = "";
	bool got = fgets(id, sizeof id, f) != NULL;
	fclose(f);
	id[strcspn(id, "\r\n")] = '\0';
	int64_t start, dur;
	if (!got || ember_window_id_parse(id, &start, &dur, NULL) < 0) {
		LOG("%s: ignoring the unreadable cursor %s: every stored window will be sent\n",
		    p->d->name, p->cursor_path);
		return;
	}
	p->cursor = (wkey){ start, start + dur };
	snprintf(p->cursor_id, sizeof p->cursor_id, "%s", id);
}

static void write_cursor(pusher *p, const ember_window_info *w)
{
	p->cursor = info_key(w);
	snprintf(p->cursor_id, sizeof p->cursor_id, "%s", w->id);
	char line[EMBER_WINDOW_ID_MAX + 2];
	int n = snprintf(line, sizeof line, "%s\n", w->id);
	ember_error err = { 0 };
	if (ember_write_file_atomic(p->cursor_path, line, (size_t)n, true, &err) < 0)
		LOG("%s: cannot save the cursor (a restart may send windows again): %s\n",
		    p->d->name, err.msg);
}

/* Lists the windows after the cursor into p->pending; windows of the last
 * listing that are gone without having been sent were removed by retention. */
static void relist(pusher *p)
{
	ember_window_info *ws = NULL;
	size_t n = 0;
	ember_error err = { 0 };
	int64_t from = p->cursor.start == INT64_MIN ? INT64_MIN : p->cursor.start;
	if (ember_store_list(p->pa->store, from, INT64_MAX, &ws, &n, &err) < 0) {
		LOG("%s: listing the store: %s\n", p->d->name, err.msg);
		return;
	}
	if (n > 1)
		qsort(ws, n, sizeof *ws, info_cmp);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (wkey_cmp(info_key(&ws[i]), p->cursor) > 0)
			ws[k++] = ws[i];
	/* both sorted: a merge finds the vanished ones */
	size_t j = 0;
	for (size_t i = 0; i < p->n_pending; i++) {
		wkey pk = info_key(&p->pending[i]);
		if (wkey_cmp(pk, p->cursor) <= 0)
			continue;
		while (j < k && wkey_cmp(info_key(&ws[j]), pk) < 0)
			j++;
		if (j == k || wkey_cmp(info_key(&ws[j]), pk) != 0) {
			atomic_fetch_add(&p->dropped[D_RETENTION], 1);
			if (!p->said_retention)   /* once until a push succeeds */
				LOG("%s: window %s was removed by retention before it could be sent "
				    "(more are only counted: ember_push_dropped_total{reason="
				    "\"retention\"})\n",
				    p->d->name, p->pending[i].id);
			p->said_retention = true;
		}
	}
	free(p->pending);
	p->pending = ws;
	p->n_pending = k;
	atomic_store(&p->oldest_unsent_end, k ? ws[0].end_ns : 0);
}

static int64_t backoff(pusher *p)
{
	int64_t d = BACKOFF_FIRST;
	for (int i = 1; i < p->attempts && d < BACKOFF_CAP; i++)
		d *= 2;
	if (d > BACKOFF_CAP)
		d = BACKOFF_CAP;
	/* jitter: half fixed, half random */
	return d / 2 + (int64_t)((double)rand_r(&p->rand_state) / RAND_MAX * (double)(d / 2));
}

/* Sends the oldest pending window; returns how long to wait before the next. */
static int64_t send_next(pusher *p)
{
	const ember_window_info *w = &p->pending[0];
	ember_error err = { 0 };
	ember_profile *prof = NULL;
	int rc = ember_store_load(p->pa->store, w->id, &prof, &err);
	if (rc == -ENOENT)
		return 0;   /* removed meanwhile: the next listing counts it */
	ember_buf body = EMBER_BUF_INIT;
	if (rc >= 0)
		rc = push_dest_encode(p->d, prof, w->id, &body, &err);
	ember_profile_free(prof);
	if (rc < 0) {
		LOG("%s: window %s cannot be sent, skipped: %s\n", p->d->name, w->id, err.msg);
		atomic_fetch_add(&p->dropped[D_UNREADABLE], 1);
		write_cursor(p, w);
		ember_buf_free(&body);
		return 0;
	}
	push_reply r;
	push_http_post(p->http, body.data, body.len, &r);
	size_t len = body.len;
	ember_buf_free(&body);
	if (atomic_load(&p->pa->stop))
		return 0;   /* aborted by the shutdown: not an answer */
	if (r.status >= 200 && r.status < 300) {
		char partial[400];
		if (push_partial_success(p->d, &r, partial, sizeof partial))
			LOG("%s: window %s: %s\n", p->d->name, w->id, partial);
		atomic_fetch_add(&p->windows[R_SENT], 1);
		atomic_fetch_add(&p->bytes, len);
		write_cursor(p, w);
		if (p->attempts)
			LOG("%s: delivering again (%s)\n", p->d->name, w->id);
		p->attempts = 0;
		p->last_logged_status = 200;
		p->said_retention = false;
		return PUSH_MIN_INTERVAL;
	}
	if (push_retryable(&r)) {
		atomic_fetch_add(&p->windows[R_RETRIED], 1);
		p->attempts++;
		int64_t wait = r.status == 429 && r.retry_after_ns >= 0 ? r.retry_after_ns
									: backoff(p);
		if (p->last_logged_status != r.status) {   /* one line per kind of failure */
			if (r.status)
				LOG("%s: %s answered %ld (%s); retrying window %s in %.1fs\n",
				    p->d->name, p->d->url, r.status, r.msg, w->id, (double)wait / 1e9);
			else
				LOG("%s: %s: %s; retrying window %s in %.1fs\n", p->d->name, p->d->url,
				    r.msg, w->id, (double)wait / 1e9);
			p->last_logged_status = r.status;
		}
		return wait;
	}
	atomic_fetch_add(&p->windows[R_REJECTED], 1);
	atomic_fetch_add(&p->dropped[D_REJECTED], 1);
	LOG("%s: %s answered %ld (%s): window %s dropped\n", p->d->name, p->d->url, r.status, r.msg,
	    w->id);
	write_cursor(p, w);
	p->attempts = 0;
	return 0;
}

/* Whether the thread should end now. */
static bool finished(pusher *p)
{
	struct push_agent *pa = p->pa;
	if (atomic_load(&pa->stop))
		return true;
	pthread_mutex_lock(&pa->mu);
	bool done = pa->draining && (p->n_pending == 0 || p->attempts > 0 ||
				     ember_mono_ns() >= pa->drain_deadline);
	pthread_mutex_unlock(&pa->mu);
	return done;
}

static void *pusher_main(void *arg)
{
	pusher *p = arg;
	read_cursor(p);
	p->seen_stored = UINT64_MAX;
	for (;;) {
		ember_store_stats ss;
		ember_store_get_stats(p->pa->store, &ss);
		/* list again when the store changed or work is left */
		if (ss.stored != p->seen_stored || ss.removed != p->seen_removed || p->n_pending) {
			p->seen_stored = ss.stored;
			p->seen_removed = ss.removed;
			relist(p);
		}
		if (finished(p))
			break;
		int64_t wait = p->n_pending ? send_next(p) : IDLE_POLL;
		if (wait > 0 && wait_ns(p, wait))
			break;
	}
	return NULL;
}

int push_agent_start(push_agent **out, push_dests *dests, ember_store *store, ember_error *err)
{
	*out = NULL;
	if (!dests->n)
		return 0;
	push_agent *pa = calloc(1, sizeof *pa);
	if (!pa)
		return ember_errorf(err, ENOMEM, "out of memory");
	pa->store = store;
	pa->dests = dests;
	pthread_mutex_init(&pa->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pa->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = 0;
	for (size_t i = 0; i < dests->n && rc >= 0; i++) {
		pusher *p = &pa->p[pa->n++];
		p->pa = pa;
		p->d = &dests->d[i];
		p->rand_state = (unsigned)(ember_real_ns() ^ (int64_t)i);
		p->last_logged_status = -1;
		snprintf(p->cursor_path, sizeof p->cursor_path, "%s/push-%s.cursor",
			 ember_store_path(store), p->d->name);
		rc = push_http_new(&p->http, p->d, &pa->stop, err);
	}
	for (size_t i = 0; i < pa->n && rc >= 0; i++) {
		if (pthread_create(&pa->p[i].thread, NULL, pusher_main, &pa->p[i]) != 0)
			rc = ember_errorf(err, EAGAIN, "cannot start the push thread");
		else
			pa->p[i].started = true;
	}
	*out = pa;   /* even on failure: push_agent_stop cleans up */
	return rc;
}

void push_agent_stop(push_agent *pa, int64_t grace_ns)
{
	if (!pa)
		return;
	pthread_mutex_lock(&pa->mu);
	pa->draining = true;
	pa->drain_deadline = ember_mono_ns() + grace_ns;
	pthread_cond_broadcast(&pa->cv);
	pthread_mutex_unlock(&pa->mu);
	/* a transfer still running at the deadline is aborted */
	for (;;) {
		bool running = false;
		for (size_t i = 0; i < pa->n; i++) {
			if (pa->p[i].started && pthread_tryjoin_np(pa->p[i].thread, NULL) == 0)
				pa->p[i].started = false;
			running |= pa->p[i].started;
		}
		if (!running)
			break;
		if (ember_mono_ns() >= pa->drain_deadline)
			atomic_store(&pa->stop, true);
		struct timespec ts = { 0, 20 * MS };
		nanosleep(&ts, NULL);
	}
}

void push_agent_free(push_agent *pa)
{
	if (!pa)
		return;
	push_agent_stop(pa, 0);
	for (size_t i = 0; i < pa->n; i++) {
		push_http_free(pa->p[i].http);
		free(pa->p[i].pending);
	}
	pthread_cond_destroy(&pa->cv);
	pthread_mutex_destroy(&pa->mu);
	free(pa);
}

static double v_windows(const pusher *p, int k)
{
	return (double)atomic_load(&p->windows[k]);
}

static double v_dropped(const pusher *p, int k)
{
	return (double)atomic_load(&p->dropped[k]);
}

static double v_bytes(const pusher *p, int k)
{
	(void)k;
	return (double)atomic_load(&p->bytes);
}

static double v_lag(const pusher *p, int k)
{
	(void)k;
	int64_t end = atomic_load(&p->oldest_unsent_end), now = ember_real_ns();
	return end && now > end ? (double)(now - end) / 1e9 : 0.0;
}

/* A family with one sample per destination, and per names[k] as label `key`
 * when key is not NULL. */
static void family(ember_buf *b, ember_expo_format f, const push_agent *pa, const char *name,
		   ember_metric_type type, const char *help, const char *key,
		   const char *const *names, int n, double (*value)(const pusher *, int))
{
	ember_expo_family(b, f, name, type, help);
	char labels[160];
	for (size_t i = 0; i < pa->n; i++) {
		for (int k = 0; k < (key ? n : 1); k++) {
			int len = snprintf(labels, sizeof labels, "destination=\"%s\"", pa->p[i].d->name);
			if (key)
				snprintf(labels + len, sizeof labels - (size_t)len, ",%s=\"%s\"", key,
					 names[k]);
			ember_expo_sample(b, f, name, type, labels, value(&pa->p[i], k));
		}
	}
}

void push_agent_metrics(push_agent *pa, ember_buf *b, ember_expo_format f)
{
	if (!pa)
		return;
	family(b, f, pa, "ember_push_windows", EMBER_COUNTER,
	       "Push attempts of stored windows, by destination and result (sent: acknowledged; "
	       "retried: failed and to be tried again; rejected: refused with a 4xx and dropped).",
	       "result", result_names, N_RESULTS, v_windows);
	family(b, f, pa, "ember_push_bytes", EMBER_COUNTER,
	       "Request body bytes of acknowledged pushes, by destination.", NULL, NULL, 0,
	       v_bytes);
	family(b, f, pa, "ember_push_lag_seconds", EMBER_GAUGE,
	       "Age of the oldest stored window not yet acknowledged (since its end); 0 when "
	       "every window is delivered.",
	       NULL, NULL, 0, v_lag);
	family(b, f, pa, "ember_push_dropped", EMBER_COUNTER,
	       "Windows never delivered, by destination and reason (retention: removed before "
	       "sent; rejected: refused by the receiver; unreadable: could not be read or "
	       "encoded).",
	       "reason", drop_names, N_DROPS, v_dropped);
}
