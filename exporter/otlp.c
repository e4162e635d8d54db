/* exporter/otlp.c — the OTLP profiles body (ember/otlp.h): a window as an
 * ExportProfilesServiceRequest with one shared dictionary, one resource per
 * process and one Profile per sample type.
 *
 * Owns: the pprof -> OTLP mapping (ids become table indices, stacks and
 * attributes deduplicated). Must never: know about HTTP or compression, or
 * modify the input profile (the protobuf-c structs point into it, read only).
 */
#include "ember/otlp.h"

#include "ember/hash.h"

#include "otlp_profiles.pb-c.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_THREAD_ID 0
#define KEY_THREAD_NAME 1
#define KEY_BUILD_ID 2
static const char *const extra_keys[] = { "thread.id", "thread.name",
					  "process.executable.build_id.gnu" };
#define N_EXTRA_KEYS 3

/* Open addressing over dictionary indices (0 = empty slot: index 0 is the
 * zero entry and never looked up). Sized once for the most entries. */
typedef struct dedup {
	int32_t *slots;
	size_t mask;
} dedup;

typedef struct enc {
	const ember_profile *p;
	bool oom;
	void **allocs;          /* everything below, freed together */
	size_t n_allocs, cap_allocs;

	char **strings;         /* the pprof's, then extra_keys */
	size_t n_strings;
	int32_t key_str[N_EXTRA_KEYS];

	Ember__Otlp__KeyValueAndUnit **attrs;
	size_t n_attrs;
	dedup attr_index;

	Ember__Otlp__Stack **stacks;
	size_t n_stacks;
	dedup stack_index;

	int32_t *sample_stack;  /* per sample */
	int32_t *sample_attrs;  /* 2 per sample */
	size_t *sample_nattrs;
} enc;

static void *enc_alloc(enc *e, size_t n, size_t size)
{
	if (e->oom)
		return NULL;
	if (e->n_allocs == e->cap_allocs) {
		size_t cap = e->cap_allocs ? e->cap_allocs * 2 : 64;
		void **a = realloc(e->allocs, cap * sizeof *a);
		if (!a) {
			e->oom = true;
			return NULL;
		}
		e->allocs = a;
		e->cap_allocs = cap;
	}
	void *m = calloc(n ? n : 1, size);
	if (!m) {
		e->oom = true;
		return NULL;
	}
	e->allocs[e->n_allocs++] = m;
	return m;
}

static void enc_free(enc *e)
{
	for (size_t i = 0; i < e->n_allocs; i++)
		free(e->allocs[i]);
	free(e->allocs);
}

static bool dedup_init(enc *e, dedup *d, size_t most)
{
	size_t cap = 16;
	while (cap < 2 * most)
		cap *= 2;
	d->slots = enc_alloc(e, cap, sizeof *d->slots);
	d->mask = cap - 1;
	return d->slots != NULL;
}

/* The slot for hash h: holding an index for which eq() holds, or empty. */
static int32_t *dedup_slot(const dedup *d, uint64_t h, bool (*eq)(const enc *, int32_t, const void *),
			   const enc *e, const void *key)
{
	for (size_t i = h & d->mask;; i = (i + 1) & d->mask) {
		int32_t *s = &d->slots[i];
		if (*s == 0 || eq(e, *s, key))
			return s;
	}
}

/* Attributes: a key (string index) with an int or a string value. */
typedef struct attr_key {
	int32_t key;
	bool is_int;
	int64_t num;
	const char *str;
} attr_key;

static bool attr_eq(const enc *e, int32_t idx, const void *k)
{
	const attr_key *a = k;
	const Ember__Otlp__KeyValueAndUnit *kv = e->attrs[idx];
	if (kv->key_strindex != a->key)
		return false;
	if (a->is_int)
		return kv->value->value_case == EMBER__OTLP__ANY_VALUE__VALUE_INT_VALUE &&
		       kv->value->int_value == a->num;
	return kv->value->value_case == EMBER__OTLP__ANY_VALUE__VALUE_STRING_VALUE &&
	       strcmp(kv->value->string_value, a->str) == 0;
}

