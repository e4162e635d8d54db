/* tests/exporter/test_metrics.c — the per-function metrics registry and its
 * exposition: self and cumulative seconds (recursion counted once, inline
 * frames as functions), [other] folding and the series cap, series that
 * never vanish or go down, hostile names escaped, long names shortened
 * without colliding, exemplars and their 128-code-point limit, both formats'
 * TYPE/_total rules, rendering while another thread adds. */
#include "ember/metrics.h"
#include "../check.h"
#include "synth.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SELF "ember_function_self_seconds_total"
#define CUM "ember_function_cumulative_seconds_total"

static char *render(ember_metrics *m, ember_expo_format f)
{
	ember_buf b = EMBER_BUF_INIT;
	ember_error err;
	CHECK(ember_metrics_render(m, f, &b, &err) == 0);
	return b.data ? b.data : strdup("");
}

/* The value of sample `name{labels}` in text, or -1 when absent. */
static double value_of(const char *text, const char *name, const char *labels)
{
	char prefix[1024];
	snprintf(prefix, sizeof prefix, "%s{%s} ", name, labels);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			return strtod(l + strlen(prefix), NULL);
	return -1;
}

static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0;
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		n += strncmp(l, prefix, strlen(prefix)) == 0;
	return n;
}

static double near(double a, double b)
{
	return a > b - 1e-9 && a < b + 1e-9;
}

static ember_metrics *registry(size_t top_n, const char *regex, size_t max_series)
{
	ember_metrics_opts o = {top_n, regex, max_series, NULL};
	ember_metrics *m = NULL;
	ember_error err;
	CHECK(ember_metrics_new(&m, &o, &err) == 0);
	return m;
}

static void add(ember_metrics *m, const ember_profile *p, const char *id, int64_t ts)
{
	ember_error err;
	int rc = ember_metrics_add_profile(m, p, id, ts, &err);
	if (rc < 0)
		fprintf(stderr, "add_profile: %s\n", err.msg);
	CHECK(rc == 0);
}

#define L(fn) "comm=\"app\",binary=\"app\",function=\"" fn "\""

static void test_self_cumulative(void)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0x1000);
	uint64_t lwork = synth_loc(p, m, 0x401000, 2, "inl", "work"); /* inl inlined in work */
	uint64_t lrec = synth_loc(p, m, 0x402000, 1, "rec");
	uint64_t lmain = synth_loc(p, m, 0x403000, 1, "main");
	uint64_t lraw = synth_loc(p, m, 0x404321, 0);
	uint64_t lnomap = ember_profile_add_location(p, 0, 0xdead);
	/* recursion: rec appears three times, counts once per sample */
	synth_sample(p, "app", 10, 5, lwork, lrec, lrec, lrec, lmain);
	synth_sample(p, "app", 5, 2, lrec, lmain);
	synth_sample(p, "app", 2, 2, lraw, lmain);
	synth_sample(p, "app", 1, 1, lnomap);
	ember_metrics *r = registry(0, NULL, 0);
	add(r, p, "w1", 1700000010000);
	char *t = render(r, EMBER_EXPO_TEXT);
	CHECK(near(value_of(t, SELF, L("inl")), 0.10));
	CHECK(near(value_of(t, SELF, L("work")), 0));
	CHECK(near(value_of(t, CUM, L("work")), 0.10));
	CHECK(near(value_of(t, CUM, L("inl")), 0.10));
	CHECK(near(value_of(t, SELF, L("rec")), 0.05));
	CHECK(near(value_of(t, CUM, L("rec")), 0.15));
	CHECK(near(value_of(t, SELF, L("main")), 0));
	CHECK(near(value_of(t, CUM, L("main")), 0.17));
	/* unsymbolized: binary + file offset (0x404321 - 0x400000 + 0x1000) */
	CHECK(near(value_of(t, SELF, L("app+0x5321")), 0.02));
	CHECK(
	    near(value_of(t, SELF, "comm=\"app\",binary=\"[unknown]\",function=\"0xdead\""), 0.01));
	/* text 0.0.4: the TYPE line names the sample, no exemplars */
	CHECK(strstr(t, "# TYPE " SELF " counter\n") != NULL);
	CHECK(strstr(t, "# HELP " CUM " ") != NULL);
	CHECK(strstr(t, " # {") == NULL);
	CHECK_EQ_INT(ember_metrics_series(r), 6);
	CHECK_EQ_INT(ember_metrics_dropped(r), 0);
	free(t);

	/* OpenMetrics: family without _total, exemplar on every _total sample */
	t = render(r, EMBER_EXPO_OPENMETRICS);
	CHECK(strstr(t, "# TYPE ember_function_self_seconds counter\n") != NULL);
	CHECK(strstr(t, "# TYPE ember_function_cumulative_seconds counter\n") != NULL);
	CHECK(strstr(t, SELF "{" L("inl") "} 0.1 # {profile_id=\"w1\"} 0.1 1700000010.000\n"));
	CHECK(strstr(t, CUM "{" L("rec") "} 0.15 # {profile_id=\"w1\"} 0.15 1700000010.000\n"));
	CHECK(strstr(t, "# EOF") == NULL); /* the caller ends the exposition */
	free(t);

	/* a second window doubles the counters and moves the exemplars */
	add(r, p, "w2", 1700000020000);
	t = render(r, EMBER_EXPO_OPENMETRICS);
	CHECK(strstr(t, SELF "{" L("inl") "} 0.2 # {profile_id=\"w2\"} 0.1 1700000020.000\n"));
	free(t);
	ember_metrics_free(r);
	ember_profile_free(p);
}

