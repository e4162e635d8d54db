/* tests/server/test_http.c — serve's HTTP layer against a fake api (no perf):
 * routing, strict queries (400 with JSON), unknown ids (404), methods (405),
 * content negotiation, the seconds cap; then the real libmicrohttpd server
 * on a loopback socket: responses, per-IP connection limit, idle timeout. */
#include "../check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/http.h"
#include "ember/pprof.h"
#include "ember/utf8.h"

#define S 1000000000LL
static const int64_t T0 = 1764032400LL * S;   /* 2025-11-25T01:00:00Z */

typedef struct fake {
	bool healthy;
	int64_t last_profile_ns;
	ember_expo_format last_format;
	int64_t merge_start, merge_end;
	char merge_regex[64];
	char merge_labels[128];
	int calls;
} fake;

static ember_profile *small_profile(void)
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->time_nanos = T0;
	p->duration_nanos = 10 * S;
	uint64_t fn = ember_profile_intern_function(p, ember_profile_intern(p, "split_a"), 0, 0, 0);
	uint64_t loc = ember_profile_add_location(p, 0, 0x1000);
	ember_profile_location_add_line(p, loc, fn, 0);
	int64_t v[2] = { 3, 30 };
	ember_profile_add_sample(p, &loc, 1, v, NULL, 0);
	return p;
}

static int f_metrics(void *ctx, ember_expo_format f, ember_buf *out, const char **ct,
		     ember_error *err)
{
	(void)err;
	fake *x = ctx;
	x->calls++;
	x->last_format = f;
	ember_buf_puts(out, f == EMBER_EXPO_OPENMETRICS ? "om 1\n# EOF\n" : "text 1\n");
	*ct = f == EMBER_EXPO_OPENMETRICS ? "application/openmetrics-text" : "text/plain";
	return 0;
}

static int f_profile(void *ctx, int64_t ns, ember_profile **out, ember_error *err)
{
	(void)err;
	fake *x = ctx;
	x->calls++;
	x->last_profile_ns = ns;
	*out = small_profile();
	return 0;
}

static const ember_window_info windows[] = {
	{ "20251125T010000Z-10s", T0, T0 + 10 * S, 7, 100 },
	{ "20251125T010010Z-10s", T0 + 10 * S, T0 + 20 * S, 8, 100 },
};

static int f_list(void *ctx, int64_t start, int64_t end, ember_window_info **out, size_t *n,
		  ember_error *err)
{
	(void)err;
	((fake *)ctx)->calls++;
	*out = malloc(sizeof windows);
	*n = 0;
	for (size_t i = 0; i < 2; i++)
		if (windows[i].start_ns < end && windows[i].end_ns > start)
			(*out)[(*n)++] = windows[i];
	return 0;
}

static int f_window(void *ctx, const char *id, ember_profile **out, ember_error *err)
{
	((fake *)ctx)->calls++;
	if (strcmp(id, windows[0].id) && strcmp(id, windows[1].id))
		return ember_errorf(err, ENOENT, "no stored window '%s'", id);
	*out = small_profile();
	return 0;
}

static int f_merge(void *ctx, int64_t start, int64_t end, const ember_focus *focus,
		   ember_profile **out, ember_error *err)
{
	const char *regex = focus->function;
	fake *x = ctx;
	snprintf(x->merge_labels, sizeof x->merge_labels, "%s|%s|%s",
		 focus->cgroup ? focus->cgroup : "-", focus->container_id ? focus->container_id : "-",
		 focus->pod_uid ? focus->pod_uid : "-");
	x->calls++;
	x->merge_start = start;
	x->merge_end = end;
	snprintf(x->merge_regex, sizeof x->merge_regex, "%s", regex ? regex : "(none)");
	if (regex) {
		regex_t re;
		if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB))
			return ember_errorf(err, EINVAL, "function: bad regex '%s'", regex);
		regfree(&re);
	}
	if (end <= T0 || start >= T0 + 20 * S)
		return ember_errorf(err, ENOENT, "no stored windows in that range");
	*out = small_profile();
	return 0;
}

