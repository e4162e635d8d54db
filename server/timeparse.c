/* server/timeparse.c — strict parsing of the times serve's HTTP API takes
 * (unix seconds, unix milliseconds, RFC 3339) and their RFC 3339 rendering.
 *
 * Owns: turning a query string into unix nanoseconds, and calendar
 * arithmetic (no timegm/mktime, so the process's TZ never matters). Must
 * never: accept a string it only partly understood, or overflow.
 */
#include "server/timeparse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000LL
/* 2262-04-11T23:47:15Z: the last whole second whose nanoseconds (plus any
 * fraction) fit int64; later times would overflow (found by fuzz_http). */
#define MAX_UNIX_S 9223372035LL

/* Howard Hinnant's days_from_civil algorithm (public domain arithmetic). */
int64_t ember_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void ember_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits at *p; advances. */
static bool digits(const char **p, int n, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* A fraction ".ddd" (1..9 digits) at *p, as nanoseconds; absent is 0. */
static bool fraction(const char **p, int64_t *ns)
{
	*ns = 0;
	if (**p != '.')
		return true;
	(*p)++;
	int n = 0;
	int64_t v = 0;
	while (is_digit(**p)) {
		if (++n > 9)
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	if (n == 0)
		return false;
	for (int i = n; i < 9; i++)
		v *= 10;
	*ns = v;
	return true;
}

static int parse_unix(const char *s, int64_t *out_ns, ember_error *err)
{
	const char *p = s;
	int ndig = 0;
	int64_t v = 0;
	while (is_digit(*p)) {
		if (++ndig > 16)
			goto bad;
		v = v * 10 + (*p - '0');
		p++;
	}
	int64_t frac;
	bool has_frac = *p == '.';
	if (!fraction(&p, &frac) || *p)
		goto bad;
	if (ndig >= 12) {   /* milliseconds */
		if (has_frac || v / 1000 > MAX_UNIX_S)
			goto bad;
		*out_ns = v * 1000000;
		return 0;
	}
	if (v > MAX_UNIX_S)
		goto bad;
	*out_ns = v * NS_PER_S + frac;
	return 0;
bad:
	return ember_errorf(err, EINVAL,
			    "bad time '%.64s': use unix seconds, unix milliseconds or RFC 3339 "
			    "(2026-11-25T01:00:00Z)",
			    s);
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_rfc3339(const char *s, int64_t *out_ns, ember_error *err)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int64_t y, mo, d, h, mi, sec, frac, oh = 0, om = 0;
	int sign = 0;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		goto bad;
	if (*p != 'T' && *p != 't')
		goto bad;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
	    !digits(&p, 2, &sec) || !fraction(&p, &frac))
		goto bad;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
			goto bad;
	} else {
		goto bad;
	}
	if (*p)
		goto bad;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		goto bad;
	unsigned dim = mdays[mo - 1] + (mo == 2 && leap(y));
	if (d > dim)
		goto bad;
	/* A leap second (:60) is the same instant as the next second's start. */
	int64_t t = ember_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
		    mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0 || t > MAX_UNIX_S)
		goto bad;
	*out_ns = t * NS_PER_S + frac;
	return 0;
bad:
	return ember_errorf(err, EINVAL,
			    "bad time '%.64s': RFC 3339 needs YYYY-MM-DDTHH:MM:SS[.frac] and Z "
			    "or an offset like +01:00, with fields in range",
			    s);
}

int ember_time_parse(const char *s, int64_t *out_ns, ember_error *err)
{
	if (!s || !*s)
		return ember_errorf(err, EINVAL, "missing time: use unix seconds, unix "
						 "milliseconds or RFC 3339");
	if (strlen(s) > 64)
		return ember_errorf(err, EINVAL, "bad time: longer than 64 characters");
	/* RFC 3339 has '-' at index 4; a unix time has digits and '.' only. */
	if (strlen(s) >= 5 && s[4] == '-')
		return parse_rfc3339(s, out_ns, err);
	return parse_unix(s, out_ns, err);
}

int ember_time_format(int64_t ns, char *buf, size_t len)
{
	int64_t s = ns / NS_PER_S, rem = ns % NS_PER_S;
	if (rem < 0) {
		rem += NS_PER_S;
		s--;
	}
	int64_t days = s / 86400, sod = s % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	ember_civil_from_days(days, &y, &m, &d);
	int n = snprintf(buf, len, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", (long long)y,
			 m, d, (long long)(sod / 3600), (long long)(sod / 60 % 60),
			 (long long)(sod % 60), (long long)(rem / 1000000));
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return n;
}