static const char *const five[] = {"f1", "f2", "f3", "f4", "f5"};
static const int64_t five_counts[] = {50, 40, 30, 20, 10};

static void test_other_folding(void)
{
	ember_profile *p = synth_flat("app", 5, five, five_counts);
	ember_metrics *r = registry(2, NULL, 0);
	add(r, p, "w1", 1);
	char *t = render(r, EMBER_EXPO_TEXT);
	CHECK(near(value_of(t, SELF, L("f1")), 0.5));
	CHECK(near(value_of(t, SELF, L("f2")), 0.4));
	CHECK(value_of(t, SELF, L("f3")) < 0);
	CHECK(near(value_of(t, SELF, L("[other]")), 0.6));
	CHECK(near(value_of(t, CUM, L("[other]")), 0.6));
	CHECK_EQ_INT(ember_metrics_series(r), 3);
	CHECK_EQ_INT(ember_metrics_dropped(r), 3);
	free(t);
	ember_metrics_free(r);

	/* the allow-list adds f5 beyond the top 2 */
	r = registry(2, "^f5$", 0);
	add(r, p, "w1", 1);
	t = render(r, EMBER_EXPO_TEXT);
	CHECK(near(value_of(t, SELF, L("f5")), 0.1));
	CHECK(near(value_of(t, SELF, L("[other]")), 0.5));
	free(t);
	ember_metrics_free(r);

	/* the cap: 3 series, then everything goes to the one overflow series */
	r = registry(50, NULL, 3);
	add(r, p, "w1", 1);
	t = render(r, EMBER_EXPO_TEXT);
	CHECK(near(value_of(t, SELF, L("f3")), 0.3));
	CHECK(value_of(t, SELF, L("f4")) < 0);
	CHECK(value_of(t, SELF, L("[other]")) < 0);
	CHECK(near(value_of(t, SELF, "comm=\"[other]\",binary=\"[other]\",function=\"[other]\""),
	           0.3));
	CHECK_EQ_INT(ember_metrics_series(r), 4);
	free(t);
	ember_metrics_free(r);
	ember_profile_free(p);

	/* two folded callers on one stack: [other]'s cumulative counts once */
	p = synth_new();
	uint64_t mp = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0);
	synth_sample(p, "app", 4, 3, synth_loc(p, mp, 0x401000, 1, "leaf"),
	             synth_loc(p, mp, 0x402000, 1, "g1"), synth_loc(p, mp, 0x403000, 1, "g2"));
	r = registry(1, NULL, 0);
	add(r, p, "w1", 1);
	t = render(r, EMBER_EXPO_TEXT);
	CHECK(near(value_of(t, SELF, L("leaf")), 0.04));
	CHECK(near(value_of(t, SELF, L("[other]")), 0));
	CHECK(near(value_of(t, CUM, L("[other]")), 0.04));
	CHECK_EQ_INT(ember_metrics_dropped(r), 2);
	free(t);
	ember_metrics_free(r);
	ember_profile_free(p);

	ember_error err;
	ember_metrics *bad = NULL;
	ember_metrics_opts o = {0, "(", 0, NULL};
	CHECK(ember_metrics_new(&bad, &o, &err) == -EINVAL);
	CHECK(strstr(err.msg, "regex") != NULL);
}

