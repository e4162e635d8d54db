/* tests/ui/test_ui_http.c — the UI's routes (server/ui.c) through the one
 * route table, against a fake api of two windows (no socket, no perf): the
 * pages and assets (content types, the 200 KB budget, no inline script or
 * style), /api/v1/calltree (a window, a range, a diff base, filters) and
 * /api/v1/timeline, and every kind of bad input: 400 with the reason, 404
 * for an unknown id or an empty range. */
#include "../check.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "server/http.h"
#include "server/ui.h"
#include "window.h"

#define S 1000000000LL
#define MANY 40   /* enough windows for a range to be read by parallel parts */
static ember_window_info W[MANY] = {
	{ "20251125T010000Z-10s", 1764032400LL * S, 1764032410LL * S, 3, 100 },
	{ "20251125T010010Z-10s", 1764032410LL * S, 1764032420LL * S, 5, 100 },
};
static size_t n_windows = 2;   /* the fake's store: W[0..n_windows) */
static int window_calls;

/* window i of the folds test: deeper stacks over a few functions, samples
 * of two comms, numeric pids and threads, so focus and filters cut trees */
static bool rich;
static ember_profile *rich_profile(size_t i)
{
	static const char *const fns[] = { "main", "serve", "parse", "alloc", "hash", "io" };
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	uint64_t loc[6];
	for (size_t f = 0; f < 6; f++) {
		uint64_t fid = ember_profile_intern_function(p, ember_profile_intern(p, fns[(f + i) % 6]),
							     0, 0, 0);
		loc[f] = ember_profile_add_location(p, 0, 0x1000 * (f + 1));
		ember_profile_location_add_line(p, loc[f], fid, 0);
	}
	int64_t kc = ember_profile_intern(p, "comm"), kp = ember_profile_intern(p, "pid"),
		kt = ember_profile_intern(p, "thread");
	for (size_t s = 0; s < 12; s++) {
		uint64_t stack[6];
		size_t depth = 1 + (s * 7 + i) % 6;
		for (size_t d = 0; d < depth; d++)   /* leaf first */
			stack[d] = loc[(s + d * 5 + i) % 6];
		int64_t v = 1 + (int64_t)((s * 13 + i * 3) % 7);
		int64_t vals[2] = { v, v * 10000000 };
		ember_label l[3] = {
			{ .key = kc, .str = ember_profile_intern(p, s % 3 ? "app" : "db") },
			{ .key = kp, .num = 100 + (int64_t)((s + i) % 4) },
			{ .key = kt, .str = ember_profile_intern(p, s % 2 ? "main" : "worker-1") },
		};
		ember_profile_add_sample(p, stack, depth, vals, l, s % 5 ? 3 : 2);
	}
	return p;
}

static int f_list(void *ctx, int64_t start, int64_t end, ember_window_info **out, size_t *n,
		  ember_error *err)
{
	(void)ctx, (void)err;
	*out = malloc(sizeof W);
	*n = 0;
	for (size_t i = 0; i < n_windows; i++)
		if (W[i].start_ns < end && W[i].end_ns > start)
			(*out)[(*n)++] = W[i];
	return 0;
}

static int f_window(void *ctx, const char *id, ember_profile **out, ember_error *err)
{
	(void)ctx;
	__atomic_add_fetch(&window_calls, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < n_windows; i++)
		if (strcmp(id, W[i].id) == 0 && rich)
			return (*out = rich_profile(i)) ? 0 : -ENOMEM;
		else if (strcmp(id, W[i].id) == 0)   /* read one by one: no merge needed */
			return (*out = ui_window(i == 0 ? "before" : i == 1 ? "after" : "more",
					       i < 2 ? 3 + 2 * (int64_t)i : (int64_t)i))
				       ? 0
				       : -ENOMEM;
	return ember_errorf(err, ENOENT, "no stored window '%s'", id);
}

