/* server/http.c — serve's HTTP layer on libmicrohttpd: the listening
 * socket, connection limits and timeouts, routing, strict query parsing,
 * content negotiation for /metrics, JSON errors and gzip pprof bodies.
 *
 * Owns: everything between a socket and an ember_http_api callback. Must
 * never: let a URL reach a callback unvalidated (ids are re-formatted by
 * ember_window_id_parse, times parsed by ember_time_parse), block the
 * listening thread (one thread per connection), or answer with a partial
 * body.
 */
#include "server/http.h"
#include "ember/json.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ember/pprof.h"
#include "server/timeparse.h"
#include "server/http_deadline.h"
#include "server/ui.h"

#define MAX_ARGS 32
#define MAX_REGEX 1024
#define MAX_REGEX_COST 4096
#define NS_PER_S 1000000000LL
#define UI_CACHE_ENTRIES 16384   /* timeline entries kept: ~2 days of 10 s windows */

static const char CT_JSON[] = "application/json";
static const char CT_PPROF[] = "application/octet-stream";
static const char CT_HTML[] = "text/html; charset=utf-8";
static const char CT_TEXT[] = "text/plain; charset=utf-8";

/* ---- small writers ------------------------------------------------------ */

static void html_text(ember_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': ember_buf_puts(b, "&lt;"); break;
		case '>': ember_buf_puts(b, "&gt;"); break;
		case '&': ember_buf_puts(b, "&amp;"); break;
		case '"': ember_buf_puts(b, "&quot;"); break;
		default: ember_buf_putc(b, *s);
		}
	}
}

static void reply_error(ember_http_response *r, int status, const char *msg)
{
	ember_buf_reset(&r->body);
	r->status = status;
	r->content_type = CT_JSON;
	ember_buf_puts(&r->body, "{\"error\":");
	ember_json_string(&r->body, msg);
	ember_buf_puts(&r->body, "}\n");
}

static int status_of(int rc)
{
	switch (-rc) {
	case EINVAL: return MHD_HTTP_BAD_REQUEST;
	case ENOENT: return MHD_HTTP_NOT_FOUND;
	case EBUSY:
	case EAGAIN:
	case ECANCELED: return MHD_HTTP_SERVICE_UNAVAILABLE;
	default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static void reply_rc(ember_http_response *r, int rc, const ember_error *err)
{
	reply_error(r, status_of(rc), err->msg[0] ? err->msg : strerror(-rc));
}

/* A profile as gzip pprof, like Go's net/http/pprof. Frees p. */
static void reply_profile(ember_http_response *r, ember_profile *p, const char *filename)
{
	ember_error err = { 0 };
	ember_buf_reset(&r->body);
	int rc = ember_pprof_encode(p, EMBER_COMPRESS_GZIP, &r->body, &err);
	ember_profile_free(p);
	if (rc < 0) {
		reply_rc(r, rc < 0 && rc != -EINVAL ? rc : -EIO, &err);
		return;
	}
	r->status = MHD_HTTP_OK;
	r->content_type = CT_PPROF;
	r->disposition = filename;
}

/* ---- queries ------------------------------------------------------------ */

/* The value of key: 0 and *out (NULL if absent); -EINVAL when repeated. */
static int arg(const ember_http_request *req, const char *key, const char **out,
	       ember_http_response *r)
{
	*out = NULL;
	int seen = 0;
	for (size_t i = 0; i < req->n_args; i++) {
		if (strcmp(req->args[i].key, key))
			continue;
		if (seen++) {
			char msg[128];
			snprintf(msg, sizeof msg, "query parameter '%s' given twice", key);
			reply_error(r, MHD_HTTP_BAD_REQUEST, msg);
			return -EINVAL;
		}
		*out = req->args[i].value ? req->args[i].value : "";
	}
	return 0;
}

static int time_arg(const ember_http_request *req, const char *key, int64_t dflt, bool required,
		    int64_t *out, ember_http_response *r)
{
	const char *v;
	if (arg(req, key, &v, r) < 0)
		return -EINVAL;
	if (!v) {
		if (required) {
			char msg[160];
			snprintf(msg, sizeof msg,
				 "missing '%s': give unix seconds, unix milliseconds or RFC 3339",
				 key);
			reply_error(r, MHD_HTTP_BAD_REQUEST, msg);
			return -EINVAL;
		}
		*out = dflt;
		return 0;
	}
	ember_error err = { 0 };
	if (ember_time_parse(v, out, &err) < 0) {
		char msg[700];
		snprintf(msg, sizeof msg, "%s: %s", key, err.msg);
		reply_error(r, MHD_HTTP_BAD_REQUEST, msg);
		return -EINVAL;
	}
	return 0;
}

static int range_args(const ember_http_request *req, bool required, int64_t *start, int64_t *end,
		      ember_http_response *r)
{
	if (time_arg(req, "start", 0, required, start, r) < 0 ||
	    time_arg(req, "end", INT64_MAX, required, end, r) < 0)
		return -EINVAL;
	if (*start >= *end) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "start must be before end");
		return -EINVAL;
	}
	return 0;
}

