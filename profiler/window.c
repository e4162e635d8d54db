/* profiler/window.c — builds a window's RAW profile (window.h): mappings
 * referenced by the window's stacks (per process, plus one shared
 * [kernel.kallsyms]), one location per (mapping, address), one sample per
 * interned stack with labels pid, tid, comm and thread, and where its cgroup
 * is known cgroup, container_id, pod_uid and systemd_unit (the last three
 * where the path names them). Owns nothing beyond the call; never
 * symbolizes. */
#include "window.h"

#include "ember/u64map.h"

#include "ember/grow.h"
#include "ember/hash.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* (mapping id, address) -> location id, open addressing. */
typedef struct loc_slot {
	uint64_t mapping, address, id;   /* id 0 = empty */
} loc_slot;

typedef struct loc_table {
	loc_slot *slots;
	size_t mask, len;
} loc_table;

static int loc_grow(loc_table *t)
{
	size_t ncap = t->slots ? (t->mask + 1) * 2 : 1024;
	loc_slot *s = calloc(ncap, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; t->slots && i <= t->mask; i++) {
		loc_slot *o = &t->slots[i];
		if (!o->id)
			continue;
		size_t j = ember_hash_mix64(o->address ^ (o->mapping << 48)) & (ncap - 1);
		while (s[j].id)
			j = (j + 1) & (ncap - 1);
		s[j] = *o;
	}
	free(t->slots);
	t->slots = s;
	t->mask = ncap - 1;
	return 0;
}

/* The location id of (mapping, address), added to p when new; 0 on ENOMEM. */
static uint64_t loc_get(loc_table *t, ember_profile *p, uint64_t mapping, uint64_t address)
{
	if ((!t->slots || (t->len + 1) * 2 > t->mask + 1) && loc_grow(t) < 0)
		return 0;
	size_t i = ember_hash_mix64(address ^ (mapping << 48)) & t->mask;
	for (;; i = (i + 1) & t->mask) {
		loc_slot *s = &t->slots[i];
		if (!s->id)
			break;
		if (s->mapping == mapping && s->address == address)
			return s->id;
	}
	uint64_t id = ember_profile_add_location(p, mapping, address);
	if (!id)
		return 0;
	t->slots[i] = (loc_slot){ mapping, address, id };
	t->len++;
	return id;
}

typedef struct cg_labels {
	ember_label l[4];    /* cgroup, and container_id, pod_uid, systemd_unit where named */
	size_t n;
} cg_labels;

typedef struct builder {
	ember_profile *p;
	const proctab *pt;
	const window_info *wi;
	u64map mappings;     /* proc_mapping pointer -> mapping id */
	loc_table locs;
	uint64_t kernel_mapping;
	uint64_t truncated_loc;
	u64map cgroups;      /* cgroup id -> index + 1 into cg_labels */
	cg_labels *cg;
	size_t n_cg, cap_cg;
} builder;

/* The cgroup labels of a cgroup id, interned once per window. */
static const cg_labels *stack_cgroup_labels(builder *b, uint64_t id)
{
	static const cg_labels none = { .n = 0 };
	uint64_t *v = u64map_get(&b->cgroups, id);
	if (v)
		return &b->cg[*v - 1];
	const cgroup_info *ci = cgroup_map_resolve(b->wi->cgroups, id);
	if (!ci)
		return &none;   /* not cached: a later stack may find it after a rescan */
	if (!ember_grow((void **)&b->cg, &b->cap_cg, b->n_cg + 1, sizeof *b->cg))
		return NULL;
	cg_labels *l = &b->cg[b->n_cg];
	l->n = 0;
	const char *kv[4][2] = { { "cgroup", ci->path },
				 { "container_id", ci->labels.container_id },
				 { "pod_uid", ci->labels.pod_uid },
				 { "systemd_unit", ci->labels.systemd_unit } };
	for (size_t i = 0; i < 4; i++) {
		if (!kv[i][1][0])
			continue;
		l->l[l->n] = (ember_label){ .key = ember_profile_intern(b->p, kv[i][0]),
					    .str = ember_profile_intern(b->p, kv[i][1]) };
		if (l->l[l->n].key < 0 || l->l[l->n].str < 0)
			return NULL;
		l->n++;
	}
	if (u64map_put(&b->cgroups, id, ++b->n_cg) < 0)
		return NULL;
	return l;
}

static uint64_t mapping_id(builder *b, const proc_mapping *m)
{
	uint64_t *id = u64map_get(&b->mappings, (uint64_t)(uintptr_t)m);
	if (id)
		return *id;
	ember_mapping pm = { .memory_start = m->start, .memory_limit = m->end,
			     .file_offset = m->pgoff,
			     .filename = ember_profile_intern(b->p, m->filename),
			     .build_id = ember_profile_intern(b->p, m->build_id) };
	if (pm.filename < 0 || pm.build_id < 0)
		return 0;
	uint64_t nid = ember_profile_add_mapping(b->p, &pm);
	if (!nid || u64map_put(&b->mappings, (uint64_t)(uintptr_t)m, nid) < 0)
		return 0;
	return nid;
}