/* Every series of `before` is in `after` with a value at least as large. */
static void check_monotonic(const char *before, const char *after)
{
	for (const char *l = before; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char line[1024], name[1024], labels[1024];
		snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
		if (line[0] == '#')
			continue;
		char *open = strchr(line, '{'), *close = strrchr(line, '}');
		CHECK(open && close);
		if (!open || !close)
			continue;
		snprintf(name, sizeof name, "%.*s", (int)(open - line), line);
		snprintf(labels, sizeof labels, "%.*s", (int)(close - open - 1), open + 1);
		double a = strtod(close + 2, NULL), b = value_of(after, name, labels);
		if (b < a)
			fprintf(stderr, "went down or vanished: %s{%s} %g -> %g\n", name, labels, a,
			        b);
		CHECK(b >= a);
	}
}

static void test_never_vanish(void)
{
	ember_metrics *r = registry(1, NULL, 0);
	const char *names[] = {"hot_then", "hot_later"};
	int64_t a_counts[] = {90, 10}, b_counts[] = {5, 80}, c_counts[] = {0, 0};
	ember_profile *a = synth_flat("app", 2, names, a_counts);
	ember_profile *b = synth_flat("app", 2, names, b_counts);
	ember_profile *c = synth_flat("app", 2, names, c_counts);
	add(r, a, "a", 1);
	char *ta = render(r, EMBER_EXPO_TEXT);
	CHECK(near(value_of(ta, SELF, L("hot_then")), 0.9));
	CHECK(near(value_of(ta, SELF, L("[other]")), 0.1));
	add(r, b, "b", 2);
	char *tb = render(r, EMBER_EXPO_TEXT);
	/* hot_then is no longer in the top 1 but keeps its series and its time */
	CHECK(near(value_of(tb, SELF, L("hot_then")), 0.95));
	CHECK(near(value_of(tb, SELF, L("hot_later")), 0.8));
	CHECK(near(value_of(tb, SELF, L("[other]")), 0.1));
	check_monotonic(ta, tb);
	add(r, c, "c", 3); /* an idle window: nothing vanishes */
	char *tc = render(r, EMBER_EXPO_TEXT);
	check_monotonic(tb, tc);
	CHECK_EQ_INT(count_lines(tc, SELF "{"), 3);
	free(ta);
	free(tb);
	free(tc);
	ember_profile_free(a);
	ember_profile_free(b);
	ember_profile_free(c);
	ember_metrics_free(r);
}

static void test_escaping(void)
{
	const char *names[] = {"quote\"back\\slash\nnewline",
	                       "gr\xc3\xbc\xc3\x9f"
	                       "e_\xe2\x82\xac",
	                       "bad\xff\xfe"
	                       "bytes"};
	int64_t counts[] = {3, 2, 1};
	ember_profile *p = synth_flat("we\"ird\\comm", 3, names, counts);
	ember_metrics *r = registry(0, NULL, 0);
	add(r, p, "id\"with\\quote", 1000);
	char *t = render(r, EMBER_EXPO_OPENMETRICS);
	CHECK(strstr(t, "function=\"quote\\\"back\\\\slash\\nnewline\"") != NULL);
	CHECK(strstr(t, "comm=\"we\\\"ird\\\\comm\"") != NULL);
	CHECK(strstr(t, "function=\"gr\xc3\xbc\xc3\x9f"
	                "e_\xe2\x82\xac\"") != NULL);
	CHECK(strstr(t, "function=\"bad\xef\xbf\xbd\xef\xbf\xbd"
	                "bytes\"") != NULL);
	CHECK(strstr(t, "# {profile_id=\"id\\\"with\\\\quote\"}") != NULL);
	/* no raw newline inside any sample line: every line starts as it should */
	for (const char *l = t; *l; l = strchr(l, '\n') + 1) {
		CHECK(*l == '#' || strncmp(l, "ember_function_", 15) == 0);
		if (!strchr(l, '\n'))
			break;
	}
	free(t);
	ember_metrics_free(r);
	ember_profile_free(p);
}