ember_expo_format ember_http_negotiate(const char *accept)
{
	if (!accept)
		return EMBER_EXPO_TEXT;
	double om_q = -1, text_q = -1;
	const char *p = accept;
	while (*p) {
		size_t len = strcspn(p, ",");
		char item[256];
		size_t n = len < sizeof item - 1 ? len : sizeof item - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		p += len + (p[len] == ',');
		char *s = item;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t tl = strcspn(s, "; \t");
		double q = 1.0;
		for (char *param = strchr(s, ';'); param; param = strchr(param + 1, ';')) {
			char *v = param + 1;
			while (*v == ' ')
				v++;
			if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
				q = strtod(v + 2, NULL);
		}
		if (tl == 28 && strncasecmp(s, "application/openmetrics-text", 28) == 0)
			om_q = q > om_q ? q : om_q;
		else if (tl == 10 && strncasecmp(s, "text/plain", 10) == 0)
			text_q = q > text_q ? q : text_q;
	}
	return om_q > 0 && om_q >= text_q ? EMBER_EXPO_OPENMETRICS : EMBER_EXPO_TEXT;
}

/* ---- routes ------------------------------------------------------------- */

static void route_metrics(const ember_http_api *api, const ember_http_opts *opts,
			  const ember_http_request *req, const char *rest, ember_http_response *r)
{
	(void)opts;
	(void)rest;
	ember_error err = { 0 };
	const char *ct = CT_TEXT;
	int rc = api->metrics(api->ctx, ember_http_negotiate(req->accept), &r->body, &ct, &err);
	if (rc < 0) {
		reply_rc(r, rc, &err);
		return;
	}
	r->status = MHD_HTTP_OK;
	r->content_type = ct;
}

static void route_pprof_profile(const ember_http_api *api, const ember_http_opts *opts,
				const ember_http_request *req, const char *rest,
				ember_http_response *r)
{
	(void)rest;
	const char *v;
	if (arg(req, "seconds", &v, r) < 0)
		return;
	uint64_t secs = 30;
	if (v) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (!*v || *v < '0' || *v > '9' || *end || errno || n == 0) {
			reply_error(r, MHD_HTTP_BAD_REQUEST,
				    "seconds: want a whole number of seconds >= 1, e.g. ?seconds=30");
			return;
		}
		secs = n;
	}
	if (secs > opts->max_profile_seconds) {
		char msg[160];
		snprintf(msg, sizeof msg,
			 "seconds=%llu exceeds the limit of %u: ask for less, or download stored "
			 "windows from /api/v1/merge",
			 (unsigned long long)secs, opts->max_profile_seconds);
		reply_error(r, MHD_HTTP_BAD_REQUEST, msg);
		return;
	}
	ember_error err = { 0 };
	ember_profile *p = NULL;
	int rc = api->profile(api->ctx, (int64_t)secs * NS_PER_S, &p, &err);
	if (rc < 0) {
		reply_rc(r, rc, &err);
		return;
	}
	reply_profile(r, p, "attachment; filename=\"profile\"");
}

