/* tests/exporter/test_merge.c — merging and focusing profiles: merge(A, A)
 * is exactly twice A; two processes of one binary at different addresses
 * share mappings, functions and locations; mismatched sample types are
 * refused; times span the inputs; focus keeps the matching stacks and drops
 * what nothing references. */
#include "ember/merge.h"
#include "ember/pprof.h"
#include "../check.h"
#include "synth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One process of /usr/bin/app loaded at `base`, symbolized or raw. */
static ember_profile *process(uint64_t base, int64_t pid, bool symbolized)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", base, base + 0x100000, 0x1000);
	uint64_t lib =
	    synth_mapping(p, "/lib/libc.so.6", "c0ffee", base + 0x1000000, base + 0x1100000, 0);
	int n = symbolized ? 1 : 0;
	uint64_t lw = synth_loc(p, m, base + 0x1100, symbolized ? 2 : 0, "inl", "work");
	uint64_t lm = synth_loc(p, m, base + 0x1200, n, "main");
	uint64_t ll = synth_loc(p, lib, base + 0x1000040, n, "memcpy");
	synth_loc(p, m, base + 0x1300, n, "unused");
	synth_sample(p, "app", 7, 2, lw, lm);
	synth_sample(p, "app", 3, 2, ll, lm);
	/* distinguish processes by pid */
	for (size_t i = 0; i < p->n_samples; i++)
		p->samples[i].labels[0].num = pid;
	return p;
}

static ember_profile *merge(const ember_profile *a, const ember_profile *b)
{
	ember_merger *m;
	ember_error err;
	ember_profile *out = NULL;
	CHECK(ember_merger_new(&m, &err) == 0);
	CHECK(ember_merger_add(m, a, &err) == 0);
	if (b)
		CHECK(ember_merger_add(m, b, &err) == 0);
	int rc = ember_merger_result(m, &out, &err);
	if (rc < 0)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(rc == 0);
	ember_merger_free(m);
	if (!out)
		abort();
	char msg[256];
	CHECK(ember_profile_check(out, msg, sizeof msg) == 0);
	return out;
}

/* Sum of value i over samples whose leaf frame is function `fn`. */
static int64_t leaf_total(const ember_profile *p, const char *fn, size_t vi)
{
	int64_t t = 0;
	for (size_t i = 0; i < p->n_samples; i++) {
		const ember_location *l = ember_profile_location(p, p->samples[i].location_ids[0]);
		const ember_function *f =
		    l->n_lines ? ember_profile_function(p, l->lines[0].function_id) : NULL;
		if (f && strcmp(ember_profile_str(p, f->name), fn) == 0)
			t += p->samples[i].values[vi];
	}
	return t;
}

static void test_twice(void)
{
	ember_profile *a = process(0x400000, 1, true);
	ember_profile *aa = merge(a, a);
	CHECK_EQ_INT(aa->n_samples, a->n_samples);
	for (size_t i = 0; i < a->n_samples; i++)
		for (size_t v = 0; v < 2; v++)
			CHECK_EQ_INT(aa->samples[i].values[v], 2 * a->samples[i].values[v]);
	CHECK_EQ_INT(leaf_total(aa, "inl", 1), 2 * leaf_total(a, "inl", 1));
	CHECK_EQ_INT(aa->n_mappings, 2);
	CHECK_EQ_INT(aa->n_locations, 3); /* "unused" is dropped */
	CHECK_EQ_INT(aa->n_functions, 4);
	CHECK_EQ_INT(aa->time_nanos, a->time_nanos);
	CHECK_EQ_INT(aa->duration_nanos, a->duration_nanos);
	CHECK(strcmp(ember_profile_str(aa, aa->mappings[0].build_id), "b1d") == 0);
	CHECK(aa->mappings[0].has_inline_frames);
	/* inline chains survive: the work location still has inl inside work */
	const ember_location *l = ember_profile_location(aa, aa->samples[0].location_ids[0]);
	CHECK_EQ_INT(l->n_lines, 2);
	CHECK(
	    strcmp(ember_profile_str(aa, ember_profile_function(aa, l->lines[1].function_id)->name),
	           "work") == 0);
	/* and through the codec */
	ember_buf b = EMBER_BUF_INIT;
	ember_error err;
	ember_profile *back = NULL;
	CHECK(ember_pprof_encode(aa, EMBER_COMPRESS_GZIP, &b, &err) == 0);
	CHECK(ember_pprof_decode(b.data, b.len, &back, &err) == 0);
	CHECK(back && back->n_samples == aa->n_samples);
	ember_profile_free(back);
	ember_buf_free(&b);
	ember_profile_free(aa);
	ember_profile_free(a);
}

