/* exporter/calltree.c — profiles folded into one call tree of function
 * names, with MAIN and BASE values side by side, label filters, a function
 * focus, trees built apart merged into one, and the JSON the UI draws from
 * (ember/calltree.h).
 *
 * Names are interned once (a profile's string interner serves as the
 * table); a node is found from (parent, name) through an open-addressing
 * index. A profile is added in two steps: folded (its locations turned
 * into root-first name lists once, its samples walked into a tree of its
 * own, one probe per frame, each sample kept as its leaf, weight and label
 * values), then the folded profile added (one probe per node of its tree,
 * focus and filters decided per node and per label value, one update per
 * kept sample: its leaf's self value). The UI keeps folded windows, so a
 * range repeats only the second step; totals are summed when the JSON is
 * written. Profiles folded with shared ids (ember_calltree_ids: itself a
 * tree whose names and node indices are the ids, behind a mutex) carry
 * each name's and node's id, and a tree remembers which of its names and
 * nodes each id is, so adding such a profile probes and interns only
 * what the tree has not met: array lookups otherwise.
 *
 * Owns: the tree, its names, the label summary, folded profiles, shared
 * ids. Must
 * never: change a profile or a folded profile once made, know of HTTP or
 * the store, or let a hostile value overflow (sums saturate).
 */
#include "ember/calltree.h"
#include "ember/grow.h"
#include "ember/hash.h"
#include "ember/json.h"
#include "frames.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABEL_VALUES 200
#define NO_NODE UINT32_MAX

typedef struct ct_node {
	uint32_t parent, name, first_child, next_sibling;
	int64_t self, base_self;   /* totals are summed from these when written */
} ct_node;

typedef struct ct_filter {
	char *key;
	regex_t re;
} ct_filter;

typedef struct ct_labelsum {
	char *key;
	int64_t *sum;   /* by string index in t->values */
	size_t cap;
} ct_labelsum;

struct ember_calltree {
	ember_profile *names;    /* interner: node names */
	ember_profile *values;   /* interner: label values of the summary */
	ct_node *nodes;
	size_t n_nodes, cap_nodes;
	uint32_t *slots;         /* node index + 1 by (parent, name); 0 empty */
	size_t mask;
	bool has_focus;          /* keep only stacks with a function matching focus */
	regex_t focus;
	unsigned char *focus_match;   /* by name: 0 unknown, 1 matches, 2 does not */
	size_t cap_focus_match;
	ct_filter *filters;
	size_t n_filters;
	ct_labelsum *sums;
	size_t n_sums;
	int unit;                /* -1 none yet, 0 samples, 1 cpu ns */
	size_t profiles, base_profiles;
	uint64_t samples;
	/* the shared ids of the folded profiles added (the first ones met):
	 * this tree's name and node (+ 1; 0 not yet met) by shared id */
	const ember_calltree_ids *ids;
	uint32_t *by_gname, *by_gpath;
	size_t cap_gname, cap_gpath;
};

static uint64_t slot_hash(uint32_t parent, uint32_t name)
{
	return ember_hash_mix64((uint64_t)parent << 32 | name);
}

static bool rehash(ember_calltree *t, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	for (size_t i = 1; i < t->n_nodes; i++) {   /* the root has no parent */
		size_t h = (size_t)slot_hash(t->nodes[i].parent, t->nodes[i].name) & t->mask;
		while (t->slots[h])
			h = (h + 1) & t->mask;
		t->slots[h] = (uint32_t)(i + 1);
	}
	return true;
}

static uint32_t add_node(ember_calltree *t, uint32_t parent, uint32_t name)
{
	if (t->n_nodes >= UINT32_MAX - 1 ||
	    !ember_grow((void **)&t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof *t->nodes))
		return NO_NODE;
	uint32_t i = (uint32_t)t->n_nodes++;
	t->nodes[i] = (ct_node){ .parent = parent, .name = name, .first_child = NO_NODE,
				 .next_sibling = NO_NODE };
	if (parent != NO_NODE) {
		t->nodes[i].next_sibling = t->nodes[parent].first_child;
		t->nodes[parent].first_child = i;
	}
	return i;
}

/* The child of parent named name, created when new; NO_NODE on ENOMEM.
 * The slots hold node indices only (4 bytes: the index stays small enough
 * to stay in cache), a probe compares the node's own parent and name. */
static uint32_t child(ember_calltree *t, uint32_t parent, uint32_t name)
{
	if ((t->n_nodes + 1) * 2 > t->mask + 1 || !t->slots)
		if (!rehash(t, t->slots ? (t->mask + 1) * 2 : 1024))
			return NO_NODE;
	size_t h = (size_t)slot_hash(parent, name) & t->mask;
	while (t->slots[h]) {
		const ct_node *n = &t->nodes[t->slots[h] - 1];
		if (n->parent == parent && n->name == name)
			return t->slots[h] - 1;
		h = (h + 1) & t->mask;
	}
	uint32_t i = add_node(t, parent, name);
	if (i != NO_NODE)
		t->slots[h] = i + 1;
	return i;
}

