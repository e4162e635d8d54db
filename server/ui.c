/* server/ui.c — the UI's routes (server/ui.h): the pages and scripts of
 * web/ (embedded at build time), and the JSON they draw from: a call tree
 * of a window or a range, optionally against a diff base and filtered by
 * sample labels, and the timeline of stored windows.
 *
 * Owns: turning UI queries into profiles (through the ember_http_api, so
 * `ember serve` and `ember view` answer alike; folded windows kept in
 * memory, server/ui_folds.c, stand in for reading them) and profiles into
 * JSON (through ember/calltree.h). Must never: let an unvalidated id or time
 * through (ids are re-formatted by ember_window_id_parse, times parsed by
 * the HTTP layer), or hand the browser protobuf.
 */
#include "server/ui.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/calltree.h"
#include "ember/json.h"

#define TIMELINE_LIMIT 360    /* windows a timeline shows by default: 1 h of 10 s */
#define TIMELINE_LIMIT_MAX 8640
#define TIMELINE_TOP 5
#define PARTS_MAX 4         /* threads that read a range's windows at once */
#define PARTS_MIN_WINDOWS 16

/* The sample labels the pages filter on and list (anchored regexes); the
 * filters, the JSON and the pages' inputs all follow this table. */
static const char *const ui_label_keys[] = { "comm", "pid", "thread", "cgroup", "container_id",
					     "pod_uid" };
#define N_LABEL_KEYS (sizeof ui_label_keys / sizeof ui_label_keys[0])

/* ---- pages ---------------------------------------------------------------- */

static const ember_ui_asset *asset(const char *name)
{
	for (size_t i = 0; i < ember_ui_n_assets; i++)
		if (strcmp(ember_ui_assets[i].name, name) == 0)
			return &ember_ui_assets[i];
	return NULL;
}

/* Appends s percent-encoded as a query key or value. */
static void query_text(ember_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~:", c))
			ember_buf_putc(b, (char)c);
		else
			ember_buf_printf(b, "%%%02X", c);
	}
}

/* /ui -> ui/ (relative, so a proxy's path prefix stays), the query kept. */
static void redirect_to_slash(const ember_http_request *req, ember_http_response *r)
{
	ember_buf_puts(&r->location, "ui/");
	for (size_t i = 0; i < req->n_args; i++) {
		ember_buf_putc(&r->location, i ? '&' : '?');
		query_text(&r->location, req->args[i].key);
		if (req->args[i].value) {
			ember_buf_putc(&r->location, '=');
			query_text(&r->location, req->args[i].value);
		}
	}
	ember_buf_puts(&r->body, "<!DOCTYPE html>\n<p>The UI is at <a href=\"/ui/\">/ui/</a>.</p>\n");
	r->status = 301;
	r->content_type = "text/html; charset=utf-8";
}

void ember_ui_route_page(const ember_http_api *api, const ember_http_opts *opts,
			 const ember_http_request *req, const char *rest, ember_http_response *r)
{
	(void)api;
	(void)opts;
	if (!*rest) {   /* /ui */
		redirect_to_slash(req, r);
		return;
	}
	if (*rest++ != '/') {   /* /uifoo */
		ember_http_reply_error(r, 404, "no such endpoint: see / for the list");
		return;
	}
	const char *name = rest;
	if (!*rest)
		name = "timeline.html";
	else if (strcmp(rest, "profile") == 0 || strcmp(rest, "diff") == 0)
		name = "profile.html";
	else if (strstr(rest, ".html"))   /* pages only under their names above */
		name = "";
	const ember_ui_asset *a = asset(name);
	if (!a) {
		ember_http_reply_error(r, 404, "no such page: the UI is at /ui/");
		return;
	}
	ember_buf_append(&r->body, a->data, a->len);
	r->status = 200;
	r->content_type = a->content_type;
}

/* ---- reading many windows at once ------------------------------------------ */

/* Decoding the stored windows is most of a range's cost and each is
 * independent: a range of many windows is read by up to PARTS_MAX threads
 * (no more than the CPUs), part j taking windows j, j + k, j + 2k, ... */
typedef struct ui_part {
	const ember_http_api *api;
	const ember_window_info *v;
	size_t n, first, stride;
	bool base;
	ember_calltree *t;     /* calltree parts: this part's tree */
	ember_buf *frags;      /* timeline parts: one JSON fragment per window */
	size_t top;
	ember_ui_cache *cache; /* timeline parts: entries of windows read before */
	ember_ui_folds *folds; /* calltree parts: windows folded before */
	size_t used;
	int rc;
	ember_error err;
} ui_part;

static size_t parts_for(size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t k = cpus > 1 ? (size_t)cpus : 1;
	if (k > PARTS_MAX)
		k = PARTS_MAX;
	return n >= PARTS_MIN_WINDOWS ? k : 1;
}