static void test_two_processes(void)
{
	for (int symbolized = 0; symbolized < 2; symbolized++) {
		ember_profile *a = process(0x400000, 1, symbolized);
		ember_profile *b = process(0x7f0000000000, 2, symbolized);
		b->time_nanos += 5000000000LL; /* starts 5 s later, ends 15 s after a */
		ember_profile *ab = merge(a, b);
		CHECK_EQ_INT(ab->n_mappings, 2);
		CHECK_EQ_INT(ab->n_locations, 3); /* rebased onto a's addresses */
		CHECK_EQ_INT(ab->n_functions, symbolized ? 4 : 0);
		CHECK_EQ_INT(ab->n_samples, 4); /* pids differ */
		for (size_t i = 0; i < ab->n_locations; i++) {
			CHECK(ab->locations[i].address >= 0x400000);
			CHECK(ab->locations[i].address < 0x400000 + 0x1100000);
		}
		CHECK_EQ_INT(ab->time_nanos, a->time_nanos);
		CHECK_EQ_INT(ab->duration_nanos, 15000000000LL);

		/* equal pids: the samples of both processes add up */
		for (size_t i = 0; i < b->n_samples; i++)
			b->samples[i].labels[0].num = 1;
		ember_profile *ab2 = merge(a, b);
		CHECK_EQ_INT(ab2->n_samples, 2);
		CHECK_EQ_INT(ab2->samples[0].values[0], 14);
		ember_profile_free(ab2);
		ember_profile_free(ab);
		ember_profile_free(a);
		ember_profile_free(b);
	}
}

static void test_by_filename_and_labels(void)
{
	/* no build id: dedup by file name; labels compare as a set */
	ember_profile *a = synth_new(), *b = synth_new();
	uint64_t ma = synth_mapping(a, "/opt/x", "", 0x1000, 0x2000, 0);
	uint64_t mb = synth_mapping(b, "/opt/x", "", 0x1000, 0x2000, 0);
	synth_sample(a, "x", 1, 1, synth_loc(a, ma, 0x1010, 1, "f"));
	uint64_t lb = synth_loc(b, mb, 0x1010, 1, "f");
	synth_sample(b, "x", 2, 1, lb);
	ember_label t = b->samples[0].labels[0]; /* reversed label order */
	b->samples[0].labels[0] = b->samples[0].labels[1];
	b->samples[0].labels[1] = t;
	/* same address, different function (JIT reuse): a distinct location */
	synth_sample(b, "x", 4, 1, synth_loc(b, mb, 0x1010, 1, "g"));
	ember_profile *ab = merge(a, b);
	CHECK_EQ_INT(ab->n_mappings, 1);
	CHECK_EQ_INT(ab->n_locations, 2);
	CHECK_EQ_INT(ab->n_samples, 2);
	CHECK_EQ_INT(leaf_total(ab, "f", 0), 3);
	CHECK_EQ_INT(leaf_total(ab, "g", 0), 4);
	ember_profile_free(ab);
	ember_profile_free(a);
	ember_profile_free(b);
}

static void test_mismatch(void)
{
	ember_profile *a = synth_new(), *b = synth_new_kind("alloc_space", "bytes");
	ember_merger *m;
	ember_error err;
	CHECK(ember_merger_new(&m, &err) == 0);
	CHECK(ember_merger_add(m, a, &err) == 0);
	CHECK(ember_merger_add(m, b, &err) == -EINVAL);
	CHECK(strstr(err.msg, "alloc_space/bytes") && strstr(err.msg, "cpu/nanoseconds"));
	CHECK(strchr(err.msg, '\n') == NULL);
	ember_profile *c = ember_profile_new();
	ember_profile_add_sample_type(c, "samples", "count");
	CHECK(ember_merger_add(m, c, &err) == -EINVAL);
	CHECK(strstr(err.msg, "1 sample types") != NULL);
	ember_merger_free(m);
	ember_profile_free(a);
	ember_profile_free(b);
	ember_profile_free(c);
}

static void test_focus(void)
{
	ember_profile *a = process(0x400000, 1, true);
	ember_profile *f = NULL;
	ember_error err;
	/* inl is an inline frame of the first sample's leaf location */
	CHECK(ember_profile_focus(a, "^in", &f, &err) == 0);
	CHECK_EQ_INT(f->n_samples, 1);
	CHECK_EQ_INT(f->samples[0].values[0], 7);
	CHECK_EQ_INT(f->n_mappings, 1); /* libc no longer referenced */
	CHECK_EQ_INT(f->n_functions, 3);
	CHECK_EQ_INT(f->n_locations, 2);
	CHECK_EQ_INT(f->time_nanos, a->time_nanos);
	ember_profile_free(f);
	CHECK(ember_profile_focus(a, "main", &f, &err) == 0);
	CHECK_EQ_INT(f->n_samples, 2);
	ember_profile_free(f);
	CHECK(ember_profile_focus(a, "nothing_matches", &f, &err) == 0);
	CHECK_EQ_INT(f->n_samples, 0);
	CHECK_EQ_INT(f->n_locations, 0);
	CHECK_EQ_INT(f->n_sample_types, 2);
	ember_profile_free(f);
	f = NULL;
	CHECK(ember_profile_focus(a, "([", &f, &err) == -EINVAL);
	CHECK(f == NULL && strstr(err.msg, "regex") != NULL);
	ember_profile_free(a);
}

int main(void)
{
	test_twice();
	test_two_processes();
	test_by_filename_and_labels();
	test_mismatch();
	test_focus();
	return check_exit();
}
