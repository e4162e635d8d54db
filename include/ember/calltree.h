/* ember/calltree.h — the data behind the UI's flame graphs (exporter/
 * calltree.c, exporter/calltree_top.c): profiles folded into one call tree,
 * optionally against a diff base, and written as JSON. Pure functions of
 * profiles: knows nothing of HTTP, the store or the browser.
 *
 * The tree: root first, one node per distinct path of function names
 * (inline frames expanded, innermost last, as in folded stacks); each node
 * has a total (its samples and its callees') and a self value, for the
 * profiles added as MAIN and, separately, as BASE. Values are CPU
 * nanoseconds (cpu/nanoseconds, or samples x period), or sample counts for
 * a profile that has no CPU time ("unit" in the JSON says which).
 *
 * Label filters keep the samples whose label KEY matches a POSIX extended
 * regex, anchored at both ends (pid=123 does not keep 1234); a sample
 * without the label has the value "". All filters must match. Numeric
 * labels (pid, tid) match their decimal text.
 *
 * JSON (ember_calltree_json), compact so 50,000 nodes stay a few MB:
 *   {"unit":"cpu_ns"|"samples", "total":N, "base_total":N|null,
 *    "profiles":N, "base_profiles":N, "stacks":N (sample records kept),
 *    "names":["all","main",...],
 *    "nodes":[name,depth,total,self,base_total,base_self, ...]  (6 per node,
 *             preorder, root first, children by name),
 *    "functions":[[name,self,cum,base_self,base_cum], ...]  (by self desc;
 *             cum once per sample even under recursion),
 *    "labels":{"comm":[["value",total],...], ...}}  (the label values of the
 *             MAIN samples before filtering, largest first, at most 200 per key)
 */
#ifndef EMBER_CALLTREE_H
#define EMBER_CALLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/profile.h"

typedef struct ember_label_filter {
	const char *key;     /* sample label, e.g. "comm", "pid", "thread" */
	const char *regex;   /* POSIX ERE, anchored */
} ember_label_filter;

typedef struct ember_calltree ember_calltree;

/* A new empty tree. focus (a POSIX ERE, unanchored, or NULL) keeps only
 * the samples whose stack holds a frame whose name matches, as
 * ember_profile_focus; filters (copied) apply to every profile added;
 * label_keys (copied) are the labels whose values the JSON lists (before
 * filters and focus). -EINVAL naming the key on a bad regex. */
int ember_calltree_new(ember_calltree **out, const char *focus,
		       const ember_label_filter *filters, size_t n_filters,
		       const char *const *label_keys, size_t n_label_keys, ember_error *err);
void ember_calltree_free(ember_calltree *t);

/* Adds p's samples to the MAIN or (base) the BASE values. */
int ember_calltree_add(ember_calltree *t, const ember_profile *p, bool base, ember_error *err);

/* A profile folded once so that many trees can add it cheaply (the UI keeps
 * the stored windows folded in memory): its own call tree of function
 * names (root first, inline frames expanded, as the tree above) and one
 * record per sample: its leaf node, its weight and the text of its labels
 * label_keys (copied; numeric labels as decimal, "" when absent). Names are
 * kept in the order ember_calltree_add meets them, so a tree that adds
 * folded profiles writes the same JSON as one that adds the profiles.
 * Immutable once made: any number of threads may add it at once. */
typedef struct ember_calltree_folded ember_calltree_folded;

int ember_calltree_fold(ember_calltree_folded **out, const ember_profile *p,
			const char *const *label_keys, size_t n_label_keys, ember_error *err);

/* Ids shared by folded profiles: one id per function name and per path of
 * names (a node of any tree), the same in every profile folded with the
 * same ids. A tree that adds profiles folded with shared ids finds their
 * nodes and names by those ids (an array lookup) instead of probing and
 * interning them again for each profile: a range of many windows costs
 * integer work per node. Thread-safe; only grows, up to max_paths paths
 * (past it, profiles fold without shared ids and add as before). The ids
 * must outlive every profile folded with them. */
typedef struct ember_calltree_ids ember_calltree_ids;
int ember_calltree_ids_new(ember_calltree_ids **out, size_t max_paths);
void ember_calltree_ids_free(ember_calltree_ids *ids);
/* Paths known (the root included) and names known. */
void ember_calltree_ids_stats(ember_calltree_ids *ids, size_t *paths, size_t *names);
/* As ember_calltree_fold, with ids shared (NULL: none). */
int ember_calltree_fold_ids(ember_calltree_folded **out, const ember_profile *p,
			    const char *const *label_keys, size_t n_label_keys,
			    ember_calltree_ids *ids, ember_error *err);
void ember_calltree_folded_free(ember_calltree_folded *f);
/* The memory f holds, its own struct included. */
size_t ember_calltree_folded_bytes(const ember_calltree_folded *f);

/* As ember_calltree_add of the profile f was folded from. -EINVAL when a
 * filter's or the label summary's key is not among f's label keys, or the
 * units differ. */
int ember_calltree_add_folded(ember_calltree *t, const ember_calltree_folded *f, bool base,
			      ember_error *err);

/* Adds src's values (main and base) and label values to dst, as if every
 * profile added to src had been added to dst; src is unchanged (trees
 * built in parallel, one per thread, end in one). -EINVAL when their units
 * or label keys differ. */
int ember_calltree_merge(ember_calltree *dst, const ember_calltree *src, ember_error *err);

/* Nodes in the tree, the root included. */
size_t ember_calltree_nodes(const ember_calltree *t);

/* The JSON above, appended to out. */
int ember_calltree_json(const ember_calltree *t, ember_buf *out, ember_error *err);

/* One profile's summary for a timeline, appended to out as JSON members:
 *   "cpu":N,"top":[["function",self],...]
 * cpu = the profile's total in the unit above, top = at most n functions by
 * self value, largest first. */
int ember_calltree_top_json(const ember_profile *p, size_t n, ember_buf *out, ember_error *err);

#endif
