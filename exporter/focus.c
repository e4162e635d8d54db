/* exporter/focus.c — the focus filter (ember/merge.h): keep the samples
 * whose stack holds a function (any frame, inline frames included) whose
 * name matches a POSIX extended regex, unanchored as grep; drop whatever no
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

int ember_profile_focus(const ember_profile *src, const char *regex, ember_profile **out,
                        ember_error *err)
{
	regex_t re;
	int rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];
		regerror(rc, &re, why, sizeof why);
		return ember_errorf(err, EINVAL,
		                    "focus: bad function regex '%s': %s (POSIX extended syntax)",
		                    regex, why);
	}
	/* per function: 0 unknown, 1 matches, 2 does not */
	unsigned char *match = calloc(src->n_functions + 1, 1);
	ember_sample *kept = calloc(src->n_samples ? src->n_samples : 1, sizeof *kept);
	ember_merger *m = NULL;
	rc = -ENOMEM;
	if (!match || !kept) {
		ember_errorf(err, ENOMEM, "focus: out of memory");
		goto out;
	}
	size_t n = 0;
	for (size_t i = 0; i < src->n_samples; i++) {
		const ember_sample *s = &src->samples[i];
		bool hit = false;
		for (size_t j = 0; j < s->n_locations && !hit; j++) {
			const ember_location *l = ember_profile_location(src, s->location_ids[j]);
			for (size_t k = 0; k < l->n_lines && !hit; k++) {
				uint64_t f = l->lines[k].function_id;
				if (!match[f]) {
					const char *name = ember_profile_str(
					    src, ember_profile_function(src, f)->name);
					match[f] = regexec(&re, name, 0, NULL, 0) == 0 ? 1 : 2;
				}
				hit = match[f] == 1;
			}
		}
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
	regfree(&re);
	return rc;
}

int ember_merger_result_focus(ember_merger *m, const char *regex, ember_profile **out,
                              ember_error *err)
{
	ember_profile *merged = NULL;
	int rc = ember_merger_result(m, &merged, err);
	if (rc < 0 || !regex) {
		*out = merged;
		return rc;
	}
	rc = ember_profile_focus(merged, regex, out, err);
	ember_profile_free(merged);
	return rc;
}