static void window_json(ember_buf *b, const ember_window_info *w)
{
	char s[40], e[40];
	ember_time_format(w->start_ns, s, sizeof s);
	ember_time_format(w->end_ns, e, sizeof e);
	ember_buf_puts(b, "{\"id\":");
	ember_json_string(b, w->id);
	ember_buf_printf(b,
			 ",\"start\":\"%s\",\"end\":\"%s\",\"start_ms\":%lld,\"end_ms\":%lld,"
			 "\"samples\":%llu,\"bytes\":%llu}",
			 s, e, (long long)(w->start_ns / 1000000), (long long)(w->end_ns / 1000000),
			 (unsigned long long)w->samples, (unsigned long long)w->bytes);
}

static void route_list(const ember_http_api *api, const ember_http_opts *opts,
		       const ember_http_request *req, const char *rest, ember_http_response *r)
{
	(void)opts;
	(void)rest;
	int64_t start, end;
	if (range_args(req, false, &start, &end, r) < 0)
		return;
	ember_window_info *v = NULL;
	size_t n = 0;
	ember_error err = { 0 };
	int rc = api->list(api->ctx, start, end, &v, &n, &err);
	if (rc < 0) {
		reply_rc(r, rc, &err);
		return;
	}
	ember_buf_putc(&r->body, '[');
	for (size_t i = 0; i < n; i++) {
		ember_buf_puts(&r->body, i ? ",\n" : "\n");
		window_json(&r->body, &v[i]);
	}
	ember_buf_puts(&r->body, "\n]\n");
	free(v);
	r->status = MHD_HTTP_OK;
	r->content_type = CT_JSON;
}

static void route_window(const ember_http_api *api, const ember_http_opts *opts,
			 const ember_http_request *req, const char *id, ember_http_response *r)
{
	(void)opts;
	(void)req;
	ember_error err = { 0 };
	int rc = ember_window_id_parse(id, NULL, NULL, &err);
	ember_profile *p = NULL;
	if (rc == 0)
		rc = api->window(api->ctx, id, &p, &err);
	if (rc < 0) {
		reply_rc(r, rc, &err);
		return;
	}
	reply_profile(r, p, "attachment; filename=\"profile\"");
}

/* An upper bound of the pattern size glibc's regcomp builds for a POSIX ERE:
 * atoms count one, a bound {m,n} copies what it applies to n times (m + 1
 * for {m,}), '+' twice. regcomp expands bounds eagerly, so a short pattern
 * like (((a{1,255}){1,255}){1,255}) or x{1,32767}y{1,32767} takes gigabytes
 * and minutes (found while fuzzing the query parsing); a name filter never
 * needs that. Saturates at cap + 1. Unbalanced or odd syntax is left for
 * regcomp to refuse. */
static size_t regex_cost(const char *re, size_t cap)
{
	enum { DEPTH = 32 };
	size_t sum[DEPTH + 1] = { 0 }, last[DEPTH + 1] = { 0 };
	int d = 0;
	for (const char *p = re; *p; p++) {
		size_t atom = 1, times = 1;
		switch (*p) {
		case '(':
			if (d == DEPTH)
				return cap + 1;
			d++;
			sum[d] = last[d] = 0;
			continue;
		case ')':
			if (d == 0)
				break;
			atom = sum[d] ? sum[d] : 1;
			d--;
			break;
		case '|':
			last[d] = 0;
			continue;
		case '*':
		case '?':
			continue;
		case '+':
			times = 2;
			break;
		case '{': {
			char *end;
			unsigned long m = strtoul(p + 1, &end, 10), n = m;
			if (end == p + 1)
				break;   /* a literal '{' */
			if (*end == ',') {
				const char *q = end + 1;
				n = strtoul(q, &end, 10);
				if (end == q)
					n = m + 1;
			}
			if (*end != '}')
				break;
			times = n > m ? n : m;
			p = end;
			break;
		}
		case '\\':
			if (p[1])
				p++;
			break;
		case '[':   /* one atom: up to the closing ']' ([:class:] inside) */
			p += p[1] == '^';
			p += p[1] == ']';
			while (p[1] && p[1] != ']') {
				p++;
				if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
					char close[3] = { p[1], ']', 0 };
					const char *q = strstr(p + 2, close);
					if (q)
						p = q + 1;
				}
			}
			p += p[1] == ']';
			break;
		default:
			break;
		}
		if (times > 1) {   /* the last atom repeated: times - 1 more copies */
			size_t add = last[d] && times - 1 > cap / last[d] ? cap + 1
									 : last[d] * (times - 1);
			sum[d] = sum[d] + add > cap ? cap + 1 : sum[d] + add;
			last[d] = last[d] && times > cap / last[d] ? cap + 1 : last[d] * times;
		} else {
			sum[d] = sum[d] + atom > cap ? cap + 1 : sum[d] + atom;
			last[d] = atom;
		}
		if (sum[d] > cap)
			return cap + 1;
	}
	size_t total = 0;   /* unclosed groups still count */
	for (int i = 0; i <= d; i++)
		total = total + sum[i] > cap ? cap + 1 : total + sum[i];
	return total;
}

