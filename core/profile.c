/* core/profile.c — the in-memory pprof model of ember/profile.h: its string
 * table (interned through an open-addressing hash index), id-dense mappings,
 * locations and functions, and samples.
 *
 * Owns: every allocation of a profile. Must never: know about perf, files,
 * compression or symbols; that is the profiler's, exporter's and symbolizer's.
 * The hash indexes are private; they hold indices into the arrays, never
 * pointers, so the arrays can grow freely.
 */
#include "ember/profile.h"
#include "ember/grow.h"
#include "ember/hash.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Open-addressing table of (index + 1); 0 marks an empty slot. */
struct ember_strindex {
	uint32_t *slots;
	size_t mask;   /* capacity - 1, capacity a power of two */
};

struct ember_fnindex {
	uint32_t *slots;
	size_t mask;
};

static uint64_t str_hash(const char *s, size_t len)
{
	return ember_hash_bytes(s, len, 0x5bd1e995);
}

static bool strindex_rebuild(ember_profile *p, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	struct ember_strindex *ix = p->str_index;
	free(ix->slots);
	ix->slots = slots;
	ix->mask = cap - 1;
	for (size_t i = 0; i < p->n_strings; i++) {
		const char *s = p->strings[i];
		size_t h = (size_t)str_hash(s, strlen(s)) & ix->mask;
		while (ix->slots[h])
			h = (h + 1) & ix->mask;
		ix->slots[h] = (uint32_t)(i + 1);
	}
	return true;
}

ember_profile *ember_profile_new(void)
{
	ember_profile *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->str_index = calloc(1, sizeof *p->str_index);
	if (!p->str_index) {
		free(p);
		return NULL;
	}
	if (ember_profile_intern(p, "") != 0) {
		ember_profile_free(p);
		return NULL;
	}
	return p;
}

void ember_profile_free(ember_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->sample_types);
	for (size_t i = 0; i < p->n_samples; i++) {
		free(p->samples[i].location_ids);
		free(p->samples[i].values);
		free(p->samples[i].labels);
	}
	free(p->samples);
	free(p->mappings);
	for (size_t i = 0; i < p->n_locations; i++)
		free(p->locations[i].lines);
	free(p->locations);
	free(p->functions);
	free(p->comments);
	if (p->str_index)
		free(p->str_index->slots);
	free(p->str_index);
	if (p->fn_index)
		free(p->fn_index->slots);
	free(p->fn_index);
	free(p);
}

static int64_t intern(ember_profile *p, const char *s, size_t len, bool dedup)
{
	struct ember_strindex *ix = p->str_index;
	if (p->n_strings >= UINT32_MAX - 1)
		return -1;
	/* keep load factor under 1/2 */
	if (!ix->slots || (p->n_strings + 1) * 2 > ix->mask + 1) {
		size_t cap = ix->slots ? (ix->mask + 1) * 2 : 64;
		if (!strindex_rebuild(p, cap))
			return -1;
	}
	size_t h = (size_t)str_hash(s, len) & ix->mask;
	while (ix->slots[h]) {
		size_t i = ix->slots[h] - 1;
		const char *t = p->strings[i];
		if (dedup && strncmp(t, s, len) == 0 && t[len] == '\0')
			return (int64_t)i;
		h = (h + 1) & ix->mask;
	}
	if (!ember_grow((void **)&p->strings, &p->cap_strings, p->n_strings + 1, sizeof(char *)))
		return -1;
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	p->strings[p->n_strings] = copy;
	ix->slots[h] = (uint32_t)(p->n_strings + 1);
	return (int64_t)p->n_strings++;
}

int64_t ember_profile_intern_len(ember_profile *p, const char *s, size_t len)
{
	return intern(p, s, len, true);
}

int64_t ember_profile_push_string(ember_profile *p, const char *s)
{
	return intern(p, s, strlen(s), false);
}

int64_t ember_profile_intern(ember_profile *p, const char *s)
{
	return ember_profile_intern_len(p, s, strlen(s));
}

const char *ember_profile_str(const ember_profile *p, int64_t idx)
{
	if (idx < 0 || (uint64_t)idx >= p->n_strings)
		return "";
	return p->strings[idx];
}

int ember_profile_add_sample_type(ember_profile *p, const char *type, const char *unit)
{
	assert(p->n_samples == 0);
	int64_t t = ember_profile_intern(p, type), u = ember_profile_intern(p, unit);
	if (t < 0 || u < 0)
		return -ENOMEM;
	ember_value_type *n = realloc(p->sample_types, (p->n_sample_types + 1) * sizeof *n);
	if (!n)
		return -ENOMEM;
	p->sample_types = n;
	n[p->n_sample_types].type = t;
	n[p->n_sample_types].unit = u;
	p->n_sample_types++;
	return 0;
}

