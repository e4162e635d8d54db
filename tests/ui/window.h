/* tests/ui/window.h — the window the UI tests store and read: main -> fn,
 * v samples of 10 ms, comm "app". */
#ifndef EMBER_TESTS_UI_WINDOW_H
#define EMBER_TESTS_UI_WINDOW_H

#include "ember/profile.h"

static inline ember_profile *ui_window(const char *fn, int64_t v)
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	uint64_t fm = ember_profile_intern_function(p, ember_profile_intern(p, "main"), 0, 0, 0);
	uint64_t ff = ember_profile_intern_function(p, ember_profile_intern(p, fn), 0, 0, 0);
	uint64_t loc[2] = { ember_profile_add_location(p, 0, 0x2000),
			    ember_profile_add_location(p, 0, 0x1000) };
	ember_profile_location_add_line(p, loc[0], ff, 0);
	ember_profile_location_add_line(p, loc[1], fm, 0);
	int64_t vals[2] = { v, v * 10000000 };
	ember_label l = { .key = ember_profile_intern(p, "comm"), .str = ember_profile_intern(p, "app") };
	ember_profile_add_sample(p, loc, 2, vals, &l, 1);
	return p;
}

#endif
