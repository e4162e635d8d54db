/* profiler/sampler.c — the sampler of ember/sampler.h: opens the events for
 * a target (events.c, target.c), drains the rings (perf_ring.c), keeps the
 * process table current (proctab.c), aggregates each sample's stack
 * (stacktab.c) and hands windows over as RAW profiles (window.c).
 *
 * Records of all rings are handed over in time order (perf_merge.c), so a
 * sample never overtakes the FORK, exec or mmap it depends on. The hot path
 * is on_sample: decode, copy the frames, look the process up, intern the
 * stack. It must never allocate or make a syscall once the
 * process is known and the stack has been seen. Everything else here runs
 * once per record of another kind, per poll, or per window.
 */
#include "ember/sampler.h"

#include "ember/buildid.h"
#include "ember/clock.h"
#include "dwarf_stack.h"
#include "cgroup.h"
#include "unwind_leaf.h"
#include "events.h"
#include "perf_merge.h"
#include "perf_ring.h"
#include "perf_sample.h"
#include "period.h"
#include "proctab.h"
#include "stacktab.h"
#include "target.h"
#include "unwind.h"
#include "ember/grow.h"
#include "window.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
	POLL_MAX_MS = 100,        /* wake at least this often (stop flag, deadline, hung-up rings) */
	RING_PAGES_FP = 128,      /* 512 KiB per CPU */
	RING_PAGES_DWARF = 1024,  /* 4 MiB per CPU: samples carry a stack copy */
	DWARF_MAX_FRAMES = 256,
};

struct ember_sampler {
	ember_sampler_opts opts;
	uint64_t sample_type, regs_mask;
	evset ev;
	perf_ring **rings;          /* the evset's rings, for the merge */
	perf_merge merge;           /* time order across the rings */
	proctab *pt;
	cgroup_map *cgroups;        /* NULL: no cgroup labels */
	bool cgroup_per_proc;       /* the process table's cgroup, not the sample's */
	stacktab st;
	ember_unwinder *unwinder;   /* --call-graph dwarf, or fp mode's leaf fix-up */
	bool leaf_fix;              /* fp mode: unwinder only fixes up leaves */

	uint64_t *frames;           /* the hot path's scratch stack */
	uint32_t max_frames;
	long max_stack;             /* kernel.perf_event_max_stack */
	uint64_t period_ns;
	period_tab per;             /* random periods and sample weights (period.c) */

	char kernel_build_id[EMBER_BUILD_ID_HEX];
	uint64_t kernel_start;

	target_child child;         /* EMBER_TARGET_COMMAND */
	int cgroup_fd;              /* EMBER_TARGET_CGROUP, -1 otherwise */
	bool started;
	int child_status;           /* wait status once exited, else -1 */

	pid_t *watch;               /* pids whose exit ends the recording */
	int *pidfds;                /* -1 where pidfd_open is unavailable */
	bool *alive;
	size_t n_watch, cap_watch;

	struct pollfd *pfds;        /* rings, then pidfds */
	size_t n_pfds;

	uint64_t window_real_ns, window_mono_ns;
	ember_sampler_stats stats;  /* written by the owner thread, read by any */
	uint64_t bad_records;        /* malformed side-band records, ignored */
};

const char *ember_unwind_reason_name(ember_unwind_reason r)
{
	static const char *const names[] = {
		[EMBER_UNWIND_NO_INFO] = "no_info",
		[EMBER_UNWIND_STACK_TOO_SMALL] = "stack_too_small",
		[EMBER_UNWIND_BAD_MEMORY] = "bad_memory",
		[EMBER_UNWIND_NO_MAPPING] = "no_mapping",
		[EMBER_UNWIND_OTHER] = "other",
	};
	return (unsigned)r < EMBER_UNWIND_N_REASONS ? names[r] : "unknown";
}

/* Single writer, many readers: a relaxed load and store, no lock prefix. */
static inline void stat_add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t clock_ns(clockid_t c)
{
	return (uint64_t)ember_clock_ns(c);
}

/* ---- the hot path ---- */