int ember_profile_set_period_type(ember_profile *p, const char *type, const char *unit)
{
	int64_t t = ember_profile_intern(p, type), u = ember_profile_intern(p, unit);
	if (t < 0 || u < 0)
		return -ENOMEM;
	p->period_type.type = t;
	p->period_type.unit = u;
	return 0;
}

int ember_profile_sample_type_index(const ember_profile *p, const char *type)
{
	for (size_t i = 0; i < p->n_sample_types; i++)
		if (strcmp(ember_profile_str(p, p->sample_types[i].type), type) == 0)
			return (int)i;
	return -1;
}

uint64_t ember_profile_sample_total(const ember_profile *p)
{
	int k = ember_profile_sample_type_index(p, "samples");
	if (k < 0)
		return p->n_samples;
	uint64_t n = 0;
	for (size_t i = 0; i < p->n_samples; i++)
		if (p->samples[i].values[k] > 0)
			n += (uint64_t)p->samples[i].values[k];
	return n;
}

uint64_t ember_profile_add_mapping(ember_profile *p, const ember_mapping *m)
{
	if (!ember_grow((void **)&p->mappings, &p->cap_mappings, p->n_mappings + 1, sizeof *m))
		return 0;
	ember_mapping *d = &p->mappings[p->n_mappings++];
	*d = *m;
	d->id = p->n_mappings;
	return d->id;
}

uint64_t ember_profile_add_location(ember_profile *p, uint64_t mapping_id, uint64_t address)
{
	assert(mapping_id <= p->n_mappings);
	if (!ember_grow((void **)&p->locations, &p->cap_locations, p->n_locations + 1,
			sizeof(ember_location)))
		return 0;
	ember_location *l = &p->locations[p->n_locations++];
	memset(l, 0, sizeof *l);
	l->id = p->n_locations;
	l->mapping_id = mapping_id;
	l->address = address;
	return l->id;
}

int ember_profile_location_add_line(ember_profile *p, uint64_t location_id,
				    uint64_t function_id, int64_t line)
{
	ember_location *l = ember_profile_location(p, location_id);
	assert(l && function_id <= p->n_functions);
	if (!l)
		return -EINVAL;
	ember_line *n = realloc(l->lines, (l->n_lines + 1) * sizeof *n);
	if (!n)
		return -ENOMEM;
	l->lines = n;
	n[l->n_lines].function_id = function_id;
	n[l->n_lines].line = line;
	n[l->n_lines].column = 0;
	l->n_lines++;
	return 0;
}

static uint64_t fn_hash(int64_t name, int64_t system_name, int64_t filename, int64_t start_line)
{
	uint64_t w[4] = { (uint64_t)name, (uint64_t)system_name, (uint64_t)filename,
			  (uint64_t)start_line };
	return ember_hash_words(w, 4, 0x1234);
}

static bool fnindex_rebuild(ember_profile *p, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	struct ember_fnindex *ix = p->fn_index;
	free(ix->slots);
	ix->slots = slots;
	ix->mask = cap - 1;
	for (size_t i = 0; i < p->n_functions; i++) {
		const ember_function *f = &p->functions[i];
		size_t h = (size_t)fn_hash(f->name, f->system_name, f->filename, f->start_line) &
			   ix->mask;
		while (ix->slots[h])
			h = (h + 1) & ix->mask;
		ix->slots[h] = (uint32_t)(i + 1);
	}
	return true;
}

static uint64_t function_add(ember_profile *p, int64_t name, int64_t system_name,
			     int64_t filename, int64_t start_line, bool dedup)
{
	if (!p->fn_index) {
		p->fn_index = calloc(1, sizeof *p->fn_index);
		if (!p->fn_index)
			return 0;
	}
	struct ember_fnindex *ix = p->fn_index;
	if (p->n_functions >= UINT32_MAX - 1)
		return 0;
	if (!ix->slots || (p->n_functions + 1) * 2 > ix->mask + 1) {
		size_t cap = ix->slots ? (ix->mask + 1) * 2 : 64;
		while ((p->n_functions + 1) * 2 > cap)
			cap *= 2;
		if (!fnindex_rebuild(p, cap))
			return 0;
	}
	size_t h = (size_t)fn_hash(name, system_name, filename, start_line) & ix->mask;
	while (ix->slots[h]) {
		const ember_function *f = &p->functions[ix->slots[h] - 1];
		if (dedup && f->name == name && f->system_name == system_name && f->filename == filename &&
		    f->start_line == start_line)
			return f->id;
		h = (h + 1) & ix->mask;
	}
	if (!ember_grow((void **)&p->functions, &p->cap_functions, p->n_functions + 1,
			sizeof(ember_function)))
		return 0;
	ember_function *f = &p->functions[p->n_functions++];
	f->id = p->n_functions;
	f->name = name;
	f->system_name = system_name;
	f->filename = filename;
	f->start_line = start_line;
	ix->slots[h] = (uint32_t)f->id;
	return f->id;
}

