/* ember/sampler.h — the profiler's contract (profiler/): open cpu-clock perf
 * events for a target, drain their ring buffers, keep a process table, unwind,
 * and aggregate stacks into windows handed over as RAW profiles (addresses and
 * mappings with build ids only; see ember/profile.h).
 *
 * The profiler never symbolizes. Its hot path (one sample) is a hash of the
 * stack and a counter bump: no allocation and no syscall per sample in steady
 * state.
 *
 * Threading: one thread owns a sampler and calls poll/take_window. Stats may
 * be read from other threads (they are atomics).
 */
#ifndef EMBER_SAMPLER_H
#define EMBER_SAMPLER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ember/error.h"
#include "ember/profile.h"

typedef enum ember_target_kind {
	EMBER_TARGET_ALL = 0,   /* -a: one event per online CPU, every process */
	EMBER_TARGET_PIDS,      /* -p PID[,PID...]: all threads, and new ones */
	EMBER_TARGET_CGROUP,    /* -G CGROUP: per CPU with PERF_FLAG_PID_CGROUP */
	EMBER_TARGET_COMMAND,   /* -- COMMAND ARGS: fork/exec, enable on exec */
} ember_target_kind;

typedef enum ember_callgraph {
	EMBER_CALLGRAPH_FP = 0,   /* kernel callchain (frame pointers) */
	EMBER_CALLGRAPH_DWARF,    /* user regs + stack copy unwound with libunwind */
} ember_callgraph;

/* Where a sample's cgroup comes from (sample labels cgroup, container_id,
 * pod_uid, systemd_unit; see docs/ARCHITECTURE.md, "Cgroup labels"). */
typedef enum ember_cgroup_source {
	EMBER_CGROUP_AUTO = 0,   /* per sample (PERF_SAMPLE_CGROUP, kernel 5.7+), else EMBER_CGROUP_PROC */
	EMBER_CGROUP_PROC,       /* /proc/PID/cgroup per process: at first sight, FORK and exec */
	EMBER_CGROUP_OFF,        /* no cgroup labels */
} ember_cgroup_source;

/* Bounds of the sampling options; the command-line parser takes its limits
 * from here (cli/sampling_flags.c). The frequency's real ceiling is the
 * kernel's perf_event_max_sample_rate (default 100000, lowered by the kernel
 * when sampling interrupts run long): ember_sampler_open reads it and names
 * the sysctl when -F is above it. */
#define EMBER_SAMPLER_FREQ_MIN 1u
#define EMBER_SAMPLER_FREQ_MAX 1000000u
#define EMBER_SAMPLER_STACK_MIN 4096u      /* DWARF user stack copy, bytes */
#define EMBER_SAMPLER_STACK_MAX 65528u     /* the kernel's u16 dump size, 8-aligned */
#define EMBER_SAMPLER_STACK_DEFAULT 32768u
#define EMBER_SAMPLER_STACK_ALIGN 8u

/* How the sampling interval is chosen (docs/ARCHITECTURE.md, "Randomized
 * sampling periods"). RANDOM: each event's rate is redrawn uniformly in
 * [F/2, 3F/2] about every 100 ms (within a CPU budget), so work that
 * repeats at a rate near F (or a multiple) is not sampled at the same phase
 * for seconds; the average rate stays F and each sample weighs the period
 * it stood for. FIXED: every interval is 1 / F. */
typedef enum ember_sampling {
	EMBER_SAMPLING_RANDOM = 0,
	EMBER_SAMPLING_FIXED,
} ember_sampling;

/* "random" or "fixed", as the flag spells them. */
static inline const char *ember_sampling_name(ember_sampling m)
{
	return m == EMBER_SAMPLING_FIXED ? "fixed" : "random";
}

typedef struct ember_sampler_opts {
	ember_target_kind kind;
	const pid_t *pids;        /* EMBER_TARGET_PIDS */
	size_t n_pids;
	const char *cgroup;       /* EMBER_TARGET_CGROUP: path under the cgroup2 mount, or absolute */
	char *const *argv;        /* EMBER_TARGET_COMMAND: NULL-terminated */
	unsigned freq_hz;         /* cpu-clock sampling frequency */
	ember_callgraph callgraph;
	ember_sampling sampling;  /* default (0): random */
	uint32_t stack_size;      /* DWARF: bytes of user stack copied, EMBER_SAMPLER_STACK_MIN..MAX,
				     a multiple of 8; 0 = EMBER_SAMPLER_STACK_DEFAULT */
	unsigned ring_pages;      /* data pages per ring buffer (power of 2); 0 = sized by mode */
	bool quiet;               /* no notices on stderr */
	ember_cgroup_source cgroups;
} ember_sampler_opts;