/* A focus regex argument: absent (NULL), or non-empty, at most MAX_REGEX
 * bytes and cheap enough to compile. */
static int regex_arg(const ember_http_request *req, const char *key, const char **out,
		     ember_http_response *r)
{
	if (arg(req, key, out, r) < 0)
		return -EINVAL;
	char msg[160];
	if (*out && (!**out || strlen(*out) > MAX_REGEX)) {
		snprintf(msg, sizeof msg,
			 "%s: want a non-empty POSIX extended regex of at most 1024 bytes", key);
		reply_error(r, MHD_HTTP_BAD_REQUEST, msg);
		return -EINVAL;
	}
	if (*out && regex_cost(*out, MAX_REGEX_COST) > MAX_REGEX_COST) {
		snprintf(msg, sizeof msg,
			 "%s: regex too complex (its repetition bounds expand it past 4096 atoms): "
			 "use fewer or smaller {m,n}",
			 key);
		reply_error(r, MHD_HTTP_BAD_REQUEST, msg);
		return -EINVAL;
	}
	return 0;
}

/* ---- helpers for the handlers of other files (server/http.h) ------------ */

int ember_http_query_arg(const ember_http_request *req, const char *key, const char **out,
			 ember_http_response *r)
{
	return arg(req, key, out, r);
}

int ember_http_query_time(const ember_http_request *req, const char *key, bool required,
			  int64_t *out, ember_http_response *r)
{
	return time_arg(req, key, *out, required, out, r);
}

int ember_http_query_range(const ember_http_request *req, bool required, int64_t *start,
			   int64_t *end, ember_http_response *r)
{
	return range_args(req, required, start, end, r);
}

int ember_http_query_regex(const ember_http_request *req, const char *key, const char **out,
			   ember_http_response *r)
{
	return regex_arg(req, key, out, r);
}

void ember_http_reply_error(ember_http_response *r, int status, const char *msg)
{
	reply_error(r, status, msg);
}

void ember_http_reply_rc(ember_http_response *r, int rc, const ember_error *err)
{
	reply_rc(r, rc, err);
}

static void route_merge(const ember_http_api *api, const ember_http_opts *opts,
			const ember_http_request *req, const char *rest, ember_http_response *r)
{
	(void)rest;
	int64_t start, end;
	ember_focus focus = { 0 };
	if (range_args(req, true, &start, &end, r) < 0 ||
	    regex_arg(req, "function", &focus.function, r) < 0 ||
	    regex_arg(req, "cgroup", &focus.cgroup, r) < 0 ||
	    regex_arg(req, "container_id", &focus.container_id, r) < 0 ||
	    regex_arg(req, "pod_uid", &focus.pod_uid, r) < 0)
		return;
	ember_error err = { 0 };
	ember_profile *p = NULL;
	ember_gate_enter(opts->heavy);   /* merging and encoding is the CPU-heavy part */
	int rc = api->merge(api->ctx, start, end, &focus, &p, &err);
	if (rc < 0) {
		ember_gate_leave(opts->heavy);
		reply_rc(r, rc, &err);
		return;
	}
	reply_profile(r, p, "attachment; filename=\"profile\"");
	ember_gate_leave(opts->heavy);
}

