/* profiler/period.h — randomized sampling periods, private to profiler/
 * (docs/ARCHITECTURE.md, "Randomized sampling periods").
 *
 * A cpu-clock event samples every P ns of its clock; with a fixed P, work
 * that repeats with a period near a multiple of P is sampled at the same
 * phase for seconds on end (aliasing). In random mode every event ember
 * opened (a "slot": one fd) gets a new period with PERF_EVENT_IOC_PERIOD,
 * at start and then about every PERIOD_CHANGE_NS for each slot that has
 * sampled since its last change. The draw is a RATE uniform in [F/2, 3F/2]
 * (the period is its inverse, in [2/(3F), 2/F]): a slot keeps each draw for
 * about the same time, so the average rate is the average of the draws, F
 * exactly, and the average interval between samples 1/F (a period uniform
 * in [1/(2F), 3/(2F)] would sample ln 3 = 1.0986 times too often).
 *
 * Weights. The kernel keeps reporting an fd event's FIRST period in
 * PERF_SAMPLE_PERIOD (hw.last_period is not updated by the ioctl), so the
 * reported period cannot be the weight. Two sources are exact instead:
 * - Per-task and cgroup events (-p, --, -G; their clock runs only while
 *   their tasks run): PERF_SAMPLE_READ gives each sample the event's clock
 *   so far, and the weight is the difference from the previous sample of the
 *   same (thread, CPU) event, or (cgroup) CPU. Whatever the ioctl restarted
 *   or discarded, and whatever period an inherited event (a thread started
 *   after the events were opened) keeps, the differences add up to the clock
 *   exactly. A count below the last one is a new event (a tid reused): its
 *   count is the weight. Kernels that reject READ on inherited events get
 *   fixed periods for per-task targets (the sampler says so).
 * - Per-CPU events of -a, whose timer runs on wall time including idle (the
 *   count would include the idle time the samples skip): the table
 *   remembers what it set, and a sample weighs the period in force at its
 *   time (sample time vs. change time, both CLOCK_MONOTONIC: period_attr
 *   sets use_clockid). The restart discards the part of the interval
 *   already elapsed, ((change - last fire) mod the old period), which the
 *   first sample after the change also stands for.
 * Inherited events cannot be reached by the ioctl: a thread started after
 * the events were opened keeps the period its parent's event had when the
 * thread was created (a fresh draw every PERIOD_CHANGE_NS, so threads
 * started at different times get different periods).
 *
 * Hot path: period_weight is two table lookups and a few compares; no
 * syscall; an allocation only when the counts table grows. period_change
 * makes one ioctl per changed slot.
 */
#ifndef EMBER_PROFILER_PERIOD_H
#define EMBER_PROFILER_PERIOD_H

#include <linux/perf_event.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "perf_sample.h"
#include "ember/u64map.h"

/* How often, at most, a slot gets a new period: at 99 Hz 100 ms is 10
 * samples of a busy thread, which keeps the share error of 2 s windows at
 * the counting noise (docs/ARCHITECTURE.md; bench/fidelity.py). */
#define PERIOD_CHANGE_NS 100000000ULL
/* Where the changes are made. The ioctl runs on its event's CPU: made from
 * another CPU it is an IPI the caller spins on, 24 us to tens of ms of its
 * CPU in the VM of bench/README.md (the host deschedules the other vCPU),
 * against 1.3-1.7 us on the event's CPU, where the event's task, if any, is
 * not running. Waking a thread on another busy CPU can spin as long. So
 * each CPU that has slots gets a changer thread (changer.h) pinned there,
 * on its own timer, that every PERIOD_CHANGE_NS changes the slots of its
 * CPU that sampled since their last change, and nothing else; the sampling
 * thread never waits for another CPU and takes the changes in at its next
 * wake-up (period_collect), before it drains the rings. A per-task slot is
 * changed only where its task was sampled last (elsewhere it is idle, and
 * the ioctl would IPI the task's new CPU).
 * Fallback, for CPUs without a thread (a 1-CPU machine, an agent confined
 * by its affinity mask, no memory): the sampling thread changes them at its
 * own wake-ups, its own CPU's for free, others by IPI within a budget: the
 * CPU those take stays under PERIOD_BUDGET_PCT % of the rest of the
 * sampling thread's CPU. PERIOD_CHANGE_SLACK_NS: a wake-up this close to
 * the due time makes the change, so a 100 ms cadence does not slip to
 * 200 ms. */
