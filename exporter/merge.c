/* exporter/merge.c — combining profiles (ember/merge.h).
 *
 * The merger builds one output profile and translates each added profile
 * into it lazily: only what a sample references is copied, so entities no
 * sample uses are dropped. Identity rules:
 *  - mapping: (build id, else file name; file offset); a JIT region
 *    ("//anon") also by its start address. When the same binary sits at a
 *    different address (ASLR, another process), the added profile's addresses
 *    are rebased into the first mapping's: addr - start + first_start, so
 *    equal code gets equal locations. has_* flags are the AND of all inputs;
 *  - function: (name, system name, file name, start line) as strings;
 *  - location: (mapping, rebased address, is_folded, identical lines);
 *  - sample: (locations, labels as a set); values are summed.
 * Time is the earliest start, duration the span to the latest end.
 *
 * Owns: the output profile and the identity tables. Must never: modify an
 * input, or accept a profile of another kind (sample or period types).
 */
#include "ember/merge.h"
#include "ember/hash.h"
#include "ember/grow.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hash table from a key of 64-bit words to a value. */
typedef struct wentry {
	size_t off, len; /* key = words[off .. off + len) */
	uint64_t value;
} wentry;

typedef struct wtab {
	uint64_t *words;
	size_t n_words, cap_words;
	wentry *e;
	size_t n, cap;
	uint32_t *slots; /* entry index + 1, 0 empty */
	size_t mask;
} wtab;

static uint64_t whash(const uint64_t *k, size_t n)
{
	return ember_hash_words(k, n, 0x6d65726765);
}

static wentry *wtab_find(const wtab *t, const uint64_t *k, size_t n)
{
	if (!t->slots)
		return NULL;
	size_t h = (size_t)whash(k, n) & t->mask;
	while (t->slots[h]) {
		wentry *e = &t->e[t->slots[h] - 1];
		if (e->len == n && memcmp(&t->words[e->off], k, n * sizeof *k) == 0)
			return e;
		h = (h + 1) & t->mask;
	}
	return NULL;
}

static bool wtab_rehash(wtab *t, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	for (size_t i = 0; i < t->n; i++) {
		size_t h = (size_t)whash(&t->words[t->e[i].off], t->e[i].len) & t->mask;
		while (t->slots[h])
			h = (h + 1) & t->mask;
		t->slots[h] = (uint32_t)(i + 1);
	}
	return true;
}

/* Adds a key known to be absent. */
static bool wtab_put(wtab *t, const uint64_t *k, size_t n, uint64_t value)
{
	assert(!wtab_find(t, k, n));
	if (t->n >= UINT32_MAX - 1)
		return false;
	if ((!t->slots || (t->n + 1) * 2 > t->mask + 1) &&
	    !wtab_rehash(t, t->slots ? (t->mask + 1) * 2 : 256))
		return false;
	if (!ember_grow((void **)&t->words, &t->cap_words, t->n_words + n + 1,
	                   sizeof *t->words) ||
	    !ember_grow((void **)&t->e, &t->cap, t->n + 1, sizeof *t->e))
		return false;
	if (n)
		memcpy(&t->words[t->n_words], k, n * sizeof *k);
	t->e[t->n] = (wentry){t->n_words, n, value};
	t->n_words += n;
	size_t h = (size_t)whash(k, n) & t->mask;
	while (t->slots[h])
		h = (h + 1) & t->mask;
	t->slots[h] = (uint32_t)(++t->n);
	return true;
}

static void wtab_free(wtab *t)
{
	free(t->words);
	free(t->e);
	free(t->slots);
}

struct ember_merger {
	ember_profile *out;
	bool started;
	int64_t start, end; /* ns; start 0 while no input had a time */
	wtab mappings, locations, samples;
	uint64_t *key; /* scratch: a sample's key */
	size_t cap_key;
	uint64_t *lkey; /* scratch: a location's key (built while key is in use) */
	size_t cap_lkey;
};

int ember_merger_new(ember_merger **out, ember_error *err)
{
	ember_merger *m = calloc(1, sizeof *m);
	if (!m || !(m->out = ember_profile_new())) {
		free(m);
		return ember_errorf(err, ENOMEM, "merge: out of memory");
	}
	*out = m;
	return 0;
}

void ember_merger_free(ember_merger *m)
{
	if (!m)
		return;
	ember_profile_free(m->out);
	wtab_free(&m->mappings);
	wtab_free(&m->locations);
	wtab_free(&m->samples);
	free(m->key);
	free(m->lkey);
	free(m);
}

