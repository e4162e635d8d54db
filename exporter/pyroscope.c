/* exporter/pyroscope.c — the Pyroscope push body (ember/pyroscope.h): a
 * PushRequest with one series per service (or per comm), each holding the
 * window's samples as a gzip pprof.
 *
 * Owns: splitting a window by comm (a subset copies only what its samples
 * use) and the series labels. Must never: know about HTTP or retries, or
 * modify the input profile.
 */
#include "ember/pyroscope.h"

#include "ember/pprof.h"

#include "pyroscope_push.pb-c.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A sample and its comm, for grouping. */
typedef struct by_comm {
	const char *comm;
	size_t i;
} by_comm;

static int by_comm_cmp(const void *a, const void *b)
{
	const by_comm *x = a, *y = b;
	int c = strcmp(x->comm, y->comm);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Copies of p's mappings, locations, functions and strings, made on first
 * use, so a subset holds only what its samples reference (ids renumbered,
 * addresses untouched: the merger would rebase them across processes). */
typedef struct subset {
	const ember_profile *p;
	ember_profile *q;
	int64_t *str;      /* p string index -> q's; 0 unset (index 0 is "" in both) */
	uint64_t *map, *loc, *fn;
	bool oom;
} subset;

static int64_t sub_str(subset *s, int64_t i)
{
	if (i <= 0 || (size_t)i >= s->p->n_strings)
		return 0;
	if (!s->str[i]) {
		int64_t k = ember_profile_intern(s->q, s->p->strings[i]);
		if (k < 0)
			s->oom = true;
		s->str[i] = k < 0 ? 0 : k;
	}
	return s->str[i];
}

static uint64_t sub_map(subset *s, uint64_t id)
{
	const ember_mapping *m = ember_profile_mapping(s->p, id);
	if (!m || s->map[id])
		return m ? s->map[id] : 0;
	ember_mapping c = *m;
	c.filename = sub_str(s, m->filename);
	c.build_id = sub_str(s, m->build_id);
	if (!(s->map[id] = ember_profile_add_mapping(s->q, &c)))
		s->oom = true;
	return s->map[id];
}

static uint64_t sub_fn(subset *s, uint64_t id)
{
	const ember_function *f = ember_profile_function(s->p, id);
	if (!f || s->fn[id])
		return f ? s->fn[id] : 0;
	if (!(s->fn[id] = ember_profile_add_function(s->q, sub_str(s, f->name),
						     sub_str(s, f->system_name),
						     sub_str(s, f->filename), f->start_line)))
		s->oom = true;
	return s->fn[id];
}

static uint64_t sub_loc(subset *s, uint64_t id)
{
	const ember_location *l = ember_profile_location(s->p, id);
	if (!l || s->loc[id])
		return l ? s->loc[id] : 0;
	uint64_t k = ember_profile_add_location(s->q, sub_map(s, l->mapping_id), l->address);
	if (!k) {
		s->oom = true;
		return 0;
	}
	for (size_t j = 0; j < l->n_lines; j++)
		if (ember_profile_location_add_line(s->q, k, sub_fn(s, l->lines[j].function_id),
						    l->lines[j].line) < 0)
			s->oom = true;
	ember_location *nl = ember_profile_location(s->q, k);
	nl->is_folded = l->is_folded;
	for (size_t j = 0; j < nl->n_lines && j < l->n_lines; j++)
		nl->lines[j].column = l->lines[j].column;
	return s->loc[id] = k;
}

/* One sample of p into q; 0 or -ENOMEM. */
static int sub_sample(subset *s, const ember_sample *smp)
{
	uint64_t locs[smp->n_locations ? smp->n_locations : 1];
	ember_label labels[smp->n_labels ? smp->n_labels : 1];
	for (size_t j = 0; j < smp->n_locations; j++)
		locs[j] = sub_loc(s, smp->location_ids[j]);
	for (size_t j = 0; j < smp->n_labels; j++) {
		labels[j] = smp->labels[j];
		labels[j].key = sub_str(s, smp->labels[j].key);
		labels[j].str = sub_str(s, smp->labels[j].str);
		labels[j].num_unit = sub_str(s, smp->labels[j].num_unit);
	}
	if (s->oom)
		return -ENOMEM;
	return ember_profile_add_sample(s->q, locs, smp->n_locations, smp->values, labels,
					smp->n_labels);
}

/* The profile header (types, period, time, comments) of p into q. */
static void sub_header(subset *s)
{
	const ember_profile *p = s->p;
	ember_profile *q = s->q;
	for (size_t t = 0; t < p->n_sample_types; t++)
		if (ember_profile_add_sample_type(q, ember_profile_str(p, p->sample_types[t].type),
						  ember_profile_str(p, p->sample_types[t].unit)) < 0)
			s->oom = true;
	if (ember_profile_set_period_type(q, ember_profile_str(p, p->period_type.type),
					  ember_profile_str(p, p->period_type.unit)) < 0)
		s->oom = true;
	q->period = p->period;
	q->time_nanos = p->time_nanos;
	q->duration_nanos = p->duration_nanos;
	q->drop_frames = sub_str(s, p->drop_frames);
	q->keep_frames = sub_str(s, p->keep_frames);
	q->default_sample_type = sub_str(s, p->default_sample_type);
	if (p->n_comments && (q->comments = calloc(p->n_comments, sizeof *q->comments))) {
		for (size_t i = 0; i < p->n_comments; i++)
			q->comments[i] = sub_str(s, p->comments[i]);
		q->n_comments = p->n_comments;
	}
}

/* The gzip pprof of p's samples keep[0..n), holding only what they use. */
static int subset_pprof(const ember_profile *p, const by_comm *keep, size_t n, ember_buf *out,
			ember_error *err)
{
	subset s = { .p = p, .q = ember_profile_new() };
	s.str = calloc(p->n_strings + 1, sizeof *s.str);
	s.map = calloc(p->n_mappings + 1, sizeof *s.map);
	s.loc = calloc(p->n_locations + 1, sizeof *s.loc);
	s.fn = calloc(p->n_functions + 1, sizeof *s.fn);
	int rc = 0;
	if (!s.q || !s.str || !s.map || !s.loc || !s.fn)
		s.oom = true;
	else
		sub_header(&s);
	for (size_t k = 0; k < n && !s.oom; k++)
		if (sub_sample(&s, &p->samples[keep[k].i]) < 0)
			s.oom = true;
	if (s.oom)
		rc = ember_errorf(err, ENOMEM, "pyroscope: out of memory");
	else
		rc = ember_pprof_encode(s.q, EMBER_COMPRESS_GZIP, out, err);
	ember_profile_free(s.q);
	free(s.str);
	free(s.map);
	free(s.loc);
	free(s.fn);
	return rc;
}

typedef struct series_buf {
	Ember__Pyroscope__RawProfileSeries series;
	Ember__Pyroscope__LabelPair *labels;    /* n_labels */
	Ember__Pyroscope__LabelPair **label_ptrs;
	Ember__Pyroscope__RawSample sample;
	Ember__Pyroscope__RawSample *sample_ptr;
	Ember__Pyroscope__ProfileAnnotation note;
	Ember__Pyroscope__ProfileAnnotation *note_ptr;
	ember_buf pprof;
} series_buf;

/* Fills one series: labels, annotation, and the pprof of keep[0..n). */
static int fill_series(series_buf *sb, const ember_profile *p, const ember_pyroscope_opts *o,
		       const char *service, const by_comm *keep, size_t n, ember_error *err)
{
	size_t nl = 2 + o->n_labels;
	sb->labels = calloc(nl, sizeof *sb->labels);
	sb->label_ptrs = calloc(nl, sizeof *sb->label_ptrs);
	if (!sb->labels || !sb->label_ptrs)
		return ember_errorf(err, ENOMEM, "pyroscope: out of memory");
	const char *names[2] = { "__name__", "service_name" };
	const char *values[2] = { "process_cpu", service };
	for (size_t i = 0; i < nl; i++) {
		ember__pyroscope__label_pair__init(&sb->labels[i]);
		sb->labels[i].name = (char *)(i < 2 ? names[i] : o->labels[i - 2].key);
		sb->labels[i].value = (char *)(i < 2 ? values[i] : o->labels[i - 2].value);
		sb->label_ptrs[i] = &sb->labels[i];
	}
	ember__pyroscope__raw_profile_series__init(&sb->series);
	sb->series.n_labels = nl;
	sb->series.labels = sb->label_ptrs;
	int rc = subset_pprof(p, keep, n, &sb->pprof, err);
	if (rc < 0)
		return rc;
	ember__pyroscope__raw_sample__init(&sb->sample);
	sb->sample.raw_profile.data = (uint8_t *)sb->pprof.data;
	sb->sample.raw_profile.len = sb->pprof.len;
	sb->sample.id = (char *)o->window_id;
	sb->sample_ptr = &sb->sample;
	sb->series.n_samples = 1;
	sb->series.samples = &sb->sample_ptr;
	ember__pyroscope__profile_annotation__init(&sb->note);
	sb->note.key = (char *)EMBER_PYROSCOPE_WINDOW_ANNOTATION;
	sb->note.value = (char *)o->window_id;
	sb->note_ptr = &sb->note;
	sb->series.n_annotations = 1;
	sb->series.annotations = &sb->note_ptr;
	return 0;
}

int ember_pyroscope_encode(const ember_profile *p, const ember_pyroscope_opts *o, ember_buf *out,
			   size_t *n_series, ember_error *err)
{
	if (!o->window_id || !*o->window_id)
		return ember_errorf(err, EINVAL, "pyroscope: no window id");
	bool split = !o->service_name || !*o->service_name;
	by_comm *all = calloc(p->n_samples ? p->n_samples : 1, sizeof *all);
	/* at most one series per sample (and one for an empty window) */
	series_buf *sbs = calloc(p->n_samples ? p->n_samples : 1, sizeof *sbs);
	Ember__Pyroscope__RawProfileSeries **ptrs =
		calloc(p->n_samples ? p->n_samples : 1, sizeof *ptrs);
	int rc = 0;
	size_t ns = 0;
	if (!all || !sbs || !ptrs) {
		rc = ember_errorf(err, ENOMEM, "pyroscope: out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->n_samples; i++) {
		const char *c = split ? ember_sample_label_str(p, &p->samples[i], "comm") : NULL;
		all[i] = (by_comm){ c && *c ? c : "unknown_service", i };
	}
	if (split)
		qsort(all, p->n_samples, sizeof *all, by_comm_cmp);
	size_t i = 0;
	do {   /* one series per run of equal comms (one in all without split) */
		size_t j = split ? i + 1 : p->n_samples;
		while (split && j < p->n_samples && strcmp(all[j].comm, all[i].comm) == 0)
			j++;
		if (j > p->n_samples)
			j = p->n_samples;
		const char *service = !split ? o->service_name
				      : i < p->n_samples ? all[i].comm : "unknown_service";
		rc = fill_series(&sbs[ns], p, o, service, all + i, j - i, err);
		ptrs[ns] = &sbs[ns].series;
		ns++;
		i = j;
	} while (rc >= 0 && i < p->n_samples);
	if (rc >= 0) {
		Ember__Pyroscope__PushRequest req = EMBER__PYROSCOPE__PUSH_REQUEST__INIT;
		req.n_series = ns;
		req.series = ptrs;
		size_t size = ember__pyroscope__push_request__get_packed_size(&req);
		if (!ember_buf_reserve(out, size + 1)) {
			rc = ember_errorf(err, ENOMEM, "pyroscope: out of memory");
		} else {
			ember__pyroscope__push_request__pack(&req, (uint8_t *)out->data + out->len);
			out->len += size;
			out->data[out->len] = '\0';
		}
	}
out:
	for (size_t k = 0; sbs && k < ns; k++) {
		free(sbs[k].labels);
		free(sbs[k].label_ptrs);
		ember_buf_free(&sbs[k].pprof);
	}
	if (rc >= 0 && n_series)
		*n_series = ns;
	free(ptrs);
	free(sbs);
	free(all);
	return rc;
}
