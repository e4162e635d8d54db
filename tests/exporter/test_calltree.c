/* tests/exporter/test_calltree.c — the UI's call tree (exporter/calltree.c):
 * tree values with inline frames and recursion, the function table (cum
 * once per sample), a diff base, anchored label filters, the label
 * summary, the function focus, merging trees built apart, bad regexes,
 * units that do not mix, profiles folded once and added to many trees,
 * and the timeline summary. */
#include "../check.h"
#include "synth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/calltree.h"

static const char *const KEYS[] = { "comm", "pid" };

/* main -> a -> b -> inl (inl inlined into b) x3, main -> a x1,
 * main -> r -> r (recursion) x2; 10 ms per sample. */
static ember_profile *profile(const char *comm)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0);
	uint64_t lmain = synth_loc(p, m, 0x401000, 1, "main");
	uint64_t la = synth_loc(p, m, 0x401100, 1, "a");
	uint64_t linl = synth_loc(p, m, 0x401200, 2, "inl", "b");
	uint64_t lr = synth_loc(p, m, 0x401300, 1, "r");
	synth_sample(p, comm, 3, 3, linl, la, lmain);
	synth_sample(p, comm, 1, 2, la, lmain);
	synth_sample(p, comm, 2, 3, lr, lr, lmain);
	return p;
}

static ember_buf JB;   /* the last JSON */

static char *json(ember_calltree *t)
{
	ember_buf_reset(&JB);
	ember_error err = { 0 };
	CHECK(ember_calltree_json(t, &JB, &err) == 0);
	return JB.data;
}

static void test_tree(void)
{
	ember_profile *p = profile("app");
	ember_calltree *t;
	ember_error err = { 0 };
	CHECK(ember_calltree_new(&t, NULL, NULL, 0, KEYS, 2, &err) == 0);
	CHECK(ember_calltree_add(t, p, false, &err) == 0);
	CHECK_EQ_INT(ember_calltree_nodes(t), 7);
	const char *j = json(t);
	CHECK(strstr(j, "\"unit\":\"cpu_ns\",\"total\":60000000,\"base_total\":null"));
	CHECK(strstr(j, "\"names\":[\"all\",\"main\",\"a\",\"b\",\"inl\",\"r\"]"));
	/* preorder, children by name; (name, depth, total, self, base total, base self) */
	CHECK(strstr(j, "\"nodes\":[0,0,60000000,0,0,0,1,1,60000000,0,0,0,2,2,40000000,10000000,0,0,"
			"3,3,30000000,0,0,0,4,4,30000000,30000000,0,0,5,2,20000000,0,0,0,"
			"5,3,20000000,20000000,0,0]"));
	/* r counts once per sample under recursion; by self, then cum */
	CHECK(strstr(j, "\"functions\":[[4,30000000,30000000,0,0],[5,20000000,20000000,0,0],"
			"[2,10000000,40000000,0,0],[1,0,60000000,0,0],[3,0,30000000,0,0]]"));
	CHECK(strstr(j, "\"labels\":{\"comm\":[[\"app\",60000000]],\"pid\":[[\"100\",60000000]]}"));

	/* the same profile as a base: equal values side by side */
	ember_profile *q = profile("app");
	CHECK(ember_calltree_add(t, q, true, &err) == 0);
	j = json(t);
	CHECK(strstr(j, "\"base_total\":60000000"));
	CHECK(strstr(j, "[4,30000000,30000000,30000000,30000000]"));
	CHECK(strstr(j, "\"nodes\":[0,0,60000000,0,60000000,0,"));
	ember_calltree_free(t);

	/* a profile of sample counts only does not mix with CPU time */
	ember_profile *c = synth_new_kind("wall", "seconds");
	c->period = 0;
	uint64_t m = synth_mapping(c, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0);
	synth_sample(c, "app", 4, 1, synth_loc(c, m, 0x401000, 1, "main"));
	CHECK(ember_calltree_new(&t, NULL, NULL, 0, NULL, 0, &err) == 0);
	CHECK(ember_calltree_add(t, c, false, &err) == 0);
	CHECK(strstr(json(t), "\"unit\":\"samples\",\"total\":4,"));
	CHECK(ember_calltree_add(t, p, true, &err) == -EINVAL && strstr(err.msg, "cannot be combined"));
	ember_calltree_free(t);
	ember_profile_free(c);
	ember_profile_free(p);
	ember_profile_free(q);
}