/* The translation state of one add. */
typedef struct xlat {
	ember_merger *m;
	const ember_profile *src;
	int64_t *str;    /* src string index -> out, -1 unknown */
	uint64_t *map;   /* src mapping id - 1 -> out id, 0 unknown */
	uint64_t *delta; /* address rebase per src mapping */
	uint64_t *fn;    /* src function id - 1 -> out id */
	uint64_t *loc;   /* src location id - 1 -> out id */
} xlat;

static int64_t x_str(xlat *x, int64_t i)
{
	if (i <= 0 || (uint64_t)i >= x->src->n_strings)
		return 0;
	if (x->str[i] < 0)
		x->str[i] = ember_profile_intern(x->m->out, x->src->strings[i]);
	return x->str[i];
}

static bool is_jit(const char *filename)
{
	return strcmp(filename, "//anon") == 0;
}

static uint64_t x_mapping(xlat *x, uint64_t id)
{
	const ember_mapping *sm = ember_profile_mapping(x->src, id);
	if (!sm)
		return 0;
	if (x->map[id - 1])
		return x->map[id - 1];
	ember_profile *out = x->m->out;
	int64_t bid = x_str(x, sm->build_id), fname = x_str(x, sm->filename);
	if (bid < 0 || fname < 0)
		return 0;
	bool jit = is_jit(ember_profile_str(x->src, sm->filename));
	uint64_t k[4] = {bid ? 1 : 2, (uint64_t)(bid ? bid : fname), sm->file_offset,
	                 jit ? sm->memory_start : 0};
	wentry *e = wtab_find(&x->m->mappings, k, 4);
	if (e) {
		ember_mapping *om = ember_profile_mapping(out, e->value);
		uint64_t delta = om->memory_start - sm->memory_start;
		uint64_t limit = sm->memory_limit + delta;
		if (limit > om->memory_limit)
			om->memory_limit = limit;
		om->has_functions &= sm->has_functions;
		om->has_filenames &= sm->has_filenames;
		om->has_line_numbers &= sm->has_line_numbers;
		om->has_inline_frames &= sm->has_inline_frames;
		x->delta[id - 1] = delta;
		return x->map[id - 1] = e->value;
	}
	ember_mapping d = *sm;
	d.filename = fname;
	d.build_id = bid;
	uint64_t oid = ember_profile_add_mapping(out, &d);
	if (!oid || !wtab_put(&x->m->mappings, k, 4, oid))
		return 0;
	x->delta[id - 1] = 0;
	return x->map[id - 1] = oid;
}

static uint64_t x_function(xlat *x, uint64_t id)
{
	if (x->fn[id - 1])
		return x->fn[id - 1];
	const ember_function *f = ember_profile_function(x->src, id);
	int64_t name = x_str(x, f->name), sys = x_str(x, f->system_name),
	        file = x_str(x, f->filename);
	if (name < 0 || sys < 0 || file < 0)
		return 0;
	return x->fn[id - 1] =
	           ember_profile_intern_function(x->m->out, name, sys, file, f->start_line);
}

static uint64_t x_location(xlat *x, uint64_t id)
{
	if (x->loc[id - 1])
		return x->loc[id - 1];
	ember_merger *m = x->m;
	const ember_location *sl = ember_profile_location(x->src, id);
	uint64_t mid = 0, addr = sl->address;
	if (sl->mapping_id) {
		mid = x_mapping(x, sl->mapping_id);
		if (!mid)
			return 0;
		addr += x->delta[sl->mapping_id - 1];
	}
	if (!ember_grow((void **)&m->lkey, &m->cap_lkey, 4 + 3 * sl->n_lines, sizeof *m->lkey))
		return 0;
	size_t n = 0;
	m->lkey[n++] = mid;
	m->lkey[n++] = addr;
	m->lkey[n++] = sl->is_folded;
	m->lkey[n++] = sl->n_lines;
	for (size_t i = 0; i < sl->n_lines; i++) {
		uint64_t f = x_function(x, sl->lines[i].function_id);
		if (!f)
			return 0;
		m->lkey[n++] = f;
		m->lkey[n++] = (uint64_t)sl->lines[i].line;
		m->lkey[n++] = (uint64_t)sl->lines[i].column;
	}
	wentry *e = wtab_find(&m->locations, m->lkey, n);
	if (e)
		return x->loc[id - 1] = e->value;
	uint64_t oid = ember_profile_add_location(m->out, mid, addr);
	if (!oid)
		return 0;
	ember_location *ol = ember_profile_location(m->out, oid);
	ol->is_folded = sl->is_folded;
	for (size_t i = 0; i < sl->n_lines; i++) {
		if (ember_profile_location_add_line(m->out, oid, m->lkey[4 + 3 * i],
		                                    sl->lines[i].line) < 0)
			return 0;
		ol->lines[i].column = sl->lines[i].column;
	}
	if (!wtab_put(&m->locations, m->lkey, n, oid))
		return 0;
	return x->loc[id - 1] = oid;
}