int ember_calltree_new(ember_calltree **out, const char *focus,
		       const ember_label_filter *filters, size_t n_filters,
		       const char *const *label_keys, size_t n_label_keys, ember_error *err)
{
	*out = NULL;
	ember_calltree *t = calloc(1, sizeof *t);
	if (!t)
		return ember_errorf(err, ENOMEM, "call tree: out of memory");
	t->unit = -1;
	t->names = ember_profile_new();
	t->values = ember_profile_new();
	t->filters = calloc(n_filters ? n_filters : 1, sizeof *t->filters);
	t->sums = calloc(n_label_keys ? n_label_keys : 1, sizeof *t->sums);
	if (!t->names || !t->values || !t->filters || !t->sums || add_node(t, NO_NODE, 0) != 0)
		goto oom;
	if (focus) {
		int rc = regcomp(&t->focus, focus, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char why[128];
			regerror(rc, &t->focus, why, sizeof why);
			ember_errorf(err, EINVAL,
				     "function: bad regex '%.200s': %s (POSIX extended syntax)", focus,
				     why);
			ember_calltree_free(t);
			return -EINVAL;
		}
		t->has_focus = true;
	}
	for (size_t i = 0; i < n_filters; i++) {
		size_t len = strlen(filters[i].regex);
		char *anchored = malloc(len + 5);
		t->filters[i].key = strdup(filters[i].key);
		if (!anchored || !t->filters[i].key) {
			free(anchored);
			goto oom;
		}
		snprintf(anchored, len + 5, "^(%s)$", filters[i].regex);
		int rc = regcomp(&t->filters[i].re, anchored, REG_EXTENDED | REG_NOSUB);
		free(anchored);
		if (rc) {
			char why[128];
			regerror(rc, &t->filters[i].re, why, sizeof why);
			ember_errorf(err, EINVAL, "%s: bad regex '%.200s': %s (POSIX extended syntax)",
				     filters[i].key, filters[i].regex, why);
			free(t->filters[i].key);
			ember_calltree_free(t);
			return -EINVAL;
		}
		t->n_filters++;
	}
	for (size_t i = 0; i < n_label_keys; i++) {
		if (!(t->sums[i].key = strdup(label_keys[i])))
			goto oom;
		t->n_sums++;
	}
	*out = t;
	return 0;
oom:
	ember_calltree_free(t);
	return ember_errorf(err, ENOMEM, "call tree: out of memory");
}

void ember_calltree_free(ember_calltree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_filters; i++) {
		regfree(&t->filters[i].re);
		free(t->filters[i].key);
	}
	for (size_t i = 0; i < t->n_sums; i++) {
		free(t->sums[i].key);
		free(t->sums[i].sum);
	}
	free(t->filters);
	free(t->sums);
	free(t->nodes);
	free(t->slots);
	free(t->focus_match);
	free(t->by_gname);
	free(t->by_gpath);
	if (t->has_focus)
		regfree(&t->focus);
	ember_profile_free(t->names);
	ember_profile_free(t->values);
	free(t);
}

size_t ember_calltree_nodes(const ember_calltree *t)
{
	return t->n_nodes;
}

/* The string index of key in p, or -1 when p has no such string. */
static int64_t find_string(const ember_profile *p, const char *key)
{
	for (size_t i = 1; i < p->n_strings; i++)
		if (strcmp(p->strings[i], key) == 0)
			return (int64_t)i;
	return -1;
}

/* The value of the label with key index k on s, as text ("" when absent). */
static const char *label_text(const ember_profile *p, const ember_sample *s, int64_t k,
			      char buf[32])
{
	if (k < 0)
		return "";
	for (size_t i = 0; i < s->n_labels; i++) {
		const ember_label *l = &s->labels[i];
		if (l->key != k)
			continue;
		if (l->str)
			return ember_profile_str(p, l->str);
		snprintf(buf, 32, "%" PRId64, l->num);
		return buf;
	}
	return "";
}

/* Per added profile: each location's frame names, root first. */
typedef struct loc_names {
	uint32_t *ids;
	size_t *start;   /* ids[start[l] .. start[l + 1]) for location id l + 1 */
} loc_names;

