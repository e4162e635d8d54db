/* tests/labels/test_labels.c — the cgroup labels through the exporter, on
 * synthetic profiles: the metrics registry with --metrics.labels sets (the
 * series carry the chosen labels, the cap and [other] folding hold for any
 * choice, no CPU time is lost), the focus on cgroup/container_id/pod_uid
 * regexes, and top's --group-by. */
#include "ember/merge.h"
#include "ember/metrics.h"
#include "ember/report.h"

#include "../check.h"
#include "../exporter/synth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define C1 "1111111111111111111111111111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222222222222222222222222222"
#define POD "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"

/* A leaf-only sample of fn with comm, and the cgroup labels when non-NULL. */
static void sample(ember_profile *p, uint64_t loc, int64_t count, const char *comm,
                   const char *cgroup, const char *container, const char *pod)
{
	ember_label l[5] = {
	    {.key = ember_profile_intern(p, "pid"), .num = 100},
	    {.key = ember_profile_intern(p, "comm"), .str = ember_profile_intern(p, comm)},
	};
	size_t n = 2;
	const char *kv[3][2] = {{"cgroup", cgroup}, {"container_id", container}, {"pod_uid", pod}};
	for (int i = 0; i < 3; i++)
		if (kv[i][1])
			l[n++] = (ember_label){.key = ember_profile_intern(p, kv[i][0]),
			                       .str = ember_profile_intern(p, kv[i][1])};
	int64_t v[2] = {count, count * SYNTH_PERIOD};
	ember_profile_add_sample(p, &loc, 1, v, l, n);
}

/* Two containers (one in a pod) and a process outside any, running f/g. */
static ember_profile *containers(void)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0);
	uint64_t f = synth_loc(p, m, 0x401000, 1, "f"), g = synth_loc(p, m, 0x402000, 1, "g");
	sample(p, f, 50, "app", "/docker-" C1 ".scope", C1, NULL);
	sample(p, g, 50, "app", "/docker-" C1 ".scope", C1, NULL);
	sample(p, f, 30, "app", "/k/cri-containerd-" C2 ".scope", C2, POD);
	sample(p, g, 10, "app", "/k/cri-containerd-" C2 ".scope", C2, POD);
	sample(p, f, 7, "app", "/", NULL, NULL);
	return p;
}

static char *render(const char *labels, size_t top, size_t max_series, const ember_profile *p)
{
	ember_metrics_opts o = {.top_n = top, .max_series = max_series, .labels = labels};
	ember_metrics *m;
	ember_error err;
	if (ember_metrics_new(&m, &o, &err) < 0)
		return NULL;
	ember_buf b = EMBER_BUF_INIT;
	CHECK_EQ_INT(ember_metrics_add_profile(m, p, "w1", 1000, &err), 0);
	CHECK_EQ_INT(ember_metrics_render(m, EMBER_EXPO_TEXT, &b, &err), 0);
	ember_metrics_free(m);
	return b.data;
}

/* The self seconds of the series whose label set is exactly labels, or -1. */
static double self_of(const char *text, const char *labels)
{
	char want[1024];
	snprintf(want, sizeof want, "ember_function_self_seconds_total{%s} ", labels);
	const char *at = strstr(text, want);
	return at ? strtod(at + strlen(want), NULL) : -1;
}

/* The sum of every self series: folding loses no CPU time. */
static double self_total(const char *text)
{
	double sum = 0;
	const char *k = "ember_function_self_seconds_total{";
	for (const char *at = strstr(text, k); at; at = strstr(at + 1, k)) {
		const char *v = strstr(at, "} ");
		sum += strtod(v + 2, NULL);
	}
	return sum;
}

static bool near(double a, double b)
{
	return a > b - 1e-6 && a < b + 1e-6;
}