static int label_cmp(const void *a, const void *b)
{
	const ember_label *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->str != y->str)
		return x->str < y->str ? -1 : 1;
	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	return x->num_unit < y->num_unit ? -1 : x->num_unit > y->num_unit;
}

static int x_sample(xlat *x, const ember_sample *s)
{
	ember_merger *m = x->m;
	ember_profile *out = m->out;
	size_t n = 2 + s->n_locations + 4 * s->n_labels;
	if (!ember_grow((void **)&m->key, &m->cap_key, n, sizeof *m->key))
		return -ENOMEM;
	ember_label *labels = calloc(s->n_labels ? s->n_labels : 1, sizeof *labels);
	if (!labels)
		return -ENOMEM;
	int rc = -ENOMEM;
	size_t k = 0;
	m->key[k++] = s->n_locations;
	for (size_t i = 0; i < s->n_locations; i++) {
		uint64_t l = x_location(x, s->location_ids[i]);
		if (!l)
			goto out;
		m->key[k++] = l;
	}
	for (size_t i = 0; i < s->n_labels; i++) {
		const ember_label *sl = &s->labels[i];
		labels[i] = (ember_label){x_str(x, sl->key), x_str(x, sl->str), sl->num,
		                          x_str(x, sl->num_unit)};
		if (labels[i].key < 0 || labels[i].str < 0 || labels[i].num_unit < 0)
			goto out;
	}
	qsort(labels, s->n_labels, sizeof *labels, label_cmp);
	m->key[k++] = s->n_labels;
	for (size_t i = 0; i < s->n_labels; i++) {
		m->key[k++] = (uint64_t)labels[i].key;
		m->key[k++] = (uint64_t)labels[i].str;
		m->key[k++] = (uint64_t)labels[i].num;
		m->key[k++] = (uint64_t)labels[i].num_unit;
	}
	assert(k == n);
	wentry *e = wtab_find(&m->samples, m->key, n);
	if (e) {
		ember_sample *os = &out->samples[e->value];
		for (size_t i = 0; i < out->n_sample_types; i++)
			if (__builtin_add_overflow(os->values[i], s->values[i], &os->values[i]))
				os->values[i] = s->values[i] > 0 ? INT64_MAX : INT64_MIN;
		rc = 0;
		goto out;
	}
	/* key[1 .. 1 + n_locations) is the translated stack */
	if (ember_profile_add_sample(out, &m->key[1], s->n_locations, s->values, labels,
	                             s->n_labels) < 0 ||
	    !wtab_put(&m->samples, m->key, n, out->n_samples - 1))
		goto out;
	rc = 0;
out:
	free(labels);
	return rc;
}

static const char *type_str(const ember_profile *p, ember_value_type t, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", ember_profile_str(p, t.type), ember_profile_str(p, t.unit));
	return buf;
}

/* Refuses a profile whose sample or period types differ from the merge's. */
static int check_kind(const ember_merger *m, const ember_profile *src, ember_error *err)
{
	const ember_profile *out = m->out;
	char a[128], b[128];
	if (src->n_sample_types != out->n_sample_types)
		return ember_errorf(err, EINVAL,
		                    "merge: a profile has %zu sample types where the first has "
		                    "%zu: only profiles of one kind can be merged",
		                    src->n_sample_types, out->n_sample_types);
	for (size_t i = 0; i < src->n_sample_types; i++) {
		type_str(src, src->sample_types[i], a, sizeof a);
		type_str(out, out->sample_types[i], b, sizeof b);
		if (strcmp(a, b) != 0)
			return ember_errorf(err, EINVAL,
			                    "merge: sample type %zu is %s where the first profile "
			                    "has %s: only profiles of one kind can be merged",
			                    i, a, b);
	}
	type_str(src, src->period_type, a, sizeof a);
	type_str(out, out->period_type, b, sizeof b);
	if (strcmp(a, b) != 0)
		return ember_errorf(err, EINVAL,
		                    "merge: period type is %s where the first profile has %s: "
		                    "only profiles of one kind can be merged",
		                    a, b);
	return 0;
}

