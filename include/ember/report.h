/* ember/report.h — human and tool readable views of a symbolized profile
 * (exporter/folded.c, exporter/top.c).
 */
#ifndef EMBER_REPORT_H
#define EMBER_REPORT_H

#include <stddef.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/profile.h"

/* Collapsed stacks: root first, ';'-separated, inline frames expanded, a
 * space and the sample count per line (flamegraph.pl, speedscope). Frames
 * without a name print as "binary+0xoffset" or "0xaddr". */
int ember_report_folded(const ember_profile *p, ember_buf *out, ember_error *err);

/* A table like `pprof -top`: flat, flat%, sum%, cum, cum%, function, binary;
 * values in the profile's CPU time (seconds) when it has cpu/nanoseconds,
 * else samples; at most max_rows rows (0 = all). */
int ember_report_top(const ember_profile *p, size_t max_rows, ember_buf *out, ember_error *err);

/* The same, rows split by the values of the sample labels group_by (a
 * comma list of label names, e.g. "container_id" or "pod_uid,comm"; at most
 * 8), shown as leading columns ("-" where a sample has no such label),
 * with a table of each group's total (largest first) above the rows;
 * NULL or "" for none. -EINVAL on an empty or repeated name. */
int ember_report_top_by(const ember_profile *p, size_t max_rows, const char *group_by,
			ember_buf *out, ember_error *err);

#endif