/* Index of the attribute, added when new; 0 when out of memory. */
static int32_t attr_intern(enc *e, const attr_key *a)
{
	uint64_t h = a->is_int ? ember_hash_mix64((uint64_t)a->num ^ 0x5bd1e995ULL)
			       : ember_hash_bytes(a->str, strlen(a->str), 0);
	h = ember_hash_mix64(h + (uint64_t)a->key);
	int32_t *slot = dedup_slot(&e->attr_index, h, attr_eq, e, a);
	if (*slot)
		return *slot;
	Ember__Otlp__KeyValueAndUnit *kv = enc_alloc(e, 1, sizeof *kv);
	Ember__Otlp__AnyValue *v = enc_alloc(e, 1, sizeof *v);
	if (!kv || !v)
		return 0;
	ember__otlp__key_value_and_unit__init(kv);
	ember__otlp__any_value__init(v);
	kv->key_strindex = a->key;
	kv->value = v;
	if (a->is_int) {
		v->value_case = EMBER__OTLP__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = a->num;
	} else {
		v->value_case = EMBER__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = (char *)a->str;
	}
	*slot = (int32_t)e->n_attrs;
	e->attrs[e->n_attrs++] = kv;
	return *slot;
}

static bool stack_eq(const enc *e, int32_t idx, const void *k)
{
	const ember_sample *s = k;
	const Ember__Otlp__Stack *st = e->stacks[idx];
	if (st->n_location_indices != s->n_locations)
		return false;
	for (size_t i = 0; i < s->n_locations; i++)
		if ((uint64_t)st->location_indices[i] != s->location_ids[i])
			return false;
	return true;
}

/* Index of the sample's stack (location ids are location_table indices). */
static int32_t stack_intern(enc *e, const ember_sample *s)
{
	uint64_t h = ember_hash_words(s->location_ids, s->n_locations, 0x6f746c70ULL);
	int32_t *slot = dedup_slot(&e->stack_index, h, stack_eq, e, s);
	if (*slot)
		return *slot;
	Ember__Otlp__Stack *st = enc_alloc(e, 1, sizeof *st);
	int32_t *locs = enc_alloc(e, s->n_locations, sizeof *locs);
	if (!st || !locs)
		return 0;
	ember__otlp__stack__init(st);
	for (size_t i = 0; i < s->n_locations; i++)
		locs[i] = (int32_t)s->location_ids[i];
	st->location_indices = locs;
	st->n_location_indices = s->n_locations;
	*slot = (int32_t)e->n_stacks;
	e->stacks[e->n_stacks++] = st;
	return *slot;
}

/* Strings: the pprof's table (same indices), then the attribute keys. */
static void build_strings(enc *e)
{
	const ember_profile *p = e->p;
	e->strings = enc_alloc(e, p->n_strings + N_EXTRA_KEYS, sizeof *e->strings);
	if (!e->strings)
		return;
	for (size_t i = 0; i < p->n_strings; i++)
		e->strings[i] = p->strings[i];
	e->n_strings = p->n_strings;
	for (int k = 0; k < N_EXTRA_KEYS; k++) {
		e->key_str[k] = (int32_t)e->n_strings;
		e->strings[e->n_strings++] = (char *)extra_keys[k];
	}
}

static Ember__Otlp__Mapping **build_mappings(enc *e)
{
	const ember_profile *p = e->p;
	Ember__Otlp__Mapping *m = enc_alloc(e, p->n_mappings + 1, sizeof *m);
	Ember__Otlp__Mapping **ptrs = enc_alloc(e, p->n_mappings + 1, sizeof *ptrs);
	int32_t *attr = enc_alloc(e, p->n_mappings + 1, sizeof *attr);
	if (!m || !ptrs || !attr)
		return NULL;
	for (size_t i = 0; i <= p->n_mappings; i++) {
		ember__otlp__mapping__init(&m[i]);
		ptrs[i] = &m[i];
		if (i == 0)
			continue;   /* the zero entry */
		const ember_mapping *src = &p->mappings[i - 1];
		m[i].memory_start = src->memory_start;
		m[i].memory_limit = src->memory_limit;
		m[i].file_offset = src->file_offset;
		m[i].filename_strindex = (int32_t)src->filename;
		const char *bid = ember_profile_str(p, src->build_id);
		if (*bid) {
			attr_key k = { .key = e->key_str[KEY_BUILD_ID], .str = bid };
			attr[i] = attr_intern(e, &k);
			m[i].attribute_indices = &attr[i];
			m[i].n_attribute_indices = 1;
		}
	}
	return ptrs;
}