uint64_t ember_profile_intern_function(ember_profile *p, int64_t name, int64_t system_name,
				       int64_t filename, int64_t start_line)
{
	return function_add(p, name, system_name, filename, start_line, true);
}

uint64_t ember_profile_add_function(ember_profile *p, int64_t name, int64_t system_name,
				    int64_t filename, int64_t start_line)
{
	return function_add(p, name, system_name, filename, start_line, false);
}

int ember_profile_add_sample(ember_profile *p, const uint64_t *location_ids, size_t n_locations,
			     const int64_t *values, const ember_label *labels, size_t n_labels)
{
	if (!ember_grow((void **)&p->samples, &p->cap_samples, p->n_samples + 1,
			sizeof(ember_sample)))
		return -ENOMEM;
	ember_sample s = { 0 };
	s.n_locations = n_locations;
	s.n_labels = n_labels;
	if (n_locations) {
		s.location_ids = malloc(n_locations * sizeof *s.location_ids);
		if (!s.location_ids)
			goto oom;
		memcpy(s.location_ids, location_ids, n_locations * sizeof *s.location_ids);
	}
	if (p->n_sample_types) {
		s.values = malloc(p->n_sample_types * sizeof *s.values);
		if (!s.values)
			goto oom;
		memcpy(s.values, values, p->n_sample_types * sizeof *s.values);
	}
	if (n_labels) {
		s.labels = malloc(n_labels * sizeof *s.labels);
		if (!s.labels)
			goto oom;
		memcpy(s.labels, labels, n_labels * sizeof *s.labels);
	}
	p->samples[p->n_samples++] = s;
	return 0;
oom:
	free(s.location_ids);
	free(s.values);
	free(s.labels);
	return -ENOMEM;
}

ember_mapping *ember_profile_mapping(const ember_profile *p, uint64_t id)
{
	if (id == 0 || id > p->n_mappings)
		return NULL;
	return &p->mappings[id - 1];
}

ember_location *ember_profile_location(const ember_profile *p, uint64_t id)
{
	if (id == 0 || id > p->n_locations)
		return NULL;
	return &p->locations[id - 1];
}

ember_function *ember_profile_function(const ember_profile *p, uint64_t id)
{
	if (id == 0 || id > p->n_functions)
		return NULL;
	return &p->functions[id - 1];
}

static const ember_label *find_label(const ember_profile *p, const ember_sample *s,
				     const char *key)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(ember_profile_str(p, s->labels[i].key), key) == 0)
			return &s->labels[i];
	return NULL;
}

const char *ember_sample_label_str(const ember_profile *p, const ember_sample *s, const char *key)
{
	const ember_label *l = find_label(p, s, key);
	return l && l->str ? ember_profile_str(p, l->str) : NULL;
}

bool ember_sample_label_num(const ember_profile *p, const ember_sample *s, const char *key,
			    int64_t *out)
{
	const ember_label *l = find_label(p, s, key);
	if (!l || l->str)
		return false;
	*out = l->num;
	return true;
}

#define CHECK(cond, ...)                                  \
	do {                                              \
		if (!(cond)) {                            \
			snprintf(msg, msglen, __VA_ARGS__); \
			return -EINVAL;                   \
		}                                         \
	} while (0)

