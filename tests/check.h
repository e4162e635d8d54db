/* tests/check.h — the minimal assertion kit of ember's C unit tests. A failed
 * CHECK prints file:line and the expression and counts a failure; main()
 * returns check_exit() so meson sees the result. */
#ifndef EMBER_TESTS_CHECK_H
#define EMBER_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                               \
	do {                                                                      \
		check_count++;                                                    \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,    \
				__LINE__, #cond);                                 \
			check_failures++;                                         \
		}                                                                 \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                        \
	do {                                                                      \
		long long _a = (long long)(a), _b = (long long)(b);               \
		check_count++;                                                    \
		if (_a != _b) {                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);              \
			check_failures++;                                         \
		}                                                                 \
	} while (0)

static inline int check_exit(void)
{
	fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