static int loc_names_build(ember_calltree *t, const ember_profile *p, loc_names *ln)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_locations; i++)
		n += frame_count(&p->locations[i]);
	ln->ids = malloc((n ? n : 1) * sizeof *ln->ids);
	ln->start = malloc((p->n_locations + 1) * sizeof *ln->start);
	if (!ln->ids || !ln->start)
		return -ENOMEM;
	char buf[FRAME_NAME_MAX];
	size_t k = 0;
	for (size_t i = 0; i < p->n_locations; i++) {
		const ember_location *l = &p->locations[i];
		ln->start[i] = k;
		for (size_t f = frame_count(l); f-- > 0;) {   /* physical caller first */
			int64_t id = ember_profile_intern(t->names, frame_function(p, l, f, buf));
			if (id < 0 || id >= UINT32_MAX)
				return -ENOMEM;
			ln->ids[k++] = (uint32_t)id;
		}
	}
	ln->start[p->n_locations] = k;
	return 0;
}

/* Grows the array *a of uint32_t to hold n, the new part zeroed. */
static bool grow_zeroed(uint32_t **a, size_t *cap, size_t n)
{
	size_t old = *cap;
	if (n <= old)
		return true;
	if (!ember_grow((void **)a, cap, n, sizeof **a))
		return false;
	memset(*a + old, 0, (*cap - old) * sizeof **a);
	return true;
}

/* Adds v to the value with index id (in t->values) of the label summary ls. */
static int sum_label(ct_labelsum *ls, int64_t id, int64_t v)
{
	size_t old = ls->cap;
	if (!ember_grow((void **)&ls->sum, &ls->cap, (size_t)id + 1, sizeof *ls->sum))
		return -ENOMEM;
	memset(ls->sum + old, 0, (ls->cap - old) * sizeof *ls->sum);
	ls->sum[id] = frame_sat_add(ls->sum[id], v);
	return 0;
}

/* ---- folded profiles ------------------------------------------------------ */

typedef struct ct_rec {
	uint32_t node;   /* the sample's leaf in the folded tree */
	int64_t value;   /* its weight */
} ct_rec;

struct ember_calltree_folded {
	int unit;                /* 0 samples, 1 cpu ns */
	size_t n_names;          /* names[0] == "" (the root's) */
	const char **names;      /* into text, in the order the tree meets them */
	size_t n_nodes;          /* node 0 is the root; parents come first */
	uint32_t *parent, *name;
	size_t n_keys;
	const char **keys;       /* into text */
	size_t n_values;         /* values[0] == "" (label absent) */
	const char **values;     /* into text, in the order the samples meet them */
	size_t n_recs;
	ct_rec *recs;            /* in sample order */
	uint32_t *labels;        /* n_keys value indices per record */
	char *text;
	size_t bytes;
	const ember_calltree_ids *ids;   /* NULL: folded without shared ids */
	uint32_t *gname, *gpath;         /* the shared id of each name, each node */
	uint32_t end_gname, end_gpath;   /* one past the largest of each */
};

struct ember_calltree_ids {
	pthread_mutex_t mu;
	ember_calltree *t;   /* its names and nodes are the ids */
	size_t max_paths;
};

void ember_calltree_folded_free(ember_calltree_folded *f)
{
	if (!f)
		return;
	free(f->names);
	free(f->parent);
	free(f->name);
	free(f->keys);
	free(f->values);
	free(f->recs);
	free(f->labels);
	free(f->text);
	free(f->gname);
	free(f->gpath);
	free(f);
}

size_t ember_calltree_folded_bytes(const ember_calltree_folded *f)
{
	return f->bytes;
}

/* Copies the strings into one block: names, keys, values. */
static int fold_text(ember_calltree_folded *f, const ember_profile *names,
		     const char *const *keys, const ember_profile *values)
{
	size_t len = 0;
	for (size_t i = 0; i < names->n_strings; i++)
		len += strlen(names->strings[i]) + 1;
	for (size_t i = 0; i < f->n_keys; i++)
		len += strlen(keys[i]) + 1;
	for (size_t i = 0; i < values->n_strings; i++)
		len += strlen(values->strings[i]) + 1;
	f->text = malloc(len ? len : 1);
	f->names = malloc(names->n_strings * sizeof *f->names);
	f->keys = malloc((f->n_keys + 1) * sizeof *f->keys);
	f->values = malloc(values->n_strings * sizeof *f->values);
	if (!f->text || !f->names || !f->keys || !f->values)
		return -ENOMEM;
	char *at = f->text;
	const char **to[3] = { f->names, f->keys, f->values };
	const char *const *from[3] = { (const char *const *)names->strings, keys,
				       (const char *const *)values->strings };
	size_t n[3] = { names->n_strings, f->n_keys, values->n_strings };
	for (int j = 0; j < 3; j++)
		for (size_t i = 0; i < n[j]; i++) {
			size_t l = strlen(from[j][i]) + 1;
			memcpy(at, from[j][i], l);
			to[j][i] = at;
			at += l;
		}
	f->n_names = names->n_strings;
	f->n_values = values->n_strings;
	f->bytes += len + (names->n_strings + f->n_keys + 1 + values->n_strings) * sizeof(char *);
	return 0;
}

