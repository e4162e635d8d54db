/* fuzz/fuzz_http.c — libFuzzer target for serve's request handling without a
 * socket: the time parser (server/timeparse.c), window ids (store.c), the
 * Accept negotiation and the router with its strict query parsing
 * (ember_http_handle in server/http.c), behind a fake api that checks what
 * reaches it is validated and answers with small profiles.
 *
 * Input: "METHOD\nPATH\nACCEPT\nQUERY"; the query is split on '&' and '=' and
 * percent-decoded as libmicrohttpd does. The first line of the input is also
 * fed whole to ember_time_parse and ember_window_id_parse, whose successes
 * must round-trip through their formatters. */
#include "server/http.h"
#include "ember/merge.h"
#include "server/store.h"
#include "server/timeparse.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

enum { MAX_PARTS = 4, MAX_ARGS = 40 };

static ember_profile *small_profile(void)
{
	ember_profile *p = ember_profile_new();
	assert(p);
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->period = 10000000;
	ember_mapping m = { .memory_start = 0x1000, .memory_limit = 0x2000,
			    .filename = ember_profile_intern(p, "/bin/x") };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	uint64_t loc[2];
	const char *names[2] = { "main", "work" };
	for (int i = 0; i < 2; i++) {
		loc[i] = ember_profile_add_location(p, mid, 0x1100 + (uint64_t)i);
		int64_t n = ember_profile_intern(p, names[i]);
		ember_profile_location_add_line(p, loc[i],
						ember_profile_intern_function(p, n, n, 0, 0), 1);
	}
	int64_t v[2] = { 3, 30000000 };
	ember_profile_add_sample(p, loc, 2, v, NULL, 0);
	return p;
}

static int api_metrics(void *ctx, ember_expo_format f, ember_buf *out, const char **ct,
		       ember_error *err)
{
	(void)ctx;
	(void)err;
	assert(f == EMBER_EXPO_TEXT || f == EMBER_EXPO_OPENMETRICS);
	*ct = ember_expo_content_type(f);
	ember_buf_puts(out, "ember_samples_total 1\n");
	return 0;
}

static int api_profile(void *ctx, int64_t duration_ns, ember_profile **out, ember_error *err)
{
	const ember_http_opts *o = ctx;
	assert(duration_ns >= 1000000000LL);
	assert(duration_ns <= (int64_t)o->max_profile_seconds * 1000000000LL);
	(void)err;
	*out = small_profile();
	return 0;
}

static int api_list(void *ctx, int64_t start, int64_t end, ember_window_info **out, size_t *n,
		    ember_error *err)
{
	(void)ctx;
	assert(start < end);
	/* two windows around the asked range, with ids formatted from it */
	ember_window_info *v = calloc(2, sizeof *v);
	assert(v);
	int64_t t[2] = { start, end == INT64_MAX ? start + 1000000000LL : end - 1000000 };
	size_t k = 0;
	for (int i = 0; i < 2; i++) {
		if (t[i] < 0 || t[i] > INT64_MAX / 2)
			continue;
		if (ember_window_id_format(t[i], 10000000000LL, v[k].id, sizeof v[k].id) < 0)
			continue;
		v[k].start_ns = t[i] / 1000000 * 1000000;
		v[k].end_ns = v[k].start_ns + 10000000000LL;
		v[k].samples = 7;
		k++;
	}
	if (!k) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = k;
	(void)err;
	return 0;
}

static int api_window(void *ctx, const char *id, ember_profile **out, ember_error *err)
{
	(void)ctx;
	int64_t s, d;
	int rc = ember_window_id_parse(id, &s, &d, err);
	assert(rc == 0);   /* the router validated it */
	if (s % 3 == 0)
		return ember_errorf(err, ENOENT, "no window %s", id);
	*out = small_profile();
	return 0;
}

static int api_merge(void *ctx, int64_t start, int64_t end, const ember_focus *focus,
		     ember_profile **out, ember_error *err)
{
	(void)ctx;
	assert(start < end);
	ember_profile *p = small_profile();
	if (ember_focus_empty(focus)) {
		*out = p;
		return 0;
	}
	assert(!focus->function || (*focus->function && strlen(focus->function) <= 1024));
	ember_profile *q = NULL;
	int rc = ember_profile_focus_by(p, focus, &q, err);
	ember_profile_free(p);
	if (rc < 0)
		return rc;
	*out = q;
	return 0;
}