static uint64_t kernel_mapping(builder *b)
{
	if (b->kernel_mapping)
		return b->kernel_mapping;
	ember_mapping km = { .memory_start = b->wi->kernel_start, .memory_limit = UINT64_MAX,
			     .filename = ember_profile_intern(b->p, "[kernel.kallsyms]"),
			     .build_id = ember_profile_intern(b->p, b->wi->kernel_build_id
									 ? b->wi->kernel_build_id
									 : "") };
	if (km.filename < 0 || km.build_id < 0)
		return 0;
	b->kernel_mapping = ember_profile_add_mapping(b->p, &km);
	return b->kernel_mapping;
}

static uint64_t truncated_location(builder *b)
{
	if (b->truncated_loc)
		return b->truncated_loc;
	int64_t name = ember_profile_intern(b->p, "[truncated]");
	if (name < 0)
		return 0;
	uint64_t fn = ember_profile_intern_function(b->p, name, name, 0, 0);
	uint64_t loc = fn ? ember_profile_add_location(b->p, 0, 0) : 0;
	if (!loc || ember_profile_location_add_line(b->p, loc, fn, 0) < 0)
		return 0;
	b->truncated_loc = loc;
	return loc;
}

/* The location of one frame of process pr. */
static uint64_t frame_location(builder *b, const proc *pr, uint64_t addr)
{
	if (addr == WINDOW_FRAME_TRUNCATED)
		return truncated_location(b);
	uint64_t mid = 0;
	if (addr >= WINDOW_KERNEL_MIN) {
		mid = kernel_mapping(b);
		if (!mid)
			return 0;
	} else {
		const proc_mapping *m = proc_find_mapping(pr, addr);
		if (m && !(mid = mapping_id(b, m)))
			return 0;
	}
	return loc_get(&b->locs, b->p, mid, addr);
}

static int add_stack(builder *b, const stacktab *st, const stack_entry *e, uint64_t **ids,
		     size_t *cap)
{
	if (e->n_frames > *cap) {
		uint64_t *n = realloc(*ids, e->n_frames * sizeof *n);
		if (!n)
			return -ENOMEM;
		*ids = n;
		*cap = e->n_frames;
	}
	const proc *pr = proctab_proc(b->pt, e->proc);
	const uint64_t *frames = stacktab_frames(st, e);
	for (uint32_t i = 0; i < e->n_frames; i++)
		if (!((*ids)[i] = frame_location(b, pr, frames[i])))
			return -ENOMEM;
	const char *thread = proctab_thread_name(b->pt, (int32_t)e->tid);
	const char *comm = pr->comm;
	if (!comm[0]) {
		/* never seen in /proc nor born under our eyes: the best we know */
		const char *main_thread = proctab_thread_name(b->pt, pr->pid);
		comm = main_thread && *main_thread ? main_thread
		       : thread && *thread	   ? thread
						   : "[unknown]";
	}
	if (!thread || !*thread)
		thread = comm;
	ember_label labels[8] = {
		{ .key = ember_profile_intern(b->p, "pid"), .num = pr->pid },
		{ .key = ember_profile_intern(b->p, "tid"), .num = e->tid },
		{ .key = ember_profile_intern(b->p, "comm"),
		  .str = ember_profile_intern(b->p, comm) },
		{ .key = ember_profile_intern(b->p, "thread"),
		  .str = ember_profile_intern(b->p, thread) },
	};
	size_t n = 4;
	if (b->wi->cgroups && e->cgroup) {
		const cg_labels *cl = stack_cgroup_labels(b, e->cgroup);
		if (!cl)
			return -ENOMEM;
		memcpy(labels + n, cl->l, cl->n * sizeof *cl->l);
		n += cl->n;
	}
	for (size_t i = 0; i < n; i++)
		if (labels[i].key < 0 || labels[i].str < 0)
			return -ENOMEM;
	int64_t values[2] = { (int64_t)e->count, (int64_t)e->period };
	return ember_profile_add_sample(b->p, *ids, e->n_frames, values, labels, n);
}

int window_build(const stacktab *st, const proctab *pt, const window_info *wi,
		 ember_profile **out, ember_error *err)
{
	builder b = { .pt = pt, .wi = wi, .mappings = U64MAP_INIT, .cgroups = U64MAP_INIT };
	b.p = ember_profile_new();
	uint64_t *ids = NULL;
	size_t cap = 0;
	int rc = -ENOMEM;
	if (!b.p || ember_profile_add_sample_type(b.p, "samples", "count") < 0 ||
	    ember_profile_add_sample_type(b.p, "cpu", "nanoseconds") < 0 ||
	    ember_profile_set_period_type(b.p, "cpu", "nanoseconds") < 0)
		goto out;
	b.p->period = wi->period;
	b.p->time_nanos = wi->time_nanos;
	b.p->duration_nanos = wi->duration_nanos;
	stacktab_foreach(st, e) {
		if ((rc = add_stack(&b, st, e, &ids, &cap)) < 0)
			goto out;
	}
	rc = 0;
out:
	free(ids);
	free(b.locs.slots);
	u64map_free(&b.mappings);
	u64map_free(&b.cgroups);
	free(b.cg);
	if (rc < 0) {
		ember_profile_free(b.p);
		return ember_errorf(err, ENOMEM, "building the window's profile: out of memory");
	}
	char msg[256];
	(void)msg;
	assert(ember_profile_check(b.p, msg, sizeof msg) == 0);
	*out = b.p;
	return 0;
}