int ember_calltree_ids_new(ember_calltree_ids **out, size_t max_paths)
{
	ember_calltree_ids *ids = calloc(1, sizeof *ids);
	ember_error err;
	if (!ids || ember_calltree_new(&ids->t, NULL, NULL, 0, NULL, 0, &err) < 0) {
		free(ids);
		return -ENOMEM;
	}
	pthread_mutex_init(&ids->mu, NULL);
	ids->max_paths = max_paths;
	*out = ids;
	return 0;
}

void ember_calltree_ids_free(ember_calltree_ids *ids)
{
	if (!ids)
		return;
	ember_calltree_free(ids->t);
	pthread_mutex_destroy(&ids->mu);
	free(ids);
}

void ember_calltree_ids_stats(ember_calltree_ids *ids, size_t *paths, size_t *names)
{
	pthread_mutex_lock(&ids->mu);
	*paths = ids->t->n_nodes;
	*names = ids->t->names->n_strings;
	pthread_mutex_unlock(&ids->mu);
}

/* Gives f's names and nodes their shared ids, unless the ids are full
 * (then f stays without them: not an error). 0 or -ENOMEM. */
static int share_ids(ember_calltree_folded *f, ember_calltree_ids *ids)
{
	uint32_t *gname = malloc(f->n_names * sizeof *gname);
	uint32_t *gpath = malloc(f->n_nodes * sizeof *gpath);
	uint32_t end_gname = 1, end_gpath = 1;
	if (!gname || !gpath) {
		free(gname);
		free(gpath);
		return -ENOMEM;
	}
	pthread_mutex_lock(&ids->mu);
	ember_calltree *t = ids->t;
	bool ok = t->n_nodes + f->n_nodes <= ids->max_paths;
	gname[0] = gpath[0] = 0;
	for (size_t i = 1; ok && i < f->n_names; i++) {
		int64_t id = ember_profile_intern(t->names, f->names[i]);
		if ((ok = id >= 0 && id < UINT32_MAX)) {
			gname[i] = (uint32_t)id;
			if (gname[i] >= end_gname)
				end_gname = gname[i] + 1;
		}
	}
	for (size_t i = 1; ok && i < f->n_nodes; i++) {   /* parents first */
		gpath[i] = child(t, gpath[f->parent[i]], gname[f->name[i]]);
		if ((ok = gpath[i] != NO_NODE) && gpath[i] >= end_gpath)
			end_gpath = gpath[i] + 1;
	}
	pthread_mutex_unlock(&ids->mu);
	if (!ok) {   /* full, or out of memory: f adds as a profile without ids */
		free(gname);
		free(gpath);
		return 0;
	}
	f->ids = ids;
	f->gname = gname;
	f->gpath = gpath;
	f->end_gname = end_gname;
	f->end_gpath = end_gpath;
	f->bytes += (f->n_names + f->n_nodes) * sizeof(uint32_t);
	return 0;
}

int ember_calltree_fold(ember_calltree_folded **out, const ember_profile *p,
			const char *const *label_keys, size_t n_label_keys, ember_error *err)
{
	return ember_calltree_fold_ids(out, p, label_keys, n_label_keys, NULL, err);
}

