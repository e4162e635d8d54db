/* exporter/frames.c — how a location's frames are named for people and
 * metrics: the function of each line, or a stable "binary+0xoffset" for code
 * no symbol covers, and the binary a frame belongs to; and which sample value
 * measures CPU time.
 *
 * Owns: the naming rules every report and the metrics share, so that folded
 * stacks, the top table and metric labels agree. Must never: allocate (names
 * point into the profile or a caller's buffer).
 */
#include "frames.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const ember_mapping *mapping_of(const ember_profile *p, const ember_location *l)
{
	return ember_profile_mapping(p, l->mapping_id);
}

const char *frame_binary(const ember_profile *p, const ember_location *l)
{
	const ember_mapping *m = mapping_of(p, l);
	const char *f = m ? ember_profile_str(p, m->filename) : "";
	if (!*f)
		return "[unknown]";
	if (f[0] == '[' || strncmp(f, "//", 2) == 0)
		return f;
	const char *slash = strrchr(f, '/');
	if (!slash)
		return f;
	return slash[1] ? slash + 1 : f;
}

const char *frame_function(const ember_profile *p, const ember_location *l, size_t i,
                           char buf[FRAME_NAME_MAX])
{
	if (i < l->n_lines) {
		const ember_function *fn = ember_profile_function(p, l->lines[i].function_id);
		if (fn) {
			const char *name = ember_profile_str(p, fn->name);
			if (!*name)
				name = ember_profile_str(p, fn->system_name);
			if (*name)
				return name;
		}
	}
	const ember_mapping *m = mapping_of(p, l);
	if (!m) {
		snprintf(buf, FRAME_NAME_MAX, "0x%" PRIx64, l->address);
		return buf;
	}
	uint64_t off = l->address - m->memory_start + m->file_offset;
	/* a binary name is at most ~255 bytes (a file name); cut it if not */
	snprintf(buf, FRAME_NAME_MAX, "%.*s+0x%" PRIx64, FRAME_NAME_MAX - 24, frame_binary(p, l),
	         off);
	return buf;
}

static int find_type(const ember_profile *p, const char *type, const char *unit)
{
	for (size_t i = 0; i < p->n_sample_types; i++)
		if (strcmp(ember_profile_str(p, p->sample_types[i].type), type) == 0 &&
		    (!unit || strcmp(ember_profile_str(p, p->sample_types[i].unit), unit) == 0))
			return (int)i;
	return -1;
}

int frame_weight_cpu(const ember_profile *p, frame_weight *w, ember_error *err)
{
	int i = find_type(p, "cpu", "nanoseconds");
	if (i >= 0) {
		*w = (frame_weight){i, 1, true};
		return 0;
	}
	i = find_type(p, "samples", NULL);
	if (i >= 0 && p->period > 0 &&
	    strcmp(ember_profile_str(p, p->period_type.unit), "nanoseconds") == 0) {
		*w = (frame_weight){i, p->period, true};
		return 0;
	}
	return ember_errorf(err, EINVAL,
	                    "profile has no cpu/nanoseconds values and no samples with a "
	                    "period in nanoseconds: not a CPU profile");
}

int frame_weight_report(const ember_profile *p, frame_weight *w, ember_error *err)
{
	if (frame_weight_cpu(p, w, NULL) == 0)
		return 0;
	int i = find_type(p, "samples", NULL);
	if (i < 0 && p->n_sample_types)
		i = 0;
	if (i < 0)
		return ember_errorf(err, EINVAL, "profile has no sample types");
	*w = (frame_weight){i, 1, false};
	return 0;
}