static void route_health(const ember_http_api *api, const ember_http_opts *opts,
			 const ember_http_request *req, const char *rest, ember_http_response *r)
{
	(void)opts;
	(void)req;
	(void)rest;
	ember_buf why = EMBER_BUF_INIT;
	if (api->healthy(api->ctx, &why)) {
		r->status = MHD_HTTP_OK;
		r->content_type = CT_TEXT;
		ember_buf_puts(&r->body, "ok\n");
	} else {
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    why.len ? why.data : "sampling is not working");
	}
	ember_buf_free(&why);
}

static void route_index(const ember_http_api *api, const ember_http_opts *opts,
			const ember_http_request *req, const char *rest, ember_http_response *r);

/* ---- the route table ------------------------------------------------------
 * The one list of endpoints: dispatch, the 404 for unknown paths, the index
 * page, the usage text (ember_http_describe_routes) and the paths left open
 * under basic auth all read it. */

typedef void (*route_fn)(const ember_http_api *api, const ember_http_opts *opts,
			 const ember_http_request *req, const char *rest, ember_http_response *r);

typedef struct http_route {
	const char *path;      /* exact path, or a prefix when prefix */
	bool prefix;           /* rest = what follows the prefix (may be empty) */
	route_fn fn;
	const char *example;   /* the link the index page shows */
	const char *summary;
	bool open;             /* answered without credentials under basic auth */
} http_route;