int ember_calltree_fold_ids(ember_calltree_folded **out, const ember_profile *p,
			    const char *const *label_keys, size_t n_label_keys,
			    ember_calltree_ids *ids, ember_error *err)
{
	*out = NULL;
	frame_weight w;
	int rc = frame_weight_report(p, &w, err);
	if (rc < 0)
		return rc;
	/* the tree machinery builds the folded tree: a tree without filters */
	ember_calltree *t = NULL;
	if ((rc = ember_calltree_new(&t, NULL, NULL, 0, NULL, 0, err)) < 0)
		return rc;
	ember_calltree_folded *f = calloc(1, sizeof *f);
	ember_profile *values = ember_profile_new();
	int64_t *skeys = calloc(n_label_keys + 1, sizeof *skeys);
	loc_names ln = { 0 };
	rc = -ENOMEM;
	if (!f || !values || !skeys || loc_names_build(t, p, &ln) < 0)
		goto out;
	f->unit = w.cpu_ns ? 1 : 0;
	f->n_keys = n_label_keys;
	f->recs = malloc((p->n_samples + 1) * sizeof *f->recs);
	f->labels = malloc((p->n_samples * n_label_keys + 1) * sizeof *f->labels);
	if (!f->recs || !f->labels)
		goto out;
	for (size_t k = 0; k < n_label_keys; k++)
		skeys[k] = find_string(p, label_keys[k]);
	char buf[32];
	for (size_t si = 0; si < p->n_samples; si++) {
		const ember_sample *s = &p->samples[si];
		for (size_t k = 0; k < n_label_keys; k++) {
			int64_t id = ember_profile_intern(values, label_text(p, s, skeys[k], buf));
			if (id < 0 || id >= UINT32_MAX)
				goto out;
			f->labels[si * n_label_keys + k] = (uint32_t)id;
		}
		uint32_t node = 0;
		for (size_t li = s->n_locations; li-- > 0 && node != NO_NODE;) {
			uint64_t loc = s->location_ids[li];
			assert(loc >= 1 && loc <= p->n_locations);
			for (size_t k = ln.start[loc - 1]; k < ln.start[loc] && node != NO_NODE; k++)
				node = child(t, node, ln.ids[k]);
		}
		if (node == NO_NODE)
			goto out;
		f->recs[si] = (ct_rec){ node, frame_weigh(&w, s) };
	}
	f->n_recs = p->n_samples;
	f->n_nodes = t->n_nodes;
	f->parent = malloc(t->n_nodes * sizeof *f->parent);
	f->name = malloc(t->n_nodes * sizeof *f->name);
	if (!f->parent || !f->name || fold_text(f, t->names, label_keys, values) < 0)
		goto out;
	for (size_t i = 0; i < t->n_nodes; i++) {
		f->parent[i] = t->nodes[i].parent;
		f->name[i] = t->nodes[i].name;
	}
	f->bytes += sizeof *f + t->n_nodes * 2 * sizeof(uint32_t) +
		    f->n_recs * (sizeof *f->recs + n_label_keys * sizeof *f->labels);
	if (ids && share_ids(f, ids) < 0)
		goto out;
	*out = f;
	f = NULL;
	rc = 0;
out:
	if (rc == -ENOMEM)
		ember_errorf(err, ENOMEM, "call tree: out of memory");
	ember_calltree_folded_free(f);
	ember_calltree_free(t);
	ember_profile_free(values);
	free(skeys);
	free(ln.ids);
	free(ln.start);
	return rc;
}

/* The index of key among f's label keys, or -1. */
static int64_t folded_key(const ember_calltree_folded *f, const char *key)
{
	for (size_t i = 0; i < f->n_keys; i++)
		if (strcmp(f->keys[i], key) == 0)
			return (int64_t)i;
	return -1;
}

/* Node flags while adding a folded profile. */
#define F_HIT 1    /* a frame on the path to the node matches the focus */
#define F_KEEP 2   /* a kept sample's path goes through the node */

/* Whether record r passes every filter (fk: the filters' keys in f);
 * match caches results per (filter, value): 0 unknown, 1 yes, 2 no. */
static bool keep_record(const ember_calltree *t, const ember_calltree_folded *f, size_t r,
			const int64_t *fk, unsigned char *match)
{
	for (size_t i = 0; i < t->n_filters; i++) {
		uint32_t v = f->labels[r * f->n_keys + (size_t)fk[i]];
		unsigned char *m = &match[i * f->n_values + v];
		if (!*m)
			*m = regexec(&t->filters[i].re, f->values[v], 0, NULL, 0) == 0 ? 1 : 2;
		if (*m == 2)
			return false;
	}
	return true;
}

/* The focus result of each node of f (nm: f's names in t) into flags. */
static int focus_nodes(ember_calltree *t, const ember_calltree_folded *f, const uint32_t *nm,
		       unsigned char *flags)
{
	size_t need = t->names->n_strings;
	if (need > t->cap_focus_match) {
		size_t old = t->cap_focus_match;
		if (!ember_grow((void **)&t->focus_match, &t->cap_focus_match, need, 1))
			return -ENOMEM;
		memset(t->focus_match + old, 0, t->cap_focus_match - old);
	}
	for (size_t i = 1; i < f->n_nodes; i++) {   /* parents first */
		unsigned char *m = &t->focus_match[nm[f->name[i]]];
		if (!*m)
			*m = regexec(&t->focus, t->names->strings[nm[f->name[i]]], 0, NULL, 0) ? 2 : 1;
		if (*m == 1 || (flags[f->parent[i]] & F_HIT))
			flags[i] |= F_HIT;
	}
	return 0;
}