#define PERIOD_CHANGE_SLACK_NS 20000000ULL
#define PERIOD_BUDGET_PCT 2
/* Gaps. A per-task event's timer sometimes stops firing for a while (seen:
 * 100 ms without a sample from a thread that ran all along, a few times a
 * second of sampling, in both modes); the count still runs, so the next
 * sample's difference holds the whole gap. Given to that one sample it
 * would pile the gap on one stack (split_a's share off by 5 points in a
 * 2 s record at 999 Hz while the sample counts were right); dropped, the
 * totals would fall short. So a difference beyond PERIOD_GAP_MAX times
 * the longest period (what a restart's dropped part plus a new period can
 * reach) is cut there, and the rest is a debt of the event that its next
 * samples pay off, each 1/PERIOD_DEBT_SHARE of what is left: the gap's
 * time goes to the stacks the thread runs next, in proportion, and the
 * totals stay exact. */
#define PERIOD_GAP_MAX 2
#define PERIOD_DEBT_SHARE 16

/* The kernel's hrtimer floor for cpu-clock periods (10 us). */
#define PERIOD_MIN_NS 10000ULL

typedef struct period_slot {
	int fd;
	int cpu;
	_Atomic bool dirty;       /* sampled since the last change (the sampling thread
				   * sets it, whoever changes the slot clears it) */
	_Atomic uint64_t seen;    /* time of its last sample (per-task: where its task is) */
	/* the last change a changer thread made, for period_collect: `made`
	 * counts them, `taken` those taken in. An -a slot (wall weights need
	 * every change's time) is changed again only once its last change is
	 * taken in; the others' weights come from counts, and they change on
	 * their thread's pace whatever the sampling thread does */
	_Atomic uint32_t made, taken;
	_Atomic uint64_t made_period, made_at;
	_Atomic int made_rc;
	/* the sampling thread's own */
	bool pending;        /* credit not yet given to a sample (wall) */
	uint64_t cur, prev;  /* ns: the period in force since `changed`, and before */
	uint64_t changed;    /* CLOCK_MONOTONIC ns of the last change (0: never) */
	uint64_t last;       /* time of the last sample weighed (wall) */
	uint64_t credit;     /* ns the change cut off, for the first sample after it */
	uint32_t since;      /* samples weighed since the change taken in last */
	uint32_t group, group_n;   /* a task's slots are consecutive: the first of them,
				    * and (in the first) how many */
} period_slot;

/* What a CPU's changer thread owns: its slots (indices into slots) and
 * random state; `made` counts its rounds that changed something. A cache
 * line each. */
typedef struct period_cpu {
	_Alignas(64) uint64_t rng;
	_Atomic uint32_t made;
	uint32_t taken;      /* the sampling thread's: `made` when it last looked */
	uint32_t first, n;   /* its slots: cpu_slots[first .. first + n) */
} period_cpu;

