/* tests/exporter/test_robust.c — everything the exporter does to a profile
 * survives whatever the pprof reader accepts: thousands of byte-mutated
 * encodings of a synthetic profile are decoded, and each one that decodes
 * goes through metrics (both formats), folded, top, focus and merge. Under
 * ASan/UBSan this is the check that hostile files (huge values, odd ids,
 * broken UTF-8) cannot crash or overflow; in any build the exposition must
 * keep one sample per line. */
#include "ember/merge.h"
#include "ember/metrics.h"
#include "ember/pprof.h"
#include "ember/report.h"
#include "../check.h"
#include "synth.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static ember_profile *seed(void)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0x1000);
	uint64_t k = synth_mapping(p, "[kernel.kallsyms]", "", 0xffffffff81000000ULL,
	                           0xffffffff82000000ULL, 0);
	uint64_t lw = synth_loc(p, m, 0x401000, 2, "inl\"q", "work\\");
	uint64_t lm = synth_loc(p, m, 0x402000, 1, "main");
	uint64_t lr = synth_loc(p, m, 0x403000, 0);
	uint64_t lk = synth_loc(p, k, 0xffffffff81001234ULL, 1, "do_syscall_64");
	synth_sample(p, "app", 7, 3, lw, lm, lm);
	synth_sample(p, "app", 2, 2, lr, lm);
	synth_sample(p, "we\"ird", 3, 3, lk, lw, lm);
	return p;
}

static void check_lines(const ember_buf *b)
{
	for (const char *l = b->data; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		CHECK(*l == '#' || strncmp(l, "ember_function_", 15) == 0);
}

static void exercise(const ember_profile *p, ember_metrics *acc)
{
	ember_error err;
	ember_buf b = EMBER_BUF_INIT;
	ember_metrics *m = NULL;
	ember_metrics_opts o = {.top_n = 2, .max_series = 5};
	if (ember_metrics_new(&m, &o, &err) == 0) {
		if (ember_metrics_add_profile(m, p, "x", 1, &err) == 0) {
			CHECK(ember_metrics_render(m, EMBER_EXPO_TEXT, &b, &err) == 0);
			CHECK(ember_metrics_render(m, EMBER_EXPO_OPENMETRICS, &b, &err) == 0);
			check_lines(&b);
			CHECK(ember_metrics_series(m) <= 6);
		}
		ember_metrics_free(m);
	}
	ember_metrics_add_profile(acc, p, "acc", 2, &err);
	ember_buf_reset(&b);
	ember_report_folded(p, &b, &err);
	ember_buf_reset(&b);
	ember_report_top(p, 5, &b, &err);
	ember_buf_free(&b);
	ember_profile *f = NULL;
	if (ember_profile_focus(p, "a|\\\\", &f, &err) == 0) {
		char msg[256];
		CHECK(ember_profile_check(f, msg, sizeof msg) == 0);
		ember_profile_free(f);
	}
	ember_merger *mg = NULL;
	ember_profile *out = NULL;
	if (ember_merger_new(&mg, &err) == 0) {
		if (ember_merger_add(mg, p, &err) == 0 && ember_merger_add(mg, p, &err) == 0 &&
		    ember_merger_result(mg, &out, &err) == 0) {
			char msg[256];
			CHECK(ember_profile_check(out, msg, sizeof msg) == 0);
			ember_buf enc = EMBER_BUF_INIT;
			CHECK(ember_pprof_encode(out, EMBER_COMPRESS_NONE, &enc, &err) == 0);
			ember_profile *back = NULL;
			CHECK(ember_pprof_decode(enc.data, enc.len, &back, &err) == 0);
			ember_profile_free(back);
			ember_buf_free(&enc);
			ember_profile_free(out);
		}
		ember_merger_free(mg);
	}
}

int main(void)
{
	ember_profile *p = seed();
	ember_buf enc = EMBER_BUF_INIT;
	ember_error err;
	CHECK(ember_pprof_encode(p, EMBER_COMPRESS_NONE, &enc, &err) == 0);
	ember_metrics *acc = NULL;
	CHECK(ember_metrics_new(&acc, NULL, &err) == 0);
	exercise(p, acc);
	size_t decoded = 0;
	char *buf = malloc(enc.len);
	for (int iter = 0; iter < 10000; iter++) {
		memcpy(buf, enc.data, enc.len);
		int flips = 1 + (int)(next() % 4);
		for (int i = 0; i < flips; i++) {
			size_t at = next() % enc.len;
			switch (next() % 3) {
			case 0:
				buf[at] = (char)next();
				break;
			case 1:
				buf[at] ^= (char)(1u << (next() % 8));
				break;
			default:
				buf[at] = (char)"\"\\\n\xff\x80\x7f"[next() % 6];
				break;
			}
		}
		ember_profile *q = NULL;
		if (ember_pprof_decode(buf, enc.len, &q, &err) == 0) {
			decoded++;
			exercise(q, acc);
			ember_profile_free(q);
		} else {
			CHECK(strchr(err.msg, '\n') == NULL);
		}
	}
	ember_buf b = EMBER_BUF_INIT;
	CHECK(ember_metrics_render(acc, EMBER_EXPO_OPENMETRICS, &b, &err) == 0);
	check_lines(&b);
	ember_buf_free(&b);
	fprintf(stderr, "%zu of 10000 mutations decoded and went through every exporter\n",
	        decoded);
	CHECK(decoded > 500); /* the mutations must reach the exporters */
	free(buf);
	ember_buf_free(&enc);
	ember_metrics_free(acc);
	ember_profile_free(p);
	return check_exit();
}
