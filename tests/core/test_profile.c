/* tests/core/test_profile.c — the in-memory pprof model: interning, dense ids,
 * function dedup, invariant checks, clone. */
#include "ember/buf.h"
#include "ember/profile.h"
#include "../check.h"

#include <string.h>

int main(void)
{
	ember_profile *p = ember_profile_new();
	CHECK(p != NULL);
	CHECK_EQ_INT(p->n_strings, 1);
	CHECK(strcmp(ember_profile_str(p, 0), "") == 0);
	int64_t a = ember_profile_intern(p, "alpha");
	CHECK_EQ_INT(ember_profile_intern(p, "alpha"), a);
	CHECK(ember_profile_intern(p, "beta") != a);
	/* many strings force rehashing; all stay findable */
	char name[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "s%d", i);
		CHECK(ember_profile_intern(p, name) == (int64_t)(i + 3));
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof name, "s%d", i);
		CHECK_EQ_INT(ember_profile_intern(p, name), i + 3);
	}
	CHECK(strcmp(ember_profile_str(p, 99999), "") == 0);
	CHECK_EQ_INT(ember_profile_add_sample_type(p, "samples", "count"), 0);
	CHECK_EQ_INT(ember_profile_add_sample_type(p, "cpu", "nanoseconds"), 0);
	CHECK_EQ_INT(ember_profile_sample_type_index(p, "cpu"), 1);

	ember_mapping m = { .memory_start = 0x1000, .memory_limit = 0x2000,
			    .filename = ember_profile_intern(p, "/bin/x") };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	CHECK_EQ_INT(mid, 1);
	uint64_t l1 = ember_profile_add_location(p, mid, 0x1100);
	uint64_t l2 = ember_profile_add_location(p, mid, 0x1200);
	CHECK_EQ_INT(l2, l1 + 1);
	uint64_t f = ember_profile_intern_function(p, a, a, 0, 10);
	CHECK_EQ_INT(ember_profile_intern_function(p, a, a, 0, 10), f);
	CHECK(ember_profile_intern_function(p, a, a, 0, 11) != f);
	CHECK(ember_profile_add_function(p, a, a, 0, 10) != f);
	CHECK_EQ_INT(ember_profile_location_add_line(p, l1, f, 42), 0);
	uint64_t stack[2] = { l1, l2 };
	int64_t vals[2] = { 1, 10000000 };
	ember_label lb = { .key = ember_profile_intern(p, "pid"), .num = 7 };
	CHECK_EQ_INT(ember_profile_add_sample(p, stack, 2, vals, &lb, 1), 0);
	int64_t pid = 0;
	CHECK(ember_sample_label_num(p, &p->samples[0], "pid", &pid) && pid == 7);
	CHECK(ember_sample_label_str(p, &p->samples[0], "comm") == NULL);

	char msg[256];
	CHECK_EQ_INT(ember_profile_check(p, msg, sizeof msg), 0);
	ember_profile *c = ember_profile_clone(p);
	CHECK(c != NULL);
	CHECK_EQ_INT(ember_profile_check(c, msg, sizeof msg), 0);
	CHECK_EQ_INT(c->n_strings, p->n_strings);
	CHECK_EQ_INT(c->n_functions, p->n_functions);
	CHECK_EQ_INT(c->locations[0].lines[0].line, 42);
	/* a dangling reference is caught */
	c->samples[0].location_ids[0] = 99;
	CHECK(ember_profile_check(c, msg, sizeof msg) < 0);
	CHECK(strstr(msg, "unknown location") != NULL);
	ember_profile_free(c);
	ember_profile_free(p);

	ember_buf b = EMBER_BUF_INIT;
	for (int i = 0; i < 1000; i++)
		ember_buf_printf(&b, "%d,", i);
	CHECK(ember_buf_ok(&b));
	CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
	CHECK_EQ_INT(b.data[b.len], 0);
	ember_buf_free(&b);
	return check_exit();
}