static void test_filters(void)
{
	ember_profile *p = profile("app");
	ember_profile *o = profile("other");
	ember_error err = { 0 };
	struct {
		ember_label_filter f[2];
		size_t n;
		int64_t total;
	} cases[] = {
		{ { { "comm", "app" } }, 1, 60000000 },
		{ { { "comm", "ap" } }, 1, 0 },               /* anchored */
		{ { { "comm", "app|other" } }, 1, 120000000 },
		{ { { "pid", "10" } }, 1, 0 },                 /* numeric, anchored */
		{ { { "pid", "1[0-9]+" }, { "comm", "oth.*" } }, 2, 60000000 },
		{ { { "thread", "" } }, 1, 120000000 },        /* absent label: "" */
		{ { { "thread", "x" } }, 1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ember_calltree *t;
		CHECK(ember_calltree_new(&t, NULL, cases[i].f, cases[i].n, KEYS, 1, &err) == 0);
		CHECK(ember_calltree_add(t, p, false, &err) == 0);
		CHECK(ember_calltree_add(t, o, false, &err) == 0);
		char want[64];
		snprintf(want, sizeof want, "\"total\":%lld,", (long long)cases[i].total);
		const char *j = json(t);
		if (!strstr(j, want))
			fprintf(stderr, "filter case %zu: want %s in %.80s\n", i, want, j);
		CHECK(strstr(j, want));
		/* the label summary lists every value, filtered or not */
		CHECK(strstr(j, "\"comm\":[[\"app\",60000000],[\"other\",60000000]]"));
		ember_calltree_free(t);
	}
	ember_calltree *t = NULL;
	ember_label_filter bad = { "comm", "(" };
	CHECK(ember_calltree_new(&t, NULL, &bad, 1, KEYS, 2, &err) == -EINVAL && !t);
	CHECK(strstr(err.msg, "comm: bad regex '('"));
	ember_profile_free(p);
	ember_profile_free(o);
}

/* trees built apart (threads) and merged equal the tree built at once */
static void test_merge(void)
{
	ember_profile *p = profile("app"), *q = profile("other");
	ember_error err = { 0 };
	ember_calltree *all, *a, *b;
	CHECK(ember_calltree_new(&all, "inl|r", NULL, 0, KEYS, 2, &err) == 0);
	CHECK(ember_calltree_new(&a, "inl|r", NULL, 0, KEYS, 2, &err) == 0);
	CHECK(ember_calltree_new(&b, "inl|r", NULL, 0, KEYS, 2, &err) == 0);
	CHECK(ember_calltree_add(all, p, false, &err) == 0 && ember_calltree_add(all, q, false, &err) == 0);
	CHECK(ember_calltree_add(all, q, true, &err) == 0);
	CHECK(ember_calltree_add(a, p, false, &err) == 0);
	CHECK(ember_calltree_add(b, q, false, &err) == 0 && ember_calltree_add(b, q, true, &err) == 0);
	CHECK(ember_calltree_merge(a, b, &err) == 0);
	char *want = strdup(json(all));
	/* focus "inl|r": the sample main -> a (no match) is left out */
	CHECK(strstr(want, "\"total\":100000000,\"base_total\":50000000,\"profiles\":2,"
			   "\"base_profiles\":1,\"stacks\":6,"));
	CHECK(strcmp(json(a), want) == 0);
	free(want);
	ember_calltree *c;
	CHECK(ember_calltree_new(&c, NULL, NULL, 0, KEYS, 1, &err) == 0);
	CHECK(ember_calltree_merge(c, b, &err) == -EINVAL);
	ember_calltree_free(c);
	ember_calltree_free(all);
	ember_calltree_free(a);
	ember_calltree_free(b);
	ember_profile_free(p);
	ember_profile_free(q);
}

/* a profile folded once adds to trees of any filter, focus and side as the
 * profile itself; filtered samples leave no nodes behind */
static void test_folded(void)
{
	ember_profile *p = profile("app"), *o = profile("other");
	const char *const keys[] = { "thread", "comm", "pid" };
	ember_calltree_folded *fp, *fo;
	ember_error err = { 0 };
	CHECK(ember_calltree_fold(&fp, p, keys, 3, &err) == 0);
	CHECK(ember_calltree_fold(&fo, o, keys, 3, &err) == 0);
	CHECK(ember_calltree_folded_bytes(fp) > 100);
	struct {
		const char *focus;
		ember_label_filter f;
		size_t n_filters, nodes;
	} cases[] = {
		{ NULL, { "comm", "app" }, 0, 7 },
		{ "^r$", { "comm", "app" }, 0, 4 },        /* main -> r -> r */
		{ "inl", { "comm", "other" }, 1, 5 },      /* main -> a -> b -> inl */
		{ NULL, { "thread", "x" }, 1, 1 },         /* nothing kept: the root only */
		{ NULL, { "pid", "1[0-9]+" }, 1, 7 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ember_calltree *t, *u;
		CHECK(ember_calltree_new(&t, cases[i].focus, &cases[i].f, cases[i].n_filters, KEYS, 2,
					 &err) == 0);
		CHECK(ember_calltree_new(&u, cases[i].focus, &cases[i].f, cases[i].n_filters, KEYS, 2,
					 &err) == 0);
		CHECK(ember_calltree_add(t, p, false, &err) == 0 && ember_calltree_add(t, o, true, &err) == 0);
		CHECK(ember_calltree_add_folded(u, fp, false, &err) == 0 &&
		      ember_calltree_add_folded(u, fo, true, &err) == 0);
		char *want = strdup(json(t));
		CHECK(strcmp(json(u), want) == 0);
		if (ember_calltree_nodes(u) != cases[i].nodes)
			fprintf(stderr, "folded case %zu: %zu nodes\n", i, ember_calltree_nodes(u));
		CHECK(ember_calltree_nodes(u) == cases[i].nodes);
		free(want);
		ember_calltree_free(t);
		ember_calltree_free(u);
	}
	/* a tree filtering or listing a label the fold did not keep */
	ember_calltree *t;
	ember_calltree_folded *narrow;
	CHECK(ember_calltree_fold(&narrow, p, keys, 1, &err) == 0);
	CHECK(ember_calltree_new(&t, NULL, NULL, 0, KEYS, 1, &err) == 0);
	CHECK(ember_calltree_add_folded(t, narrow, false, &err) == -EINVAL);
	CHECK(strstr(err.msg, "without label 'comm'"));
	ember_calltree_free(t);
	/* units that do not mix: a window of sample counts after CPU time */
	ember_profile *c = ember_profile_new();
	ember_profile_add_sample_type(c, "samples", "count");
	ember_calltree_folded *fc;
	CHECK(ember_calltree_fold(&fc, c, keys, 3, &err) == 0);
	CHECK(ember_calltree_new(&t, NULL, NULL, 0, KEYS, 2, &err) == 0);
	CHECK(ember_calltree_add_folded(t, fp, false, &err) == 0);
	CHECK(ember_calltree_add_folded(t, fc, false, &err) == -EINVAL);
	ember_calltree_free(t);
	ember_calltree_folded_free(fc);
	ember_profile_free(c);
	ember_calltree_folded_free(narrow);
	ember_calltree_folded_free(fp);
	ember_calltree_folded_free(fo);
	ember_profile_free(p);
	ember_profile_free(o);
}

/* profiles folded with shared ids (ember_calltree_ids) add as the profiles
 * themselves, in any order, with a tree meeting the ids after others, and
 * when the ids fill up and later profiles fold without them */
static void test_shared_ids(void)
{
	ember_profile *prof[3] = { profile("app"), profile("other"), synth_new() };
	uint64_t m = synth_mapping(prof[2], "/usr/bin/x", "b2d", 0x400000, 0x500000, 0);
	uint64_t lz = synth_loc(prof[2], m, 0x401000, 1, "main");
	uint64_t ly = synth_loc(prof[2], m, 0x401100, 1, "y");
	uint64_t lr = synth_loc(prof[2], m, 0x401200, 2, "r", "a");
	synth_sample(prof[2], "app", 5, 3, lr, ly, lz);
	synth_sample(prof[2], "db", 2, 2, ly, lz);
	const char *const keys[] = { "comm", "pid" };
	ember_error err = { 0 };
	/* room for everything; for the first profile only (the root and its
	 * 7 nodes: the next ones fold without ids) */
	for (size_t max = 1000; max >= 8; max = max == 1000 ? 8 : 0) {
		ember_calltree_ids *ids;
		CHECK(ember_calltree_ids_new(&ids, max) == 0);
		ember_calltree_folded *f[3], *plain;
		for (int i = 0; i < 3; i++)
			CHECK(ember_calltree_fold_ids(&f[i], prof[i], keys, 2, ids, &err) == 0);
		CHECK(ember_calltree_fold(&plain, prof[2], keys, 2, &err) == 0);
		size_t paths, names;
		ember_calltree_ids_stats(ids, &paths, &names);
		/* the root, main, a, b, inl, r, r -> r; then main -> y -> a -> r */
		CHECK(paths == (max == 1000 ? 10u : 7u) && names == (max == 1000 ? 7u : 6u));
		const char *focus[] = { NULL, "^r$", NULL };
		ember_label_filter comm = { "comm", "app" };
		for (int c = 0; c < 3; c++) {
			ember_calltree *t, *u;
			size_t nf = c == 2;
			CHECK(ember_calltree_new(&t, focus[c], &comm, nf, KEYS, 2, &err) == 0);
			CHECK(ember_calltree_new(&u, focus[c], &comm, nf, KEYS, 2, &err) == 0);
			/* u meets a profile without ids first, then the shared ones */
			CHECK(ember_calltree_add(t, prof[2], true, &err) == 0);
			CHECK(ember_calltree_add_folded(u, plain, true, &err) == 0);
			for (int i = 0; i < 3; i++) {
				CHECK(ember_calltree_add(t, prof[i], false, &err) == 0);
				CHECK(ember_calltree_add_folded(u, f[i], false, &err) == 0);
			}
			CHECK(ember_calltree_add(t, prof[0], true, &err) == 0);
			CHECK(ember_calltree_add_folded(u, f[0], true, &err) == 0);
			char *want = strdup(json(t));
			CHECK(strcmp(json(u), want) == 0);
			free(want);
			ember_calltree_free(t);
			ember_calltree_free(u);
		}
		for (int i = 0; i < 3; i++)
			ember_calltree_folded_free(f[i]);
		ember_calltree_folded_free(plain);
		ember_calltree_ids_free(ids);
	}
	for (int i = 0; i < 3; i++)
		ember_profile_free(prof[i]);
}

static void test_top(void)
{
	ember_profile *p = profile("app");
	ember_buf b = EMBER_BUF_INIT;
	ember_error err = { 0 };
	CHECK(ember_calltree_top_json(p, 2, &b, &err) == 0);
	CHECK(strcmp(b.data, "\"cpu\":60000000,\"top\":[[\"inl\",30000000],[\"r\",20000000]]") == 0);
	ember_buf_free(&b);
	ember_profile *e = synth_new();
	CHECK(ember_calltree_top_json(e, 5, &b, &err) == 0);
	CHECK(strcmp(b.data, "\"cpu\":0,\"top\":[]") == 0);
	ember_buf_free(&b);
	ember_profile_free(e);
	ember_profile_free(p);
}

int main(void)
{
	test_tree();
	test_filters();
	test_merge();
	test_folded();
	test_shared_ids();
	test_top();
	ember_buf_free(&JB);
	return check_exit();
}