static void metrics_labels(void)
{
	ember_profile *p = containers();
	char *t = render("comm,function,pod_uid,container_id", 0, 0, p);
	CHECK(t != NULL);
	/* rendered in the fixed order: comm, function, container_id, pod_uid */
	CHECK(near(self_of(t, "comm=\"app\",function=\"f\",container_id=\"" C1 "\",pod_uid=\"\""),
	           0.5));
	CHECK(near(self_of(t, "comm=\"app\",function=\"g\",container_id=\"" C2
	                      "\",pod_uid=\"" POD "\""),
	           0.1));
	CHECK(near(self_of(t, "comm=\"app\",function=\"f\",container_id=\"\",pod_uid=\"\""), 0.07));
	CHECK(strstr(t, "binary=") == NULL);
	free(t);

	/* the default is unchanged */
	t = render(NULL, 0, 0, p);
	CHECK(near(self_of(t, "comm=\"app\",binary=\"app\",function=\"f\""), 0.87));
	CHECK(strstr(t, "container_id") == NULL);
	free(t);

	/* no function label: one series per container, self == cumulative */
	t = render("container_id", 0, 0, p);
	CHECK(near(self_of(t, "container_id=\"" C1 "\""), 1.0));
	CHECK(near(self_of(t, "container_id=\"" C2 "\""), 0.4));
	CHECK(near(self_of(t, "container_id=\"\""), 0.07));
	free(t);

	/* the cap without a function label: the rest fold into the all-[other]
	 * series, and no CPU time is lost */
	t = render("container_id", 1, 1, p);
	CHECK(near(self_of(t, "container_id=\"" C1 "\""), 1.0));
	CHECK(near(self_of(t, "container_id=\"[other]\""), 0.47));
	CHECK(near(self_total(t), 1.47));
	free(t);

	/* with function and cgroup labels: top 1 + [other] of the same labels,
	 * then all-[other] past the cap */
	t = render("function,cgroup", 1, 3, p);
	CHECK(near(self_of(t, "function=\"f\",cgroup=\"/docker-" C1 ".scope\""), 0.5));
	CHECK(near(self_of(t, "function=\"[other]\",cgroup=\"/docker-" C1 ".scope\""), 0.5));
	CHECK(near(self_total(t), 1.47));
	CHECK(self_of(t, "function=\"[other]\",cgroup=\"[other]\"") > 0);
	free(t);

	/* bad lists */
	ember_error err;
	const char *bad[] = {"", "comm,", ",comm", "comm,,function", "comm,comm", "pod", "COMM"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_EQ_INT(ember_metrics_labels_check(bad[i], &err), -EINVAL);
	CHECK_EQ_INT(ember_metrics_labels_check(EMBER_METRICS_LABELS, &err), 0);
	ember_metrics_opts o = {.labels = "comm,nope"};
	ember_metrics *m;
	CHECK_EQ_INT(ember_metrics_new(&m, &o, &err), -EINVAL);
	CHECK(strstr(err.msg, "nope") != NULL);
	ember_profile_free(p);
}

static int64_t total(const ember_profile *p)
{
	int64_t n = 0;
	for (size_t i = 0; i < p->n_samples; i++)
		n += p->samples[i].values[0];
	return n;
}

static void focus(void)
{
	ember_profile *p = containers(), *q = NULL;
	ember_error err;
	ember_focus f = {.container_id = "^1+$"};
	CHECK_EQ_INT(ember_profile_focus_by(p, &f, &q, &err), 0);
	CHECK_EQ_INT(total(q), 100);
	ember_profile_free(q);
	f = (ember_focus){.pod_uid = "^$"}; /* outside any pod */
	CHECK_EQ_INT(ember_profile_focus_by(p, &f, &q, &err), 0);
	CHECK_EQ_INT(total(q), 107);
	ember_profile_free(q);
	f = (ember_focus){.pod_uid = "5f60", .function = "^g$"};
	CHECK_EQ_INT(ember_profile_focus_by(p, &f, &q, &err), 0);
	CHECK_EQ_INT(total(q), 10);
	ember_profile_free(q);
	f = (ember_focus){.cgroup = "cri-containerd"};
	CHECK_EQ_INT(ember_profile_focus_by(p, &f, &q, &err), 0);
	CHECK_EQ_INT(total(q), 40);
	ember_profile_free(q);
	f = (ember_focus){.container_id = "(("};
	CHECK_EQ_INT(ember_profile_focus_by(p, &f, &q, &err), -EINVAL);
	CHECK(strstr(err.msg, "container_id") != NULL);
	CHECK(ember_focus_empty(&(ember_focus){0}));
	CHECK(!ember_focus_empty(&f));
	ember_profile_free(p);
}

static void top(void)
{
	ember_profile *p = containers();
	ember_buf b = EMBER_BUF_INIT;
	ember_error err;
	CHECK_EQ_INT(ember_report_top_by(p, 0, "container_id", &b, &err), 0);
	CHECK(strstr(b.data, "container_id  function  binary\n") != NULL);
	/* the groups' totals, largest first, above the rows */
	CHECK(strstr(b.data, "     total  total%  container_id\n"
	                     "     1.00s  68.03%  " C1 "\n"
	                     "     0.40s  27.21%  " C2 "\n"
	                     "     0.07s   4.76%  -\n\n") != NULL);
	CHECK(strstr(b.data, "0.50s  34.01%  34.01%      0.50s  34.01%  " C1 "  f  app\n") != NULL);
	CHECK(strstr(b.data, "  -  f  app\n") != NULL);
	ember_buf_reset(&b);
	CHECK_EQ_INT(ember_report_top_by(p, 2, "pod_uid,comm", &b, &err), 0);
	CHECK(strstr(b.data, "pod_uid  comm  function  binary\n") != NULL);
	CHECK(strstr(b.data, "  -  app  f  app\n") != NULL);
	ember_buf_reset(&b);
	CHECK_EQ_INT(ember_report_top_by(p, 0, "comm,comm", &b, &err), -EINVAL);
	CHECK_EQ_INT(ember_report_top_by(p, 0, "a,,b", &b, &err), -EINVAL);
	ember_buf_free(&b);
	ember_profile_free(p);
}

int main(void)
{
	metrics_labels();
	focus();
	top();
	return check_exit();
}