static int first_profile(ember_merger *m, const ember_profile *src, xlat *x)
{
	ember_profile *out = m->out;
	for (size_t i = 0; i < src->n_sample_types; i++) {
		const ember_value_type *t = &src->sample_types[i];
		if (ember_profile_add_sample_type(out, ember_profile_str(src, t->type),
		                                  ember_profile_str(src, t->unit)) < 0)
			return -ENOMEM;
	}
	if (ember_profile_set_period_type(out, ember_profile_str(src, src->period_type.type),
	                                  ember_profile_str(src, src->period_type.unit)) < 0)
		return -ENOMEM;
	out->period = src->period;
	out->drop_frames = x_str(x, src->drop_frames);
	out->keep_frames = x_str(x, src->keep_frames);
	out->default_sample_type = x_str(x, src->default_sample_type);
	if (out->drop_frames < 0 || out->keep_frames < 0 || out->default_sample_type < 0)
		return -ENOMEM;
	m->started = true;
	return 0;
}

static int add_comments(xlat *x)
{
	ember_profile *out = x->m->out;
	for (size_t i = 0; i < x->src->n_comments; i++) {
		int64_t c = x_str(x, x->src->comments[i]);
		if (c < 0)
			return -ENOMEM;
		bool seen = false;
		for (size_t j = 0; j < out->n_comments && !seen; j++)
			seen = out->comments[j] == c;
		if (seen)
			continue;
		int64_t *n = realloc(out->comments, (out->n_comments + 1) * sizeof *n);
		if (!n)
			return -ENOMEM;
		out->comments = n;
		out->comments[out->n_comments++] = c;
	}
	return 0;
}

static void add_time(ember_merger *m, const ember_profile *src)
{
	if (!src->time_nanos)
		return;
	int64_t end;
	if (__builtin_add_overflow(src->time_nanos,
	                           src->duration_nanos > 0 ? src->duration_nanos : 0, &end))
		end = INT64_MAX;
	if (!m->start || src->time_nanos < m->start)
		m->start = src->time_nanos;
	if (end > m->end)
		m->end = end;
	m->out->time_nanos = m->start;
	if (__builtin_sub_overflow(m->end, m->start, &m->out->duration_nanos))
		m->out->duration_nanos = INT64_MAX;
}

int ember_merger_add(ember_merger *m, const ember_profile *src, ember_error *err)
{
	if (m->started) {
		int rc = check_kind(m, src, err);
		if (rc < 0)
			return rc;
	}
	xlat x = {.m = m, .src = src};
	x.str = malloc(src->n_strings * sizeof *x.str);
	x.map = calloc(src->n_mappings + 1, sizeof *x.map);
	x.delta = calloc(src->n_mappings + 1, sizeof *x.delta);
	x.fn = calloc(src->n_functions + 1, sizeof *x.fn);
	x.loc = calloc(src->n_locations + 1, sizeof *x.loc);
	int rc = -ENOMEM;
	if (!x.str || !x.map || !x.delta || !x.fn || !x.loc)
		goto out;
	x.str[0] = 0;
	for (size_t i = 1; i < src->n_strings; i++)
		x.str[i] = -1;
	if (!m->started && (rc = first_profile(m, src, &x)) < 0)
		goto out;
	rc = add_comments(&x);
	for (size_t i = 0; i < src->n_samples && rc == 0; i++)
		rc = x_sample(&x, &src->samples[i]);
	if (rc == 0)
		add_time(m, src);
out:
	free(x.str);
	free(x.map);
	free(x.delta);
	free(x.fn);
	free(x.loc);
	if (rc < 0)
		return ember_errorf(err, -rc, "merge: out of memory");
	return 0;
}

int ember_merger_result(ember_merger *m, ember_profile **out, ember_error *err)
{
	char msg[256];
	if (ember_profile_check(m->out, msg, sizeof msg) < 0) /* a bug here, not bad input */
		return ember_errorf(err, EIO, "merge: produced an invalid profile: %s", msg);
	ember_profile *p = ember_profile_clone(m->out);
	if (!p)
		return ember_errorf(err, ENOMEM, "merge: out of memory");
	*out = p;
	return 0;
}
