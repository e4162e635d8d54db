/* tests/server/test_timeparse.c — the times serve's HTTP API accepts, and
 * the ones it must refuse. */
#include "../check.h"

#include <string.h>

#include "server/timeparse.h"

static int64_t ok(const char *s)
{
	int64_t v = -1;
	ember_error err = { 0 };
	int rc = ember_time_parse(s, &v, &err);
	if (rc != 0)
		fprintf(stderr, "unexpected error for '%s': %s\n", s, err.msg);
	CHECK(rc == 0);
	return v;
}

static void bad(const char *s)
{
	int64_t v = 12345;
	ember_error err = { 0 };
	int rc = ember_time_parse(s, &v, &err);
	if (rc != -22)
		fprintf(stderr, "accepted bad time '%s' as %lld\n", s, (long long)v);
	CHECK(rc == -22);
	CHECK(err.msg[0] != '\0');
	CHECK(v == 12345);
}

int main(void)
{
	const int64_t T = 1764032400LL * 1000000000LL;   /* 2025-11-25T01:00:00Z */
	/* unix seconds, with fractions */
	CHECK(ok("1764032400") == T);
	CHECK(ok("0") == 0);
	CHECK(ok("1764032400.5") == T + 500000000);
	CHECK(ok("1764032400.123456789") == T + 123456789);
	/* unix milliseconds (Grafana ${__from}) */
	CHECK(ok("1764032400000") == T);
	CHECK(ok("1764032400123") == T + 123000000);
	/* RFC 3339 */
	CHECK(ok("2025-11-25T01:00:00Z") == T);
	CHECK(ok("2025-11-25t01:00:00z") == T);
	CHECK(ok("2025-11-25T02:00:00+01:00") == T);
	CHECK(ok("2025-11-24T19:30:00-05:30") == T);
	CHECK(ok("2025-11-25T01:00:00.25Z") == T + 250000000);
	CHECK(ok("2025-11-25T01:00:00.000000001Z") == T + 1);
	CHECK(ok("1970-01-01T00:00:00Z") == 0);
	CHECK(ok("2024-02-29T00:00:00Z") == 1709164800LL * 1000000000LL);
	CHECK(ok("2000-03-01T00:00:00Z") == 951868800LL * 1000000000LL);

	bad("");
	bad("-1");
	bad("+5");
	bad(" 1764032400");
	bad("1764032400 ");
	bad("1764032400.");
	bad("1764032400.1234567891");   /* more than ns precision */
	bad("1764032400000.5");         /* fractional milliseconds */
	bad("1e9");
	bad("0x10");
	bad("now");
	bad("99999999999999999999999");
	bad("2025-11-25");
	bad("2025-11-25T01:00:00");     /* no zone */
	bad("2025-11-25 01:00:00Z");
	bad("2025-11-25T01:00Z");
	bad("2025-13-01T00:00:00Z");
	bad("2025-02-29T00:00:00Z");    /* not a leap year */
	bad("1900-02-29T00:00:00Z");
	bad("2025-04-31T00:00:00Z");
	bad("2025-11-25T24:00:00Z");
	bad("2025-11-25T01:60:00Z");
	bad("2025-11-25T01:00:61Z");
	bad("2025-11-25T01:00:00+1:00");
	bad("2025-11-25T01:00:00+01:60");
	bad("2025-11-25T01:00:00.Z");
	bad("2025-11-25T01:00:00ZZ");
	bad("1969-12-31T23:59:59Z");
	bad("../../etc/passwd");
	/* past the end of int64 nanoseconds: refused, not overflowed (fuzz_http) */
	CHECK(ok("2262-04-11T23:47:15.999999999Z") == 9223372035999999999LL);
	CHECK(ok("9223372035") == 9223372035000000000LL);
	CHECK(ok("9223372035999") == 9223372035999000000LL);
	bad("2262-04-11T23:47:16Z");
	bad("9999-12-31T23:59:59Z");
	bad("9223372036");
	bad("11111111111");        /* seconds: would overflow */
	bad("11111111111111");     /* milliseconds: would overflow */
	bad("9999999999999999");
	bad("2025-11-25T01:00:00Z\n");

	char buf[40];
	CHECK(ember_time_format(T + 123000000, buf, sizeof buf) > 0);
	CHECK(strcmp(buf, "2025-11-25T01:00:00.123Z") == 0);
	CHECK(ember_time_format(0, buf, sizeof buf) > 0);
	CHECK(strcmp(buf, "1970-01-01T00:00:00.000Z") == 0);
	CHECK(ember_time_format(T, buf, 8) == -34);
	/* round trip through the parser */
	CHECK(ember_time_format(T + 500000000, buf, sizeof buf) > 0);
	CHECK(ok(buf) == T + 500000000);
	return check_exit();
}