static bool f_healthy(void *ctx, ember_buf *why)
{
	fake *x = ctx;
	if (!x->healthy)
		ember_buf_puts(why, "no sample for 12 s");
	return x->healthy;
}

static fake F = { .healthy = true };
static const ember_http_api API = { &F, f_metrics, f_profile, f_list, f_window, f_merge, f_healthy };
static const ember_http_opts OPTS = { .max_profile_seconds = 60 };

/* GET path with args "k=v" pairs (NULL-terminated), returns status. */
static int get(ember_http_response *r, const char *method, const char *path, const char *accept,
	       ...)
{
	ember_http_arg args[8];
	size_t n = 0;
	va_list ap;
	va_start(ap, accept);
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		args[n].key = k;
		args[n].value = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	ember_http_request req = { method, path, accept, args, n };
	ember_http_handle(&API, &OPTS, &req, r);
	return r->status;
}

static bool is_json_error(const ember_http_response *r, const char *needle)
{
	bool ok = r->content_type && strcmp(r->content_type, "application/json") == 0 &&
		  r->body.data && strncmp(r->body.data, "{\"error\":\"", 10) == 0 &&
		  (!needle || strstr(r->body.data, needle));
	if (!ok)
		fprintf(stderr, "not the JSON error expected (%s): %s\n", needle ? needle : "",
			r->body.data ? r->body.data : "(null)");
	return ok;
}

static bool is_gzip_pprof(const ember_http_response *r)
{
	if (r->body.len < 2 || (unsigned char)r->body.data[0] != 0x1f ||
	    (unsigned char)r->body.data[1] != 0x8b)
		return false;
	ember_profile *p;
	ember_error err = { 0 };
	if (ember_pprof_decode(r->body.data, r->body.len, &p, &err) < 0)
		return false;
	bool ok = p->n_samples == 1;
	ember_profile_free(p);
	return ok;
}

