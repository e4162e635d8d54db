/* exporter/folded.c — collapsed stacks ("folded", the input of
 * flamegraph.pl and speedscope): one line per distinct stack, frames root
 * first and ';'-separated, inline frames expanded (the physical caller before
 * what was inlined into it), a space and the sample count.
 *
 * Lines are sorted and equal stacks summed, so the output is deterministic.
 * A ';' inside a name would split a frame, so it becomes ':'; a newline
 * becomes a space. Samples without frames print as "[no stack]". Owns: that
 * text. Must never: change the profile.
 */
#include "ember/report.h"
#include "frames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct line {
	char *stack;
	int64_t count;
} line;

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const line *)a)->stack, ((const line *)b)->stack);
}

static void put_frame(ember_buf *b, const char *name)
{
	for (const char *c = name; *c; c++)
		ember_buf_putc(b, *c == ';' ? ':' : *c == '\n' ? ' ' : *c);
}

static char *stack_text(const ember_profile *p, const ember_sample *s)
{
	ember_buf b = EMBER_BUF_INIT;
	char buf[FRAME_NAME_MAX];
	for (size_t li = s->n_locations; li-- > 0;) {
		const ember_location *l = ember_profile_location(p, s->location_ids[li]);
		for (size_t fi = frame_count(l); fi-- > 0;) {
			if (b.len)
				ember_buf_putc(&b, ';');
			put_frame(&b, frame_function(p, l, fi, buf));
		}
	}
	if (!s->n_locations)
		ember_buf_puts(&b, "[no stack]");
	if (!ember_buf_ok(&b)) {
		ember_buf_free(&b);
		return NULL;
	}
	return b.data;
}

int ember_report_folded(const ember_profile *p, ember_buf *out, ember_error *err)
{
	int vi = ember_profile_sample_type_index(p, "samples");
	if (vi < 0 && p->n_sample_types)
		vi = 0;
	if (vi < 0)
		return ember_errorf(err, EINVAL, "folded: the profile has no sample types");
	line *lines = calloc(p->n_samples ? p->n_samples : 1, sizeof *lines);
	if (!lines)
		return ember_errorf(err, ENOMEM, "folded: out of memory");
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < p->n_samples; i++) {
		const ember_sample *s = &p->samples[i];
		if (s->values[vi] == 0)
			continue;
		lines[n].stack = stack_text(p, s);
		lines[n].count = s->values[vi];
		if (!lines[n].stack) {
			rc = ember_errorf(err, ENOMEM, "folded: out of memory");
			goto out;
		}
		n++;
	}
	qsort(lines, n, sizeof *lines, line_cmp);
	for (size_t i = 0; i < n;) {
		int64_t count = 0;
		size_t j = i;
		for (; j < n && strcmp(lines[j].stack, lines[i].stack) == 0; j++)
			count = frame_sat_add(count, lines[j].count);
		ember_buf_printf(out, "%s %lld\n", lines[i].stack, (long long)count);
		i = j;
	}
	if (!ember_buf_ok(out))
		rc = ember_errorf(err, ENOMEM, "folded: out of memory");
out:
	for (size_t i = 0; i < n; i++)
		free(lines[i].stack);
	free(lines);
	return rc;
}