static const ember_http_api API = { .list = f_list, .window = f_window };
static ember_http_opts OPTS = { .max_profile_seconds = 60 };

/* GET path with "k", "v" pairs (NULL-terminated); the status. */
static int get(ember_http_response *r, const char *path, ...)
{
	ember_http_arg args[8];
	size_t n = 0;
	va_list ap;
	va_start(ap, path);
	for (const char *k; (k = va_arg(ap, const char *));) {
		args[n].key = k;
		args[n++].value = va_arg(ap, const char *);
	}
	va_end(ap);
	ember_http_request req = { "GET", path, NULL, args, n };
	ember_http_handle(&API, &OPTS, &req, r);
	return r->status;
}

static bool has(const ember_http_response *r, const char *needle)
{
	bool ok = r->body.data && strstr(r->body.data, needle);
	if (!ok)
		fprintf(stderr, "no '%s' in: %.300s\n", needle, r->body.data ? r->body.data : "");
	return ok;
}

static void test_pages(void)
{
	ember_http_response r;
	struct { const char *path, *type, *needle; } ok[] = {
		{ "/ui/", "text/html; charset=utf-8", "/ui/timeline.js" },
		{ "/ui/profile", "text/html; charset=utf-8", "/ui/flame.js" },
		{ "/ui/diff", "text/html; charset=utf-8", "/ui/profile.js" },
		{ "/ui/ember.css", "text/css; charset=utf-8", "canvas" },
		{ "/ui/flame.js", "text/javascript; charset=utf-8", "ember.Flame" },
		{ "/ui/favicon.svg", "image/svg+xml", "<svg" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		CHECK(get(&r, ok[i].path, NULL) == 200);
		CHECK(strcmp(r.content_type, ok[i].type) == 0);
		CHECK(has(&r, ok[i].needle));
		ember_http_response_free(&r);
	}
	const char *missing[] = { "/ui/nope.js", "/ui/profile.html", "/ui/../README.md", "/ui/x/" };
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		CHECK(get(&r, missing[i], NULL) == 404);
		CHECK(has(&r, "\"error\":\"no such page"));
		ember_http_response_free(&r);
	}
	/* the budget, and nothing the CSP default-src 'self' would block */
	size_t total = 0;
	for (size_t i = 0; i < ember_ui_n_assets; i++) {
		const ember_ui_asset *a = &ember_ui_assets[i];
		total += a->len;
		if (!strstr(a->name, ".html"))
			continue;
		char *html = strndup((const char *)a->data, a->len);
		CHECK(!strstr(html, "style=") && !strstr(html, "<style") && !strstr(html, "onclick") &&
		      !strstr(html, "http://") && !strstr(html, "https://"));
		for (char *s = strstr(html, "<script"); s; s = strstr(s + 1, "<script"))
			CHECK(strncmp(s, "<script src=\"/ui/", 17) == 0);
		free(html);
	}
	CHECK(total > 10000 && total <= 200 * 1024);
}