int ember_profile_check(const ember_profile *p, char *msg, size_t msglen)
{
	int64_t ns = (int64_t)p->n_strings;
#define STR_OK(i) ((i) >= 0 && (i) < ns)
	CHECK(ns > 0 && p->strings[0][0] == '\0', "string table does not start with \"\"");
	for (size_t i = 0; i < p->n_sample_types; i++)
		CHECK(STR_OK(p->sample_types[i].type) && STR_OK(p->sample_types[i].unit),
		      "sample type %zu: string index out of range", i);
	CHECK(STR_OK(p->period_type.type) && STR_OK(p->period_type.unit),
	      "period type: string index out of range");
	CHECK(STR_OK(p->drop_frames) && STR_OK(p->keep_frames),
	      "drop/keep frames: string index out of range");
	for (size_t i = 0; i < p->n_comments; i++)
		CHECK(STR_OK(p->comments[i]), "comment %zu: string index out of range", i);
	CHECK(p->default_sample_type == 0 || STR_OK(p->default_sample_type),
	      "default sample type: string index out of range");
	for (size_t i = 0; i < p->n_mappings; i++) {
		const ember_mapping *m = &p->mappings[i];
		CHECK(m->id == i + 1, "mapping %zu: id %llu is not dense", i,
		      (unsigned long long)m->id);
		CHECK(STR_OK(m->filename) && STR_OK(m->build_id),
		      "mapping %llu: string index out of range", (unsigned long long)m->id);
	}
	for (size_t i = 0; i < p->n_functions; i++) {
		const ember_function *f = &p->functions[i];
		CHECK(f->id == i + 1, "function %zu: id %llu is not dense", i,
		      (unsigned long long)f->id);
		CHECK(STR_OK(f->name) && STR_OK(f->system_name) && STR_OK(f->filename),
		      "function %llu: string index out of range", (unsigned long long)f->id);
	}
	for (size_t i = 0; i < p->n_locations; i++) {
		const ember_location *l = &p->locations[i];
		CHECK(l->id == i + 1, "location %zu: id %llu is not dense", i,
		      (unsigned long long)l->id);
		CHECK(l->mapping_id <= p->n_mappings, "location %llu: unknown mapping id %llu",
		      (unsigned long long)l->id, (unsigned long long)l->mapping_id);
		for (size_t j = 0; j < l->n_lines; j++)
			CHECK(l->lines[j].function_id >= 1 &&
				      l->lines[j].function_id <= p->n_functions,
			      "location %llu: unknown function id %llu", (unsigned long long)l->id,
			      (unsigned long long)l->lines[j].function_id);
	}
	for (size_t i = 0; i < p->n_samples; i++) {
		const ember_sample *s = &p->samples[i];
		CHECK(p->n_sample_types == 0 || s->values, "sample %zu: missing values", i);
		for (size_t j = 0; j < s->n_locations; j++)
			CHECK(s->location_ids[j] >= 1 && s->location_ids[j] <= p->n_locations,
			      "sample %zu: unknown location id %llu", i,
			      (unsigned long long)s->location_ids[j]);
		for (size_t j = 0; j < s->n_labels; j++) {
			const ember_label *lb = &s->labels[j];
			CHECK(STR_OK(lb->key) && STR_OK(lb->str) && STR_OK(lb->num_unit),
			      "sample %zu: label string index out of range", i);
		}
	}
#undef STR_OK
	return 0;
}

ember_profile *ember_profile_clone(const ember_profile *src)
{
	ember_profile *p = ember_profile_new();
	if (!p)
		return NULL;
	for (size_t i = 1; i < src->n_strings; i++)
		if (ember_profile_push_string(p, src->strings[i]) != (int64_t)i)
			goto fail;
	if (src->n_sample_types) {
		p->sample_types = malloc(src->n_sample_types * sizeof *p->sample_types);
		if (!p->sample_types)
			goto fail;
		memcpy(p->sample_types, src->sample_types,
		       src->n_sample_types * sizeof *p->sample_types);
		p->n_sample_types = src->n_sample_types;
	}
	for (size_t i = 0; i < src->n_mappings; i++)
		if (!ember_profile_add_mapping(p, &src->mappings[i]))
			goto fail;
	for (size_t i = 0; i < src->n_functions; i++) {
		const ember_function *f = &src->functions[i];
		if (ember_profile_add_function(p, f->name, f->system_name, f->filename,
					       f->start_line) != f->id)
			goto fail;
	}
	for (size_t i = 0; i < src->n_locations; i++) {
		const ember_location *l = &src->locations[i];
		uint64_t id = ember_profile_add_location(p, l->mapping_id, l->address);
		if (!id)
			goto fail;
		p->locations[id - 1].is_folded = l->is_folded;
		for (size_t j = 0; j < l->n_lines; j++) {
			if (ember_profile_location_add_line(p, id, l->lines[j].function_id,
							    l->lines[j].line) < 0)
				goto fail;
			p->locations[id - 1].lines[j].column = l->lines[j].column;
		}
	}
	for (size_t i = 0; i < src->n_samples; i++) {
		const ember_sample *s = &src->samples[i];
		if (ember_profile_add_sample(p, s->location_ids, s->n_locations, s->values,
					     s->labels, s->n_labels) < 0)
			goto fail;
	}
	p->drop_frames = src->drop_frames;
	p->keep_frames = src->keep_frames;
	p->time_nanos = src->time_nanos;
	p->duration_nanos = src->duration_nanos;
	p->period_type = src->period_type;
	p->period = src->period;
	p->default_sample_type = src->default_sample_type;
	if (src->n_comments) {
		p->comments = malloc(src->n_comments * sizeof *p->comments);
		if (!p->comments)
			goto fail;
		memcpy(p->comments, src->comments, src->n_comments * sizeof *p->comments);
		p->n_comments = src->n_comments;
	}
	return p;
fail:
	ember_profile_free(p);
	return NULL;
}
