/* exporter/frames.h — private to exporter/: how the reports and metrics see
 * a sample's frames (exporter/frames.c) and aggregate them per function
 * (exporter/fnstat.c). Not a public contract; other modules never include it.
 */
#ifndef EMBER_EXPORTER_FRAMES_H
#define EMBER_EXPORTER_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/error.h"
#include "ember/profile.h"

/* Room for any unsymbolized frame name ("binary+0x<16 hex>"). */
#define FRAME_NAME_MAX 320

/* Frames of a location: one per line (inlined innermost first), or one
 * unsymbolized frame when the location has no lines. */
static inline size_t frame_count(const ember_location *l)
{
	return l->n_lines ? l->n_lines : 1;
}

/* The binary a location belongs to: the basename of its mapping's file name;
 * special names ("[vdso]", "[kernel.kallsyms]", "//anon") as they are;
 * "[unknown]" without a mapping or file name. Points into p or a constant. */
const char *frame_binary(const ember_profile *p, const ember_location *l);

/* The function name of frame i of location l: the function's name, else its
 * system name; for unsymbolized frames "binary+0xOFFSET" with OFFSET the file
 * offset (address - memory_start + file_offset, stable across ASLR), or
 * "0xADDRESS" without a mapping. Returns a string in p or in buf. */
const char *frame_function(const ember_profile *p, const ember_location *l, size_t i,
                           char buf[FRAME_NAME_MAX]);

/* How a sample's value is weighed: values[index] * multiplier. */
typedef struct frame_weight {
	int index;
	int64_t multiplier;
	bool cpu_ns; /* the weight is CPU nanoseconds (else a sample count) */
} frame_weight;

/* CPU nanoseconds: the cpu/nanoseconds value, else samples x period.
 * -EINVAL with one line when the profile has neither. */
int frame_weight_cpu(const ember_profile *p, frame_weight *w, ember_error *err);
/* CPU nanoseconds when the profile has them, else the sample count (reports). */
int frame_weight_report(const ember_profile *p, frame_weight *w, ember_error *err);

/* a + b, saturating: a hostile file's values must not overflow (UB). */
static inline int64_t frame_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* A sample's weight: never negative (CPU time cannot be), saturating. */
static inline int64_t frame_weigh(const frame_weight *w, const ember_sample *s)
{
	int64_t v = s->values[w->index], r;
	if (v <= 0 || w->multiplier <= 0)
		return 0;
	return __builtin_mul_overflow(v, w->multiplier, &r) ? INT64_MAX : r;
}

/* Per-function flat ("self") and cumulative totals of one profile. Keys are
 * (group, binary, function): group joins the values of the sample labels
 * a fnstat_keys names (FNSTAT_SEP between them; "comm" without a value is
 * "[unknown]", other labels ""), binary and function are "" when the keys
 * do not split by them. */
#define FNSTAT_SEP '\x1f'
#define FNSTAT_MAX_LABELS 8

typedef struct fnstat_keys {
	const char *labels[FNSTAT_MAX_LABELS]; /* sample label names, in order */
	size_t n_labels;
	bool binary, function;
} fnstat_keys;

typedef struct fnstat_entry {
	const char *group, *binary, *function; /* owned by the table */
	int64_t self, cum;
	size_t last_sample; /* private: cumulative counts once per sample */
} fnstat_entry;

typedef struct fnstat {
	fnstat_entry *entries;
	size_t n_entries, cap_entries;
	uint32_t *slots; /* open addressing: entry index + 1, 0 empty */
	size_t mask;
	/* each sample's frames as entry indices, leaf first:
	 * frames[sample_start[i] .. sample_start[i + 1]) */
	uint32_t *frames;
	size_t n_frames, cap_frames;
	size_t *sample_start;
	int64_t *sample_value; /* each sample's weight */
} fnstat;

/* Aggregates p weighed by w, keyed as keys says. */
int fnstat_build(fnstat *fs, const ember_profile *p, const frame_weight *w,
                 const fnstat_keys *keys, ember_error *err);
void fnstat_free(fnstat *fs);
/* Entry indices ranked by self desc, then cumulative desc, then by name
 * (function, binary, group): deterministic. Caller frees; NULL on ENOMEM. */
size_t *fnstat_rank(const fnstat *fs);

#endif
