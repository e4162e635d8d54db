/* exporter/top.c — the terminal table of `ember export --format top`, in the
 * manner of `pprof -top`: one row per function (and binary), sorted by flat
 * time, with flat, flat%, sum% (running total of flat%), cum and cum%.
 *
 * --group-by splits the rows by sample labels (container_id, pod_uid,
 * cgroup, comm...), which lead each row as columns, and puts each group's
 * total above the rows, largest first.
 *
 * Flat is the time a function was the leaf (innermost inline frame); cum
 * counts it once per sample wherever it is on the stack. Values are seconds
 * when the profile has CPU time, else sample counts; control characters in
 * names print as spaces so a row stays one line. Owns: that text. Must
 * never: change the profile.
 */
#include "ember/report.h"
#include "frames.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_value(ember_buf *out, const frame_weight *w, int64_t v, int width)
{
	char s[32];
	if (w->cpu_ns)
		snprintf(s, sizeof s, "%.2fs", (double)v / 1e9);
	else
		snprintf(s, sizeof s, "%lld", (long long)v);
	ember_buf_printf(out, "%*s", width, s);
}

/* One row per line: control characters in a name print as spaces. */
static void put_name(ember_buf *out, const char *name)
{
	for (const char *c = name; *c; c++)
		ember_buf_putc(out, (unsigned char)*c < 0x20 ? ' ' : *c);
}

static double pct(int64_t v, int64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

/* The label names of a --group-by list into keys (names point into copy). */
static int parse_group_by(const char *list, char *copy, fnstat_keys *keys, ember_error *err)
{
	if (!list || !*list)
		return 0;
	strcpy(copy, list);
	for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (keys->n_labels == FNSTAT_MAX_LABELS)
			return ember_errorf(err, EINVAL, "top: at most %d labels to group by",
			                    FNSTAT_MAX_LABELS);
		for (size_t i = 0; i < keys->n_labels; i++)
			if (strcmp(keys->labels[i], t) == 0)
				return ember_errorf(err, EINVAL, "top: label '%.100s' given twice", t);
		keys->labels[keys->n_labels++] = t;
	}
	if (!keys->n_labels || strstr(list, ",,") || list[strlen(list) - 1] == ',' || *list == ',')
		return ember_errorf(err, EINVAL, "top: empty label name in '%.200s'", list);
	return 0;
}

/* The group's values as columns: tab-free, "-" for none. */
static void put_group(ember_buf *out, const fnstat_keys *keys, const char *group)
{
	for (size_t i = 0; i < keys->n_labels; i++) {
		size_t n = strcspn(group, (char[]){FNSTAT_SEP, 0});
		if (!n)
			ember_buf_putc(out, '-');
		for (size_t k = 0; k < n; k++)
			ember_buf_putc(out, (unsigned char)group[k] < 0x20 ? ' ' : group[k]);
		ember_buf_puts(out, "  ");
		group += n + (group[n] != '\0');
	}
}

typedef struct group_total {
	const char *group; /* an entry's group string (owned by the fnstat) */
	int64_t value;
} group_total;

static int by_group(const void *a, const void *b)
{
	return strcmp(((const group_total *)a)->group, ((const group_total *)b)->group);
}

static int by_value(const void *a, const void *b)
{
	int64_t x = ((const group_total *)a)->value, y = ((const group_total *)b)->value;
	return x != y ? (x > y ? -1 : 1) : by_group(a, b);
}

/* The total of each group, largest first (at most max_rows, 0: all), above
 * the rows: which container (pod, cgroup...) burned the CPU. A sample's
 * group is its leaf frame's. */