static bool api_healthy(void *ctx, ember_buf *why)
{
	(void)ctx;
	ember_buf_puts(why, "not sampling: \"quoted\"\n");
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* In-place percent-decoding as libmicrohttpd does for query arguments. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '+') {
			*w++ = ' ';
		} else if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
			*w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void check_time(const char *s)
{
	int64_t ns;
	ember_error err = { 0 };
	if (ember_time_parse(s, &ns, &err) < 0) {
		assert(err.msg[0] && !strchr(err.msg, '\n'));
		return;
	}
	char buf[40];
	int n = ember_time_format(ns, buf, sizeof buf);
	if (n < 0 || ns < 0)
		return;
	int64_t back;
	int rc = ember_time_parse(buf, &back, NULL);
	assert(rc == 0);
	assert(back == ns / 1000000 * 1000000);   /* formatted to the millisecond */
}

static void check_id(const char *s)
{
	int64_t start, dur;
	ember_error err = { 0 };
	if (ember_window_id_parse(s, &start, &dur, &err) < 0) {
		assert(err.msg[0] && !strchr(err.msg, '\n'));
		return;
	}
	assert(!strchr(s, '/') && !strstr(s, ".."));
	char buf[EMBER_WINDOW_ID_MAX];
	int n = ember_window_id_format(start, dur, buf, sizeof buf);
	assert(n > 0 && strcmp(buf, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1);
	assert(text);
	memcpy(text, data, len);
	text[len] = '\0';   /* C strings: what libmicrohttpd hands over ends at a NUL */

	char *part[MAX_PARTS] = { 0 };
	char *p = text;
	for (int i = 0; i < MAX_PARTS && p; i++) {
		part[i] = p;
		p = i + 1 < MAX_PARTS ? strchr(p, '\n') : NULL;
		if (p)
			*p++ = '\0';
	}
	check_time(part[0]);
	check_id(part[0]);

	ember_http_arg args[MAX_ARGS];
	size_t n_args = 0;
	for (char *q = part[3]; q && *q && n_args < MAX_ARGS;) {
		char *amp = strchr(q, '&');
		if (amp)
			*amp = '\0';
		char *eq = strchr(q, '=');
		if (eq)
			*eq = '\0';
		unescape(q);
		if (eq)
			unescape(eq + 1);
		args[n_args++] = (ember_http_arg){ q, eq ? eq + 1 : NULL };
		q = amp ? amp + 1 : NULL;
	}

	static const char *const methods[] = { "GET", "HEAD", "POST" };
	const char *path = part[1] ? part[1] : "";
	static const char *const paths[] = { "/metrics", "/debug/pprof/profile",
					     "/api/v1/profiles", "/api/v1/merge", "/healthz", "/" };
	/* a one-byte path picks a known route, so the queries get exercised */
	if (strlen(path) == 1 && path[0] != '/')
		path = paths[(unsigned char)path[0] % 6];
	ember_http_opts opts = { .max_profile_seconds = 300 };
	ember_http_api api = { .ctx = &opts,
			       .metrics = api_metrics,
			       .profile = api_profile,
			       .list = api_list,
			       .window = api_window,
			       .merge = api_merge,
			       .healthy = api_healthy };
	ember_http_request req = { .method = methods[len % 3],
				   .path = path,
				   .accept = part[2],
				   .args = args,
				   .n_args = n_args };
	ember_http_response r;
	ember_http_handle(&api, &opts, &req, &r);
	assert(r.status >= 200 && r.status < 600);
	assert(r.content_type || r.body.len == 0);
	if (r.status >= 400 && r.body.len) {   /* errors are one JSON object */
		assert(r.body.data[0] == '{');
		assert(memchr(r.body.data, '\n', r.body.len - 1) == NULL);
	}
	ember_http_response_free(&r);
	(void)ember_http_negotiate(part[2]);
	free(text);
	return 0;
}
