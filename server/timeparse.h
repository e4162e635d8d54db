/* server/timeparse.h — the times and window ids of serve's HTTP API
 * (server/timeparse.c).
 *
 * A time in a query is one of (docs/ARCHITECTURE.md, "The HTTP API"):
 *   - unix seconds, optionally with a fraction:     1764032400, 1764032400.25
 *   - unix milliseconds (Grafana's ${__from}):      1764032400000
 *     (an integer of 12 or more digits is taken as milliseconds: as seconds
 *     it would lie after the year 5000)
 *   - RFC 3339 with Z or a numeric offset, optional fractional seconds:
 *     2026-11-25T01:00:00Z, 2026-11-25T02:00:00.5+01:00
 * Anything else (signs, spaces, missing fields, out-of-range fields, more than
 * 9 fraction digits, times before 1970 or after 2262-04-11T23:47:15Z, where
 * int64 nanoseconds end) is rejected. Pure functions.
 */
#ifndef EMBER_TIMEPARSE_H
#define EMBER_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ember/error.h"

/* Parses s into unix nanoseconds. 0, or -EINVAL with one line in err. */
int ember_time_parse(const char *s, int64_t *out_ns, ember_error *err);

/* Formats unix ns as RFC 3339 UTC with millisecond precision
 * ("2026-11-25T01:00:00.000Z"); returns the length, or -ERANGE when the
 * buffer is too small (32 bytes always suffice). */
int ember_time_format(int64_t ns, char *buf, size_t len);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t ember_days_from_civil(int64_t y, unsigned m, unsigned d);
void ember_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
