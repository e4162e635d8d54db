/* tests/exporter/fixture.c — inputs for the exporter's end-to-end tests.
 *
 *   fixture metrics text|openmetrics   render a registry fed with hostile
 *                                      names to stdout (OpenMetrics ends in
 *                                      "# EOF"), for promtool and Prometheus
 *   fixture write KIND PATH            write a profile file: good, raw, other
 *                                      (a second process of the same binary
 *                                      at another address), alloc (other
 *                                      sample types), and corrupt ones:
 *                                      bad-string, dangling-location,
 *                                      dangling-function, truncated,
 *                                      truncated-gzip, empty, garbage
 */
#include "ember/metrics.h"
#include "ember/pprof.h"
#include "synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static ember_profile *process(uint64_t base, int64_t pid, bool symbolized)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", base, base + 0x100000, 0x1000);
	int n = symbolized ? 1 : 0;
	uint64_t lw = synth_loc(p, m, base + 0x1100, symbolized ? 2 : 0, "inl", "work");
	uint64_t lm = synth_loc(p, m, base + 0x1200, n, "main");
	uint64_t lo = synth_loc(p, m, base + 0x1300, n, "other_fn");
	synth_sample(p, "app", 30, 2, lw, lm);
	synth_sample(p, "app", 5, 1, lm);
	synth_sample(p, "app", 15, 2, lo, lm);
	for (size_t i = 0; i < p->n_samples; i++)
		p->samples[i].labels[0].num = pid;
	if (!symbolized)
		p->mappings[0].has_functions = p->mappings[0].has_filenames =
		    p->mappings[0].has_line_numbers = p->mappings[0].has_inline_frames = false;
	return p;
}

static int metrics(ember_expo_format f)
{
	const char *names[] = {"main",
	                       "quote\"back\\slash\nnewline",
	                       "gr\xc3\xbc\xc3\x9f"
	                       "e",
	                       "bad\xff"
	                       "byte",
	                       "std::vector<int, std::allocator<int> >::push_back",
	                       "f5",
	                       "f6"};
	int64_t counts[] = {40, 30, 20, 10, 5, 3, 1};
	ember_metrics_opts o = {.top_n = 5};
	ember_metrics *m;
	ember_error err;
	if (ember_metrics_new(&m, &o, &err) < 0)
		return 1;
	ember_profile *a = synth_flat("app", 7, names, counts);
	ember_profile *b = synth_flat("we\"ird comm", 7, names, counts);
	/* exemplars are recent (Prometheus queries them by time) */
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	ember_metrics_add_profile(m, a, "window-a", now_ms - 20000, &err);
	ember_metrics_add_profile(m, b, "window-b", now_ms - 10000, &err);
	ember_buf out = EMBER_BUF_INIT;
	ember_metrics_render(m, f, &out, &err);
	ember_expo_family(&out, f, "ember_samples", EMBER_COUNTER, "Samples taken.");
	ember_expo_sample(&out, f, "ember_samples", EMBER_COUNTER, NULL, 100);
	if (f == EMBER_EXPO_OPENMETRICS)
		ember_buf_puts(&out, "# EOF\n");
	fwrite(out.data, 1, out.len, stdout);
	ember_buf_free(&out);
	ember_profile_free(a);
	ember_profile_free(b);
	ember_metrics_free(m);
	return 0;
}

static int write_kind(const char *kind, const char *path)
{
	ember_profile *p = process(0x400000, 1, true);
	ember_compression c = EMBER_COMPRESS_NONE;
	size_t cut = 0; /* 0: whole file; else keep len / cut bytes */
	if (strcmp(kind, "good") == 0) {
		c = EMBER_COMPRESS_GZIP;
	} else if (strcmp(kind, "raw") == 0) {
		ember_profile_free(p);
		p = process(0x400000, 1, false);
	} else if (strcmp(kind, "other") == 0) {
		ember_profile_free(p);
		p = process(0x7f1234500000, 2, true);
		p->time_nanos += 10000000000LL;
		c = EMBER_COMPRESS_ZSTD;
	} else if (strcmp(kind, "alloc") == 0) {
		ember_profile_free(p);
		p = synth_new_kind("alloc_space", "bytes");
	} else if (strcmp(kind, "bad-string") == 0) {
		p->samples[0].labels[1].str = 9999;
	} else if (strcmp(kind, "dangling-location") == 0) {
		p->samples[0].location_ids[0] = 99;
	} else if (strcmp(kind, "dangling-function") == 0) {
		p->locations[0].lines[0].function_id = 77;
	} else if (strcmp(kind, "truncated") == 0) {
		cut = 2;
	} else if (strcmp(kind, "truncated-gzip") == 0) {
		c = EMBER_COMPRESS_GZIP;
		cut = 2;
	} else if (strcmp(kind, "empty") == 0) {
		cut = SIZE_MAX;
	} else if (strcmp(kind, "garbage") == 0) {
		ember_profile_free(p);
		ember_error err;
		static const char junk[] = "\x0a\xff\xff\xff\xff\x0f garbage";
		return ember_write_file_atomic(path, junk, sizeof junk - 1, false, &err) < 0;
	} else {
		fprintf(stderr, "fixture: unknown kind %s\n", kind);
		ember_profile_free(p);
		return 2;
	}
	ember_buf b = EMBER_BUF_INIT;
	ember_error err;
	int rc = ember_pprof_encode(p, c, &b, &err);
	size_t len = cut == SIZE_MAX ? 0 : cut ? b.len / cut : b.len;
	if (rc == 0)
		rc = ember_write_file_atomic(path, b.data, len, false, &err);
	if (rc < 0)
		fprintf(stderr, "fixture: %s\n", err.msg);
	ember_buf_free(&b);
	ember_profile_free(p);
	return rc < 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "metrics") == 0)
		return metrics(strcmp(argv[2], "openmetrics") == 0 ? EMBER_EXPO_OPENMETRICS
		                                                   : EMBER_EXPO_TEXT);
	if (argc == 4 && strcmp(argv[1], "write") == 0)
		return write_kind(argv[2], argv[3]);
	fprintf(stderr, "usage: fixture metrics text|openmetrics | fixture write KIND PATH\n");
	return 2;
}