/* Runs fn on parts[0..k): k - 1 threads and the caller; a thread that
 * cannot start leaves its part to the caller. */
static void run_parts(ui_part *parts, size_t k, void *(*fn)(void *))
{
	pthread_t th[PARTS_MAX];
	bool started[PARTS_MAX] = { false };
	for (size_t j = 1; j < k; j++)
		started[j] = pthread_create(&th[j], NULL, fn, &parts[j]) == 0;
	fn(&parts[0]);
	for (size_t j = 1; j < k; j++) {
		if (started[j])
			pthread_join(th[j], NULL);
		else
			fn(&parts[j]);
	}
}

/* ---- the call tree of a query --------------------------------------------- */

/* Adds one window (its file's size: bytes, 0 when unknown) to t, folded
 * from memory when it is kept there, else read, folded and kept; -ENOENT
 * when it is gone. */
static int add_window(const ember_http_api *api, ember_ui_folds *folds, const char *id,
		      uint64_t bytes, bool base, ember_calltree *t, ember_error *err)
{
	ember_ui_fold_ref *ref = ember_ui_folds_get(folds, id, bytes);
	int rc = 0;
	if (!ref) {
		ember_profile *p = NULL;
		ember_calltree_folded *f = NULL;
		rc = api->window(api->ctx, id, &p, err);
		if (rc == 0)
			rc = ember_calltree_fold_ids(&f, p, ui_label_keys, N_LABEL_KEYS,
						     ember_ui_folds_ids(folds), err);
		ember_profile_free(p);
		if (rc == 0 && !(ref = ember_ui_folds_put(folds, id, bytes, f)))
			rc = ember_errorf(err, ENOMEM, "out of memory");
	}
	if (rc == 0)
		rc = ember_calltree_add_folded(t, ember_ui_fold(ref), base, err);
	ember_ui_folds_release(folds, ref);
	if (rc == -EINVAL)   /* profiles that do not combine: not the query's fault */
		rc = -EIO;
	return rc;
}

int ember_ui_folds_keep(ember_ui_folds *c, const ember_window_info *w, const ember_profile *p,
			ember_error *err)
{
	if (!c)
		return 0;
	ember_calltree_folded *f = NULL;
	int rc = ember_calltree_fold_ids(&f, p, ui_label_keys, N_LABEL_KEYS,
					 ember_ui_folds_ids(c), err);
	if (rc < 0)
		return rc;
	ember_ui_fold_ref *ref = ember_ui_folds_put(c, w->id, w->bytes, f);
	if (!ref)
		return ember_errorf(err, ENOMEM, "out of memory");
	ember_ui_folds_release(c, ref);
	return 0;
}

static void *calltree_part(void *arg)
{
	ui_part *p = arg;
	for (size_t i = p->first; i < p->n && p->rc == 0; i += p->stride) {
		int rc = add_window(p->api, p->folds, p->v[i].id, p->v[i].bytes, p->base, p->t,
				    &p->err);
		if (rc == 0)
			p->used++;
		else if (rc != -ENOENT)   /* -ENOENT: removed by retention meanwhile */
			p->rc = rc;
	}
	return NULL;
}

/* What a part's tree is made with: the query's focus and filters. */
typedef struct tree_args {
	const char *focus;
	const ember_label_filter *filters;
	size_t n_filters;
} tree_args;

/* Adds the windows v[0..n) to t, in parallel parts; 0 or -errno. */
static int add_windows(const ember_http_api *api, ember_ui_folds *folds,
		       const ember_window_info *v, size_t n, bool base, const tree_args *ta,
		       ember_calltree *t, size_t *used, ember_error *err)
{
	size_t k = parts_for(n);
	ui_part parts[PARTS_MAX];
	int rc = 0;
	for (size_t j = 0; j < k; j++) {
		parts[j] = (ui_part){ .api = api, .v = v, .n = n, .first = j, .stride = k,
				      .base = base, .t = t, .folds = folds };
		if (j && ember_calltree_new(&parts[j].t, ta->focus, ta->filters, ta->n_filters,
					    ui_label_keys, N_LABEL_KEYS, err) < 0) {
			k = j;   /* fewer parts: the first ones take all windows */
			for (size_t i = 0; i < k; i++)
				parts[i].stride = k;
			break;
		}
	}
	run_parts(parts, k, calltree_part);
	*used = 0;
	for (size_t j = 0; j < k; j++) {
		*used += parts[j].used;
		if (rc == 0 && parts[j].rc < 0) {
			rc = parts[j].rc;
			*err = parts[j].err;
		}
		if (j) {
			if (rc == 0)
				rc = ember_calltree_merge(t, parts[j].t, err);
			ember_calltree_free(parts[j].t);
		}
	}
	return rc;
}