static void test_long_names(void)
{
	char a[1001], b[1001];
	memset(a, 'x', 1000);
	a[1000] = '\0';
	memcpy(b, a, sizeof a);
	a[999] = 'A';
	b[999] = 'B';
	const char *names[] = {a, b};
	int64_t counts[] = {2, 1};
	ember_profile *p = synth_flat("app", 2, names, counts);
	ember_metrics *r = registry(0, NULL, 0);
	add(r, p, "w", 1);
	char *t = render(r, EMBER_EXPO_TEXT);
	CHECK_EQ_INT(count_lines(t, SELF "{"), 2);
	/* both shortened, distinct */
	char first[400] = "", second[400] = "";
	for (const char *l = t; *l; l = strchr(l, '\n') + 1) {
		const char *f = strstr(l, "function=\"");
		if (strncmp(l, SELF "{", strlen(SELF) + 1) == 0 && f) {
			f += 10;
			size_t n = (size_t)(strchr(f, '"') - f);
			CHECK(n <= 200);
			snprintf(*first ? second : first, 400, "%.*s", (int)n, f);
		}
	}
	CHECK(*first && *second && strcmp(first, second) != 0);
	CHECK(strchr(first, '~') != NULL);
	CHECK(near(value_of(t, SELF, "comm=\"app\",binary=\"app\",function=\"x") < 0, 1));
	free(t);

	/* a function literally named like a shortened name does not take it over */
	const char *names2[] = {first};
	int64_t one[] = {7};
	ember_profile *q = synth_flat("app", 1, names2, one);
	add(r, q, "w2", 2);
	t = render(r, EMBER_EXPO_TEXT);
	CHECK_EQ_INT(count_lines(t, SELF "{"), 3);
	char labels[600];
	snprintf(labels, sizeof labels, "comm=\"app\",binary=\"app\",function=\"%s~2\"", first);
	CHECK(near(value_of(t, SELF, labels), 0.07));
	free(t);
	ember_profile_free(q);
	ember_profile_free(p);
	ember_metrics_free(r);
}

static void test_exemplar_cap(void)
{
	const char *names[] = {"f"};
	int64_t counts[] = {1};
	ember_profile *p = synth_flat("app", 1, names, counts);
	/* "profile_id" is 10 code points: ids of 118 fit, 119 do not; counted in
	 * code points, not bytes (é is two bytes) */
	char fits[2 * 118 + 1] = "", over[2 * 119 + 1] = "";
	for (int i = 0; i < 118; i++)
		strcat(fits, "\xc3\xa9");
	snprintf(over, sizeof over, "%s\xc3\xa9", fits);
	ember_metrics *r = registry(0, NULL, 0);
	add(r, p, fits, 1);
	char *t = render(r, EMBER_EXPO_OPENMETRICS);
	CHECK(strstr(t, "# {profile_id=\"\xc3\xa9") != NULL);
	free(t);
	add(r, p, over, 2);
	t = render(r, EMBER_EXPO_OPENMETRICS);
	CHECK(strstr(t, " # {") == NULL); /* dropped, not cut */
	CHECK(near(value_of(t, SELF, L("f")), 0.02));
	free(t);
	ember_metrics_free(r);
	ember_profile_free(p);
}