static int put_group_totals(ember_buf *out, const fnstat *fs, const fnstat_keys *keys,
                            const frame_weight *w, size_t n_samples, int64_t total,
                            size_t max_rows)
{
	group_total *g = malloc((n_samples ? n_samples : 1) * sizeof *g);
	if (!g)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < n_samples; i++)
		if (fs->sample_start[i] < fs->sample_start[i + 1])
			g[n++] = (group_total){fs->entries[fs->frames[fs->sample_start[i]]].group,
			                       fs->sample_value[i]};
	qsort(g, n, sizeof *g, by_group);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(g[k - 1].group, g[i].group) == 0)
			g[k - 1].value = frame_sat_add(g[k - 1].value, g[i].value);
		else
			g[k++] = g[i];
	}
	qsort(g, k, sizeof *g, by_value);
	if (max_rows && k > max_rows)
		k = max_rows;
	ember_buf_printf(out, "%10s %7s  ", "total", "total%");
	for (size_t i = 0; i < keys->n_labels; i++)
		ember_buf_printf(out, "%s%s", keys->labels[i], i + 1 < keys->n_labels ? "  " : "\n");
	for (size_t i = 0; i < k; i++) {
		put_value(out, w, g[i].value, 10);
		ember_buf_printf(out, " %6.2f%%  ", pct(g[i].value, total));
		put_group(out, keys, g[i].group);
		while (out->len && out->data[out->len - 1] == ' ')
			out->data[--out->len] = '\0';
		ember_buf_putc(out, '\n');
	}
	ember_buf_putc(out, '\n');
	free(g);
	return 0;
}

int ember_report_top(const ember_profile *p, size_t max_rows, ember_buf *out, ember_error *err)
{
	return ember_report_top_by(p, max_rows, NULL, out, err);
}

int ember_report_top_by(const ember_profile *p, size_t max_rows, const char *group_by,
                        ember_buf *out, ember_error *err)
{
	fnstat_keys keys = {.binary = true, .function = true};
	char *copy = group_by ? malloc(strlen(group_by) + 1) : NULL;
	if (group_by && !copy)
		return ember_errorf(err, ENOMEM, "top: out of memory");
	int rc = parse_group_by(group_by, copy, &keys, err);
	frame_weight w;
	if (rc == 0)
		rc = frame_weight_report(p, &w, err);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	fnstat fs;
	rc = fnstat_build(&fs, p, &w, &keys, err);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	size_t *rows = fnstat_rank(&fs);
	if (!rows) {
		fnstat_free(&fs);
		free(copy);
		return ember_errorf(err, ENOMEM, "top: out of memory");
	}
	int64_t total = 0;
	for (size_t i = 0; i < p->n_samples; i++)
		total = frame_sat_add(total, fs.sample_value[i]);
	size_t shown = max_rows && max_rows < fs.n_entries ? max_rows : fs.n_entries;
	int64_t shown_flat = 0;
	for (size_t i = 0; i < shown; i++)
		shown_flat = frame_sat_add(shown_flat, fs.entries[rows[i]].self);

	ember_buf_puts(out, "Showing nodes accounting for ");
	put_value(out, &w, shown_flat, 0);
	ember_buf_printf(out, ", %.2f%% of ", pct(shown_flat, total));
	put_value(out, &w, total, 0);
	ember_buf_puts(out, " total\n");
	if (keys.n_labels && put_group_totals(out, &fs, &keys, &w, p->n_samples, total, max_rows) < 0)
		out->oom = true;
	if (shown < fs.n_entries)
		ember_buf_printf(out, "Dropped %zu nodes\n", fs.n_entries - shown);
	ember_buf_printf(out, "%10s %7s %7s %10s %7s  ", "flat", "flat%", "sum%", "cum", "cum%");
	for (size_t i = 0; i < keys.n_labels; i++)
		ember_buf_printf(out, "%s  ", keys.labels[i]);
	ember_buf_puts(out, "function  binary\n");
	int64_t sum = 0;
	for (size_t i = 0; i < shown; i++) {
		const fnstat_entry *e = &fs.entries[rows[i]];
		sum = frame_sat_add(sum, e->self);
		put_value(out, &w, e->self, 10);
		ember_buf_printf(out, " %6.2f%% %6.2f%% ", pct(e->self, total), pct(sum, total));
		put_value(out, &w, e->cum, 10);
		ember_buf_printf(out, " %6.2f%%  ", pct(e->cum, total));
		put_group(out, &keys, e->group);
		put_name(out, e->function);
		ember_buf_puts(out, "  ");
		put_name(out, e->binary);
		ember_buf_putc(out, '\n');
	}
	free(rows);
	fnstat_free(&fs);
	free(copy);
	if (!ember_buf_ok(out))
		return ember_errorf(err, ENOMEM, "top: out of memory");
	return 0;
}