static void test_calltree(void)
{
	ember_http_response r;
	CHECK(get(&r, "/api/v1/calltree", "id", W[0].id, NULL) == 200);
	CHECK(strcmp(r.content_type, "application/json") == 0);
	CHECK(has(&r, "\"total\":30000000,\"base_total\":null") && has(&r, "\"before\""));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/calltree", "id", W[1].id, "base", W[0].id, NULL) == 200);
	CHECK(has(&r, "\"total\":50000000,\"base_total\":30000000"));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/calltree", "start", "1764032400", "end", "1764032420000", "base_start",
		  "1764032400", "base_end", "2025-11-25T01:00:10Z", NULL) == 200);
	CHECK(has(&r, "\"total\":80000000,\"base_total\":30000000,\"profiles\":2,\"base_profiles\":1"));
	ember_http_response_free(&r);
	/* a function focus on a window; label filters */
	CHECK(get(&r, "/api/v1/calltree", "id", W[0].id, "function", "^nothing$", NULL) == 200);
	CHECK(has(&r, "\"total\":0,"));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/calltree", "id", W[0].id, "comm", "app", "pid", ".*", NULL) == 200);
	CHECK(has(&r, "\"total\":30000000,") && has(&r, "\"comm\":[[\"app\",30000000]]"));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/calltree", "id", W[0].id, "thread", "x", NULL) == 200);
	CHECK(has(&r, "\"total\":0,"));
	ember_http_response_free(&r);

	struct { int status; const char *needle; const char *args[6]; } bad[] = {
		{ 400, "give id=ID (a window) or start=T&end=T", { NULL } },
		{ 400, "id: ", { "id", "../../etc/passwd" } },
		{ 400, "either id=ID or start=T&end=T", { "id", W[0].id, "start", "1" } },
		{ 400, "missing 'end'", { "start", "1764032400" } },
		{ 400, "start: ", { "start", "soon", "end", "1" } },
		{ 400, "start must be before end", { "start", "5", "end", "4" } },
		{ 400, "base_start must be before base_end",
		  { "id", W[0].id, "base_start", "5", "base_end", "4" } },
		{ 400, "comm: bad regex '('", { "id", W[0].id, "comm", "(" } },
		{ 400, "pid: regex too complex", { "id", W[0].id, "pid", "((a{1,255}){1,255})" } },
		{ 400, "function: bad regex", { "id", W[0].id, "function", "(" } },
		{ 400, "function: bad regex", { "start", "0", "end", "1764032420", "function", "[" } },
		{ 400, "given twice", { "id", W[0].id, "id", W[1].id } },
		{ 404, "no stored window '20000101T000000Z-10s'", { "id", "20000101T000000Z-10s" } },
		{ 404, "no stored windows in that range", { "start", "0", "end", "1" } },
		{ 404, "no stored window", { "id", W[0].id, "base", "20000101T000000Z-10s" } },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *const *a = bad[i].args;
		int st = get(&r, "/api/v1/calltree", a[0], a[1], a[2], a[3], a[4], a[5], NULL);
		if (st != bad[i].status)
			fprintf(stderr, "case %zu: %d, want %d\n", i, st, bad[i].status);
		CHECK(st == bad[i].status);
		CHECK(has(&r, "{\"error\":\"") && has(&r, bad[i].needle));
		ember_http_response_free(&r);
	}
}

static void test_timeline(void)
{
	ember_http_response r;
	CHECK(get(&r, "/api/v1/timeline", NULL) == 200);
	CHECK(has(&r, "{\"older\":0,\"windows\":[\n{\"id\":\"20251125T010000Z-10s\",\"start_ms\":"
		      "1764032400000,\"end_ms\":1764032410000,\"samples\":3,\"cpu\":30000000,\"top\":"
		      "[[\"before\",30000000]]}"));
	CHECK(has(&r, "\"id\":\"20251125T010010Z-10s\""));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/timeline", "limit", "1", NULL) == 200);
	CHECK(has(&r, "{\"older\":1,") && !strstr(r.body.data, W[0].id) && has(&r, W[1].id));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/timeline", "start", "0", "end", "1", NULL) == 200);
	CHECK(has(&r, "{\"older\":0,\"windows\":[\n]}"));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/timeline", "limit", "0", NULL) == 400 && has(&r, "limit: "));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/timeline", "top", "x", NULL) == 400 && has(&r, "top: "));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/timeline", "end", "later", NULL) == 400 && has(&r, "end: "));
	ember_http_response_free(&r);
}