static void test_routes(void)
{
	ember_http_response r;
	/* index */
	CHECK(get(&r, "GET", "/", NULL, NULL) == 200);
	CHECK(strstr(r.body.data, "/metrics") && strstr(r.body.data, windows[1].id));
	ember_http_response_free(&r);
	/* metrics and negotiation */
	CHECK(get(&r, "GET", "/metrics", NULL, NULL) == 200);
	CHECK(strcmp(r.body.data, "text 1\n") == 0);
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/metrics",
		  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		  NULL) == 200);
	CHECK(F.last_format == EMBER_EXPO_OPENMETRICS);
	CHECK(strcmp(r.content_type, "application/openmetrics-text") == 0);
	ember_http_response_free(&r);
	CHECK(ember_http_negotiate(NULL) == EMBER_EXPO_TEXT);
	CHECK(ember_http_negotiate("*/*") == EMBER_EXPO_TEXT);
	CHECK(ember_http_negotiate("text/plain;version=0.0.4") == EMBER_EXPO_TEXT);
	CHECK(ember_http_negotiate("application/openmetrics-text") == EMBER_EXPO_OPENMETRICS);
	CHECK(ember_http_negotiate("application/openmetrics-text;q=0,text/plain") ==
	      EMBER_EXPO_TEXT);
	CHECK(ember_http_negotiate("text/plain;q=0.9, application/openmetrics-text;q=0.5") ==
	      EMBER_EXPO_TEXT);
	CHECK(ember_http_negotiate("application/openmetrics-textx") == EMBER_EXPO_TEXT);

	/* /debug/pprof/profile */
	CHECK(get(&r, "GET", "/debug/pprof/profile", NULL, NULL) == 200);
	CHECK(F.last_profile_ns == 30 * S);
	CHECK(is_gzip_pprof(&r));
	CHECK(r.disposition && strstr(r.disposition, "attachment"));
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/debug/pprof/profile", NULL, "seconds", "3", NULL) == 200);
	CHECK(F.last_profile_ns == 3 * S);
	ember_http_response_free(&r);
	const char *bad_secs[] = { "0", "-1", "abc", "3.5", "", " 3", "3s", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad_secs / sizeof bad_secs[0]; i++) {
		CHECK(get(&r, "GET", "/debug/pprof/profile", NULL, "seconds", bad_secs[i], NULL) ==
		      400);
		CHECK(is_json_error(&r, "seconds"));
		ember_http_response_free(&r);
	}
	int before = F.calls;
	CHECK(get(&r, "GET", "/debug/pprof/profile", NULL, "seconds", "61", NULL) == 400);
	CHECK(is_json_error(&r, "limit of 60"));
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/debug/pprof/profile", NULL, "seconds", "1", "seconds", "2", NULL) ==
	      400);
	CHECK(is_json_error(&r, "twice"));
	ember_http_response_free(&r);
	CHECK(F.calls == before);   /* nothing bad reached the api */

	/* /api/v1/profiles */
	CHECK(get(&r, "GET", "/api/v1/profiles", NULL, NULL) == 200);
	CHECK(strcmp(r.content_type, "application/json") == 0);
	CHECK(strstr(r.body.data, "\"id\":\"20251125T010000Z-10s\"") != NULL);
	CHECK(strstr(r.body.data, "\"start\":\"2025-11-25T01:00:00.000Z\"") != NULL);
	CHECK(strstr(r.body.data, "\"samples\":8") != NULL);
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/api/v1/profiles", NULL, "start", "1764032410000", "end",
		  "2025-11-25T01:01:00Z", NULL) == 200);
	CHECK(!strstr(r.body.data, "20251125T010000Z-10s") &&
	      strstr(r.body.data, "20251125T010010Z-10s"));
	ember_http_response_free(&r);
	const char *bad_times[] = { "yesterday", "-5", "1764032400,5", "2025-11-25",
				    "2025-11-25T01:00:00", "" };
	for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
		CHECK(get(&r, "GET", "/api/v1/profiles", NULL, "start", bad_times[i], NULL) == 400);
		CHECK(is_json_error(&r, "start"));
		ember_http_response_free(&r);
	}
	CHECK(get(&r, "GET", "/api/v1/profiles", NULL, "start", "20", "end", "10", NULL) == 400);
	CHECK(is_json_error(&r, "before"));
	ember_http_response_free(&r);
	/* an echoed query byte that is not UTF-8 (%ff%fe) comes back as U+FFFD:
	 * the JSON stays valid for strict decoders */
	CHECK(get(&r, "GET", "/api/v1/profiles", NULL, "start", "\xff\xfe" "1", NULL) == 400);
	CHECK(is_json_error(&r, "start"));
	CHECK(strstr(r.body.data, EMBER_UTF8_REPLACEMENT EMBER_UTF8_REPLACEMENT "1") != NULL);
	CHECK(strchr(r.body.data, '\xff') == NULL);
	ember_http_response_free(&r);

	/* /api/v1/profiles/{id} */
	CHECK(get(&r, "GET", "/api/v1/profiles/20251125T010010Z-10s", NULL, NULL) == 200);
	CHECK(is_gzip_pprof(&r));
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/api/v1/profiles/20001125T010000Z-10s", NULL, NULL) == 404);
	CHECK(is_json_error(&r, "no stored window"));
	ember_http_response_free(&r);
	before = F.calls;
	const char *bad_ids[] = { "/api/v1/profiles/../../etc/passwd", "/api/v1/profiles/",
				  "/api/v1/profiles/..", "/api/v1/profiles/x\"y",
				  "/api/v1/profiles/20251125T010000Z-10s/extra" };
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		CHECK(get(&r, "GET", bad_ids[i], NULL, NULL) == 400);
		CHECK(is_json_error(&r, "bad window id"));
		ember_http_response_free(&r);
	}
	CHECK(F.calls == before);

	/* /api/v1/merge */
	CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400000", "end",
		  "1764032420000", "function", "split_a", NULL) == 200);
	CHECK(is_gzip_pprof(&r));
	CHECK(F.merge_start == T0 && F.merge_end == T0 + 20 * S);
	CHECK(strcmp(F.merge_regex, "split_a") == 0);
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400000", "end",
		  "1764032420000", "container_id", "^ab", "pod_uid", "x", "cgroup", "/k", NULL) ==
	      200);
	CHECK(strcmp(F.merge_labels, "/k|^ab|x") == 0);
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400", "end", "1764032420",
		  "pod_uid", "", NULL) == 400);
	CHECK(is_json_error(&r, "pod_uid"));
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400", NULL) == 400);
	CHECK(is_json_error(&r, "missing 'end'"));
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400", "end", "1764032420",
		  "function", "(unclosed", NULL) == 400);
	CHECK(is_json_error(&r, "regex"));
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400", "end", "1764032420",
		  "function", "", NULL) == 400);
	ember_http_response_free(&r);
	/* regexes whose bounds make regcomp take gigabytes and minutes are
	 * refused before any callback (found while fuzzing the query parsing) */
	const char *heavy[] = { "(((a{1,255}){1,255}){1,255})", "x{1,32767}y{1,32767}",
				"([a-z]+_[a-z]+){1,32767}", "(abcd){1,2000}", "((((a+)+)+)+){1,300}" };
	for (size_t i = 0; i < sizeof heavy / sizeof heavy[0]; i++) {
		int calls = F.calls;
		CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400", "end",
			  "1764032420", "function", heavy[i], NULL) == 400);
		CHECK(is_json_error(&r, "too complex"));
		CHECK(F.calls == calls);
		ember_http_response_free(&r);
	}
	/* ordinary filters, bounds and classes included, pass */
	char alt[1024] = "fn0";
	for (int i = 1; strlen(alt) < 1000; i++)
		snprintf(alt + strlen(alt), sizeof alt - strlen(alt), "|fn%d", i);
	const char *fine[] = { "split_(a|b)", "^[[:alpha:]_]+::[a-z]{1,8}$", "(ab){1,600}",
			       "[]{}()]+x", "a\\{", alt };
	for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
		CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1764032400", "end",
			  "1764032420", "function", fine[i], NULL) == 200);
		ember_http_response_free(&r);
	}
	CHECK(get(&r, "GET", "/api/v1/merge", NULL, "start", "1000", "end", "2000", NULL) == 404);
	CHECK(is_json_error(&r, "no stored windows"));
	ember_http_response_free(&r);

	/* health */
	CHECK(get(&r, "GET", "/healthz", NULL, NULL) == 200);
	ember_http_response_free(&r);
	F.healthy = false;
	CHECK(get(&r, "GET", "/healthz", NULL, NULL) == 503);
	CHECK(is_json_error(&r, "no sample for 12 s"));
	ember_http_response_free(&r);
	F.healthy = true;

	/* methods and unknown paths */
	CHECK(get(&r, "POST", "/metrics", NULL, NULL) == 405);
	CHECK(r.allow && strstr(r.allow, "GET"));
	CHECK(is_json_error(&r, "method"));
	ember_http_response_free(&r);
	CHECK(get(&r, "DELETE", "/api/v1/profiles/20251125T010000Z-10s", NULL, NULL) == 405);
	ember_http_response_free(&r);
	CHECK(get(&r, "HEAD", "/healthz", NULL, NULL) == 200);
	ember_http_response_free(&r);
	CHECK(get(&r, "GET", "/nope", NULL, NULL) == 404);
	CHECK(is_json_error(&r, "no such endpoint"));
	ember_http_response_free(&r);
}