static void on_sample(ember_sampler *s, const struct perf_event_header *h)
{
	perf_sample ps;
	if (perf_sample_parse(h, s->sample_type, s->regs_mask, &ps) < 0) {
		stat_add(&s->stats.lost, 1);   /* malformed: lost, and said so */
		return;
	}
	uint64_t *f = s->frames;
	uint32_t n = 0, max = s->max_frames - 1, chained = 0, user_at = UINT32_MAX;
	for (uint64_t i = 0; i < ps.n_chain && n < max; i++) {
		uint64_t ip = ps.chain[i];
		if (perf_chain_is_context(ip) || ip == 0) {
			if (ip == PERF_CONTEXT_USER)
				user_at = n;   /* for the leaf fix-up */
			continue;
		}
		f[n] = n == 0 ? ip : ip - 1;   /* callers: return address - 1 */
		n++;
		chained++;
	}
	if (s->unwinder && !s->leaf_fix) {
		n = dwarf_stack_append(s->unwinder, &ps, f, n, s->max_frames,
				       s->stats.unwind_errors);
	} else {
		if (s->leaf_fix)   /* the caller a frameless leaf hides (issue 13) */
			n = unwind_leaf_fix(s->unwinder, &ps, f, user_at, n, max);
		if (s->max_stack > 0 && chained >= (uint64_t)s->max_stack)
			f[n++] = WINDOW_FRAME_TRUNCATED;   /* the kernel cut the callchain */
	}
	if (n == 0)
		f[n++] = ps.ip;
	uint32_t proc = proctab_get(s->pt, (int32_t)ps.pid);
	uint64_t cgroup = ps.cgroup;
	if (s->cgroup_per_proc && proc != PROCTAB_NONE)
		cgroup = proctab_proc(s->pt, proc)->cgroup;
	uint64_t weight = period_weight(&s->per, &ps);
	if (proc == PROCTAB_NONE ||
	    stacktab_add_cgroup(&s->st, proc, ps.tid, cgroup, f, n, weight) < 0) {
		stat_add(&s->stats.lost, 1);   /* out of memory: counted, not hidden */
		return;
	}
	stat_add(&s->stats.samples, 1);
}

static void on_record(ember_sampler *s, const struct perf_event_header *h)
{
	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		on_sample(s, h);
		return;
	case PERF_RECORD_MMAP2: {
		perf_mmap2 m;
		if (perf_mmap2_parse(h, &m) == 0) {
			proctab_on_mmap2(s->pt, &m);
			/* new code at an address may replace old code there: drop the
			 * unwinder's per-process rules (cheap; binaries stay cached) */
			if (s->unwinder && (m.prot & PROT_EXEC))
				ember_unwinder_forget(s->unwinder, (int32_t)m.pid);
		} else
			s->bad_records++;
		return;
	}
	case PERF_RECORD_COMM: {
		perf_comm c;
		if (perf_comm_parse(h, &c) == 0) {
			proctab_on_comm(s->pt, &c);
			if (s->unwinder && c.exec)
				ember_unwinder_forget(s->unwinder, (int32_t)c.pid);
		} else
			s->bad_records++;
		return;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		perf_task t;
		if (perf_task_parse(h, &t) < 0)
			s->bad_records++;
		else if (h->type == PERF_RECORD_FORK)
			proctab_on_fork(s->pt, &t);
		else {
			proctab_on_exit(s->pt, &t);
			period_forget(&s->per, (pid_t)t.tid);
		}
		if (h->type == PERF_RECORD_EXIT && s->unwinder && t.pid == t.tid)
			ember_unwinder_forget(s->unwinder, (int32_t)t.pid);
		return;
	}
	case PERF_RECORD_LOST: {
		uint64_t lost;
		if (perf_lost_parse(h, &lost) == 0)
			stat_add(&s->stats.lost, lost);
		return;
	}
	case PERF_RECORD_LOST_SAMPLES: {
		uint64_t lost;
		if (h->size >= sizeof *h + 8) {
			memcpy(&lost, (const unsigned char *)h + sizeof *h, 8);
			stat_add(&s->stats.lost, lost);
		}
		return;
	}
	case PERF_RECORD_CGROUP:
		if (s->cgroups)
			cgroup_map_on_record(s->cgroups, h);
		return;
	case PERF_RECORD_THROTTLE:
		stat_add(&s->stats.throttled, 1);
		return;
	default:
		return;   /* UNTHROTTLE and records we did not ask for */
	}
}

