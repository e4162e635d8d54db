/* profiler/proctab.h — the process table, private to profiler/: for every
 * process the profiler has seen, its name, its executable mappings (with
 * build ids) and its threads' names.
 *
 * It starts from /proc (proctab_seed, proctab_seed_all) and is kept current
 * from perf's side-band records (MMAP2, COMM, FORK, EXIT). A process is
 * addressed by a handle (uint32_t) that stays valid until proctab_reap: an
 * exec or a reused pid starts a new process under a new handle, and exited
 * processes stay readable until the window that sampled them is built, so
 * every sample resolves against the mappings it ran with.
 *
 * The hot path calls proctab_get (a hash lookup). /proc and ELF files are
 * read once per process and once per binary (build ids cached by dev/inode),
 * never per sample.
 */
#ifndef EMBER_PROFILER_PROCTAB_H
#define EMBER_PROFILER_PROCTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perf_sample.h"
#include "unwind.h"

typedef struct proc_mapping {
	uint64_t start, end;   /* [start, end) */
	uint64_t pgoff;
	const char *filename;  /* as the process saw it; "//anon", "[vdso]" ...
				  (pooled: shared with other mappings) */
	const char *build_id;  /* lowercase hex, "" when unknown (pooled) */
} proc_mapping;

typedef struct proc {
	int32_t pid;
	bool used;             /* slot holds a process */
	bool dead;             /* exited or replaced by exec; reaped after the window */
	bool seeded;           /* /proc was read (or the process began under our eyes) */
	char comm[16];
	uint64_t cgroup;       /* cgroup2 id from /proc/PID/cgroup (proctab_set_cgroups), else 0 */
	proc_mapping *maps;    /* sorted by start, non-overlapping */
	size_t n_maps, cap_maps;
} proc;

typedef struct proctab proctab;

#define PROCTAB_NONE UINT32_MAX

int proctab_new(proctab **out);
void proctab_free(proctab *pt);

struct cgroup_map;
/* From now on, read each process's cgroup from /proc/PID/cgroup when it is
 * seeded or execs, and inherit it on FORK (proc.cgroup): the per-process
 * source of cgroup labels, for kernels without PERF_SAMPLE_CGROUP. */
void proctab_set_cgroups(proctab *pt, const struct cgroup_map *cg);

/* The current process of pid, created (and seeded from /proc) when unknown.
 * PROCTAB_NONE on ENOMEM. */
uint32_t proctab_get(proctab *pt, int32_t pid);
const proc *proctab_proc(const proctab *pt, uint32_t handle);

/* Reads /proc/PID/{comm,maps,task/ASTERISK/comm} into the current process of pid.
 * 0, -ESRCH when the process does not exist, or -ENOMEM. */
int proctab_seed(proctab *pt, int32_t pid);
/* Seeds every process in /proc. */
int proctab_seed_all(proctab *pt);

/* Side-band records. */
void proctab_on_mmap2(proctab *pt, const perf_mmap2 *m);
void proctab_on_comm(proctab *pt, const perf_comm *c);
void proctab_on_fork(proctab *pt, const perf_task *t);
void proctab_on_exit(proctab *pt, const perf_task *t);

/* The mapping of p containing addr, or NULL. */
const proc_mapping *proc_find_mapping(const proc *p, uint64_t addr);
/* The thread's name, or NULL when unknown. */
const char *proctab_thread_name(const proctab *pt, int32_t tid);

/* ember_unwind_callbacks.find_mapping over this table (ctx = the proctab). */
int proctab_unwind_find_mapping(void *ctx, int32_t pid, uint64_t addr, ember_unwind_mapping *out);

/* Marks exited the processes and threads that no longer exist although their
 * EXIT record never came (lost, or read before a late FORK from another
 * CPU's ring): one kill(pid, 0) per live entry. Call once per window, before
 * proctab_reap. */
void proctab_mark_vanished(proctab *pt);
/* Forgets exited processes and threads (call after building a window). */
void proctab_reap(proctab *pt);
/* Processes currently alive in the table. */
uint64_t proctab_live(const proctab *pt);

#endif