int ember_calltree_add_folded(ember_calltree *t, const ember_calltree_folded *f, bool base,
			      ember_error *err)
{
	if (t->unit >= 0 && t->unit != f->unit)
		return ember_errorf(err, EINVAL,
				    "call tree: profiles with CPU time and profiles with only "
				    "sample counts cannot be combined");
	int64_t *fk = calloc(t->n_filters + t->n_sums + 1, sizeof *fk), *sk = fk + t->n_filters;
	if (!fk)
		return ember_errorf(err, ENOMEM, "call tree: out of memory");
	for (size_t i = 0; i < t->n_filters + t->n_sums; i++) {
		const char *key = i < t->n_filters ? t->filters[i].key : t->sums[i - t->n_filters].key;
		if ((fk[i] = folded_key(f, key)) < 0) {
			free(fk);
			return ember_errorf(err, EINVAL, "call tree: a profile folded without label '%s'",
					    key);
		}
	}
	t->unit = f->unit;
	uint32_t *nm = malloc(f->n_names * sizeof *nm);
	uint32_t *map = malloc(f->n_nodes * sizeof *map);
	int64_t *vmap = malloc(f->n_values * sizeof *vmap);
	unsigned char *flags = calloc(f->n_nodes, 1), *kept = calloc(f->n_recs + 1, 1);
	unsigned char *match = calloc(t->n_filters * f->n_values + 1, 1);
	int rc = -ENOMEM;
	if (!nm || !map || !vmap || !flags || !kept || !match)
		goto out;
	/* shared ids: t's names and nodes by id, when t meets f's ids first */
	if (f->ids && !t->ids)
		t->ids = f->ids;
	bool shared = f->ids && f->ids == t->ids;
	if (shared && !(grow_zeroed(&t->by_gname, &t->cap_gname, f->end_gname) &&
			grow_zeroed(&t->by_gpath, &t->cap_gpath, f->end_gpath)))
		goto out;
	/* f's names into t, in f's order (as adding the profile would); a
	 * name met before through the shared ids is not interned again */
	nm[0] = 0;
	for (size_t i = 1; i < f->n_names; i++) {
		uint32_t *by = shared ? &t->by_gname[f->gname[i]] : NULL;
		if (by && *by) {
			nm[i] = *by - 1;
			continue;
		}
		int64_t id = ember_profile_intern(t->names, f->names[i]);
		if (id < 0 || id >= UINT32_MAX - 1)
			goto out;
		nm[i] = (uint32_t)id;
		if (by)
			*by = nm[i] + 1;
	}
	if (t->has_focus && focus_nodes(t, f, nm, flags) < 0)
		goto out;
	for (size_t r = 0; r < f->n_recs; r++)
		if (keep_record(t, f, r, fk, match) && (!t->has_focus || (flags[f->recs[r].node] & F_HIT))) {
			kept[r] = 1;
			flags[f->recs[r].node] |= F_KEEP;
		}
	for (size_t i = f->n_nodes; i-- > 1;)   /* children after parents */
		if (flags[i] & F_KEEP)
			flags[f->parent[i]] |= F_KEEP;
	/* the kept part of f's tree into t: one probe per node, not per frame;
	 * through the shared ids, one probe per node new to t */
	map[0] = 0;
	for (size_t i = 1; i < f->n_nodes; i++) {
		if (!(flags[i] & F_KEEP))
			continue;
		uint32_t *by = shared ? &t->by_gpath[f->gpath[i]] : NULL;
		if (by && *by) {
			map[i] = *by - 1;
			continue;
		}
		if ((map[i] = child(t, map[f->parent[i]], nm[f->name[i]])) == NO_NODE)
			goto out;
		if (by)
			*by = map[i] + 1;
	}
	for (size_t i = 0; i < f->n_values; i++)
		vmap[i] = -1;
	for (size_t r = 0; r < f->n_recs; r++) {
		int64_t v = f->recs[r].value;
		for (size_t k = 0; !base && k < t->n_sums; k++) {
			uint32_t fv = f->labels[r * f->n_keys + (size_t)sk[k]];
			if (vmap[fv] < 0 && (vmap[fv] = ember_profile_intern(t->values, f->values[fv])) < 0)
				goto out;
			if (sum_label(&t->sums[k], vmap[fv], v) < 0)
				goto out;
		}
		if (!kept[r])
			continue;
		ct_node *n = &t->nodes[map[f->recs[r].node]];
		if (base)
			n->base_self = frame_sat_add(n->base_self, v);
		else
			n->self = frame_sat_add(n->self, v);
		t->samples++;
	}
	if (base)
		t->base_profiles++;
	else
		t->profiles++;
	rc = 0;
out:
	if (rc == -ENOMEM)
		ember_errorf(err, ENOMEM, "call tree: out of memory");
	free(fk);
	free(nm);
	free(map);
	free(vmap);
	free(flags);
	free(kept);
	free(match);
	return rc;
}

/* Folds p with the labels t filters on and lists, then adds it: one way
 * into a tree, whether the profile was folded before or not. */
int ember_calltree_add(ember_calltree *t, const ember_profile *p, bool base, ember_error *err)
{
	const char **keys = calloc(t->n_filters + t->n_sums + 1, sizeof *keys);
	if (!keys)
		return ember_errorf(err, ENOMEM, "call tree: out of memory");
	size_t n = 0;
	for (size_t i = 0; i < t->n_filters + t->n_sums; i++) {
		const char *key = i < t->n_filters ? t->filters[i].key : t->sums[i - t->n_filters].key;
		size_t j = 0;
		while (j < n && strcmp(keys[j], key))
			j++;
		if (j == n)
			keys[n++] = key;
	}
	ember_calltree_folded *f = NULL;
	int rc = ember_calltree_fold(&f, p, keys, n, err);
	free(keys);
	if (rc == 0)
		rc = ember_calltree_add_folded(t, f, base, err);
	ember_calltree_folded_free(f);
	return rc;
}

