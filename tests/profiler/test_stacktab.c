/* tests/profiler/test_stacktab.c — the profiler's tables: the stack table
 * (intern, counts, growth, reset), the u64 map (insert, overwrite,
 * backward-shift delete) and the string pool (sharing, counts, freeing),
 * checked against plain arrays. */
#include "stacktab.h"
#include "strpool.h"
#include "ember/u64map.h"

#include <stdio.h>

#include "../check.h"

#include <stdint.h>
#include <string.h>

static void test_intern_and_counts(void)
{
	stacktab t;
	CHECK_EQ_INT(stacktab_init(&t, 0), 0);
	uint64_t a[3] = { 10, 20, 30 }, b[3] = { 10, 20, 31 }, c[2] = { 10, 20 };
	CHECK_EQ_INT(stacktab_add(&t, 1, 100, a, 3, 5), 0);
	CHECK_EQ_INT(stacktab_add(&t, 1, 100, a, 3, 7), 0);
	CHECK_EQ_INT(stacktab_add(&t, 1, 100, b, 3, 1), 0);
	CHECK_EQ_INT(stacktab_add(&t, 1, 100, c, 2, 1), 0);   /* a prefix is another stack */
	CHECK_EQ_INT(stacktab_add(&t, 1, 101, a, 3, 1), 0);   /* another thread */
	CHECK_EQ_INT(stacktab_add(&t, 2, 100, a, 3, 1), 0);   /* another process */
	CHECK_EQ_INT(t.len, 5);
	int found = 0;
	stacktab_foreach(&t, e) {
		if (e->proc == 1 && e->tid == 100 && e->n_frames == 3 &&
		    memcmp(stacktab_frames(&t, e), a, sizeof a) == 0) {
			CHECK_EQ_INT(e->count, 2);
			CHECK_EQ_INT(e->period, 12);
			found++;
		} else {
			CHECK_EQ_INT(e->count, 1);
		}
	}
	CHECK_EQ_INT(found, 1);
	stacktab_reset(&t);
	CHECK_EQ_INT(t.len, 0);
	int n = 0;
	stacktab_foreach(&t, e) n++;
	CHECK_EQ_INT(n, 0);
	stacktab_fini(&t);
}

static void test_growth(void)
{
	stacktab t;
	CHECK_EQ_INT(stacktab_init(&t, 0), 0);
	size_t cap0 = t.mask + 1;
	enum { N = 5000 };
	/* N distinct stacks of varying depth, each added (i % 7) + 1 times */
	for (int round = 0; round < 7; round++)
		for (uint64_t i = 0; i < N; i++) {
			if ((int)(i % 7) < round)
				continue;
			uint64_t f[40];
			uint32_t depth = (uint32_t)(i % 40) + 1;
			for (uint32_t d = 0; d < depth; d++)
				f[d] = i * 1000 + d;
			CHECK_EQ_INT(stacktab_add(&t, (uint32_t)(i % 3), (uint32_t)i, f, depth, 1), 0);
		}
	CHECK(t.mask + 1 > cap0);
	CHECK_EQ_INT(t.len, N);
	CHECK(t.len * 4 <= (t.mask + 1) * 3);
	uint64_t total = 0;
	int bad = 0;
	stacktab_foreach(&t, e) {
		uint64_t i = e->tid;
		const uint64_t *f = stacktab_frames(&t, e);
		bad += e->n_frames != (i % 40) + 1 || f[0] != i * 1000 || e->proc != i % 3 ||
		       e->count != (i % 7) + 1;
		total += e->count;
	}
	CHECK_EQ_INT(bad, 0);
	uint64_t want = 0;
	for (uint64_t i = 0; i < N; i++)
		want += (i % 7) + 1;
	CHECK_EQ_INT(total, want);
	/* after a reset the same memory serves the next window */
	size_t cap = t.mask + 1, arena = t.arena_cap;
	stacktab_reset(&t);
	uint64_t f[1] = { 1 };
	CHECK_EQ_INT(stacktab_add(&t, 0, 0, f, 1, 1), 0);
	CHECK_EQ_INT(t.mask + 1, cap);
	CHECK_EQ_INT(t.arena_cap, arena);
	stacktab_fini(&t);
}

static void test_u64map(void)
{
	u64map m = U64MAP_INIT;
	enum { N = 3000 };
	for (uint64_t k = 0; k < N; k++)
		CHECK_EQ_INT(u64map_put(&m, k * 16, k), 0);   /* clustered keys */
	CHECK_EQ_INT(m.len, N);
	CHECK_EQ_INT(u64map_put(&m, 16, 99), 0);
	CHECK_EQ_INT(*u64map_get(&m, 16), 99);
	CHECK_EQ_INT(m.len, N);
	/* delete every third key; every other key must stay findable */
	for (uint64_t k = 0; k < N; k += 3)
		CHECK(u64map_del(&m, k * 16));
	CHECK(!u64map_del(&m, 0));
	int bad = 0;
	for (uint64_t k = 0; k < N; k++) {
		uint64_t *v = u64map_get(&m, k * 16);
		if (k % 3 == 0)
			bad += v != NULL;
		else
			bad += !v || *v != (k == 1 ? 99 : k);
	}
	CHECK_EQ_INT(bad, 0);
	size_t n = 0;
	u64map_foreach(&m, s) n++;
	CHECK_EQ_INT(n, m.len);
	u64map_free(&m);
}

static void test_strpool(void)
{
	strpool *p;
	CHECK_EQ_INT(strpool_new(&p), 0);
	const char *a = strpool_get(p, "/usr/lib/libc.so.6");
	const char *b = strpool_get(p, "/usr/lib/libc.so.6");
	CHECK(a && a == b);   /* one copy */
	CHECK_EQ_INT(strpool_len(p), 1);
	CHECK(strpool_ref(a) == a);
	strpool_put(p, a);
	strpool_put(p, b);
	CHECK_EQ_INT(strpool_len(p), 1);   /* one reference left */
	strpool_put(p, a);
	CHECK_EQ_INT(strpool_len(p), 0);
	strpool_put(p, NULL);

	/* many strings, every third released: the rest stay findable (the
	 * same pointer comes back, and no new string is added) */
	enum { N = 2000 };
	const char *v[N];
	char buf[32];
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof buf, "/bin/%d", i);
		v[i] = strpool_get(p, buf);
	}
	CHECK_EQ_INT(strpool_len(p), N);
	for (int i = 0; i < N; i += 3)
		strpool_put(p, v[i]);
	CHECK_EQ_INT(strpool_len(p), N - (N + 2) / 3);
	int bad = 0;
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			continue;
		snprintf(buf, sizeof buf, "/bin/%d", i);
		const char *again = strpool_get(p, buf);
		bad += again != v[i] || strcmp(again, buf) != 0;
		strpool_put(p, again);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(strpool_len(p), N - (N + 2) / 3);
	strpool_free(p);   /* frees what is still referenced */
}

int main(void)
{
	test_strpool();
	test_intern_and_counts();
	test_growth();
	test_u64map();
	return check_exit();
}