/* Adds one side of a comparison to t: id=ID (a window) or start=T&end=T
 * (every window of the range, each added as it is read: no merged copy).
 * 1 when added, 0 when neither is in the query (and !required), -1 after
 * replying. */
static int add_side(const ember_http_api *api, ember_ui_folds *folds,
		    const ember_http_request *req,
		    const char *id_key, const char *start_key, const char *end_key, bool base,
		    bool required, const tree_args *ta, ember_calltree *t, ember_http_response *r)
{
	const char *id, *sv, *ev;
	if (ember_http_query_arg(req, id_key, &id, r) < 0 ||
	    ember_http_query_arg(req, start_key, &sv, r) < 0 ||
	    ember_http_query_arg(req, end_key, &ev, r) < 0)
		return -1;
	char msg[640];
	if (id && (sv || ev)) {
		snprintf(msg, sizeof msg, "give either %s=ID or %s=T&%s=T, not both", id_key,
			 start_key, end_key);
		ember_http_reply_error(r, 400, msg);
		return -1;
	}
	ember_error err = { 0 };
	int rc = 0;
	if (id) {
		if (ember_window_id_parse(id, NULL, NULL, &err) < 0) {
			snprintf(msg, sizeof msg, "%s: %s", id_key, err.msg);
			ember_http_reply_error(r, 400, msg);
			return -1;
		}
		rc = add_window(api, folds, id, 0, base, t, &err);
	} else if (sv || ev) {
		int64_t start = 0, end = 0;
		if (ember_http_query_time(req, start_key, true, &start, r) < 0 ||
		    ember_http_query_time(req, end_key, true, &end, r) < 0)
			return -1;
		if (start >= end) {
			snprintf(msg, sizeof msg, "%s must be before %s", start_key, end_key);
			ember_http_reply_error(r, 400, msg);
			return -1;
		}
		ember_window_info *v = NULL;
		size_t n = 0, used = 0;
		rc = api->list(api->ctx, start, end, &v, &n, &err);
		if (rc == 0)
			rc = add_windows(api, folds, v, n, base, ta, t, &used, &err);
		free(v);
		if (rc == 0 && used == 0)
			rc = ember_errorf(&err, ENOENT,
					  "no stored windows in that range (see /api/v1/profiles)");
	} else {
		if (!required)
			return 0;
		snprintf(msg, sizeof msg, "give %s=ID (a window) or %s=T&%s=T (a range)", id_key,
			 start_key, end_key);
		ember_http_reply_error(r, 400, msg);
		return -1;
	}
	if (rc < 0) {
		ember_http_reply_rc(r, rc, &err);
		return -1;
	}
	return 1;
}

void ember_ui_route_calltree(const ember_http_api *api, const ember_http_opts *opts,
			     const ember_http_request *req, const char *rest,
			     ember_http_response *r)
{
	(void)rest;
	const char *fn;
	ember_label_filter filters[N_LABEL_KEYS];
	size_t n_filters = 0;
	if (ember_http_query_regex(req, "function", &fn, r) < 0)
		return;
	for (size_t i = 0; i < N_LABEL_KEYS; i++) {
		const char *re;
		if (ember_http_query_regex(req, ui_label_keys[i], &re, r) < 0)
			return;
		if (re)
			filters[n_filters++] = (ember_label_filter){ ui_label_keys[i], re };
	}
	ember_error err = { 0 };
	ember_calltree *t = NULL;
	/* the regexes first: a bad one is a 400 before any window is read */
	int rc = ember_calltree_new(&t, fn, filters, n_filters, ui_label_keys, N_LABEL_KEYS, &err);
	if (rc < 0) {
		ember_http_reply_rc(r, rc, &err);
		return;
	}
	tree_args ta = { fn, filters, n_filters };
	ember_gate_enter(opts->heavy);   /* decoding windows is the heavy part */
	ember_ui_folds *folds = opts->ui_folds;
	if (add_side(api, folds, req, "id", "start", "end", false, true, &ta, t, r) >= 0 &&
	    add_side(api, folds, req, "base", "base_start", "base_end", true, false, &ta, t, r) >=
		    0) {
		if ((rc = ember_calltree_json(t, &r->body, &err)) < 0) {
			ember_http_reply_rc(r, rc, &err);
		} else {
			r->status = 200;
			r->content_type = "application/json";
		}
	}
	ember_gate_leave(opts->heavy);
	ember_calltree_free(t);
}

/* ---- the timeline --------------------------------------------------------- */

