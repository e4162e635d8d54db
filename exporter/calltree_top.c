/* exporter/calltree_top.c — one profile summed up for the UI's timeline
 * (ember_calltree_top_json in ember/calltree.h): its total and its top
 * functions by self value, from the per-function totals the metrics and
 * the top report use (exporter/fnstat.c).
 *
 * Owns: that summary's JSON. Must never: change the profile.
 */
#include "ember/calltree.h"
#include "ember/json.h"
#include "frames.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

int ember_calltree_top_json(const ember_profile *p, size_t n, ember_buf *out, ember_error *err)
{
	frame_weight w;
	int rc = frame_weight_report(p, &w, err);
	if (rc < 0)
		return rc;
	fnstat fs;
	const fnstat_keys keys = { .binary = true, .function = true };
	if ((rc = fnstat_build(&fs, p, &w, &keys, err)) < 0)
		return rc;
	size_t *rank = fnstat_rank(&fs);
	if (!rank) {
		fnstat_free(&fs);
		return ember_errorf(err, ENOMEM, "timeline: out of memory");
	}
	int64_t total = 0;
	for (size_t i = 0; i < p->n_samples; i++)
		total = frame_sat_add(total, fs.sample_value[i]);
	ember_buf_printf(out, "\"cpu\":%" PRId64 ",\"top\":[", total);
	for (size_t i = 0; i < n && i < fs.n_entries && fs.entries[rank[i]].self > 0; i++) {
		ember_buf_puts(out, i ? ",[" : "[");
		ember_json_string(out, fs.entries[rank[i]].function);
		ember_buf_printf(out, ",%" PRId64 "]", fs.entries[rank[i]].self);
	}
	ember_buf_putc(out, ']');
	free(rank);
	fnstat_free(&fs);
	return ember_buf_ok(out) ? 0 : ember_errorf(err, ENOMEM, "timeline: out of memory");
}