int ember_calltree_merge(ember_calltree *dst, const ember_calltree *src, ember_error *err)
{
	if (src->unit >= 0 && dst->unit >= 0 && src->unit != dst->unit)
		return ember_errorf(err, EINVAL,
				    "call tree: profiles with CPU time and profiles with only "
				    "sample counts cannot be combined");
	if (src->n_sums != dst->n_sums)
		return ember_errorf(err, EINVAL, "call tree: merging trees of other label keys");
	uint32_t *names = malloc((src->names->n_strings + 1) * sizeof *names);
	uint32_t *nodes = malloc((src->n_nodes + 1) * sizeof *nodes);
	int rc = -ENOMEM;
	if (!names || !nodes)
		goto out;
	for (size_t i = 0; i < src->names->n_strings; i++) {
		int64_t id = ember_profile_intern(dst->names, src->names->strings[i]);
		if (id < 0 || id >= UINT32_MAX)
			goto out;
		names[i] = (uint32_t)id;
	}
	/* parents come before their children in node order */
	nodes[0] = 0;
	for (size_t i = 0; i < src->n_nodes; i++) {
		const ct_node *n = &src->nodes[i];
		if (i && (nodes[i] = child(dst, nodes[n->parent], names[n->name])) == NO_NODE)
			goto out;
		ct_node *d = &dst->nodes[nodes[i]];
		d->self = frame_sat_add(d->self, n->self);
		d->base_self = frame_sat_add(d->base_self, n->base_self);
	}
	for (size_t k = 0; k < src->n_sums; k++)
		for (size_t i = 0; i < src->sums[k].cap && i < src->values->n_strings; i++)
			if (src->sums[k].sum[i]) {
				int64_t id = ember_profile_intern(dst->values, src->values->strings[i]);
				if (id < 0 || sum_label(&dst->sums[k], id, src->sums[k].sum[i]) < 0)
					goto out;
			}
	if (src->unit >= 0)
		dst->unit = src->unit;
	dst->profiles += src->profiles;
	dst->base_profiles += src->base_profiles;
	dst->samples += src->samples;
	rc = 0;
out:
	if (rc < 0)
		ember_errorf(err, ENOMEM, "call tree: out of memory");
	free(names);
	free(nodes);
	return rc;
}

/* ---- JSON ---------------------------------------------------------------- */

typedef struct fn_row {
	int64_t self, cum, base_self, base_cum;
	uint32_t on_stack;
} fn_row;

static int cmp_children(const void *a, const void *b, void *arg)
{
	const ember_calltree *t = arg;
	const ct_node *x = &t->nodes[*(const uint32_t *)a], *y = &t->nodes[*(const uint32_t *)b];
	return strcmp(t->names->strings[x->name], t->names->strings[y->name]);
}

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const fn_row *rows = arg;
	const fn_row *x = &rows[*(const uint32_t *)a], *y = &rows[*(const uint32_t *)b];
	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	if (x->base_cum != y->base_cum)
		return x->base_cum > y->base_cum ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

typedef struct lv_pair {
	int64_t sum;
	uint32_t id;
} lv_pair;

static int cmp_lv(const void *a, const void *b)
{
	const lv_pair *x = a, *y = b;
	if (x->sum != y->sum)
		return x->sum > y->sum ? -1 : 1;
	return x->id < y->id ? -1 : 1;
}

static void put_labels(const ember_calltree *t, ember_buf *out, lv_pair *tmp)
{
	ember_buf_puts(out, ",\"labels\":{");
	for (size_t k = 0; k < t->n_sums; k++) {
		const ct_labelsum *ls = &t->sums[k];
		size_t n = 0;
		for (size_t i = 0; i < ls->cap && i < t->values->n_strings; i++)
			if (ls->sum[i] > 0)
				tmp[n++] = (lv_pair){ ls->sum[i], (uint32_t)i };
		qsort(tmp, n, sizeof *tmp, cmp_lv);
		ember_buf_puts(out, k ? "," : "");
		ember_json_string(out, ls->key);
		ember_buf_puts(out, ":[");
		for (size_t i = 0; i < n && i < MAX_LABEL_VALUES; i++) {
			ember_buf_puts(out, i ? ",[" : "[");
			ember_json_string(out, t->values->strings[tmp[i].id]);
			ember_buf_printf(out, ",%" PRId64 "]", tmp[i].sum);
		}
		ember_buf_putc(out, ']');
	}
	ember_buf_putc(out, '}');
}

