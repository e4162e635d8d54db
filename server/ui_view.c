/* server/ui_view.c — `ember view` (ember/view.h): one or two pprof files
 * served as stored windows, so the pages of `ember serve` work unchanged.
 *
 * Owns: the files' profiles (read once, never changed) and an
 * ember_http_api over them. Must never: sample, write anything, or serve
 * more than the pages and the profiles' JSON and pprof (/metrics and
 * /debug/pprof/profile answer 404).
 */
#include "ember/view.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ember/merge.h"
#include "ember/pprof.h"
#include "server/http.h"

#define NS_PER_MS 1000000LL

typedef struct view_window {
	ember_window_info info;
	ember_profile *p;
} view_window;

typedef struct view_state {
	view_window w[2];   /* w[0] the base (when given, earlier in the list), w[1] the file */
	size_t n;
} view_state;

static bool overlaps(const view_window *w, int64_t start, int64_t end)
{
	return w->info.start_ns < end && w->info.end_ns > start;
}

static int api_metrics(void *ctx, ember_expo_format f, ember_buf *out, const char **ct,
		       ember_error *err)
{
	(void)ctx, (void)f, (void)out, (void)ct;
	return ember_errorf(err, ENOENT, "ember view serves files, not metrics");
}

static int api_profile(void *ctx, int64_t ns, ember_profile **out, ember_error *err)
{
	(void)ctx, (void)ns, (void)out;
	return ember_errorf(err, ENOENT, "ember view serves files: it does not profile");
}

static int api_list(void *ctx, int64_t start, int64_t end, ember_window_info **out, size_t *n,
		    ember_error *err)
{
	view_state *v = ctx;
	*out = calloc(2, sizeof **out);
	*n = 0;
	if (!*out)
		return ember_errorf(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < v->n; i++)
		if (overlaps(&v->w[i], start, end))
			(*out)[(*n)++] = v->w[i].info;
	return 0;
}

static int api_window(void *ctx, const char *id, ember_profile **out, ember_error *err)
{
	view_state *v = ctx;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->w[i].info.id, id) == 0)
			return (*out = ember_profile_clone(v->w[i].p))
				       ? 0
				       : ember_errorf(err, ENOMEM, "out of memory");
	return ember_errorf(err, ENOENT, "no window %s: this ember view serves %s%s%s", id,
			    v->w[v->n - 1].info.id, v->n > 1 ? " and " : "",
			    v->n > 1 ? v->w[0].info.id : "");
}

static int api_merge(void *ctx, int64_t start, int64_t end, const ember_focus *focus,
		     ember_profile **out, ember_error *err)
{
	view_state *v = ctx;
	ember_merger *m = NULL;
	int rc = ember_merger_new(&m, err);
	size_t used = 0;
	for (size_t i = 0; i < v->n && rc == 0; i++)
		if (overlaps(&v->w[i], start, end) && (rc = ember_merger_add(m, v->w[i].p, err)) == 0)
			used++;
	if (rc == 0 && !used)
		rc = ember_errorf(err, ENOENT, "no profile in that range (see /api/v1/profiles)");
	if (rc == 0)
		rc = ember_merger_result_focus(m, focus, out, err);
	ember_merger_free(m);
	return rc;
}

static bool api_healthy(void *ctx, ember_buf *why)
{
	(void)ctx, (void)why;
	return true;
}

/* Slot i as the window [start, start + dur) (whole milliseconds). */
static void place(view_state *v, size_t i, int64_t start, int64_t dur)
{
	ember_window_info *w = &v->w[i].info;
	const ember_profile *p = v->w[i].p;
	w->start_ns = start / NS_PER_MS * NS_PER_MS;
	w->end_ns = w->start_ns + (dur + NS_PER_MS - 1) / NS_PER_MS * NS_PER_MS;
	ember_window_id_format(w->start_ns, w->end_ns - w->start_ns, w->id, sizeof w->id);
	w->samples = 0;
	for (size_t s = 0; s < p->n_samples; s++)
		w->samples += p->samples[s].n_locations ? 1 : 0;
}

static int64_t start_of(const ember_profile *p)
{
	return p->time_nanos > 0 ? p->time_nanos : 0;
}

static int64_t duration_of(const ember_profile *p)
{
	return p->duration_nanos >= NS_PER_MS ? p->duration_nanos : NS_PER_MS;
}

/* Windows of the files: each its own time; a base that starts in the same
 * millisecond as the file (e.g. neither has a time) becomes the window
 * just before it, so both have ids of their own. */
static void place_all(view_state *v)
{
	const ember_profile *f = v->w[v->n - 1].p;
	int64_t fs = start_of(f), fd = duration_of(f);
	if (v->n == 1) {
		place(v, 0, fs, fd);
		return;
	}
	const ember_profile *b = v->w[0].p;
	int64_t bs = start_of(b), bd = duration_of(b);
	if (bs / NS_PER_MS == fs / NS_PER_MS) {
		bd = (bd + NS_PER_MS - 1) / NS_PER_MS * NS_PER_MS;
		if (fs / NS_PER_MS * NS_PER_MS < bd)
			fs = bd;
		bs = fs / NS_PER_MS * NS_PER_MS - bd;
	}
	place(v, 0, bs, bd);
	place(v, 1, fs, fd);
}

int ember_view_run(const ember_view_opts *opts, FILE *out)
{
	view_state v = { 0 };
	ember_error err = { 0 };
	int rc = 0;
	/* the base first: the list is oldest first and the base is "before" */
	if (opts->base && (rc = ember_pprof_read_file(opts->base, &v.w[v.n++].p, &err)) < 0)
		goto out;
	if ((rc = ember_pprof_read_file(opts->file, &v.w[v.n++].p, &err)) < 0)
		goto out;
	place_all(&v);
	ember_http_api api = { .ctx = &v, .metrics = api_metrics, .profile = api_profile,
			       .list = api_list, .window = api_window, .merge = api_merge,
			       .healthy = api_healthy };
	ember_http_opts ho = { .listen = opts->listen ? opts->listen : "127.0.0.1:0" };
	/* the signals wait for sigwait; the server's threads inherit the mask */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ember_http_server *srv = NULL;
	if ((rc = ember_http_start(&srv, &ho, &api, &err)) < 0)
		goto out;
	const char *host = ho.listen[0] == ':' || strncmp(ho.listen, "0.0.0.0:", 8) == 0 ||
					   strncmp(ho.listen, "[::]:", 5) == 0
				   ? "127.0.0.1"
				   : NULL;
	char hostbuf[300];
	if (!host) {
		snprintf(hostbuf, sizeof hostbuf, "%s", ho.listen);
		char *colon = strrchr(hostbuf, ':');
		if (colon)
			*colon = '\0';
		host = hostbuf;
	}
	const view_window *f = &v.w[v.n - 1];
	if (v.n > 1)
		fprintf(out, "Serving web UI on http://%s:%u/ui/diff?base=%s&id=%s\n", host,
			ember_http_port(srv), v.w[0].info.id, f->info.id);
	else
		fprintf(out, "Serving web UI on http://%s:%u/ui/profile?id=%s\n", host,
			ember_http_port(srv), f->info.id);
	fflush(out);
	int sig;
	sigwait(&set, &sig);
	ember_http_stop(srv);
out:
	if (rc < 0)
		fprintf(stderr, "ember view: %s\n", err.msg);
	for (size_t i = 0; i < 2; i++)
		ember_profile_free(v.w[i].p);
	return rc;
}