/* many windows: read by parallel parts, the result as if read one by one */
static void test_many(void)
{
	for (size_t i = 2; i < MANY; i++) {
		W[i].start_ns = W[0].start_ns + (int64_t)i * 10 * S;
		W[i].end_ns = W[i].start_ns + 10 * S;
		W[i].samples = i;
		ember_window_id_format(W[i].start_ns, 10 * S, W[i].id, sizeof W[i].id);
	}
	n_windows = MANY;
	ember_http_response r;
	/* 3 + 5 + (2 + 3 + ... + 39) samples of 10 ms */
	CHECK(get(&r, "/api/v1/calltree", "start", "0", "end", "2000000000", NULL) == 200);
	CHECK(has(&r, "\"total\":7870000000,\"base_total\":null,\"profiles\":40,"));
	CHECK(has(&r, "\"comm\":[[\"app\",7870000000]]"));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/calltree", "start", "0", "end", "2000000000", "function", "^more$",
		  NULL) == 200);
	CHECK(has(&r, "\"total\":7790000000,"));
	ember_http_response_free(&r);
	CHECK(get(&r, "/api/v1/timeline", NULL) == 200);
	const char *prev = r.body.data;
	for (size_t i = 0; i < MANY; i++) {   /* every window, oldest first */
		const char *at = strstr(r.body.data, W[i].id);
		CHECK(at && at > prev);
		prev = at ? at : prev;
	}
	ember_http_response_free(&r);

	/* the timeline remembers the windows it read: the same answer, no reads */
	for (size_t max = 1; max <= 64; max += 63) {
		CHECK(ember_ui_cache_new(&OPTS.ui_cache, max) == 0);
		ember_http_response a, b;
		CHECK(get(&a, "/api/v1/timeline", NULL) == 200);
		int before = window_calls;
		CHECK(get(&b, "/api/v1/timeline", NULL) == 200);
		CHECK(strcmp(a.body.data, b.body.data) == 0);
		CHECK(max < MANY ? window_calls > before : window_calls == before);
		ember_http_response_free(&a);
		ember_http_response_free(&b);
		ember_ui_cache_free(OPTS.ui_cache);
		OPTS.ui_cache = NULL;
	}
	n_windows = 2;
}

/* the call trees' folded windows: the same JSON as reading every window,
 * whether the windows were kept by the worker (ember_ui_folds_keep), by a
 * first request, or evicted again under a small bound */