typedef struct period_tab {
	bool random;
	bool wall;           /* per-CPU events of -a: timers on wall time, weights from
			      * the periods set; else weights from the counts */
	bool per_cpu;        /* slots are per CPU (-a, -G): keyed by cpu alone */
	uint64_t mean;       /* the period every fd event was opened with (1e9 / F) */
	double rate_lo, rate_hi;   /* Hz: draws are uniform in [rate_lo, rate_hi], mean F */
	uint64_t lo, hi;     /* ns: the periods that gives, 1e9 / rate_hi .. 1e9 / rate_lo */
	uint64_t rng;        /* xorshift64* state (the sampling thread's) */
	period_slot *slots;  /* fixed once period_start has run */
	size_t n, cap;
	pid_t tid_last;      /* the task period_add saw last (groups) */
	u64map by_key;       /* (tid << 32 | cpu), or cpu for per-CPU events -> slot */
	u64map counts;       /* the same keys, inherited events' too -> last count */
	u64map debts;        /* the same keys -> ns of a gap not yet given out */
	uint64_t gaps;       /* samples that came after a gap (tests, bench) */
	uint32_t n_cpus;     /* 1 + the highest CPU a slot or sample named */
	uint64_t next_change;
	unsigned budget_pct; /* PERIOD_BUDGET_PCT; 0: none (tests) */
	uint64_t cpu0;       /* the owner thread's CPU time (ns) at period_start */
	uint64_t spent;      /* ns of it spent in period_change's ioctls */
	size_t rr;           /* where the last round's pass over other CPUs stopped */
	uint64_t changes, change_errors;   /* changes taken in / failed (tests, bench) */
	uint64_t over_budget;              /* rounds cut short by the budget */
	uint64_t kicks;      /* idle changer threads woken for a slot that sampled */
	uint32_t draw_max;   /* the most samples a slot took under one draw (a draw
			      * that stands long is what aliases) */
	bool use_changer;    /* start changer threads (default; tests turn it off) */
	struct changer *changer;   /* changer.h */
	period_cpu *cpus;    /* per CPU with slots, slot_cpus of them */
	uint32_t slot_cpus;  /* 1 + the highest CPU a slot is on */
	uint32_t *cpu_slots; /* slot indices, grouped by CPU */
} period_tab;

/* A table for freq_hz; random false: no slots, weights are ps->period.
 * wall: the events are -a's per-CPU ones. */
void period_init(period_tab *t, bool random, unsigned freq_hz, bool wall);
void period_fini(period_tab *t);
/* Stops the changer threads (period_fini does too): call before the slots'
 * fds are closed, or a thread could change a reused fd. Later changes
 * fall back to period_change. */
void period_stop(period_tab *t);

/* What random periods need of the attr: sample times on CLOCK_MONOTONIC,
 * and the event's count in each sample (PERF_SAMPLE_READ, read_format 0)
 * unless wall. */
void period_attr(const period_tab *t, struct perf_event_attr *a);

/* Registers an fd opened for task tid (-1: every task, per CPU) on cpu,
 * before period_start. 0, -ENOMEM, or -EBUSY once changer threads run. No-op
 * in fixed mode. */
int period_add(period_tab *t, int fd, pid_t tid, int cpu);

/* Draws a first period for every slot (before the events run) and starts
 * the changer threads. */
void period_start(period_tab *t, uint64_t now_ns);

/* The weight of a sample (ns of its event's clock it stands for). May
 * allocate when a thread is seen for the first time (the counts table
 * grows; amortized), else a lookup and a few compares. */
uint64_t period_weight(period_tab *t, const perf_sample *ps);

/* Thread tid ended: its events' last counts go (its tid may come back). */
void period_forget(period_tab *t, pid_t tid);

/* The fallback: new periods for the slots of CPUs without a changer
 * thread that sampled since their last change, when PERIOD_CHANGE_NS has
 * passed (less the slack) and the budget allows; returns the time of the
 * next round (or UINT64_MAX in fixed mode). Call at
 * every wake-up of the thread that called period_start (its CPU time is the
 * budget's measure). */
uint64_t period_change(period_tab *t, uint64_t now_ns);

/* Takes in the changes the changer threads have made since the last call:
 * the slots' periods and change times. Call before draining the rings, so
 * that a sample after a change is weighed by the new period. */
void period_collect(period_tab *t);

#endif
