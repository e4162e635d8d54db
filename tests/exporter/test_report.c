/* tests/exporter/test_report.c — folded stacks (root first, inline frames
 * expanded, sorted, equal stacks summed, unsymbolized frames named) and the
 * top table (flat/cum, percentages, sorted, row limit). */
#include "ember/report.h"
#include "../check.h"
#include "synth.h"

#include <stdlib.h>
#include <string.h>

static ember_profile *profile(void)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0);
	uint64_t lw = synth_loc(p, m, 0x401000, 2, "inl", "work");
	uint64_t lm = synth_loc(p, m, 0x402000, 1, "main");
	uint64_t lr = synth_loc(p, m, 0x40abcd, 0);
	uint64_t ls = synth_loc(p, m, 0x403000, 1, "odd;name\nhere");
	synth_sample(p, "app", 7, 2, lw, lm);
	synth_sample(p, "app", 2, 2, lr, lm);
	synth_sample(p, "app", 1, 1, lm);
	synth_sample(p, "other", 3, 2, lw, lm);   /* same stack, other labels: summed */
	synth_sample(p, "app", 0, 1, ls);         /* zero: not printed */
	synth_sample(p, "app", 4, 3, ls, lm, lm); /* recursion */
	return p;
}

static void test_folded(void)
{
	ember_profile *p = profile();
	ember_buf b = EMBER_BUF_INIT;
	ember_error err;
	CHECK(ember_report_folded(p, &b, &err) == 0);
	CHECK(b.data && strcmp(b.data, "main 1\n"
	                               "main;app+0xabcd 2\n"
	                               "main;main;odd:name here 4\n"
	                               "main;work;inl 10\n") == 0);
	fprintf(stderr, "%s", b.data);
	ember_buf_free(&b);
	ember_profile_free(p);
}

static void test_top(void)
{
	ember_profile *p = profile();
	ember_buf b = EMBER_BUF_INIT;
	ember_error err;
	CHECK(ember_report_top(p, 0, &b, &err) == 0);
	fprintf(stderr, "%s", b.data);
	CHECK(strstr(b.data, "Showing nodes accounting for 0.17s, 100.00% of 0.17s total\n") !=
	      NULL);
	CHECK(strstr(b.data, "      flat   flat%    sum%        cum    cum%  function  binary\n"));
	CHECK(strstr(b.data, "\n     0.10s  58.82%  58.82%      0.10s  58.82%  inl  app\n"));
	CHECK(strstr(b.data,
	             "\n     0.04s  23.53%  82.35%      0.04s  23.53%  odd;name here  app\n"));
	CHECK(strstr(b.data, "\n     0.02s  11.76%  94.12%      0.02s  11.76%  app+0xabcd  app\n"));
	/* main: recursion counted once in cum */
	CHECK(strstr(b.data, "\n     0.01s   5.88% 100.00%      0.17s 100.00%  main  app\n"));
	CHECK(strstr(b.data, "\n     0.00s   0.00% 100.00%      0.10s  58.82%  work  app\n"));
	/* rows in flat order */
	CHECK(strstr(b.data, "  inl ") < strstr(b.data, "  odd;"));
	CHECK(strstr(b.data, "  main ") < strstr(b.data, "  work "));
	ember_buf_reset(&b);
	CHECK(ember_report_top(p, 2, &b, &err) == 0);
	CHECK(strstr(b.data, "Showing nodes accounting for 0.14s, 82.35% of 0.17s total\n"
	                     "Dropped 3 nodes\n") != NULL);
	CHECK(strstr(b.data, "  main ") == NULL);
	ember_buf_free(&b);
	ember_profile_free(p);

	/* without CPU time: counts */
	p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	uint64_t l = ember_profile_add_location(p, 0, 0x10);
	int64_t v = 3;
	ember_profile_add_sample(p, &l, 1, &v, NULL, 0);
	CHECK(ember_report_top(p, 0, &b, &err) == 0);
	CHECK(strstr(b.data, "\n         3 100.00% 100.00%          3 100.00%  0x10  [unknown]\n"));
	ember_buf_free(&b);
	ember_profile_free(p);
}

int main(void)
{
	test_folded();
	test_top();
	return check_exit();
}