static void test_folds(void)
{
	char mid[24];
	snprintf(mid, sizeof mid, "%lld", (long long)(W[MANY / 2].start_ns / 1000000));
	const char *q[][10] = {
		{ "start", "0", "end", "2000000000" },
		{ "start", "0", "end", "2000000000", "function", "^(parse|io)$" },
		{ "start", "0", "end", "2000000000", "comm", "db", "pid", "10[13]" },
		{ "start", mid, "end", "2000000000", "base_start", "0", "base_end", mid },
		{ "start", mid, "end", "2000000000", "thread", "worker-.*", "base_start", "0",
		  "base_end", mid },
		{ "id", W[3].id, "base", W[4].id, "function", "hash" },
	};
	size_t n_q = sizeof q / sizeof q[0];
	rich = true;
	n_windows = MANY;
	ember_http_response want[sizeof q / sizeof q[0]], r;
	for (size_t i = 0; i < n_q; i++) {   /* no folds kept: every window read */
		const char *const *a = q[i];
		CHECK(get(&want[i], "/api/v1/calltree", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
			  a[8], a[9], NULL) == 200);
	}
	CHECK(has(&want[0], "\"profiles\":40,") && has(&want[3], "\"base_profiles\":20,"));
	CHECK(!strstr(want[1].body.data, "\"total\":0,") && !strstr(want[2].body.data, "\"total\":0,"));
	/* bounds: everything; about three windows (evicting all the time) */
	for (int round = 0; round < 3; round++) {
		ember_ui_folds *folds;
		CHECK(ember_ui_folds_new(&folds, round < 2 ? (size_t)128 << 20 : 3000) == 0);
		OPTS.ui_folds = folds;
		if (round == 1) {   /* as the worker keeps the windows it stores */
			for (size_t w = 0; w < MANY; w++) {
				ember_profile *p = rich_profile(w);
				ember_error err = { 0 };
				CHECK(ember_ui_folds_keep(folds, &W[w], p, &err) == 0);
				ember_profile_free(p);
			}
		}
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < n_q; i++) {
				const char *const *a = q[i];
				int before = window_calls;
				CHECK(get(&r, "/api/v1/calltree", a[0], a[1], a[2], a[3], a[4], a[5],
					  a[6], a[7], a[8], a[9], NULL) == 200);
				if (strcmp(r.body.data, want[i].body.data))
					fprintf(stderr, "round %d pass %d query %zu: %.200s\n", round,
						pass, i, r.body.data);
				CHECK(strcmp(r.body.data, want[i].body.data) == 0);
				/* kept: no window read again; a small bound reads them again */
				if (round == 1 || (round == 0 && pass == 1))
					CHECK(window_calls == before);
				if (round == 2)
					CHECK(window_calls > before);
				ember_http_response_free(&r);
			}
		}
		ember_ui_folds_stat st;
		ember_ui_folds_stats(folds, &st);
		if (round < 2)
			CHECK(st.windows == MANY && st.evictions == 0 && st.hits > 0);
		else
			CHECK(st.windows >= 1 && st.windows < 10 && st.evictions > 100 &&
			      st.bytes <= 3000);
		ember_ui_folds_free(folds);
		OPTS.ui_folds = NULL;
	}
	/* a window bigger than the bound is used, not kept */
	ember_ui_folds *tiny;
	CHECK(ember_ui_folds_new(&tiny, 10) == 0);
	OPTS.ui_folds = tiny;
	const char *const *a = q[0];
	CHECK(get(&r, "/api/v1/calltree", a[0], a[1], a[2], a[3], NULL) == 200);
	CHECK(strcmp(r.body.data, want[0].body.data) == 0);
	ember_http_response_free(&r);
	ember_ui_folds_stat st;
	ember_ui_folds_stats(tiny, &st);
	CHECK(st.windows == 0 && st.bytes == 0);
	ember_ui_folds_free(tiny);
	OPTS.ui_folds = NULL;
	for (size_t i = 0; i < n_q; i++)
		ember_http_response_free(&want[i]);
	rich = false;
	n_windows = 2;
}

/* /ui answers with a redirect to ui/ (relative: a proxy's prefix stays),
 * the query kept and re-encoded; /uifoo is no page */
static void test_redirect(void)
{
	ember_http_response r;
	CHECK(get(&r, "/ui", NULL) == 301);
	CHECK(r.location.data && strcmp(r.location.data, "ui/") == 0);
	ember_http_response_free(&r);
	CHECK(get(&r, "/ui", "start", "2025-11-25T01:00:00Z", "q", "a b&c=d/é", "flag", NULL,
		  NULL) == 301);
	CHECK(r.location.data &&
	      strcmp(r.location.data,
		     "ui/?start=2025-11-25T01:00:00Z&q=a%20b%26c%3Dd%2F%C3%A9&flag") == 0);
	ember_http_response_free(&r);
	CHECK(get(&r, "/uifoo", NULL) == 404 && has(&r, "no such endpoint"));
	ember_http_response_free(&r);
	CHECK(get(&r, "/ui/", NULL) == 200 && r.location.len == 0);
	ember_http_response_free(&r);
}

static void test_index_links(void)
{
	ember_http_response r;
	CHECK(get(&r, "/", NULL) == 200);
	CHECK(has(&r, "href=\"/ui/\"") && has(&r, "/ui/profile?id=20251125T010010Z-10s") &&
	      has(&r, "/api/v1/profiles/20251125T010010Z-10s"));
	ember_http_response_free(&r);
	CHECK(!ember_http_path_open("/ui/") && !ember_http_path_open("/api/v1/calltree"));
}

int main(void)
{
	test_pages();
	test_calltree();
	test_timeline();
	test_many();
	test_folds();
	test_redirect();
	test_index_links();
	return check_exit();
}