static const http_route routes[] = {
	{ "/", false, route_index, "/", "this page: the endpoints and the latest windows", false },
	{ "/metrics", false, route_metrics, "/metrics",
	  "Prometheus metrics (OpenMetrics with exemplars when asked)", false },
	{ "/debug/pprof/profile", false, route_pprof_profile, "/debug/pprof/profile?seconds=30",
	  "pprof of the next N seconds (go tool pprof URL)", false },
	{ "/api/v1/profiles", false, route_list, "/api/v1/profiles",
	  "stored windows as JSON (?start=T&end=T)", false },
	{ "/api/v1/profiles/", true, route_window, "/api/v1/profiles/ID",
	  "one stored window as gzip pprof", false },
	{ "/api/v1/merge", false, route_merge, "/api/v1/merge?start=T&end=T&function=REGEX",
	  "stored windows in a range merged into one pprof (also cgroup=, container_id=, "
	  "pod_uid= regexes)", false },
	{ "/ui", true, ember_ui_route_page, "/ui/",
	  "the UI: timeline, flame graphs (/ui/profile?id=ID), diffs (/ui/diff?base=ID&id=ID)",
	  false },
	{ "/api/v1/calltree", false, ember_ui_route_calltree,
	  "/api/v1/calltree?start=T&end=T&function=REGEX",
	  "call tree and function table as JSON (id= or a range; base= to diff)", false },
	{ "/api/v1/timeline", false, ember_ui_route_timeline, "/api/v1/timeline?start=T&end=T",
	  "stored windows with their CPU and top functions as JSON", false },
	{ "/healthz", false, route_health, "/healthz", "200 when sampling works", true },
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* The route for path, with *rest set to what follows a prefix; NULL if none. */
static const http_route *route_find(const char *path, const char **rest)
{
	for (size_t i = 0; i < N_ROUTES; i++) {
		const http_route *rt = &routes[i];
		size_t n = strlen(rt->path);
		if (!rt->prefix && strcmp(path, rt->path) == 0) {
			*rest = "";
			return rt;
		}
		if (rt->prefix && strncmp(path, rt->path, n) == 0) {
			*rest = path + n;
			return rt;
		}
	}
	return NULL;
}

bool ember_http_path_open(const char *path)
{
	const char *rest;
	const http_route *rt = route_find(path ? path : "", &rest);
	return rt && rt->open;
}

void ember_http_describe_routes(FILE *f)
{
	for (size_t i = 0; i < N_ROUTES; i++)
		fprintf(f, "  %-44s %s\n", routes[i].example, routes[i].summary);
}

static void route_index(const ember_http_api *api, const ember_http_opts *opts,
			const ember_http_request *req, const char *rest, ember_http_response *r)
{
	(void)opts;
	(void)req;
	(void)rest;
	ember_buf *b = &r->body;
	ember_buf_puts(b, "<!DOCTYPE html>\n<html><head><title>ember</title></head><body>\n"
			  "<h1>ember serve</h1>\n<p><a href=\"/ui/\">Open the UI</a>: the "
			  "timeline of stored windows and their flame graphs.</p>\n"
			  "<h2>Endpoints</h2>\n<ul>\n");
	for (size_t i = 1; i < N_ROUTES; i++) {   /* all but this page */
		ember_buf_puts(b, "<li><a href=\"");
		html_text(b, routes[i].example);
		ember_buf_puts(b, "\">");
		html_text(b, routes[i].example);
		ember_buf_puts(b, "</a> — ");
		html_text(b, routes[i].summary);
		ember_buf_puts(b, "</li>\n");
	}
	ember_buf_puts(b, "</ul>\n<p>Times: unix seconds, unix milliseconds or RFC 3339.</p>\n"
			  "<h2>Latest windows</h2>\n<ul>\n");
	ember_window_info *v = NULL;
	size_t n = 0;
	ember_error err = { 0 };
	if (api->list(api->ctx, 0, INT64_MAX, &v, &n, &err) == 0) {
		for (size_t i = n, shown = 0; i-- > 0 && shown < 20; shown++) {
			char s[40];
			ember_time_format(v[i].start_ns, s, sizeof s);
			ember_buf_printf(b, "<li><a href=\"/ui/profile?id=%s\">%s</a> %s, %llu "
					    "samples (<a href=\"/api/v1/profiles/%s\">pprof</a>)</li>\n",
					 v[i].id, v[i].id, s, (unsigned long long)v[i].samples, v[i].id);
		}
		if (n == 0)
			ember_buf_puts(b, "<li>none stored yet</li>\n");
	} else {
		ember_buf_puts(b, "<li>");
		html_text(b, err.msg);
		ember_buf_puts(b, "</li>\n");
	}
	free(v);
	ember_buf_puts(b, "</ul>\n</body></html>\n");
	r->status = MHD_HTTP_OK;
	r->content_type = CT_HTML;
}

void ember_http_handle(const ember_http_api *api, const ember_http_opts *opts,
		       const ember_http_request *req, ember_http_response *r)
{
	memset(r, 0, sizeof *r);
	const char *path = req->path ? req->path : "";
	const char *rest = "";
	const http_route *rt = route_find(path, &rest);
	if (!rt) {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: see / for the list");
	} else if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET");
		r->allow = "GET, HEAD";
	} else if (req->n_args > MAX_ARGS) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "too many query parameters");
	} else {
		rt->fn(api, opts, req, rest, r);
	}
	if (!ember_buf_ok(&r->body) || !ember_buf_ok(&r->location)) {
		ember_buf_free(&r->body);
		ember_buf_free(&r->location);
		reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		if (!ember_buf_ok(&r->body))
			ember_buf_free(&r->body);   /* status stays; empty body */
	}
}

void ember_http_response_free(ember_http_response *r)
{
	ember_buf_free(&r->body);
	ember_buf_free(&r->location);
}

/* ---- libmicrohttpd glue ------------------------------------------------- */

struct ember_http_server {
	struct MHD_Daemon *daemon;
	ember_http_opts opts;
	const ember_http_api *api;
	ember_basicauth *auth;   /* NULL: no basic auth */
	http_deadline *deadline;
	int fd;
	unsigned port;
};

typedef struct arg_collector {
	ember_http_arg args[MAX_ARGS + 1];
	size_t n;
} arg_collector;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	(void)kind;
	arg_collector *c = cls;
	if (c->n > MAX_ARGS)   /* one past the limit is enough to refuse */
		return MHD_NO;
	c->args[c->n].key = key ? key : "";
	c->args[c->n].value = value;
	c->n++;
	return MHD_YES;
}

