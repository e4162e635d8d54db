/* fuzz/fuzz_metrics.c — libFuzzer target for the writers that print names
 * taken from profiles: the metrics registry and its exposition (exporter/
 * metrics.c, expo.c) and the folded and top reports (folded.c, top.c).
 *
 * The input, split at NUL bytes, gives hostile strings: the process name,
 * the mapping's file name, then function names; a small symbolized profile
 * is built from them (inline chains, raw locations, a second comm) and fed
 * through ember_metrics_add_profile and render (text and OpenMetrics), and
 * ember_report_folded/top. Every exposition line must parse (HELP/TYPE, or
 * name{label="escaped",...} value [# {exemplar} value ts]), every label
 * value must use only \\ \" \n escapes, the output must be UTF-8, and the
 * folded lines must be "stack count" with counts summing to the samples. */
#include "ember/metrics.h"
#include "ember/report.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

enum { MAX_TOKENS = 24 };

static bool valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
				       : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!k || i + k > n)
			return false;
		unsigned cp = k == 1 ? c : c & (0x7f >> k);
		for (size_t j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k;
	}
	return true;
}

static bool name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' ||
	       (!first && isdigit((unsigned char)c));
}

/* A metric or label name at *p. */
static bool parse_name(const char **p)
{
	if (!name_char(**p, true))
		return false;
	while (name_char(**p, false))
		(*p)++;
	return true;
}

/* {name="value",...}: the escapes \\ \" \n only; no raw newline. */
static bool parse_labels(const char **p)
{
	if (**p != '{')
		return false;
	(*p)++;
	if (**p == '}') {
		(*p)++;
		return true;
	}
	for (;;) {
		if (!parse_name(p) || *(*p)++ != '=' || *(*p)++ != '"')
			return false;
		for (;;) {
			char c = *(*p)++;
			if (c == '\0' || c == '\n')
				return false;
			if (c == '"')
				break;
			if (c == '\\') {
				char e = *(*p)++;
				if (e != '\\' && e != '"' && e != 'n')
					return false;
			}
		}
		char c = *(*p)++;
		if (c == '}')
			return true;
		if (c != ',')
			return false;
	}
}

static bool parse_value(const char **p, double *v)
{
	char *end;
	*v = strtod(*p, &end);
	if (end == *p)
		return false;
	*p = end;
	return true;
}

/* One exposition line (NUL-terminated, without its newline). Adds a self
 * seconds sample's value to *self. */
static bool parse_line(const char *line, ember_expo_format f, double *self)
{
	if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
		const char *p = line + 7;
		if (!parse_name(&p) || *p != ' ')
			return false;
		for (p++; *p; p++)
			if ((unsigned char)*p < 0x20)
				return false;
		return true;
	}
	const char *p = line;
	if (!parse_name(&p))
		return false;
	size_t nlen = (size_t)(p - line);
	if (*p == '{' && !parse_labels(&p))
		return false;
	double v;
	if (*p++ != ' ' || !parse_value(&p, &v))
		return false;
	if (nlen == strlen("ember_function_self_seconds_total") &&
	    !strncmp(line, "ember_function_self_seconds_total", nlen))
		*self += v;
	if (!*p)
		return true;
	if (f != EMBER_EXPO_OPENMETRICS || strncmp(p, " # ", 3))
		return false;
	p += 3;
	if (!parse_labels(&p) || *p++ != ' ' || !parse_value(&p, &v) || *p++ != ' ' ||
	    !parse_value(&p, &v))
		return false;
	return *p == '\0';
}

static void check_exposition(const ember_buf *b, ember_expo_format f, double want_self)
{
	assert(valid_utf8((const unsigned char *)b->data, b->len));
	assert(b->len == 0 || b->data[b->len - 1] == '\n');
	char *copy = malloc(b->len + 1);
	assert(copy);
	memcpy(copy, b->data, b->len);
	copy[b->len] = '\0';
	assert(strlen(copy) == b->len);   /* no NUL inside */
	double self = 0;
	for (char *line = copy, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (!parse_line(line, f, &self)) {
			fprintf(stderr, "bad exposition line: %s\n", line);
			abort();
		}
	}
	assert(fabs(self - want_self) <= 1e-6 * (want_self + 1));
	free(copy);
}

