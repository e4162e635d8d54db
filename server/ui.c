/* server/ui.c — the UI's routes (server/ui.h): the pages and scripts of
 * web/ (embedded at build time), and the JSON they draw from: a call tree
 * of a window or a range, optionally against a diff base and filtered by
 * sample labels, and the timeline of stored windows.
 *
 * Owns: turning UI queries into profiles (through the ember_http_api, so
 * `ember serve` and `ember view` answer alike) and profiles into JSON
 * (through ember/calltree.h). Must never: let an unvalidated id or time
 * through (ids are re-formatted by ember_window_id_parse, times parsed by
 * the HTTP layer), or hand the browser protobuf.
 */
#include "server/ui.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/calltree.h"
#include "ember/json.h"
#include "ember/merge.h"

#define TIMELINE_LIMIT 360    /* windows a timeline shows by default: 1 h of 10 s */
#define TIMELINE_LIMIT_MAX 8640
#define TIMELINE_TOP 5

/* The sample labels the pages filter on and list. Issue 17 adds the cgroup
 * labels here: the filters, the JSON and the pages follow this table. */
static const char *const ui_label_keys[] = { "comm", "pid", "thread" };
#define N_LABEL_KEYS (sizeof ui_label_keys / sizeof ui_label_keys[0])

/* ---- pages ---------------------------------------------------------------- */

static const ember_ui_asset *asset(const char *name)
{
	for (size_t i = 0; i < ember_ui_n_assets; i++)
		if (strcmp(ember_ui_assets[i].name, name) == 0)
			return &ember_ui_assets[i];
	return NULL;
}

void ember_ui_route_page(const ember_http_api *api, const ember_http_opts *opts,
			 const ember_http_request *req, const char *rest, ember_http_response *r)
{
	(void)api;
	(void)opts;
	(void)req;
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

/* ---- profiles of a query ------------------------------------------------- */

/* One side of a comparison: id=ID, or start=T&end=T (key names given).
 * 1 when loaded into *out, 0 when neither is in the query (and !required),
 * -1 after replying. */
static int load_side(const ember_http_api *api, const ember_http_request *req,
		     const char *id_key, const char *start_key, const char *end_key,
		     const char *fn, bool required, ember_profile **out, ember_http_response *r)
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
	int rc;
	if (id) {
		if (ember_window_id_parse(id, NULL, NULL, &err) < 0) {
			snprintf(msg, sizeof msg, "%s: %s", id_key, err.msg);
			ember_http_reply_error(r, 400, msg);
			return -1;
		}
		rc = api->window(api->ctx, id, out, &err);
		if (rc == 0 && fn) {
			ember_profile *focused = NULL;
			rc = ember_profile_focus(*out, fn, &focused, &err);
			ember_profile_free(*out);
			*out = focused;
		}
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
		rc = api->merge(api->ctx, start, end, fn, out, &err);
	} else {
		if (!required)
			return 0;
		snprintf(msg, sizeof msg, "give %s=ID (a window) or %s=T&%s=T (a range)", id_key,
			 start_key, end_key);
		ember_http_reply_error(r, 400, msg);
		return -1;
	}
	if (rc < 0) {
		*out = NULL;
		ember_http_reply_rc(r, rc, &err);
		return -1;
	}
	return 1;
}

/* 0 when re compiles as a POSIX ERE; else a 400 naming key. */
static int regex_compiles(const char *key, const char *re, ember_http_response *r)
{
	regex_t c;
	int e = regcomp(&c, re, REG_EXTENDED | REG_NOSUB);
	if (e == 0) {
		regfree(&c);
		return 0;
	}
	char why[128], msg[512];
	regerror(e, &c, why, sizeof why);
	snprintf(msg, sizeof msg, "%s: bad regex '%.200s': %s (POSIX extended syntax)", key, re, why);
	ember_http_reply_error(r, 400, msg);
	return -EINVAL;
}

void ember_ui_route_calltree(const ember_http_api *api, const ember_http_opts *opts,
			     const ember_http_request *req, const char *rest,
			     ember_http_response *r)
{
	(void)rest;
	const char *fn;
	ember_label_filter filters[N_LABEL_KEYS];
	size_t n_filters = 0;
	if (ember_http_query_regex(req, "function", &fn, r) < 0 ||
	    (fn && regex_compiles("function", fn, r) < 0))
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
	/* the filters' regexes first: a bad one is a 400 before any window is read */
	int rc = ember_calltree_new(&t, filters, n_filters, ui_label_keys, N_LABEL_KEYS, &err);
	if (rc < 0) {
		ember_http_reply_rc(r, rc, &err);
		return;
	}
	ember_profile *main = NULL, *base = NULL;
	ember_gate_enter(opts->heavy);   /* decoding and merging windows is the heavy part */
	if (load_side(api, req, "id", "start", "end", fn, true, &main, r) < 0 ||
	    load_side(api, req, "base", "base_start", "base_end", fn, false, &base, r) < 0)
		goto out;
	if ((rc = ember_calltree_add(t, main, false, &err)) < 0 ||
	    (base && (rc = ember_calltree_add(t, base, true, &err)) < 0) ||
	    (rc = ember_calltree_json(t, &r->body, &err)) < 0) {
		ember_http_reply_rc(r, rc == -EINVAL ? -EIO : rc, &err);
		goto out;
	}
	r->status = 200;
	r->content_type = "application/json";
out:
	ember_gate_leave(opts->heavy);
	ember_profile_free(main);
	ember_profile_free(base);
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
	ember_buf *b = &r->body;
	ember_buf_printf(b, "{\"older\":%zu,\"windows\":[", first);
	ember_gate_enter(opts->heavy);
	bool any = false;
	for (size_t i = first; i < n; i++) {
		ember_profile *p = NULL;
		rc = api->window(api->ctx, v[i].id, &p, &err);
		if (rc == -ENOENT)   /* removed by retention meanwhile */
			continue;
		if (rc < 0)
			break;
		ember_buf_puts(b, any ? ",\n{\"id\":" : "\n{\"id\":");
		ember_json_string(b, v[i].id);
		ember_buf_printf(b, ",\"start_ms\":%lld,\"end_ms\":%lld,\"samples\":%llu,",
				 (long long)(v[i].start_ns / 1000000),
				 (long long)(v[i].end_ns / 1000000),
				 (unsigned long long)v[i].samples);
		rc = ember_calltree_top_json(p, top, b, &err);
		ember_profile_free(p);
		if (rc < 0)
			break;
		ember_buf_putc(b, '}');
		any = true;
	}
	ember_gate_leave(opts->heavy);
	free(v);
	if (rc < 0 && rc != -ENOENT) {
		ember_http_reply_rc(r, rc == -EINVAL ? -EIO : rc, &err);
		return;
	}
	ember_buf_puts(b, "\n]}\n");
	r->status = 200;
	r->content_type = "application/json";
}