/* 401 with the challenge; the body says what to send. */
static enum MHD_Result queue_unauthorized(struct MHD_Connection *conn)
{
	static const char body[] = "{\"error\":\"unauthorized: send basic auth credentials of a "
				   "user in the web config\"}\n";
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				"Basic realm=\"ember\", charset=\"UTF-8\"");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	static int started;
	ember_http_server *s = cls;
	if (!*con_cls) {   /* headers only so far; answer once the body is in */
		*con_cls = &started;
		http_deadline_in_request(s->deadline, conn);
		return MHD_YES;
	}
	if (*upload_data_size) {   /* a body we do not want: drop it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (s->auth && !ember_http_path_open(url) &&
	    !ember_basicauth_check(s->auth, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
									 MHD_HTTP_HEADER_AUTHORIZATION)))
		return queue_unauthorized(conn);
	arg_collector args = { .n = 0 };
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
	ember_http_request req = {
		.method = method,
		.path = url,
		.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
		.args = args.args,
		.n_args = args.n,
	};
	ember_http_response r;
	ember_http_handle(s->api, &s->opts, &req, &r);
	struct MHD_Response *resp;
	if (r.body.len) {
		resp = MHD_create_response_from_buffer(r.body.len, r.body.data,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)   /* libmicrohttpd frees the body now */
			r.body = (ember_buf)EMBER_BUF_INIT;
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!resp) {
		ember_http_response_free(&r);
		return MHD_NO;
	}
	if (r.content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
	if (r.disposition)
		MHD_add_response_header(resp, "Content-Disposition", r.disposition);
	if (r.allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r.allow);
	if (r.location.len)   /* copied by libmicrohttpd */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r.location.data);
	ember_http_response_free(&r);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* the UI's pages load only ember's own scripts and styles */
	MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'self'");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r.status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* The request deadline follows each connection: waiting from its start
 * and from each completed request, in a request from the handler's first
 * call. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	(void)socket_context;
	ember_http_server *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_deadline_closed(s->deadline, conn);
		return;
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)   /* without memory the connection only has the idle timeout */
		http_deadline_started(s->deadline, conn, ci->connect_fd);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	(void)con_cls;
	(void)code;
	ember_http_server *s = cls;
	http_deadline_waiting(s->deadline, conn);
}

/* "HOST:PORT", "[V6]:PORT", ":PORT" -> host (empty: any) and port. */
static int split_listen(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;
	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		if ((size_t)(rb - addr - 1) >= hlen)
			return -EINVAL;
		memcpy(host, addr + 1, (size_t)(rb - addr - 1));
		host[rb - addr - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= hlen || memchr(addr, ':', (size_t)(colon - addr)))
			return -EINVAL;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
	}
	const char *p = colon + 1;
	if (!*p || strlen(p) >= plen || strspn(p, "0123456789") != strlen(p) || atol(p) > 65535)
		return -EINVAL;
	strcpy(port, p);
	return 0;
}

static int bind_listen(const char *addr, int *out_fd, ember_error *err)
{
	char host[256], port[8];
	if (split_listen(addr, host, sizeof host, port, sizeof port) < 0)
		return ember_errorf(err, EINVAL,
				    "--listen '%s': want HOST:PORT, [IPV6]:PORT or :PORT, e.g. "
				    "127.0.0.1:9464",
				    addr);
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (g != 0)
		return ember_errorf(err, EINVAL, "--listen '%s': cannot resolve '%s': %s", addr,
				    host, gai_strerror(g));
	/* With no host, prefer the IPv6 wildcard (dual stack) when there is one. */
	struct addrinfo *pick = res;
	if (!host[0])
		for (struct addrinfo *a = res; a; a = a->ai_next)
			if (a->ai_family == AF_INET6)
				pick = a;
	int fd = socket(pick->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = 0;
	if (fd < 0) {
		rc = ember_errorf(err, errno, "--listen '%s': socket: %s", addr, strerror(errno));
		goto out;
	}
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (pick->ai_family == AF_INET6 && !host[0])
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, pick->ai_addr, pick->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		rc = ember_errorf(err, e, "--listen '%s': %s%s", addr, strerror(e),
				  e == EADDRINUSE ? ": another process (another ember serve?) "
						    "has the port; pick another with --listen"
						  : e == EADDRNOTAVAIL ? ": no interface has that address"
						  : "");
		close(fd);
		goto out;
	}
	*out_fd = fd;
out:
	freeaddrinfo(res);
	return rc;
}

