/* ember/merge.h — combining and filtering profiles (exporter/merge.c,
 * exporter/focus.c).
 *
 * Merge: mappings deduplicated by build id (else file name), with addresses
 * rebased when the same binary was loaded at a different address; functions
 * by (name, system name, file, start line); locations by (mapping, address);
 * samples with equal stacks and labels summed; time = earliest start,
 * duration = span of all inputs. merge(A, A) has exactly twice A's values.
 */
#ifndef EMBER_MERGE_H
#define EMBER_MERGE_H

#include "ember/error.h"
#include "ember/profile.h"

typedef struct ember_merger ember_merger;

/* A merger accumulates profiles one at a time (serve merges many windows). */
int ember_merger_new(ember_merger **out, ember_error *err);
/* Adds src. Refuses (-EINVAL, clear message) sample types or a period type
 * that differ from the first profile's. */
int ember_merger_add(ember_merger *m, const ember_profile *src, ember_error *err);
/* The merged profile (caller frees); the merger stays usable. */
int ember_merger_result(ember_merger *m, ember_profile **out, ember_error *err);
void ember_merger_free(ember_merger *m);

/* Keeps the samples whose stack holds a function whose name matches the POSIX
 * extended regex; drops what no kept sample references. -EINVAL on a bad regex. */
int ember_profile_focus(const ember_profile *src, const char *regex, ember_profile **out,
			ember_error *err);

/* What a focus keeps: each field NULL (no condition) or a POSIX extended
 * regex, unanchored as grep. A sample is kept when its stack holds a
 * function matching `function` and its labels cgroup, container_id and
 * pod_uid match theirs (a sample without the label matches as "").
 * `field` names the condition in errors. */
typedef struct ember_focus {
	const char *function;
	const char *cgroup;
	const char *container_id;
	const char *pod_uid;
} ember_focus;

/* true when no field is set (nothing to filter). */
bool ember_focus_empty(const ember_focus *f);

/* Keeps the samples f selects, as ember_profile_focus; -EINVAL naming the
 * field on a bad regex. */
int ember_profile_focus_by(const ember_profile *src, const ember_focus *f, ember_profile **out,
			   ember_error *err);

/* The merged profile, focused as ember_profile_focus_by unless focus is
 * NULL or empty; the merger stays usable. */
int ember_merger_result_focus(ember_merger *m, const ember_focus *focus, ember_profile **out,
			      ember_error *err);

#endif
