/* ember/metrics.h — per-function CPU metrics derived from symbolized
 * profiles, and their exposition (exporter/metrics.c, exporter/expo.c).
 *
 * A registry accumulates, across profiles, the counters of
 * docs/ARCHITECTURE.md, "Metrics":
 *   ember_function_self_seconds_total{LABELS}
 *   ember_function_cumulative_seconds_total{LABELS}
 * with LABELS chosen among EMBER_METRICS_LABELS (opts.labels; default comm,
 * binary, function); they render in that list's order. cgroup, container_id,
 * pod_uid and systemd_unit are the samples' labels of those names, "" on
 * samples without one.
 * A series, once exported, never vanishes or decreases while the registry
 * lives. Cardinality: the top `top_n` functions by self time of each profile
 * plus those matching `functions_regex` become series, up to `max_series`;
 * everything else folds into function="[other]" of its other labels (or,
 * past the cap or without a function label, into the one series whose every
 * label is "[other]").
 * Each function series remembers the last profile that added to it, which is
 * the OpenMetrics exemplar: # {profile_id="<id>"} <seconds in it> <timestamp>.
 *
 * Labels: comm is the sample label "comm" ("[unknown]" without one); binary
 * the basename of the location's mapping file ("[vdso]", "[kernel.kallsyms]"
 * as they are, "[unknown]" without a mapping); function the frame's function
 * name (self: the innermost inline frame of the leaf location), or for an
 * unsymbolized location "binary+0xOFFSET" with OFFSET its file offset
 * (stable across ASLR and processes), or "0xADDRESS" without a mapping.
 * Values longer than 200 bytes are cut and end in "~" + 16 hex digits of a
 * hash of the whole value; names that would still render alike get "~2"...
 * Seconds come from the cpu/nanoseconds value, else samples x period.
 */
#ifndef EMBER_METRICS_H
#define EMBER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/profile.h"

typedef enum ember_expo_format {
	EMBER_EXPO_TEXT = 0,      /* Prometheus text 0.0.4 */
	EMBER_EXPO_OPENMETRICS,   /* OpenMetrics 1.0.0, with exemplars and "# EOF" */
} ember_expo_format;

/* Content-Type for each format (the exact strings Prometheus expects). */
const char *ember_expo_content_type(ember_expo_format f);

/* The labels a function series may carry, in the order they render. */
#define EMBER_METRICS_LABELS "comm,binary,function,cgroup,container_id,pod_uid,systemd_unit"

typedef struct ember_metrics_opts {
	size_t top_n;                  /* default 50 when 0 */
	const char *functions_regex;   /* allow-list, POSIX ERE; NULL for none */
	size_t max_series;             /* default 2000 when 0 */
	const char *labels;            /* comma list from EMBER_METRICS_LABELS; NULL: the default */
} ember_metrics_opts;

typedef struct ember_metrics ember_metrics;

/* -EINVAL, with one line naming the bad name, unless list is a non-empty
 * comma list of distinct names from EMBER_METRICS_LABELS. */
int ember_metrics_labels_check(const char *list, ember_error *err);

int ember_metrics_new(ember_metrics **out, const ember_metrics_opts *opts, ember_error *err);
void ember_metrics_free(ember_metrics *m);

/* Adds a symbolized profile's CPU time. profile_id may be NULL (no
 * exemplar); timestamp_ms is the exemplar's time (the window's end). */
int ember_metrics_add_profile(ember_metrics *m, const ember_profile *p, const char *profile_id,
			      int64_t timestamp_ms, ember_error *err);

/* Appends the function families to out (without "# EOF"). Thread-safe
 * against add_profile. */
int ember_metrics_render(ember_metrics *m, ember_expo_format f, ember_buf *out,
			 ember_error *err);

/* Number of function series currently exported (at most max_series, plus
 * one overflow series {comm,binary,function}="[other]" once the cap is hit),
 * and how many functions were folded into an [other] series, counted once
 * per profile they had CPU time in. */
size_t ember_metrics_series(const ember_metrics *m);
uint64_t ember_metrics_dropped(const ember_metrics *m);

/* Exposition helpers for other families (self-observability, process_*):
 * writes # HELP/# TYPE once, then samples. For counters pass the family name
 * without _total; the sample gets _total appended. */
typedef enum ember_metric_type { EMBER_COUNTER, EMBER_GAUGE } ember_metric_type;
void ember_expo_family(ember_buf *out, ember_expo_format f, const char *name,
		       ember_metric_type type, const char *help);
/* One sample; labels is "k=\"v\",..." already escaped, or NULL. */
void ember_expo_sample(ember_buf *out, ember_expo_format f, const char *name,
		       ember_metric_type type, const char *labels, double value);
/* Like ember_expo_sample, plus in OpenMetrics an exemplar on a counter's
 * _total sample: " # {exemplar_labels} value timestamp" (timestamp in unix
 * seconds). exemplar_labels as labels; NULL (or text format, or a gauge)
 * writes no exemplar. The caller keeps the label set within 128 code points. */
void ember_expo_sample_exemplar(ember_buf *out, ember_expo_format f, const char *name,
				ember_metric_type type, const char *labels, double value,
				const char *exemplar_labels, double exemplar_value,
				double exemplar_timestamp);
/* Escapes a label value per the text format (\\, \", \n) into out; bytes
 * that are not valid UTF-8 become U+FFFD (both formats require UTF-8). */
void ember_expo_escape(ember_buf *out, const char *value);
/* Code points of s as ember_expo_escape sees them (an invalid byte counts
 * one), for OpenMetrics' 128-code-point exemplar limit. */
size_t ember_expo_codepoints(const char *s);
/* A sample value: shortest decimal that reads back exactly; NaN, +Inf, -Inf. */
void ember_expo_value(ember_buf *out, double v);

#endif
