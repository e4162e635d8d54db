/* profiler/perf_sample.h — decoding the perf records ember asks for, private
 * to profiler/. Decoders point into the record (no copies, no allocation)
 * and reject records whose sizes do not add up.
 *
 * The layout of a SAMPLE record follows attr.sample_type; ember uses
 * IP | TID | TIME | CPU | PERIOD | CALLCHAIN, plus REGS_USER | STACK_USER in
 * --call-graph dwarf mode, plus CGROUP where the kernel has it (5.7+), plus
 * READ (read_format 0: one value) for random periods of per-task and cgroup
 * events (profiler/period.h). Side-band records (MMAP2, COMM, FORK, EXIT) carry
 * a sample_id trailer (sample_id_all) that the decoders ignore.
 */
#ifndef EMBER_PROFILER_PERF_SAMPLE_H
#define EMBER_PROFILER_PERF_SAMPLE_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The sample_type bits this decoder understands. */
#define EMBER_SAMPLE_TYPE_FP                                                             \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |         \
	 PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN)
#define EMBER_SAMPLE_TYPE_DWARF                                                          \
	(EMBER_SAMPLE_TYPE_FP | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

typedef struct perf_sample {
	uint64_t ip;
	uint32_t pid, tid;
	uint64_t time;
	uint32_t cpu;
	uint64_t period;
	uint64_t count;          /* PERF_SAMPLE_READ: the event's clock so far (ns) */
	const uint64_t *chain;   /* callchain, PERF_CONTEXT_* markers included */
	uint64_t n_chain;
	uint64_t regs_abi;       /* PERF_SAMPLE_REGS_ABI_*, 0 when none */
	const uint64_t *regs;    /* n_regs values (ascending bit order of the mask) */
	size_t n_regs;
	const void *stack;       /* user stack copy from SP */
	uint64_t stack_size;     /* valid bytes (dyn_size) */
	uint64_t cgroup;         /* PERF_SAMPLE_CGROUP: the cgroup2 id, 0 when none */
	uint16_t misc;
} perf_sample;

/* Decodes a PERF_RECORD_SAMPLE for sample_type (one of the masks above) and
 * regs_mask (attr.sample_regs_user). 0, or -EINVAL when malformed. */
int perf_sample_parse(const struct perf_event_header *h, uint64_t sample_type,
		      uint64_t regs_mask, perf_sample *out);

/* The callchain's addresses into f (at most max), leaf first, without the
 * PERF_CONTEXT_* markers and zeros; callers as return address - 1, so each
 * lies inside its call instruction. Returns how many. (The sampler's
 * on_sample runs this loop inline, with its own bookkeeping; benchmarks and
 * tests that replay the hot path use this.) */
uint32_t perf_sample_frames(const perf_sample *ps, uint64_t *f, uint32_t max);

typedef struct perf_mmap2 {
	uint32_t pid, tid;
	uint64_t addr, len, pgoff;
	uint32_t maj, min;
	uint64_t ino;
	const unsigned char *build_id;   /* NULL unless MISC_MMAP_BUILD_ID */
	size_t build_id_size;
	uint32_t prot, flags;
	const char *filename;            /* NUL-terminated inside the record */
} perf_mmap2;

int perf_mmap2_parse(const struct perf_event_header *h, perf_mmap2 *out);

typedef struct perf_comm {
	uint32_t pid, tid;
	const char *comm;   /* NUL-terminated inside the record */
	bool exec;          /* PERF_RECORD_MISC_COMM_EXEC */
} perf_comm;

int perf_comm_parse(const struct perf_event_header *h, perf_comm *out);

/* FORK and EXIT share one layout. */
typedef struct perf_task {
	uint32_t pid, ppid, tid, ptid;
	uint64_t time;
} perf_task;

int perf_task_parse(const struct perf_event_header *h, perf_task *out);

/* CGROUP (PERF_RECORD_CGROUP, attr.cgroup): a new cgroup's id and path. */
typedef struct perf_cgroup {
	uint64_t id;
	const char *path;   /* NUL-terminated inside the record */
} perf_cgroup;

int perf_cgroup_parse(const struct perf_event_header *h, perf_cgroup *out);

/* LOST: the number of records the kernel dropped. */
int perf_lost_parse(const struct perf_event_header *h, uint64_t *lost);

/* The TIME of any record of an event with this sample_type and
 * sample_id_all: a SAMPLE's own field, else the sample_id trailer's. 0 when
 * the record is too short or sample_type has no TIME. */
uint64_t perf_record_time(const struct perf_event_header *h, uint64_t sample_type);

/* True for PERF_CONTEXT_* markers inside a callchain. */
static inline bool perf_chain_is_context(uint64_t ip)
{
	return ip >= (uint64_t)PERF_CONTEXT_MAX;
}

#endif