int ember_http_start(ember_http_server **out, const ember_http_opts *opts,
		     const ember_http_api *api, ember_error *err)
{
	*out = NULL;
	ember_http_server *s = calloc(1, sizeof *s);
	if (!s)
		return ember_errorf(err, ENOMEM, "http: out of memory");
	s->opts = *opts;
	if (!s->opts.max_connections)
		s->opts.max_connections = 64;
	if (!s->opts.max_per_ip)
		s->opts.max_per_ip = 16;
	if (!s->opts.idle_timeout_s)
		s->opts.idle_timeout_s = 30;
	if (!s->opts.read_timeout_ms)
		s->opts.read_timeout_ms = 30000;
	if (!s->opts.max_profile_seconds)
		s->opts.max_profile_seconds = 300;
	s->opts.listen = NULL;   /* not kept: the caller's string */
	s->opts.web = NULL;      /* nor the config: what is needed is copied */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ember_gate_new(&s->opts.heavy,
			   opts->max_heavy ? opts->max_heavy : cpus > 0 ? (unsigned)cpus : 1, err) < 0) {
		free(s);
		return -ENOMEM;
	}
	if (ember_ui_cache_new(&s->opts.ui_cache, UI_CACHE_ENTRIES) < 0) {
		ember_gate_free(s->opts.heavy);
		free(s);
		return ember_errorf(err, ENOMEM, "http: out of memory");
	}
	s->api = api;
	const ember_webconfig *web = opts->web;
	bool tls = web && web->cert_pem;
	if (web && ember_basicauth_new(&s->auth, web, err) < 0) {
		ember_gate_free(s->opts.heavy);
		ember_ui_cache_free(s->opts.ui_cache);
		free(s);
		return -EIO;
	}
	/* libmicrohttpd copies the PEM strings into GnuTLS at start. */
	struct MHD_OptionItem tls_opts[] = {
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, tls ? web->key_pem : NULL },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, tls ? web->cert_pem : NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	int rc = http_deadline_new(&s->deadline, (int64_t)s->opts.read_timeout_ms * 1000000,
				   opts->read_timeouts, err);
	if (rc == 0)
		rc = bind_listen(opts->listen ? opts->listen : "127.0.0.1:9464", &s->fd, err);
	if (rc < 0) {
		http_deadline_free(s->deadline);
		ember_basicauth_free(s->auth);
		ember_gate_free(s->opts.heavy);
		ember_ui_cache_free(s->opts.ui_cache);
		free(s);
		return rc;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	/* One thread per connection: /debug/pprof/profile blocks for N seconds
	 * and must not stall scrapes; the connection limit bounds the threads. */
	s->daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			MHD_USE_ITC | (tls ? MHD_USE_TLS : 0),
		0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->opts.max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->opts.max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->opts.idle_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY,
		tls_opts, MHD_OPTION_END);
	if (!s->daemon) {
		close(s->fd);
		http_deadline_free(s->deadline);
		ember_basicauth_free(s->auth);
		ember_gate_free(s->opts.heavy);
		ember_ui_cache_free(s->opts.ui_cache);
		free(s);
		if (tls)
			return ember_errorf(err, EIO,
					    "http: libmicrohttpd failed to start TLS: check that "
					    "cert_file and key_file are a matching PEM pair");
		return ember_errorf(err, EIO, "http: libmicrohttpd failed to start");
	}
	*out = s;
	return 0;
}

unsigned ember_http_port(const ember_http_server *s)
{
	return s->port;
}

void ember_http_stop(ember_http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);   /* every connection closed: the table is empty */
	http_deadline_free(s->deadline);
	close(s->fd);
	ember_basicauth_free(s->auth);
	ember_gate_free(s->opts.heavy);
	ember_ui_cache_free(s->opts.ui_cache);
	free(s);
}