int ember_calltree_json(const ember_calltree *t, ember_buf *out, ember_error *err)
{
	size_t n_names = t->names->n_strings, n_values = t->values->n_strings;
	/* stack entries: node index, or ~index for "leaving" (bit 31 is free:
	 * fewer than 2^31 nodes fit in memory) */
	uint32_t *stack = malloc((2 * t->n_nodes + 1) * sizeof *stack);
	uint32_t *kids = malloc((t->n_nodes + 1) * sizeof *kids);
	uint32_t *depth = malloc((t->n_nodes + 1) * sizeof *depth);
	fn_row *rows = calloc(n_names + 1, sizeof *rows);
	uint32_t *order = malloc((n_names + 1) * sizeof *order);
	lv_pair *tmp = malloc((n_values + 1) * sizeof *tmp);
	int64_t *tot = malloc((2 * t->n_nodes + 1) * sizeof *tot), *btot = tot + t->n_nodes;
	int rc = 0;
	if (!stack || !kids || !depth || !rows || !order || !tmp || !tot) {
		rc = ember_errorf(err, ENOMEM, "call tree: out of memory");
		goto out;
	}
	/* totals: a node's self plus its children's totals; children come after
	 * their parents in node order, so one backward pass adds them up */
	for (size_t i = 0; i < t->n_nodes; i++) {
		tot[i] = t->nodes[i].self;
		btot[i] = t->nodes[i].base_self;
	}
	for (size_t i = t->n_nodes; i-- > 1;) {
		uint32_t up = t->nodes[i].parent;
		assert(up < i);
		tot[up] = frame_sat_add(tot[up], tot[i]);
		btot[up] = frame_sat_add(btot[up], btot[i]);
	}
	ember_buf_printf(out, "{\"unit\":\"%s\",\"total\":%" PRId64 ",\"base_total\":",
			 t->unit == 0 ? "samples" : "cpu_ns", tot[0]);
	if (t->base_profiles)
		ember_buf_printf(out, "%" PRId64, btot[0]);
	else
		ember_buf_puts(out, "null");
	ember_buf_printf(out, ",\"profiles\":%zu,\"base_profiles\":%zu,\"stacks\":%" PRIu64
			      ",\"names\":[\"all\"",
			 t->profiles, t->base_profiles, t->samples);
	for (size_t i = 1; i < n_names; i++) {
		ember_buf_putc(out, ',');
		ember_json_string(out, t->names->strings[i]);
	}
	ember_buf_puts(out, "],\n\"nodes\":[");
	size_t sp = 0;
	bool first = true;
	stack[sp++] = 0;
	depth[0] = 0;
	while (sp) {
		uint32_t e = stack[--sp];
		if (e & 0x80000000u) {   /* leaving a node */
			rows[t->nodes[~e].name].on_stack--;
			continue;
		}
		const ct_node *n = &t->nodes[e];
		ember_buf_printf(out, "%s%" PRIu32 ",%" PRIu32 ",%" PRId64 ",%" PRId64 ",%" PRId64
				      ",%" PRId64,
				 first ? "" : ",", n->name, depth[e], tot[e], n->self, btot[e],
				 n->base_self);
		first = false;
		if (e) {
			fn_row *r = &rows[n->name];
			r->self = frame_sat_add(r->self, n->self);
			r->base_self = frame_sat_add(r->base_self, n->base_self);
			if (!r->on_stack++) {
				r->cum = frame_sat_add(r->cum, tot[e]);
				r->base_cum = frame_sat_add(r->base_cum, btot[e]);
			}
			stack[sp++] = ~e;
		}
		size_t k = 0;
		for (uint32_t c = n->first_child; c != NO_NODE; c = t->nodes[c].next_sibling)
			kids[k++] = c;
		qsort_r(kids, k, sizeof *kids, cmp_children, (void *)t);
		while (k-- > 0) {   /* pushed in reverse: popped by name */
			depth[kids[k]] = depth[e] + 1;
			stack[sp++] = kids[k];
		}
	}
	ember_buf_puts(out, "],\n\"functions\":[");
	size_t n_rows = 0;
	for (size_t i = 1; i < n_names; i++)
		if (rows[i].cum || rows[i].base_cum)
			order[n_rows++] = (uint32_t)i;
	qsort_r(order, n_rows, sizeof *order, cmp_rows, rows);
	for (size_t i = 0; i < n_rows; i++) {
		const fn_row *r = &rows[order[i]];
		ember_buf_printf(out, "%s[%" PRIu32 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]",
				 i ? "," : "", order[i], r->self, r->cum, r->base_self, r->base_cum);
	}
	ember_buf_putc(out, ']');
	put_labels(t, out, tmp);
	ember_buf_puts(out, "}\n");
	if (!ember_buf_ok(out))
		rc = ember_errorf(err, ENOMEM, "call tree: out of memory");
out:
	free(stack);
	free(kids);
	free(depth);
	free(rows);
	free(order);
	free(tmp);
	free(tot);
	return rc;
}