static void on_record_cb(void *ctx, const struct perf_event_header *h)
{
	on_record(ctx, h);
}

/* Hands everything the rings hold to on_record in time order: a few passes,
 * as the kernel keeps writing while we read. */
static void drain(ember_sampler *s)
{
	period_collect(&s->per);   /* periods changed on other CPUs, before their samples */
	for (int pass = 0; pass < 4; pass++)
		if (!perf_merge_pass(&s->merge, on_record_cb, s))
			break;
	__atomic_store_n(&s->stats.period_changes, s->per.changes, __ATOMIC_RELAXED);
	__atomic_store_n(&s->stats.draw_samples_max, s->per.draw_max, __ATOMIC_RELAXED);
}

/* ---- opening ---- */

static void notice(const ember_sampler *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void notice(const ember_sampler *s, const char *fmt, ...)
{
	if (s->opts.quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("ember: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The start of kernel text from /proc/kallsyms (0 when hidden). */
static uint64_t kernel_text_start(void)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	if (!f)
		return 0;
	char line[256];
	uint64_t addr = 0;
	for (int i = 0; i < 100000 && fgets(line, sizeof line, f); i++) {
		uint64_t a;
		char type, name[128];
		if (sscanf(line, "%" SCNx64 " %c %127s", &a, &type, name) == 3 &&
		    (strcmp(name, "_text") == 0 || strcmp(name, "_stext") == 0)) {
			addr = a;
			break;
		}
	}
	fclose(f);
	return addr;
}

static int watch_pid(ember_sampler *s, pid_t pid, ember_error *err)
{
	size_t n = s->n_watch + 1, c1 = s->cap_watch, c2 = s->cap_watch, c3 = s->cap_watch;
	if (!ember_grow((void **)&s->watch, &c1, n, sizeof *s->watch) ||
	    !ember_grow((void **)&s->pidfds, &c2, n, sizeof *s->pidfds) ||
	    !ember_grow((void **)&s->alive, &c3, n, sizeof *s->alive))
		return ember_errorf(err, ENOMEM, "out of memory");
	s->cap_watch = c3;
	s->watch[s->n_watch] = pid;
	s->pidfds[s->n_watch] = (int)syscall(SYS_pidfd_open, pid, 0);
	s->alive[s->n_watch] = true;
	s->n_watch++;
	return 0;
}

static int open_per_cpu(ember_sampler *s, pid_t pid, unsigned long flags, bool inherit,
			ember_error *err)
{
	int *cpus;
	size_t n;
	int rc = events_online_cpus(&cpus, &n, err);
	if (rc < 0)
		return rc;
	/* per CPU (-a, -G) or per task; -a's timers run on wall time */
	pid_t tid = pid < 0 || (flags & PERF_FLAG_PID_CGROUP) ? -1 : pid;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = evset_open(&s->ev, pid, cpus[i], flags, inherit, err);
		if (rc == 0 && period_add(&s->per, s->ev.fds[s->ev.n_fds - 1], tid, cpus[i]) < 0)
			rc = ember_errorf(err, ENOMEM, "out of memory");
	}
	free(cpus);
	return rc;
}

/* Every thread of pid (and, through inherit, threads created later). */
static int open_pid(ember_sampler *s, pid_t pid, ember_error *err)
{
	pid_t *seen = NULL;
	size_t n_seen = 0, cap_seen = 0;
	int rc = 0;
	/* list, open, list again: threads started meanwhile get events too */
	for (int round = 0; round < 3 && rc == 0; round++) {
		pid_t *tids;
		size_t n;
		rc = target_tasks(pid, &tids, &n, err);
		if (rc < 0)
			break;
		size_t opened = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			bool known = false;
			for (size_t j = 0; j < n_seen && !known; j++)
				known = seen[j] == tids[i];
			if (known)
				continue;
			rc = open_per_cpu(s, tids[i], 0, true, err);
			if (rc == -ESRCH && tids[i] != pid)
				rc = 0;   /* the thread ended meanwhile */
			if (!ember_grow((void **)&seen, &cap_seen, n_seen + 1, sizeof *seen)) {
				rc = ember_errorf(err, ENOMEM, "out of memory");
				break;
			}
			seen[n_seen++] = tids[i];
			opened++;
		}
		free(tids);
		if (!opened)
			break;
	}
	free(seen);
	return rc;
}

static int open_target(ember_sampler *s, ember_error *err)
{
	const ember_sampler_opts *o = &s->opts;
	switch (o->kind) {
	case EMBER_TARGET_ALL:
		s->ev.attr.exclude_idle = 1;
		return open_per_cpu(s, -1, 0, false, err);
	case EMBER_TARGET_CGROUP: {
		if (!o->cgroup || !*o->cgroup)
			return ember_errorf(err, EINVAL, "-G needs a cgroup path");
		int fd = target_cgroup_open(o->cgroup, err);
		if (fd < 0)
			return fd;
		s->ev.attr.exclude_idle = 1;
		int rc = open_per_cpu(s, fd, PERF_FLAG_PID_CGROUP, false, err);
		if (rc < 0)
			close(fd);
		else
			s->cgroup_fd = fd;   /* start() seeds the processes inside */
		return rc;
	}
	case EMBER_TARGET_PIDS:
		if (!o->n_pids)
			return ember_errorf(err, EINVAL, "-p needs at least one pid");
		for (size_t i = 0; i < o->n_pids; i++) {
			int rc = open_pid(s, o->pids[i], err);
			if (rc < 0)
				return rc;
			if ((rc = watch_pid(s, o->pids[i], err)) < 0)
				return rc;
		}
		return 0;
	case EMBER_TARGET_COMMAND: {
		if (!o->argv || !o->argv[0])
			return ember_errorf(err, EINVAL, "no command given after --");
		int rc = target_child_spawn(&s->child, o->argv, err);
		if (rc < 0)
			return rc;
		s->ev.attr.enable_on_exec = 1;
		rc = open_per_cpu(s, s->child.pid, 0, true, err);
		if (rc == 0)
			rc = watch_pid(s, s->child.pid, err);
		return rc;
	}
	}
	return ember_errorf(err, EINVAL, "unknown target kind %d", (int)o->kind);
}

/* The cgroup labels' source: per sample where the kernel has it (attr gets
 * PERF_SAMPLE_CGROUP and cgroup records), else per process from /proc. */
static int open_cgroups(ember_sampler *s, struct perf_event_attr *attr, ember_error *err)
{
	if (s->opts.cgroups == EMBER_CGROUP_OFF)
		return 0;
	if (cgroup_map_new(&s->cgroups) < 0)
		return ember_errorf(err, ENOMEM, "out of memory");
	if (!cgroup_map_enabled(s->cgroups)) {
		notice(s, "no cgroup2 hierarchy is mounted: samples carry no cgroup labels");
		cgroup_map_free(s->cgroups);
		s->cgroups = NULL;
		return 0;
	}
	if (s->opts.cgroups == EMBER_CGROUP_AUTO && events_cgroup_supported()) {
		attr->sample_type |= PERF_SAMPLE_CGROUP;
		attr->cgroup = 1;
		return 0;
	}
	if (s->opts.cgroups == EMBER_CGROUP_AUTO)
		notice(s, "the kernel has no PERF_SAMPLE_CGROUP (5.7+): cgroup labels come from "
			  "/proc/PID/cgroup, so a process that moves keeps its old cgroup until it "
			  "execs");
	s->cgroup_per_proc = true;
	proctab_set_cgroups(s->pt, s->cgroups);
	return 0;
}

static int check_limits(ember_sampler *s, ember_error *err)
{
	long max_rate = events_sysctl("perf_event_max_sample_rate");
	if (max_rate > 0 && s->opts.freq_hz > (unsigned long)max_rate)
		return ember_errorf(err, EINVAL, "-F %u exceeds kernel.perf_event_max_sample_rate=%ld: "
						 "lower -F or raise the sysctl",
				    s->opts.freq_hz, max_rate);
	if (max_rate > 0 && s->opts.freq_hz * 2 > (unsigned long)max_rate)
		notice(s, "-F %u is close to kernel.perf_event_max_sample_rate=%ld; the kernel "
			  "lowers that limit when sampling interrupts run long",
		       s->opts.freq_hz, max_rate);
	s->max_stack = events_sysctl("perf_event_max_stack");
	return 0;
}

int ember_sampler_open(ember_sampler **out, const ember_sampler_opts *opts, ember_error *err)
{
	*out = NULL;
	if (opts->freq_hz == 0)
		return ember_errorf(err, EINVAL, "sampling frequency must be > 0");
	bool dwarf = opts->callgraph == EMBER_CALLGRAPH_DWARF;
	uint32_t stack_size = opts->stack_size ? opts->stack_size : EMBER_SAMPLER_STACK_DEFAULT;
	if (dwarf && (stack_size < EMBER_SAMPLER_STACK_MIN || stack_size > EMBER_SAMPLER_STACK_MAX ||
		      stack_size % EMBER_SAMPLER_STACK_ALIGN))
		return ember_errorf(err, EINVAL, "--stack-size %u: must be a multiple of 8 in "
						 "4096..65528", stack_size);
	ember_sampler *s = calloc(1, sizeof *s);
	if (!s)
		return ember_errorf(err, ENOMEM, "out of memory");
	s->opts = *opts;
	s->child = (target_child){ 0, -1, -1 };
	s->cgroup_fd = -1;
	s->child_status = -1;
	s->period_ns = 1000000000ULL / opts->freq_hz;
	bool random = opts->sampling == EMBER_SAMPLING_RANDOM;
	bool per_task = opts->kind == EMBER_TARGET_PIDS || opts->kind == EMBER_TARGET_COMMAND;
	if (random && per_task && !events_read_inherit_supported()) {
		notice(s, "this kernel rejects PERF_SAMPLE_READ on inherited events: fixed "
			  "sampling for -p and --");
		random = false;
	}
	period_init(&s->per, random, opts->freq_hz, opts->kind == EMBER_TARGET_ALL);
	int rc = check_limits(s, err);
	if (rc < 0)
		goto fail;
	if ((rc = proctab_new(&s->pt)) < 0 || (rc = stacktab_init(&s->st, 4096)) < 0) {
		rc = ember_errorf(err, ENOMEM, "out of memory");
		goto fail;
	}
	if (dwarf) {
		if ((rc = dwarf_stack_new(&s->unwinder, s->pt, err)) < 0)
			goto fail;
		s->regs_mask = ember_unwind_regs_mask();
	} else {
		if ((rc = dwarf_stack_new(&s->unwinder, s->pt, err)) < 0)
			goto fail;
		s->leaf_fix = true;
		s->regs_mask = unwind_leaf_regs_mask();
		stack_size = UNWIND_LEAF_STACK;
	}
	s->max_frames = (uint32_t)(s->max_stack > 0 ? s->max_stack : 127) + 8 +
			(dwarf ? DWARF_MAX_FRAMES : 0);
	s->frames = malloc(s->max_frames * sizeof *s->frames);
	if (!s->frames) {
		rc = ember_errorf(err, ENOMEM, "out of memory");
		goto fail;
	}
	struct perf_event_attr attr;
	events_attr(&attr, opts->freq_hz, dwarf, s->regs_mask, stack_size);
	period_attr(&s->per, &attr);
	if ((rc = open_cgroups(s, &attr, err)) < 0)
		goto fail;
	s->sample_type = attr.sample_type;
	unsigned pages = opts->ring_pages ? opts->ring_pages : dwarf ? RING_PAGES_DWARF
								      : RING_PAGES_FP;
	if (pages & (pages - 1)) {
		rc = ember_errorf(err, EINVAL, "ring_pages %u: not a power of 2", pages);
		goto fail;
	}
	evset_init(&s->ev, &attr, pages);
	if ((rc = open_target(s, err)) < 0)
		goto fail;
	if (s->ev.kernel_excluded)
		notice(s, "kernel samples not permitted (kernel.perf_event_paranoid=%ld): recording "
			  "user stacks only; for kernel frames run as root or set "
			  "kernel.perf_event_paranoid<=1 / grant CAP_PERFMON",
		       events_sysctl("perf_event_paranoid"));
	if (ember_buildid_read_kernel(s->kernel_build_id) < 0)
		s->kernel_build_id[0] = '\0';
	s->kernel_start = kernel_text_start();
	if (!s->kernel_start)
		s->kernel_start = WINDOW_KERNEL_MIN;
	s->rings = calloc(s->ev.n_rings ? s->ev.n_rings : 1, sizeof *s->rings);
	if (!s->rings) {
		rc = ember_errorf(err, ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < s->ev.n_rings; i++)
		s->rings[i] = &s->ev.rings[i].ring;
	if ((rc = perf_merge_init(&s->merge, s->rings, s->ev.n_rings, s->sample_type)) < 0) {
		rc = ember_errorf(err, ENOMEM, "out of memory");
		goto fail;
	}
	s->n_pfds = s->ev.n_rings + s->n_watch;
	s->pfds = calloc(s->n_pfds, sizeof *s->pfds);
	if (!s->pfds) {
		rc = ember_errorf(err, ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < s->ev.n_rings; i++)
		s->pfds[i] = (struct pollfd){ .fd = s->ev.rings[i].fd, .events = POLLIN };
	for (size_t i = 0; i < s->n_watch; i++)
		s->pfds[s->ev.n_rings + i] = (struct pollfd){ .fd = s->pidfds[i], .events = POLLIN };
	*out = s;
	return 0;
fail:
	ember_sampler_close(s);
	return rc;
}

int ember_sampler_start(ember_sampler *s, ember_error *err)
{
	int rc;
	period_start(&s->per, clock_ns(CLOCK_MONOTONIC));   /* before the events run */
	if (s->opts.kind != EMBER_TARGET_COMMAND && (rc = evset_enable(&s->ev, err)) < 0)
		return rc;
	/* what existed before the events: from /proc (records keep it current) */
	switch (s->opts.kind) {
	case EMBER_TARGET_ALL:
		proctab_seed_all(s->pt);
		break;
	case EMBER_TARGET_CGROUP: {
		pid_t *pids;
		size_t n;
		if (target_cgroup_pids(s->cgroup_fd, &pids, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				proctab_seed(s->pt, pids[i]);
			free(pids);
		}
		break;
	}
	case EMBER_TARGET_PIDS:
		for (size_t i = 0; i < s->opts.n_pids; i++)
			proctab_seed(s->pt, s->opts.pids[i]);
		break;
	case EMBER_TARGET_COMMAND:
		break;
	}
	s->window_real_ns = clock_ns(CLOCK_REALTIME);
	s->window_mono_ns = clock_ns(CLOCK_MONOTONIC);
	s->started = true;
	if (s->opts.kind == EMBER_TARGET_COMMAND) {
		/* the events enable themselves on exec */
		rc = target_child_release(&s->child, s->opts.argv[0], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Checks the watched pids; true when every one has exited. */
static bool target_gone(ember_sampler *s)
{
	if (!s->n_watch)
		return false;
	bool any = false;
	for (size_t i = 0; i < s->n_watch; i++) {
		if (!s->alive[i])
			continue;
		if (s->opts.kind == EMBER_TARGET_COMMAND) {
			int st;
			pid_t r = waitpid(s->watch[i], &st, WNOHANG);
			if (r == s->watch[i]) {
				s->child_status = st;
				s->child.pid = 0;
				s->alive[i] = false;
			} else if (r < 0 && errno == ECHILD) {
				s->alive[i] = false;
			}
		} else if (s->pidfds[i] >= 0) {
			/* readable once the process has exited, zombie or not */
			struct pollfd p = { .fd = s->pidfds[i], .events = POLLIN };
			if (poll(&p, 1, 0) == 1)
				s->alive[i] = false;
		} else if (kill(s->watch[i], 0) < 0 && errno == ESRCH) {
			s->alive[i] = false;
		}
		if (!s->alive[i] && s->pidfds[i] >= 0) {
			s->pfds[s->ev.n_rings + i].fd = -1;
		}
		any |= s->alive[i];
	}
	return !any;
}

int ember_sampler_poll(ember_sampler *s, uint64_t deadline_ns, volatile sig_atomic_t *stop,
		       ember_error *err)
{
	for (;;) {
		drain(s);
		if (stop && *stop) {
			target_gone(s);   /* collects the command's status if it is done */
			return 0;
		}
		if (target_gone(s)) {
			drain(s);
			return 1;
		}
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now >= deadline_ns)
			return 0;
		/* random periods: new ones for the events that sampled, at
		 * this wake-up (never one of their own: profiler/period.h) */
		period_change(&s->per, now);
		uint64_t ms = (deadline_ns - now) / 1000000 + 1;
		int timeout = ms < POLL_MAX_MS ? (int)ms : POLL_MAX_MS;
		int r = poll(s->pfds, s->n_pfds, timeout);
		if (r < 0 && errno != EINTR)
			return ember_errorf(err, errno, "poll: %s", strerror(errno));
		for (size_t i = 0; r > 0 && i < s->ev.n_rings; i++) {
			/* an event whose task is gone hangs up for good: stop polling
			 * it; its ring is still drained on every pass */
			if (s->pfds[i].revents & (POLLHUP | POLLERR)) {
				s->pfds[i].fd = -1;
				s->ev.rings[i].hup = true;
			}
		}
	}
}

int ember_sampler_take_window(ember_sampler *s, ember_profile **out, ember_error *err)
{
	drain(s);
	uint64_t now_mono = clock_ns(CLOCK_MONOTONIC);
	window_info wi = {
		.time_nanos = (int64_t)s->window_real_ns,
		.duration_nanos = (int64_t)(now_mono - s->window_mono_ns),
		.period = (int64_t)s->period_ns,
		.kernel_start = s->kernel_start,
		.kernel_build_id = s->kernel_build_id,
		.cgroups = s->cgroups,
	};
	int rc = window_build(&s->st, s->pt, &wi, out, err);
	if (rc < 0)
		return rc;
	if (s->cgroups)
		cgroup_map_window_end(s->cgroups);
	stacktab_reset(&s->st);
	proctab_mark_vanished(s->pt);
	proctab_reap(s->pt);
	s->window_real_ns += (uint64_t)wi.duration_nanos;
	s->window_mono_ns = now_mono;
	stat_add(&s->stats.windows, 1);
	__atomic_store_n(&s->stats.processes, proctab_live(s->pt), __ATOMIC_RELAXED);
	return 0;
}

ember_sampling ember_sampler_sampling(const ember_sampler *s)
{
	return s->per.random ? EMBER_SAMPLING_RANDOM : EMBER_SAMPLING_FIXED;
}

void ember_sampler_get_stats(const ember_sampler *s, ember_sampler_stats *out)
{
	const uint64_t *src = (const uint64_t *)&s->stats;
	uint64_t *dst = (uint64_t *)out;
	for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

int ember_sampler_child_status(const ember_sampler *s)
{
	return s->child_status;
}

int ember_sampler_end_child(ember_sampler *s)
{
	if (s->opts.kind != EMBER_TARGET_COMMAND || !s->started || s->child.pid <= 0 ||
	    s->child_status >= 0 || target_gone(s))
		return 0;
	pid_t pid = s->child.pid;
	kill(pid, SIGTERM);
	int st;
	pid_t r = 0;
	for (int i = 0; i < 200 && (r = waitpid(pid, &st, WNOHANG)) == 0; i++)
		usleep(10000);
	if (r == 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	s->child.pid = 0;
	for (size_t i = 0; i < s->n_watch; i++)
		s->alive[i] = false;
	return 1;
}

void ember_sampler_close(ember_sampler *s)
{
	if (!s)
		return;
	period_stop(&s->per);   /* its threads use the fds */
	evset_disable(&s->ev);
	evset_close(&s->ev);
	if (s->opts.kind == EMBER_TARGET_COMMAND && !s->started && s->child.pid > 0)
		target_child_abort(&s->child);
	if (s->child.go_fd >= 0)
		close(s->child.go_fd);
	if (s->child.err_fd >= 0)
		close(s->child.err_fd);
	for (size_t i = 0; i < s->n_watch; i++)
		if (s->pidfds[i] >= 0)
			close(s->pidfds[i]);
	if (s->cgroup_fd >= 0)
		close(s->cgroup_fd);
	free(s->watch);
	free(s->pidfds);
	free(s->alive);
	free(s->pfds);
	perf_merge_fini(&s->merge);
	free(s->rings);
	free(s->frames);
	if (s->unwinder)
		ember_unwinder_free(s->unwinder);
	proctab_free(s->pt);
	cgroup_map_free(s->cgroups);
	stacktab_fini(&s->st);
	period_fini(&s->per);
	free(s);
}