static void test_helpers(void)
{
	ember_buf b = EMBER_BUF_INIT;
	ember_expo_family(&b, EMBER_EXPO_TEXT, "ember_samples", EMBER_COUNTER, "Samples taken.");
	ember_expo_sample(&b, EMBER_EXPO_TEXT, "ember_samples", EMBER_COUNTER, NULL, 12);
	ember_expo_family(&b, EMBER_EXPO_OPENMETRICS, "ember_up", EMBER_GAUGE, "Up\\ok\nyes");
	ember_expo_sample(&b, EMBER_EXPO_OPENMETRICS, "ember_up", EMBER_GAUGE, "a=\"b\"", 0.1);
	ember_expo_sample_exemplar(&b, EMBER_EXPO_OPENMETRICS, "ember_up", EMBER_GAUGE, NULL, 1,
	                           "x=\"y\"", 1, 1);
	CHECK(strcmp(b.data, "# HELP ember_samples_total Samples taken.\n"
	                     "# TYPE ember_samples_total counter\n"
	                     "ember_samples_total 12\n"
	                     "# HELP ember_up Up\\\\ok\\nyes\n"
	                     "# TYPE ember_up gauge\n"
	                     "ember_up{a=\"b\"} 0.1\n"
	                     "ember_up 1\n") == 0);
	ember_buf_reset(&b);
	ember_expo_value(&b, 0.1 + 0.2);
	ember_buf_putc(&b, ' ');
	ember_expo_value(&b, 1.0 / 0.0);
	ember_buf_putc(&b, ' ');
	ember_expo_value(&b, 0.0 / 0.0);
	ember_buf_putc(&b, ' ');
	ember_expo_value(&b, 1e21);
	CHECK(strcmp(b.data, "0.30000000000000004 +Inf NaN 1e+21") == 0);
	ember_buf_free(&b);
	CHECK(strcmp(ember_expo_content_type(EMBER_EXPO_OPENMETRICS),
	             "application/openmetrics-text; version=1.0.0; charset=utf-8") == 0);
	CHECK(strcmp(ember_expo_content_type(EMBER_EXPO_TEXT),
	             "text/plain; version=0.0.4; charset=utf-8") == 0);
	CHECK_EQ_INT(ember_expo_codepoints("a\xc3\xa9\xff"), 3);

	/* not a CPU profile: refused */
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "alloc_space", "bytes");
	ember_metrics *r = registry(0, NULL, 0);
	ember_error err;
	CHECK(ember_metrics_add_profile(r, p, "x", 1, &err) == -EINVAL);
	CHECK(strstr(err.msg, "not a CPU profile") != NULL);
	ember_metrics_free(r);
	ember_profile_free(p);

	/* no cpu/nanoseconds: samples x period */
	p = synth_new_kind("other", "things");
	uint64_t m = synth_mapping(p, "/bin/x", "", 0, 0x1000, 0);
	synth_sample(p, "x", 3, 1, synth_loc(p, m, 0x10, 1, "g"));
	r = registry(0, NULL, 0);
	add(r, p, NULL, 1);
	char *t = render(r, EMBER_EXPO_OPENMETRICS);
	CHECK(near(value_of(t, SELF, "comm=\"x\",binary=\"x\",function=\"g\""), 0.03));
	CHECK(strstr(t, " # {") == NULL); /* no profile id, no exemplar */
	free(t);
	ember_metrics_free(r);
	ember_profile_free(p);
}

struct race {
	ember_metrics *r;
	ember_profile *p;
};

static void *adder(void *arg)
{
	struct race *x = arg;
	for (int i = 0; i < 200; i++)
		ember_metrics_add_profile(x->r, x->p, "w", i, NULL);
	return NULL;
}

static void test_concurrent_render(void)
{
	const char *names[] = {"f1", "f2", "f3"};
	int64_t counts[] = {1, 1, 1};
	struct race x = {registry(0, NULL, 0), synth_flat("app", 3, names, counts)};
	pthread_t t;
	pthread_create(&t, NULL, adder, &x);
	for (int i = 0; i < 200; i++) {
		char *s = render(x.r, EMBER_EXPO_OPENMETRICS);
		free(s);
	}
	pthread_join(t, NULL);
	char *s = render(x.r, EMBER_EXPO_TEXT);
	CHECK(near(value_of(s, SELF, L("f2")), 2.0));
	free(s);
	ember_metrics_free(x.r);
	ember_profile_free(x.p);
}

int main(void)
{
	test_self_cumulative();
	test_other_folding();
	test_never_vanish();
	test_escaping();
	test_long_names();
	test_exemplar_cap();
	test_helpers();
	test_concurrent_render();
	return check_exit();
}