static Ember__Otlp__Location **build_locations(enc *e)
{
	const ember_profile *p = e->p;
	size_t n_lines = 0;
	for (size_t i = 0; i < p->n_locations; i++)
		n_lines += p->locations[i].n_lines;
	Ember__Otlp__Location *l = enc_alloc(e, p->n_locations + 1, sizeof *l);
	Ember__Otlp__Location **ptrs = enc_alloc(e, p->n_locations + 1, sizeof *ptrs);
	Ember__Otlp__Line *lines = enc_alloc(e, n_lines, sizeof *lines);
	Ember__Otlp__Line **line_ptrs = enc_alloc(e, n_lines, sizeof *line_ptrs);
	if (!l || !ptrs || !lines || !line_ptrs)
		return NULL;
	size_t nl = 0;
	for (size_t i = 0; i <= p->n_locations; i++) {
		ember__otlp__location__init(&l[i]);
		ptrs[i] = &l[i];
		if (i == 0)
			continue;
		const ember_location *src = &p->locations[i - 1];
		l[i].mapping_index = (int32_t)src->mapping_id;
		l[i].address = src->address;
		l[i].lines = &line_ptrs[nl];
		l[i].n_lines = src->n_lines;
		for (size_t k = 0; k < src->n_lines; k++, nl++) {
			ember__otlp__line__init(&lines[nl]);
			lines[nl].function_index = (int32_t)src->lines[k].function_id;
			lines[nl].line = src->lines[k].line;
			lines[nl].column = src->lines[k].column;
			line_ptrs[nl] = &lines[nl];
		}
	}
	return ptrs;
}

static Ember__Otlp__Function **build_functions(enc *e)
{
	const ember_profile *p = e->p;
	Ember__Otlp__Function *f = enc_alloc(e, p->n_functions + 1, sizeof *f);
	Ember__Otlp__Function **ptrs = enc_alloc(e, p->n_functions + 1, sizeof *ptrs);
	if (!f || !ptrs)
		return NULL;
	for (size_t i = 0; i <= p->n_functions; i++) {
		ember__otlp__function__init(&f[i]);
		ptrs[i] = &f[i];
		if (i == 0)
			continue;
		const ember_function *src = &p->functions[i - 1];
		f[i].name_strindex = (int32_t)src->name;
		f[i].system_name_strindex = (int32_t)src->system_name;
		f[i].filename_strindex = (int32_t)src->filename;
		f[i].start_line = src->start_line;
	}
	return ptrs;
}

/* Per sample: its stack and its thread attributes. */
static void build_samples(enc *e)
{
	const ember_profile *p = e->p;
	for (size_t i = 0; i < p->n_samples && !e->oom; i++) {
		const ember_sample *s = &p->samples[i];
		e->sample_stack[i] = stack_intern(e, s);
		int64_t tid;
		size_t n = 0;
		if (ember_sample_label_num(p, s, "tid", &tid)) {
			attr_key k = { .key = e->key_str[KEY_THREAD_ID], .is_int = true, .num = tid };
			e->sample_attrs[2 * i + n++] = attr_intern(e, &k);
		}
		const char *thread = ember_sample_label_str(p, s, "thread");
		if (thread && *thread) {
			attr_key k = { .key = e->key_str[KEY_THREAD_NAME], .str = thread };
			e->sample_attrs[2 * i + n++] = attr_intern(e, &k);
		}
		e->sample_nattrs[i] = n;
	}
}