/* ---- the real server ----------------------------------------------------- */

static int connect_to(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* Sends a raw request, returns the whole reply (until close) in out. */
static void roundtrip(unsigned port, const char *request, ember_buf *out)
{
	int fd = connect_to(port);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, request, strlen(request)) == (ssize_t)strlen(request));
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		ember_buf_append(out, buf, (size_t)n);
	close(fd);
}

static void test_server(void)
{
	ember_http_server *srv;
	ember_error err = { 0 };
	const char *bad_listen[] = { "9464", "localhost", "1.2.3.4:", "1.2.3.4:99999", "[::1:80",
				     "a:b:80" };
	for (size_t i = 0; i < sizeof bad_listen / sizeof bad_listen[0]; i++) {
		ember_http_opts o = { .listen = bad_listen[i] };
		CHECK(ember_http_start(&srv, &o, &API, &err) == -EINVAL);
		CHECK(strstr(err.msg, "--listen") != NULL);
	}
	ember_http_opts o = { .listen = "127.0.0.1:0", .max_profile_seconds = 60 };
	CHECK(ember_http_start(&srv, &o, &API, &err) == 0);
	unsigned port = ember_http_port(srv);
	CHECK(port > 0);

	/* the port is taken: a clear error */
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	ember_http_opts o2 = { .listen = addr };
	ember_http_server *srv2;
	CHECK(ember_http_start(&srv2, &o2, &API, &err) == -EADDRINUSE);
	CHECK(strstr(err.msg, "pick another with --listen") != NULL);

	/* ":PORT" listens on every address, IPv4 included (dual stack) */
	ember_http_opts any = { .listen = ":0" };
	ember_http_server *srv3;
	CHECK(ember_http_start(&srv3, &any, &API, &err) == 0);
	ember_buf b = EMBER_BUF_INIT;
	roundtrip(ember_http_port(srv3), "GET /healthz HTTP/1.0\r\n\r\n", &b);
	CHECK(b.data && strstr(b.data, "\r\n\r\nok\n"));
	ember_http_stop(srv3);
	ember_buf_reset(&b);

	roundtrip(port, "GET /healthz HTTP/1.0\r\n\r\n", &b);
	CHECK(b.data && strncmp(b.data + 8, " 200 ", 5) == 0 && strstr(b.data, "\r\n\r\nok\n"));
	ember_buf_reset(&b);
	roundtrip(port,
		  "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;"
		  "version=1.0.0,text/plain;q=0.5\r\n\r\n",
		  &b);
	CHECK(b.data && strstr(b.data, "Content-Type: application/openmetrics-text") &&
	      strstr(b.data, "om 1\n# EOF\n"));
	ember_buf_reset(&b);
	roundtrip(port, "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", &b);
	CHECK(b.data && strncmp(b.data + 8, " 405 ", 5) == 0 && strstr(b.data, "Allow: GET"));
	ember_buf_reset(&b);
	roundtrip(port, "GET /api/v1/profiles/..%2F..%2Fetc%2Fpasswd HTTP/1.0\r\n\r\n", &b);
	CHECK(b.data && strncmp(b.data + 8, " 400 ", 5) == 0 &&
	      strstr(b.data, "{\"error\":\"bad window id"));
	ember_buf_reset(&b);
	roundtrip(port, "GET /debug/pprof/profile?seconds=2&x=%41 HTTP/1.0\r\n\r\n", &b);
	CHECK(b.data && strncmp(b.data + 8, " 200 ", 5) == 0);
	CHECK(F.last_profile_ns == 2 * S);
	ember_buf_reset(&b);
	roundtrip(port, "GET /api/v1/profiles?start=1764032410%30%30%30 HTTP/1.0\r\n\r\n", &b);
	CHECK(b.data && strstr(b.data, "20251125T010010Z-10s") &&
	      !strstr(b.data, "20251125T010000Z-10s"));
	ember_buf_free(&b);

	ember_http_stop(srv);

	/* per-IP limit 2: a third concurrent connection is closed unanswered
	 * (a server of its own: closed connections of the requests above may
	 * still count while their threads wind down) */
	ember_http_opts lim = { .listen = "127.0.0.1:0", .max_per_ip = 2, .idle_timeout_s = 1 };
	CHECK(ember_http_start(&srv, &lim, &API, &err) == 0);
	port = ember_http_port(srv);
	int c1 = connect_to(port), c2 = connect_to(port), c3 = connect_to(port);
	CHECK(c1 >= 0 && c2 >= 0 && c3 >= 0);
	usleep(200000);
	CHECK(write(c3, "GET /healthz HTTP/1.0\r\n\r\n", 25) >= 0 || errno == EPIPE ||
	      errno == ECONNRESET);
	char buf[64];
	ssize_t n = read(c3, buf, sizeof buf);
	CHECK(n <= 0);
	/* idle timeout 1 s: a silent connection is closed */
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	n = read(c1, buf, sizeof buf);
	gettimeofday(&t1, NULL);
	CHECK(n == 0);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6;
	CHECK(waited < 5.0);
	close(c1);
	close(c2);
	close(c3);
	ember_http_stop(srv);
}

int main(void)
{
	test_routes();
	test_server();
	return check_exit();
}
