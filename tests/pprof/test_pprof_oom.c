/* tests/pprof/test_pprof_oom.c — the pprof decoder out of memory: every
 * allocation the decoder makes is failed in turn (malloc, calloc and realloc
 * wrapped at link time, -Wl,--wrap), and each failure must give the one
 * "out of memory" error and leave no block behind. The blocks are counted
 * by the wrappers, so a leak fails the plain build too, not only under
 * LeakSanitizer. Regression: the decoder's `stack = realloc(stack, n)` lost
 * the old block when realloc failed. */
#include "ember/pprof.h"
#include "../check.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

static long live;        /* blocks handed out minus blocks freed */
static long calls;       /* allocation calls since arming */
static long fail_at;     /* the call that fails (1-based); 0: none */

static bool inject(void)
{
	return fail_at && ++calls == fail_at;
}

void *__wrap_malloc(size_t n)
{
	void *p = inject() ? NULL : __real_malloc(n);
	live += p != NULL;
	return p;
}

void *__wrap_calloc(size_t a, size_t b)
{
	void *p = inject() ? NULL : __real_calloc(a, b);
	live += p != NULL;
	return p;
}

void *__wrap_realloc(void *old, size_t n)
{
	if (inject())
		return NULL;   /* old stays valid, as realloc's contract says */
	void *p = __real_realloc(old, n);
	live += p && !old;
	return p;
}

void __wrap_free(void *p)
{
	live -= p != NULL;
	__real_free(p);
}

/* Two samples, the second's stack longer than the first (and than the 16
 * entries a grown array starts with), so the decoder's stack buffer is
 * reallocated while it holds a block. */
static ember_profile *profile_with_stacks(void)
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_mapping m = { .memory_start = 0x400000, .memory_limit = 0x500000,
			    .filename = ember_profile_intern(p, "/usr/bin/app") };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	int64_t file = ember_profile_intern(p, "app.c");
	uint64_t loc[40];
	for (int i = 0; i < 40; i++) {
		char name[16];
		snprintf(name, sizeof name, "fn%d", i);
		int64_t s = ember_profile_intern(p, name);
		uint64_t f = ember_profile_intern_function(p, s, s, file, i);
		loc[i] = ember_profile_add_location(p, mid, 0x401000 + 16 * (uint64_t)i);
		ember_profile_location_add_line(p, loc[i], f, i + 1);
	}
	ember_label lb[2] = { { .key = ember_profile_intern(p, "pid"), .num = 42 },
			      { .key = ember_profile_intern(p, "comm"),
				.str = ember_profile_intern(p, "app") } };
	int64_t v = 3;
	ember_profile_add_sample(p, loc, 2, &v, lb, 1);
	ember_profile_add_sample(p, loc, 40, &v, lb, 2);
	ember_profile_add_sample(p, loc + 5, 30, &v, lb, 2);
	return p;
}

int main(void)
{
	ember_profile *src = profile_with_stacks();
	ember_buf raw = EMBER_BUF_INIT;
	ember_error err = { 0 };
	CHECK_EQ_INT(ember_pprof_encode(src, EMBER_COMPRESS_NONE, &raw, &err), 0);
	size_t want_samples = src->n_samples;
	ember_profile_free(src);

	long n_failed = 0;
	bool decoded = false;
	for (long k = 1; k < 100000 && !decoded; k++) {
		long before = live;
		ember_profile *p = NULL;
		calls = 0;
		fail_at = k;
		int rc = ember_pprof_decode(raw.data, raw.len, &p, &err);
		fail_at = 0;
		if (rc == 0) {
			decoded = true;
			CHECK_EQ_INT(p->n_samples, want_samples);
			ember_profile_free(p);
		} else {
			n_failed++;
			CHECK_EQ_INT(rc, -ENOMEM);
			CHECK(strstr(err.msg, "out of memory") != NULL);
			CHECK(p == NULL);
		}
		if (live != before)
			fprintf(stderr, "allocation %ld failed: %ld block(s) left behind\n", k,
				live - before);
		CHECK_EQ_INT(live, before);
	}
	CHECK(decoded);
	fprintf(stderr, "%ld allocation failures, each refused cleanly\n", n_failed);
	CHECK(n_failed > 20);
	ember_buf_free(&raw);
	return check_exit();
}
