/* ember/profile.h — the one model that flows through every stage: the pprof
 * profile (docs/ARCHITECTURE.md, "Data flow"), held in memory.
 *
 * It mirrors proto/profile.proto field for field, so encoding and decoding
 * (exporter/pprof.c) are mechanical. A RAW profile has mappings and locations
 * with addresses only; the symbolizer adds functions and lines in place and
 * sets the mapping has_* flags truthfully.
 *
 * Invariants (checked by ember_profile_check, asserted in debug builds):
 *  - strings[0] == "" and every string index used is < n_strings;
 *  - ids are dense: mappings[i].id == i + 1, likewise locations and functions,
 *    so ember_profile_mapping(p, id) is an array index. The decoder renumbers
 *    files that use sparse ids;
 *  - every sample has exactly n_sample_types values and refers to existing
 *    locations; every location refers to an existing mapping (or 0) and its
 *    lines to existing functions;
 *  - location addresses are the instruction address in the process's address
 *    space. For caller frames (return addresses) the profiler stores
 *    return_address - 1, so every address lies inside its instruction's call
 *    and symbolizes to the call site, as addr2line and perf do.
 *  - samples list locations leaf first; a location's lines are innermost
 *    (inlined) first, the physical caller last.
 *
 * Ownership: the profile owns every array and string in it. Adders copy.
 *
 * Conventions of the profiles ember writes (profiler, symbolizer and exporter
 * all rely on them):
 *  - sample types [samples/count, cpu/nanoseconds]; period type
 *    cpu/nanoseconds; period = the sampling period in ns (1e9 / F);
 *    time_nanos = window start (unix ns), duration_nanos = window length.
 *  - sample labels: "pid" and "tid" (numeric), "comm" (process name) and
 *    "thread" (thread name), strings; where the sample's cgroup is known
 *    "cgroup" (its cgroup2 path, "/" the root) and, where that path names
 *    them, "container_id", "pod_uid" and "systemd_unit".
 *  - mappings are per process (two processes of one binary get two mappings
 *    with the same build id). Special mappings by filename:
 *      "[kernel.kallsyms]"  kernel text, absolute kernel addresses; build_id
 *                           from /sys/kernel/notes when readable
 *      "[vdso]"             the vDSO
 *      "//anon"             anonymous executable memory (JIT); resolved from
 *                           /tmp/perf-PID.map with PID from the samples' pid
 *                           label
 *    anything else is a file path as the process saw it.
 *  - build_id: lowercase hex of the ELF's NT_GNU_BUILD_ID, "" when unknown.
 *  - a stack cut short ends (root side) in a location whose function is
 *    named "[truncated]".
 */
#ifndef EMBER_PROFILE_H
#define EMBER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ember_value_type {
	int64_t type;   /* string index */
	int64_t unit;   /* string index */
} ember_value_type;

typedef struct ember_label {
	int64_t key;      /* string index */
	int64_t str;      /* string index, 0 for numeric labels */
	int64_t num;
	int64_t num_unit; /* string index, 0 if none */
} ember_label;

typedef struct ember_sample {
	uint64_t *location_ids;   /* leaf first */
	size_t n_locations;
	int64_t *values;          /* n_sample_types entries */
	ember_label *labels;
	size_t n_labels;
} ember_sample;

typedef struct ember_mapping {
	uint64_t id;
	uint64_t memory_start;
	uint64_t memory_limit;
	uint64_t file_offset;
	int64_t filename;   /* string index */
	int64_t build_id;   /* string index: lowercase hex, "" if unknown */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
} ember_mapping;

typedef struct ember_line {
	uint64_t function_id;
	int64_t line;
	int64_t column;
} ember_line;

typedef struct ember_location {
	uint64_t id;
	uint64_t mapping_id;   /* 0: no mapping */
	uint64_t address;
	ember_line *lines;     /* innermost first */
	size_t n_lines;
	bool is_folded;
} ember_location;

typedef struct ember_function {
	uint64_t id;
	int64_t name;          /* string index: demangled name */
	int64_t system_name;   /* string index: mangled (linker) name */
	int64_t filename;      /* string index */
	int64_t start_line;
} ember_function;

struct ember_strindex;   /* private: hash index over strings */
struct ember_fnindex;    /* private: hash index over functions */