static int count_arg(const ember_http_request *req, const char *key, size_t dflt, size_t max,
		     size_t *out, ember_http_response *r)
{
	const char *v;
	if (ember_http_query_arg(req, key, &v, r) < 0)
		return -1;
	*out = dflt;
	if (!v)
		return 0;
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (!*v || *v < '0' || *v > '9' || *end || n == 0 || n > max) {
		char msg[120];
		snprintf(msg, sizeof msg, "%s: want a whole number from 1 to %zu", key, max);
		ember_http_reply_error(r, 400, msg);
		return -1;
	}
	*out = n;
	return 0;
}

/* One window's timeline entry into frags[i] (empty when it is gone). */
static void *timeline_part(void *arg)
{
	ui_part *p = arg;
	for (size_t i = p->first; i < p->n && p->rc == 0; i += p->stride) {
		char key[EMBER_WINDOW_ID_MAX + 48];
		snprintf(key, sizeof key, "%s/%llu/%zu", p->v[i].id,
			 (unsigned long long)p->v[i].bytes, p->top);
		if (ember_ui_cache_get(p->cache, key, &p->frags[i]))
			continue;
		ember_profile *prof = NULL;
		int rc = p->api->window(p->api->ctx, p->v[i].id, &prof, &p->err);
		if (rc == -ENOENT)   /* removed by retention meanwhile */
			continue;
		ember_buf *b = &p->frags[i];
		if (rc == 0) {
			ember_buf_puts(b, "{\"id\":");
			ember_json_string(b, p->v[i].id);
			ember_buf_printf(b, ",\"start_ms\":%lld,\"end_ms\":%lld,\"samples\":%llu,",
					 (long long)(p->v[i].start_ns / 1000000),
					 (long long)(p->v[i].end_ns / 1000000),
					 (unsigned long long)p->v[i].samples);
			rc = ember_calltree_top_json(prof, p->top, b, &p->err);
			ember_buf_putc(b, '}');
			if (rc == 0 && !ember_buf_ok(b))
				rc = ember_errorf(&p->err, ENOMEM, "out of memory");
			if (rc == 0)
				ember_ui_cache_put(p->cache, key, b->data, b->len);
		}
		ember_profile_free(prof);
		p->rc = rc;
	}
	return NULL;
}

void ember_ui_route_timeline(const ember_http_api *api, const ember_http_opts *opts,
			     const ember_http_request *req, const char *rest,
			     ember_http_response *r)
{
	(void)rest;
	int64_t start, end;
	size_t limit, top;
	if (ember_http_query_range(req, false, &start, &end, r) < 0 ||
	    count_arg(req, "limit", TIMELINE_LIMIT, TIMELINE_LIMIT_MAX, &limit, r) < 0 ||
	    count_arg(req, "top", TIMELINE_TOP, 50, &top, r) < 0)
		return;
	ember_window_info *v = NULL;
	size_t n = 0;
	ember_error err = { 0 };
	int rc = api->list(api->ctx, start, end, &v, &n, &err);
	if (rc < 0) {
		ember_http_reply_rc(r, rc, &err);
		return;
	}
	size_t first = n > limit ? n - limit : 0;   /* the latest `limit` windows */
	size_t m = n - first, k = parts_for(m);
	ember_buf *frags = calloc(m ? m : 1, sizeof *frags);
	ui_part parts[PARTS_MAX];
	if (!frags) {
		free(v);
		ember_http_reply_rc(r, ember_errorf(&err, ENOMEM, "out of memory"), &err);
		return;
	}
	for (size_t j = 0; j < k; j++)
		parts[j] = (ui_part){ .api = api, .v = v ? v + first : NULL, .n = m, .first = j, .stride = k,
				      .frags = frags, .top = top, .cache = opts->ui_cache };
	ember_gate_enter(opts->heavy);
	run_parts(parts, k, timeline_part);
	ember_gate_leave(opts->heavy);
	for (size_t j = 0; j < k && rc == 0; j++)
		if (parts[j].rc < 0) {
			rc = parts[j].rc;
			err = parts[j].err;
		}
	ember_buf *b = &r->body;
	ember_buf_printf(b, "{\"older\":%zu,\"windows\":[", first);
	bool any = false;
	for (size_t i = 0; i < m; i++) {
		if (rc == 0 && frags[i].len) {
			ember_buf_puts(b, any ? ",\n" : "\n");
			ember_buf_append(b, frags[i].data, frags[i].len);
			any = true;
		}
		ember_buf_free(&frags[i]);
	}
	free(frags);
	free(v);
	if (rc < 0) {
		ember_http_reply_rc(r, rc == -EINVAL ? -EIO : rc, &err);
		return;
	}
	ember_buf_puts(b, "\n]}\n");
	r->status = 200;
	r->content_type = "application/json";
}