static void check_folded(const ember_buf *b, int64_t want)
{
	assert(b->len == 0 || b->data[b->len - 1] == '\n');
	assert(memchr(b->data, '\0', b->len) == NULL);
	int64_t sum = 0;
	for (size_t i = 0; i < b->len;) {
		const char *line = b->data + i;
		const char *nl = memchr(line, '\n', b->len - i);
		size_t n = (size_t)(nl - line);
		const char *sp = line + n;
		while (sp > line && sp[-1] != ' ')
			sp--;
		assert(sp > line + 1);   /* a non-empty stack, a space, a count */
		assert(sp < nl);
		int64_t c = 0;
		for (const char *d = sp; d < nl; d++) {
			assert(isdigit((unsigned char)*d));
			c = c * 10 + (*d - '0');
		}
		sum += c;
		i += n + 1;
	}
	assert(sum == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len > 8192)
		return 0;
	char *text = malloc(len + 1);
	assert(text);
	memcpy(text, data, len);
	text[len] = '\0';
	const char *tok[MAX_TOKENS];
	size_t nt = 0;
	for (size_t i = 0; i <= len && nt < MAX_TOKENS; i += strlen(text + i) + 1)
		tok[nt++] = text + i;
	while (nt < 4)
		tok[nt++] = "";

	ember_profile *p = ember_profile_new();
	assert(p);
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->period = 10000000;
	p->time_nanos = 1700000000000000000LL;
	p->duration_nanos = 10000000000LL;
	ember_mapping m = { .memory_start = 0x400000, .memory_limit = 0x800000,
			    .filename = ember_profile_intern(p, tok[1]),
			    .build_id = ember_profile_intern(p, ""),
			    .has_functions = true };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	/* location i: function tok[2 + i], with tok[3 + i] inlined into it every
	 * third location; the last location is raw (no lines) */
	size_t nf = nt - 2;
	uint64_t loc[MAX_TOKENS + 1];
	for (size_t i = 0; i < nf; i++) {
		loc[i] = ember_profile_add_location(p, mid, 0x401000 + 16 * i);
		if (i % 3 == 2 && i + 1 < nf) {
			int64_t n = ember_profile_intern(p, tok[3 + i]);
			ember_profile_location_add_line(
				p, loc[i], ember_profile_intern_function(p, n, n, n, 1), 7);
		}
		int64_t n = ember_profile_intern(p, tok[2 + i]);
		ember_profile_location_add_line(p, loc[i],
						ember_profile_intern_function(p, n, n, n, 1), 3);
	}
	loc[nf] = ember_profile_add_location(p, mid, 0x402000 + len);
	/* sample i: leaf loc[i], then up to 3 callers; comm alternates */
	int64_t total = 0;
	for (size_t i = 0; i <= nf; i++) {
		size_t depth = 1 + (strlen(tok[i % nt]) % 4);
		uint64_t stack[4];
		size_t k = 0;
		for (size_t j = i; k < depth && j <= nf; j++)
			stack[k++] = loc[j];
		int64_t count = 1 + (int64_t)(i % 5);
		int64_t v[2] = { count, count * p->period };
		ember_label labels[2] = {
			{ .key = ember_profile_intern(p, "pid"), .num = 100 + (int64_t)i % 2 },
			{ .key = ember_profile_intern(p, "comm"),
			  .str = ember_profile_intern(p, i % 2 ? tok[0] : tok[nt - 1]) },
		};
		ember_profile_add_sample(p, stack, k, v, labels, 2);
		total += count;
	}
	char msg[256];
	int rc = ember_profile_check(p, msg, sizeof msg);
	assert(rc == 0);

	ember_metrics_opts mo = { .top_n = 3, .max_series = 8,
				  .functions_regex = len % 2 ? "[a-f]" : NULL };
	ember_metrics *mx = NULL;
	rc = ember_metrics_new(&mx, &mo, NULL);
	assert(rc == 0);
	rc = ember_metrics_add_profile(mx, p, "20261125T010000Z-10s", 1764032410000, NULL);
	assert(rc == 0);
	rc = ember_metrics_add_profile(mx, p, tok[0], 1764032420000, NULL);
	assert(rc == 0);
	double want_self = 2.0 * (double)total * (double)p->period / 1e9;
	for (int f = 0; f < 2; f++) {
		ember_buf b = EMBER_BUF_INIT;
		rc = ember_metrics_render(mx, (ember_expo_format)f, &b, NULL);
		assert(rc == 0);
		check_exposition(&b, (ember_expo_format)f, want_self);
		ember_buf_free(&b);
	}
	/* the same escaping for the other families' labels */
	ember_buf b = EMBER_BUF_INIT;
	ember_buf_puts(&b, "x=\"");
	ember_expo_escape(&b, tok[2]);
	ember_buf_puts(&b, "\"");
	ember_buf out = EMBER_BUF_INIT;
	ember_expo_sample(&out, EMBER_EXPO_TEXT, "ember_test", EMBER_GAUGE, b.data, 1);
	check_exposition(&out, EMBER_EXPO_TEXT, 0);
	ember_buf_free(&out);
	ember_buf_free(&b);
	ember_metrics_free(mx);

	b = (ember_buf)EMBER_BUF_INIT;
	rc = ember_report_folded(p, &b, NULL);
	assert(rc == 0);
	check_folded(&b, total);
	ember_buf_free(&b);
	b = (ember_buf)EMBER_BUF_INIT;
	rc = ember_report_top(p, len % 7, &b, NULL);
	assert(rc == 0);
	assert(b.len && b.data[b.len - 1] == '\n');
	ember_buf_free(&b);
	ember_profile_free(p);
	free(text);
	return 0;
}
