/* exporter/expo.c — the exposition formats: Prometheus text 0.0.4 and
 * OpenMetrics 1.0.0 (HELP/TYPE lines, samples, exemplars, escaping).
 *
 * The two differ where it bites (docs/ARCHITECTURE.md, "Exposition
 * formats"): in OpenMetrics a counter family is declared without "_total"
 * and its sample carries it; in text 0.0.4 the TYPE line names the sample
 * itself. Exemplars exist only in
 * OpenMetrics and only on _total samples. Label values are UTF-8 with \\, \"
 * and \n escaped. Owns: formatting only. Must never: decide which series
 * exist, or write "# EOF" (the caller ends the whole exposition).
 */
#include "ember/metrics.h"
#include "ember/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ember_expo_content_type(ember_expo_format f)
{
	return f == EMBER_EXPO_OPENMETRICS
	           ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
	           : "text/plain; version=0.0.4; charset=utf-8";
}

size_t ember_expo_codepoints(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;
	while (*u) {
		size_t k = ember_utf8_seq((const char *)u);
		u += k ? k : 1;
		n++;
	}
	return n;
}

/* quote: also escape '"' (label values; OpenMetrics HELP). */
static void escape(ember_buf *out, const char *value, bool quote)
{
	const unsigned char *u = (const unsigned char *)value;
	while (*u) {
		size_t k = ember_utf8_seq((const char *)u);
		if (k == 0) {
			ember_buf_puts(out, EMBER_UTF8_REPLACEMENT);
			u++;
		} else if (*u == '\\') {
			ember_buf_puts(out, "\\\\");
			u++;
		} else if (*u == '\n') {
			ember_buf_puts(out, "\\n");
			u++;
		} else if (*u == '"' && quote) {
			ember_buf_puts(out, "\\\"");
			u++;
		} else {
			ember_buf_append(out, u, k);
			u += k;
		}
	}
}

void ember_expo_escape(ember_buf *out, const char *value)
{
	escape(out, value, true);
}

void ember_expo_value(ember_buf *out, double v)
{
	if (isnan(v)) {
		ember_buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		ember_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char s[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	ember_buf_puts(out, s);
}

/* The name on TYPE/HELP lines: OpenMetrics names the counter family without
 * _total, text 0.0.4 names the sample. */
static void family_name(ember_buf *out, ember_expo_format f, const char *name,
                        ember_metric_type type)
{
	ember_buf_puts(out, name);
	if (type == EMBER_COUNTER && f == EMBER_EXPO_TEXT)
		ember_buf_puts(out, "_total");
}

void ember_expo_family(ember_buf *out, ember_expo_format f, const char *name,
                       ember_metric_type type, const char *help)
{
	if (help) {
		ember_buf_puts(out, "# HELP ");
		family_name(out, f, name, type);
		ember_buf_putc(out, ' ');
		escape(out, help, f == EMBER_EXPO_OPENMETRICS);
		ember_buf_putc(out, '\n');
	}
	ember_buf_puts(out, "# TYPE ");
	family_name(out, f, name, type);
	ember_buf_puts(out, type == EMBER_COUNTER ? " counter\n" : " gauge\n");
}

void ember_expo_sample_exemplar(ember_buf *out, ember_expo_format f, const char *name,
                                ember_metric_type type, const char *labels, double value,
                                const char *exemplar_labels, double exemplar_value,
                                double exemplar_timestamp)
{
	ember_buf_puts(out, name);
	if (type == EMBER_COUNTER)
		ember_buf_puts(out, "_total");
	if (labels && *labels) {
		ember_buf_putc(out, '{');
		ember_buf_puts(out, labels);
		ember_buf_putc(out, '}');
	}
	ember_buf_putc(out, ' ');
	ember_expo_value(out, value);
	if (exemplar_labels && f == EMBER_EXPO_OPENMETRICS && type == EMBER_COUNTER) {
		ember_buf_puts(out, " # {");
		ember_buf_puts(out, exemplar_labels);
		ember_buf_puts(out, "} ");
		ember_expo_value(out, exemplar_value);
		ember_buf_printf(out, " %.3f", exemplar_timestamp);
	}
	ember_buf_putc(out, '\n');
}

void ember_expo_sample(ember_buf *out, ember_expo_format f, const char *name,
                       ember_metric_type type, const char *labels, double value)
{
	ember_expo_sample_exemplar(out, f, name, type, labels, value, NULL, 0, 0);
}