typedef struct ember_profile {
	char **strings;
	size_t n_strings, cap_strings;

	ember_value_type *sample_types;
	size_t n_sample_types;

	ember_sample *samples;
	size_t n_samples, cap_samples;

	ember_mapping *mappings;
	size_t n_mappings, cap_mappings;

	ember_location *locations;
	size_t n_locations, cap_locations;

	ember_function *functions;
	size_t n_functions, cap_functions;

	int64_t drop_frames;   /* string index */
	int64_t keep_frames;   /* string index */
	int64_t time_nanos;    /* start of the profile, unix ns */
	int64_t duration_nanos;
	ember_value_type period_type;
	int64_t period;
	int64_t *comments;     /* string indices */
	size_t n_comments;
	int64_t default_sample_type;

	struct ember_strindex *str_index;
	struct ember_fnindex *fn_index;
} ember_profile;

/* A new empty profile (strings[0] = ""), or NULL on ENOMEM. */
ember_profile *ember_profile_new(void);
void ember_profile_free(ember_profile *p);

/* Index of s in the string table, adding it if new; -1 on ENOMEM. */
int64_t ember_profile_intern(ember_profile *p, const char *s);
int64_t ember_profile_intern_len(ember_profile *p, const char *s, size_t len);
/* Appends s without looking for an equal string (decoders that must keep a
 * file's indices); the interner still finds the first of equal strings. */
int64_t ember_profile_push_string(ember_profile *p, const char *s);
/* The string at idx, or "" when idx is out of range. */
const char *ember_profile_str(const ember_profile *p, int64_t idx);

/* Appends a sample type; 0 or -ENOMEM. Must precede the first sample. */
int ember_profile_add_sample_type(ember_profile *p, const char *type, const char *unit);
int ember_profile_set_period_type(ember_profile *p, const char *type, const char *unit);
/* Index of the sample type named `type`, or -1. */
int ember_profile_sample_type_index(const ember_profile *p, const char *type);
/* The number of samples the profile stands for: the sum of the positive
 * values of its "samples" type, or the count of its samples without one. */
uint64_t ember_profile_sample_total(const ember_profile *p);

/* Adders return the new id (>= 1), or 0 on ENOMEM. The id field of *m is
 * ignored and assigned. */
uint64_t ember_profile_add_mapping(ember_profile *p, const ember_mapping *m);
uint64_t ember_profile_add_location(ember_profile *p, uint64_t mapping_id, uint64_t address);
/* Appends a line to a location (call innermost first). 0 or -ENOMEM. */
int ember_profile_location_add_line(ember_profile *p, uint64_t location_id,
				    uint64_t function_id, int64_t line);
/* Function with exactly these fields, reusing an existing one when equal. */
uint64_t ember_profile_intern_function(ember_profile *p, int64_t name, int64_t system_name,
				       int64_t filename, int64_t start_line);
/* A new function even if an equal one exists (decoders keeping ids). */
uint64_t ember_profile_add_function(ember_profile *p, int64_t name, int64_t system_name,
				    int64_t filename, int64_t start_line);
/* Copies the arrays; values has n_sample_types entries. 0 or -ENOMEM. */
int ember_profile_add_sample(ember_profile *p, const uint64_t *location_ids, size_t n_locations,
			     const int64_t *values, const ember_label *labels, size_t n_labels);

/* Lookups by id; NULL when the id is 0 or out of range. */
ember_mapping *ember_profile_mapping(const ember_profile *p, uint64_t id);
ember_location *ember_profile_location(const ember_profile *p, uint64_t id);
ember_function *ember_profile_function(const ember_profile *p, uint64_t id);

/* The string value of label `key` on sample s, or NULL; numeric: *out, true. */
const char *ember_sample_label_str(const ember_profile *p, const ember_sample *s, const char *key);
bool ember_sample_label_num(const ember_profile *p, const ember_sample *s, const char *key, int64_t *out);

/* Checks every invariant above; 0, or -EINVAL with one line in msg. */
int ember_profile_check(const ember_profile *p, char *msg, size_t msglen);

/* A deep copy, or NULL on ENOMEM. */
ember_profile *ember_profile_clone(const ember_profile *p);

#endif