void ember_otlp_profile_id(const char *window_id, int64_t pid, const char *comm,
			   size_t type_index, uint8_t id[16])
{
	size_t len = strlen(window_id);
	uint64_t tail = ember_hash_mix64((uint64_t)pid * 0x9e3779b97f4a7c15ULL + type_index + 1) ^
			ember_hash_bytes(comm, strlen(comm), 0x636f6d6dULL);
	uint64_t a = ember_hash_mix64(ember_hash_bytes(window_id, len, 0x656d626572ULL) ^ tail);
	uint64_t b = ember_hash_mix64(ember_hash_bytes(window_id, len, 0x70726f66696c65ULL) + tail);
	for (int i = 0; i < 8; i++) {
		id[i] = (uint8_t)(a >> (56 - 8 * i));
		id[8 + i] = (uint8_t)(b >> (56 - 8 * i));
	}
	if (!a && !b)
		id[15] = 1;   /* all zeroes is the invalid id */
}

/* A sample index and its process (pid and comm: an exec within the window
 * makes it another executable), for grouping. */
typedef struct by_pid {
	int64_t pid;
	const char *comm;
	size_t i;
} by_pid;

static int by_pid_cmp(const void *a, const void *b)
{
	const by_pid *x = a, *y = b;
	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	int c = strcmp(x->comm, y->comm);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static Ember__Otlp__KeyValue *kv_str(enc *e, const char *key, const char *value)
{
	Ember__Otlp__KeyValue *kv = enc_alloc(e, 1, sizeof *kv);
	Ember__Otlp__AnyValue *v = enc_alloc(e, 1, sizeof *v);
	if (!kv || !v)
		return NULL;
	ember__otlp__key_value__init(kv);
	ember__otlp__any_value__init(v);
	kv->key = (char *)key;
	kv->value = v;
	v->value_case = EMBER__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = (char *)value;
	return kv;
}

static bool reserved_key(const char *k)
{
	return !strcmp(k, "service.name") || !strcmp(k, "host.name") ||
	       !strcmp(k, "process.pid") || !strcmp(k, "process.executable.name");
}

/* The resource of one process. */
static Ember__Otlp__Resource *build_resource(enc *e, const ember_otlp_opts *o, int64_t pid,
					     const char *comm)
{
	Ember__Otlp__Resource *r = enc_alloc(e, 1, sizeof *r);
	Ember__Otlp__KeyValue **attrs = enc_alloc(e, 4 + o->n_resource_attrs, sizeof *attrs);
	if (!r || !attrs)
		return NULL;
	ember__otlp__resource__init(r);
	size_t n = 0;
	attrs[n++] = kv_str(e, "service.name",
			    o->service_name && *o->service_name ? o->service_name : comm);
	if (o->host_name && *o->host_name)
		attrs[n++] = kv_str(e, "host.name", o->host_name);
	Ember__Otlp__KeyValue *kpid = kv_str(e, "process.pid", "");
	if (kpid) {
		kpid->value->value_case = EMBER__OTLP__ANY_VALUE__VALUE_INT_VALUE;
		kpid->value->int_value = pid;
	}
	attrs[n++] = kpid;
	attrs[n++] = kv_str(e, "process.executable.name", comm);
	for (size_t i = 0; i < o->n_resource_attrs; i++)
		if (!reserved_key(o->resource_attrs[i].key))
			attrs[n++] = kv_str(e, o->resource_attrs[i].key, o->resource_attrs[i].value);
	r->attributes = attrs;
	r->n_attributes = n;
	return r;
}

/* One Profile: sample type t of the samples grp[0..n) of process pid. */
static Ember__Otlp__Profile *build_profile(enc *e, const ember_otlp_opts *o, const by_pid *grp,
					   size_t n, size_t t)
{
	const ember_profile *p = e->p;
	Ember__Otlp__Profile *pr = enc_alloc(e, 1, sizeof *pr);
	Ember__Otlp__ValueType *vt = enc_alloc(e, 2, sizeof *vt);
	Ember__Otlp__Sample *s = enc_alloc(e, n, sizeof *s);
	Ember__Otlp__Sample **sp = enc_alloc(e, n, sizeof *sp);
	uint8_t *id = enc_alloc(e, 16, 1);
	if (!pr || !vt || !s || !sp || !id)
		return NULL;
	ember__otlp__profile__init(pr);
	ember__otlp__value_type__init(&vt[0]);
	ember__otlp__value_type__init(&vt[1]);
	vt[0].type_strindex = (int32_t)p->sample_types[t].type;
	vt[0].unit_strindex = (int32_t)p->sample_types[t].unit;
	vt[1].type_strindex = (int32_t)p->period_type.type;
	vt[1].unit_strindex = (int32_t)p->period_type.unit;
	pr->sample_type = &vt[0];
	pr->period_type = &vt[1];
	pr->period = p->period;
	pr->time_unix_nano = (uint64_t)p->time_nanos;
	pr->duration_nano = (uint64_t)p->duration_nanos;
	ember_otlp_profile_id(o->window_id, grp[0].pid, grp[0].comm, t, id);
	pr->profile_id.data = id;
	pr->profile_id.len = 16;
	for (size_t k = 0; k < n; k++) {
		size_t i = grp[k].i;
		ember__otlp__sample__init(&s[k]);
		s[k].stack_index = e->sample_stack[i];
		s[k].attribute_indices = &e->sample_attrs[2 * i];
		s[k].n_attribute_indices = e->sample_nattrs[i];
		s[k].values = &p->samples[i].values[t];   /* read only */
		s[k].n_values = 1;
		sp[k] = &s[k];
	}
	pr->samples = sp;
	pr->n_samples = n;
	return pr;
}

/* One ResourceProfiles for the samples grp[0..n) of one process. */
static Ember__Otlp__ResourceProfiles *build_process(enc *e, const ember_otlp_opts *o,
						    const by_pid *grp, size_t n)
{
	const ember_profile *p = e->p;
	Ember__Otlp__ResourceProfiles *rp = enc_alloc(e, 1, sizeof *rp);
	Ember__Otlp__ScopeProfiles *sc = enc_alloc(e, 1, sizeof *sc);
	Ember__Otlp__ScopeProfiles **scp = enc_alloc(e, 1, sizeof *scp);
	Ember__Otlp__InstrumentationScope *scope = enc_alloc(e, 1, sizeof *scope);
	Ember__Otlp__Profile **profiles = enc_alloc(e, p->n_sample_types, sizeof *profiles);
	if (!rp || !sc || !scp || !scope || !profiles)
		return NULL;
	ember__otlp__resource_profiles__init(rp);
	ember__otlp__scope_profiles__init(sc);
	ember__otlp__instrumentation_scope__init(scope);
	scope->name = (char *)"ember";
	scope->version = (char *)(o->scope_version ? o->scope_version : "");
	rp->resource = build_resource(e, o, grp[0].pid, grp[0].comm);
	for (size_t t = 0; t < p->n_sample_types; t++)
		profiles[t] = build_profile(e, o, grp, n, t);
	sc->scope = scope;
	sc->profiles = profiles;
	sc->n_profiles = p->n_sample_types;
	scp[0] = sc;
	rp->scope_profiles = scp;
	rp->n_scope_profiles = 1;
	return rp;
}

static int pack(const Ember__Otlp__ExportProfilesServiceRequest *req, ember_buf *out,
		ember_error *err)
{
	size_t size = ember__otlp__export_profiles_service_request__get_packed_size(req);
	if (!ember_buf_reserve(out, size + 1))
		return ember_errorf(err, ENOMEM, "otlp: out of memory");
	ember__otlp__export_profiles_service_request__pack(req, (uint8_t *)out->data + out->len);
	out->len += size;
	out->data[out->len] = '\0';
	return 0;
}

int ember_otlp_encode(const ember_profile *p, const ember_otlp_opts *o, ember_buf *out,
		      ember_error *err)
{
	if (!o->window_id || !*o->window_id)
		return ember_errorf(err, EINVAL, "otlp: no window id");
	if (p->n_strings + N_EXTRA_KEYS > INT32_MAX || p->n_locations >= INT32_MAX ||
	    p->n_samples >= INT32_MAX / 4 || p->n_mappings >= INT32_MAX / 2)
		return ember_errorf(err, EINVAL, "otlp: the profile is too large for one request");
	enc e = { .p = p };
	size_t most_attrs = 1 + 2 * p->n_samples + p->n_mappings;
	e.attrs = enc_alloc(&e, most_attrs, sizeof *e.attrs);
	e.stacks = enc_alloc(&e, p->n_samples + 1, sizeof *e.stacks);
	e.sample_stack = enc_alloc(&e, p->n_samples, sizeof *e.sample_stack);
	e.sample_attrs = enc_alloc(&e, 2 * p->n_samples, sizeof *e.sample_attrs);
	e.sample_nattrs = enc_alloc(&e, p->n_samples, sizeof *e.sample_nattrs);
	by_pid *grp = enc_alloc(&e, p->n_samples, sizeof *grp);
	Ember__Otlp__ResourceProfiles **rps = enc_alloc(&e, p->n_samples, sizeof *rps);
	Ember__Otlp__KeyValueAndUnit attr0 = EMBER__OTLP__KEY_VALUE_AND_UNIT__INIT;
	Ember__Otlp__Stack stack0 = EMBER__OTLP__STACK__INIT;
	Ember__Otlp__Link link0 = EMBER__OTLP__LINK__INIT;
	Ember__Otlp__Link *links[1] = { &link0 };
	Ember__Otlp__ProfilesDictionary dict = EMBER__OTLP__PROFILES_DICTIONARY__INIT;
	Ember__Otlp__ExportProfilesServiceRequest req =
		EMBER__OTLP__EXPORT_PROFILES_SERVICE_REQUEST__INIT;
	if (!e.oom) {
		e.attrs[e.n_attrs++] = &attr0;
		e.stacks[e.n_stacks++] = &stack0;
		dedup_init(&e, &e.attr_index, most_attrs);
		dedup_init(&e, &e.stack_index, p->n_samples + 1);
		build_strings(&e);
	}
	if (!e.oom) {
		dict.mapping_table = build_mappings(&e);
		dict.n_mapping_table = p->n_mappings + 1;
		dict.location_table = build_locations(&e);
		dict.n_location_table = p->n_locations + 1;
		dict.function_table = build_functions(&e);
		dict.n_function_table = p->n_functions + 1;
		build_samples(&e);
	}
	size_t n_rp = 0;
	if (!e.oom) {
		for (size_t i = 0; i < p->n_samples; i++) {
			int64_t pid = 0;
			ember_sample_label_num(p, &p->samples[i], "pid", &pid);
			const char *comm = ember_sample_label_str(p, &p->samples[i], "comm");
			grp[i] = (by_pid){ pid, comm && *comm ? comm : "unknown_service", i };
		}
		qsort(grp, p->n_samples, sizeof *grp, by_pid_cmp);
		for (size_t i = 0, j; i < p->n_samples && !e.oom; i = j) {
			for (j = i + 1; j < p->n_samples && grp[j].pid == grp[i].pid &&
				    strcmp(grp[j].comm, grp[i].comm) == 0;
			     j++)
				;
			rps[n_rp++] = build_process(&e, o, grp + i, j - i);
		}
	}
	int rc;
	if (e.oom) {
		rc = ember_errorf(err, ENOMEM, "otlp: out of memory");
	} else {
		dict.link_table = links;
		dict.n_link_table = 1;
		dict.string_table = e.strings;
		dict.n_string_table = e.n_strings;
		dict.attribute_table = e.attrs;
		dict.n_attribute_table = e.n_attrs;
		dict.stack_table = e.stacks;
		dict.n_stack_table = e.n_stacks;
		req.resource_profiles = rps;
		req.n_resource_profiles = n_rp;
		req.dictionary = &dict;
		rc = pack(&req, out, err);
	}
	enc_free(&e);
	return rc;
}

int ember_otlp_partial_success(const void *body, size_t len, int64_t *rejected, char *msg,
			       size_t msglen)
{
	*rejected = 0;
	if (msglen)
		msg[0] = '\0';
	Ember__Otlp__ExportProfilesServiceResponse *r =
		ember__otlp__export_profiles_service_response__unpack(NULL, len, body);
	if (!r)
		return -EINVAL;
	if (r->partial_success) {
		*rejected = r->partial_success->rejected_profiles;
		if (msglen && r->partial_success->error_message)
			snprintf(msg, msglen, "%s", r->partial_success->error_message);
	}
	ember__otlp__export_profiles_service_response__free_unpacked(r, NULL);
	return 0;
}