/* Why an unwind failed; counted per reason. */
typedef enum ember_unwind_reason {
	EMBER_UNWIND_NO_INFO = 0,       /* no unwind tables for a mapping */
	EMBER_UNWIND_STACK_TOO_SMALL,   /* ran off the end of the stack copy */
	EMBER_UNWIND_BAD_MEMORY,        /* read outside any mapping / unreadable */
	EMBER_UNWIND_NO_MAPPING,        /* ip in no known mapping */
	EMBER_UNWIND_OTHER,
	EMBER_UNWIND_N_REASONS
} ember_unwind_reason;

/* Names used for the `reason` label of ember_unwind_errors_total. */
const char *ember_unwind_reason_name(ember_unwind_reason r);

typedef struct ember_sampler_stats {
	uint64_t samples;        /* samples aggregated */
	uint64_t lost;           /* samples the kernel reported lost (LOST records) */
	uint64_t throttled;      /* THROTTLE records */
	uint64_t unwind_errors[EMBER_UNWIND_N_REASONS];
	uint64_t processes;      /* live entries in the process table */
	uint64_t windows;        /* windows taken */
	/* random sampling: period changes made, and the most samples one event
	 * took under one period (a period that stands long can alias) */
	uint64_t period_changes;
	uint64_t draw_samples_max;
} ember_sampler_stats;

typedef struct ember_sampler ember_sampler;

/* Opens the events (and, for a command, forks it stopped before exec).
 * Errors name the fix (permission, unknown pid, cgroup not found). */
int ember_sampler_open(ember_sampler **out, const ember_sampler_opts *opts, ember_error *err);

/* Enables the events; for a command, lets it exec (the event enables on exec). */
int ember_sampler_start(ember_sampler *s, ember_error *err);

/* Drains the ring buffers until deadline_ns (CLOCK_MONOTONIC), *stop becomes
 * non-zero, or the target has gone (command exited / all pids gone).
 * Returns 0 at the deadline or stop, 1 when the target has gone, -errno on error. */
int ember_sampler_poll(ember_sampler *s, uint64_t deadline_ns, volatile sig_atomic_t *stop,
		       ember_error *err);

/* Hands over what was aggregated since the last call as a RAW profile and
 * starts a new window. Sample types samples/count and cpu/nanoseconds, period
 * type cpu/nanoseconds, time_nanos/duration_nanos set to the window; labels
 * pid, tid, comm (process name) and thread (thread name), and where known
 * cgroup (the cgroup2 path, "/system.slice/x.service"), container_id,
 * pod_uid and systemd_unit. */
int ember_sampler_take_window(ember_sampler *s, ember_profile **out, ember_error *err);

void ember_sampler_get_stats(const ember_sampler *s, ember_sampler_stats *out);

/* The sampling in force: opts.sampling, or FIXED when random periods cannot
 * be had (a rate too close to the kernel's 10 us floor, or a kernel that
 * rejects PERF_SAMPLE_READ on the inherited events of a per-task target;
 * the sampler says which on stderr). */
ember_sampling ember_sampler_sampling(const ember_sampler *s);

/* For EMBER_TARGET_COMMAND once it has exited: its wait status; else -1. */
int ember_sampler_child_status(const ember_sampler *s);

/* For EMBER_TARGET_COMMAND when the recording ends before the command does
 * (deadline or stop): sends it SIGTERM, waits up to 2 s (then SIGKILL) and
 * reaps it, as perf record does, so no orphan outlives the recording.
 * Returns 1 when it ended the command, 0 when there was nothing to end. The
 * command's status is not reported by ember_sampler_child_status then: the
 * recording, not the command, decided the end. */
int ember_sampler_end_child(ember_sampler *s);

/* Disables and closes everything; kills nothing except a command target that
 * has not been started. */
void ember_sampler_close(ember_sampler *s);

#endif
