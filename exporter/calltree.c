/* exporter/calltree.c — profiles folded into one call tree of function
 * names, with MAIN and BASE values side by side, label filters, a function
 * focus, trees built apart merged into one, and the JSON the UI draws from
 * (ember/calltree.h).
 *
 * Names are interned once (a profile's string interner serves as the
 * table); a node is found from (parent, name) through an open-addressing
 * index. Each added profile's locations are turned into root-first name
 * lists once, so a sample costs one index probe per frame and one update
 * (its leaf's self value): totals are summed when the JSON is written.
 *
 * Owns: the tree, its names, the label summary. Must never: change a
 * profile, know of HTTP or the store, or let a hostile value overflow
 * (sums saturate).
 */
#include "ember/calltree.h"
#include "ember/grow.h"
#include "ember/hash.h"
#include "ember/json.h"
#include "frames.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
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

static int sum_label(ember_calltree *t, ct_labelsum *ls, const char *value, int64_t v)
{
	int64_t id = ember_profile_intern(t->values, value);
	if (id < 0)
		return -ENOMEM;
	size_t old = ls->cap;
	if (!ember_grow((void **)&ls->sum, &ls->cap, (size_t)id + 1, sizeof *ls->sum))
		return -ENOMEM;
	memset(ls->sum + old, 0, (ls->cap - old) * sizeof *ls->sum);
	ls->sum[id] = frame_sat_add(ls->sum[id], v);
	return 0;
}

/* Whether s passes every filter. match caches string labels' results per
 * (filter, string index): 0 unknown, 1 yes, 2 no. */
static bool keep_sample(const ember_calltree *t, const ember_profile *p, const ember_sample *s,
			const int64_t *fkeys, unsigned char *match)
{
	char buf[32];
	for (size_t f = 0; f < t->n_filters; f++) {
		int64_t str = 0;
		for (size_t i = 0; i < s->n_labels && fkeys[f] >= 0; i++)
			if (s->labels[i].key == fkeys[f])
				str = s->labels[i].str;
		unsigned char *m = str ? &match[f * p->n_strings + (size_t)str] : NULL;
		if (!m || !*m) {
			const char *v = label_text(p, s, fkeys[f], buf);
			unsigned char r = regexec(&t->filters[f].re, v, 0, NULL, 0) == 0 ? 1 : 2;
			if (!m)
				m = &r;
			*m = r;
			if (r == 2)
				return false;
		} else if (*m == 2) {
			return false;
		}
	}
	return true;
}

/* Whether the stack of s holds a frame whose name matches the focus. */
static int focus_hit(ember_calltree *t, const ember_profile *p, const ember_sample *s,
		     const loc_names *ln)
{
	size_t need = t->names->n_strings;
	if (need > t->cap_focus_match) {
		size_t old = t->cap_focus_match;
		if (!ember_grow((void **)&t->focus_match, &t->cap_focus_match, need, 1))
			return -ENOMEM;
		memset(t->focus_match + old, 0, t->cap_focus_match - old);
	}
	(void)p;
	for (size_t li = 0; li < s->n_locations; li++) {
		uint64_t loc = s->location_ids[li];
		for (size_t k = ln->start[loc - 1]; k < ln->start[loc]; k++) {
			unsigned char *m = &t->focus_match[ln->ids[k]];
			if (!*m)
				*m = regexec(&t->focus, t->names->strings[ln->ids[k]], 0, NULL, 0) ? 2 : 1;
			if (*m == 1)
				return 1;
		}
	}
	return 0;
}

int ember_calltree_add(ember_calltree *t, const ember_profile *p, bool base, ember_error *err)
{
	frame_weight w;
	int rc = frame_weight_report(p, &w, err);
	if (rc < 0)
		return rc;
	int unit = w.cpu_ns ? 1 : 0;
	if (t->unit >= 0 && t->unit != unit)
		return ember_errorf(err, EINVAL,
				    "call tree: profiles with CPU time and profiles with only "
				    "sample counts cannot be combined");
	t->unit = unit;
	loc_names ln = { 0 };
	int64_t *fkeys = calloc(t->n_filters + t->n_sums + 1, sizeof *fkeys);
	unsigned char *match = calloc(t->n_filters * p->n_strings + 1, 1);
	rc = -ENOMEM;
	if (!fkeys || !match || loc_names_build(t, p, &ln) < 0)
		goto out;
	int64_t *skeys = fkeys + t->n_filters;
	for (size_t f = 0; f < t->n_filters; f++)
		fkeys[f] = find_string(p, t->filters[f].key);
	for (size_t k = 0; k < t->n_sums; k++)
		skeys[k] = find_string(p, t->sums[k].key);
	char buf[32];
	for (size_t si = 0; si < p->n_samples; si++) {
		const ember_sample *s = &p->samples[si];
		int64_t v = frame_weigh(&w, s);
		if (!base)
			for (size_t k = 0; k < t->n_sums; k++)
				if (sum_label(t, &t->sums[k], label_text(p, s, skeys[k], buf), v) < 0)
					goto out;
		if (!keep_sample(t, p, s, fkeys, match))
			continue;
		if (t->has_focus) {
			int hit = focus_hit(t, p, s, &ln);
			if (hit < 0)
				goto out;
			if (!hit)
				continue;
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
		ct_node *n = &t->nodes[node];
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
	free(ln.ids);
	free(ln.start);
	free(fkeys);
	free(match);
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
			if (src->sums[k].sum[i] &&
			    sum_label(dst, &dst->sums[k], src->values->strings[i], src->sums[k].sum[i]) < 0)
				goto out;
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
