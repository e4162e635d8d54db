/* exporter/focus.c — the focus filter (ember/merge.h): keep the samples
 * whose stack holds a function (any frame, inline frames included) whose
 * name matches a POSIX extended regex, and whose cgroup, container_id and
 * pod_uid labels match theirs, each unanchored as grep; drop whatever no
 * kept sample references.
 *
 * The kept samples go through the merger, which copies only what samples
 * reference and so does the dropping. Owns: the match. Must never: modify
 * the input.
 */
#include "ember/merge.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* The conditions on sample labels, in ember_focus order after function. */
static const char *const label_keys[] = { "cgroup", "container_id", "pod_uid" };
enum { N_LABELS = sizeof label_keys / sizeof *label_keys };

bool ember_focus_empty(const ember_focus *f)
{
	return !f || (!f->function && !f->cgroup && !f->container_id && !f->pod_uid);
}

static int compile(regex_t *re, const char *field, const char *regex, ember_error *err)
{
	int rc = regcomp(re, regex, REG_EXTENDED | REG_NOSUB);
	if (rc == 0)
		return 0;
	char why[128];
	regerror(rc, re, why, sizeof why);
	return ember_errorf(err, EINVAL, "focus: bad %s regex '%.200s': %s (POSIX extended syntax)",
	                    field, regex, why);
}

/* Does the stack of s hold a function matching re? match caches per function
 * id: 0 unknown, 1 matches, 2 does not. */
static bool stack_matches(const ember_profile *src, const ember_sample *s, const regex_t *re,
                          unsigned char *match)
{
	for (size_t j = 0; j < s->n_locations; j++) {
		const ember_location *l = ember_profile_location(src, s->location_ids[j]);
		for (size_t k = 0; k < l->n_lines; k++) {
			uint64_t f = l->lines[k].function_id;
			if (!match[f]) {
				const char *name =
				    ember_profile_str(src, ember_profile_function(src, f)->name);
				match[f] = regexec(re, name, 0, NULL, 0) == 0 ? 1 : 2;
			}
			if (match[f] == 1)
				return true;
		}
	}
	return false;
}

int ember_profile_focus_by(const ember_profile *src, const ember_focus *f, ember_profile **out,
                           ember_error *err)
{
	const char *label_res[N_LABELS] = { f->cgroup, f->container_id, f->pod_uid };
	regex_t fn_re, label_re[N_LABELS];
	bool have_fn = false, have[N_LABELS] = { false };
	unsigned char *match = NULL;
	ember_sample *kept = NULL;
	ember_merger *m = NULL;
	int rc = 0;
	if (f->function && (rc = compile(&fn_re, "function", f->function, err)) == 0)
		have_fn = true;
	for (size_t i = 0; i < N_LABELS && rc == 0; i++)
		if (label_res[i] && (rc = compile(&label_re[i], label_keys[i], label_res[i], err)) == 0)
			have[i] = true;
	if (rc < 0)
		goto out;
	match = calloc(src->n_functions + 1, 1);
	kept = calloc(src->n_samples ? src->n_samples : 1, sizeof *kept);
	rc = -ENOMEM;
	if (!match || !kept) {
		ember_errorf(err, ENOMEM, "focus: out of memory");
		goto out;
	}
	size_t n = 0;
	for (size_t i = 0; i < src->n_samples; i++) {
		const ember_sample *s = &src->samples[i];
		bool hit = true;
		for (size_t k = 0; k < N_LABELS && hit; k++) {
			if (!have[k])
				continue;
			const char *v = ember_sample_label_str(src, s, label_keys[k]);
			hit = regexec(&label_re[k], v ? v : "", 0, NULL, 0) == 0;
		}
		if (hit && have_fn)
			hit = stack_matches(src, s, &fn_re, match);
		if (hit)
			kept[n++] = *s;
	}
	/* a view of src with only the kept samples; the merger only reads it */
	ember_profile view = *src;
	view.samples = kept;
	view.n_samples = n;
	view.cap_samples = n;
	if ((rc = ember_merger_new(&m, err)) < 0 || (rc = ember_merger_add(m, &view, err)) < 0 ||
	    (rc = ember_merger_result(m, out, err)) < 0)
		goto out;
	rc = 0;
out:
	ember_merger_free(m);
	free(kept);
	free(match);
	if (have_fn)
		regfree(&fn_re);
	for (size_t i = 0; i < N_LABELS; i++)
		if (have[i])
			regfree(&label_re[i]);
	return rc;
}

int ember_profile_focus(const ember_profile *src, const char *regex, ember_profile **out,
                        ember_error *err)
{
	ember_focus f = { .function = regex };
	return ember_profile_focus_by(src, &f, out, err);
}

int ember_merger_result_focus(ember_merger *m, const ember_focus *focus, ember_profile **out,
                              ember_error *err)
{
	ember_profile *merged = NULL;
	int rc = ember_merger_result(m, &merged, err);
	if (rc < 0 || ember_focus_empty(focus)) {
		*out = merged;
		return rc;
	}
	rc = ember_profile_focus_by(merged, focus, out, err);
	ember_profile_free(merged);
	return rc;
}
