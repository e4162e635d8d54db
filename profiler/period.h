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
 * table remembers what it set: a sample of an fd event weighs the period in
 * force at its time (sample time vs. change time, both CLOCK_MONOTONIC:
 * period_attr sets use_clockid). The ioctl restarts the timer and discards
 * the part of the interval already elapsed; the first sample after a change
 * also stands for that part: for a per-CPU wall-clock event (-a) it is known
 * ((change - last fire) mod the old period), for per-task and cgroup events
 * (whose clock runs only while their tasks run) its expected value, half the
 * old period, is credited. Inherited events (threads started after the
 * events were opened) cannot be reached by the ioctl: each keeps the period
 * its parent had when it was created, and reports it correctly in the
 * sample, so their samples weigh ps->period. The two are told apart by the
 * reported period: an fd event reports the first period (P, exactly), and no
 * drawn period is ever P.
 *
 * Hot path: period_weight is a table lookup and a few compares; no syscall,
 * no allocation. period_change makes one ioctl per changed slot.
 */
#ifndef EMBER_PROFILER_PERIOD_H
#define EMBER_PROFILER_PERIOD_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "perf_sample.h"
#include "ember/u64map.h"

/* How often, at most, a slot gets a new period: at 99 Hz 100 ms is 10
 * samples of a busy thread, which keeps the share error of 2 s windows at
 * the counting noise (docs/ARCHITECTURE.md; bench/fidelity.py). */
#define PERIOD_CHANGE_NS 100000000ULL
/* The ioctl runs where the event runs: for an event of another CPU, or of
 * a task running on another CPU, it is an IPI the caller waits for, 24 us
 * to milliseconds of its CPU in the busy VM of bench/README.md, against 1.3
 * to 1.7 us for an event of the caller's CPU or of a task that is not
 * running. So the changes have a budget: the CPU they take (measured around
 * each ioctl) stays under PERIOD_BUDGET_PCT % of the rest of the sampling
 * thread's CPU since start. Within a round, slots of the CPU the thread runs
 * on (cheap: their task, if any, is not running) go first, then the others
 * from where the last round stopped. When IPIs are dear, changes get rarer
 * and the cost stays bounded. */
#define PERIOD_BUDGET_PCT 2
/* The kernel's hrtimer floor for cpu-clock periods (10 us). */
#define PERIOD_MIN_NS 10000ULL

typedef struct period_slot {
	int fd;
	int cpu;
	bool wall;           /* per-CPU event of -a: its timer runs on wall time */
	bool dirty;          /* sampled since the last change */
	bool pending;        /* credit not yet given to a sample */
	uint64_t cur, prev;  /* ns: the period in force since `changed`, and before */
	uint64_t changed;    /* CLOCK_MONOTONIC ns of the last change (0: never) */
	uint64_t last;       /* time of the last sample seen */
	uint64_t credit;     /* ns the change cut off, for the first sample after it */
} period_slot;

typedef struct period_tab {
	bool random;
	bool per_cpu;        /* slots are per CPU (-a, -G): keyed by cpu alone */
	uint64_t mean;       /* the period every fd event was opened with (1e9 / F) */
	double rate_lo, rate_hi;   /* Hz: draws are uniform in [rate_lo, rate_hi], mean F */
	uint64_t lo, hi;     /* ns: the periods that gives, 1e9 / rate_hi .. 1e9 / rate_lo */
	uint64_t rng;        /* xorshift64* state */
	period_slot *slots;
	size_t n, cap;
	u64map by_key;       /* (tid << 32 | cpu), or cpu for per-CPU events -> slot */
	uint64_t next_change;
	unsigned budget_pct; /* PERIOD_BUDGET_PCT; 0: none (tests) */
	uint64_t cpu0;       /* the owner thread's CPU time (ns) at period_start */
	uint64_t spent;      /* ns of it spent in period_change's ioctls */
	size_t rr;           /* where the last round's pass over other CPUs stopped */
	uint64_t changes, change_errors;   /* ioctls made / failed (tests, bench) */
	uint64_t over_budget;              /* rounds cut short by the budget */
} period_tab;

/* A table for freq_hz; random false: no slots, weights are ps->period. */
void period_init(period_tab *t, bool random, unsigned freq_hz);
void period_fini(period_tab *t);

/* What random periods need of the attr: sample times on CLOCK_MONOTONIC. */
void period_attr(const period_tab *t, struct perf_event_attr *a);

/* Registers an fd opened for task tid (-1: every task, per CPU; wall: its
 * timer runs on wall time) on cpu. 0 or -ENOMEM. No-op in fixed mode. */
int period_add(period_tab *t, int fd, pid_t tid, int cpu, bool wall);

/* Draws a first period for every slot (before the events run). */
void period_start(period_tab *t, uint64_t now_ns);

/* The weight of a sample (ns of its event's clock it stands for). */
uint64_t period_weight(period_tab *t, const perf_sample *ps);

/* New periods for the slots that sampled since their last change, when
 * PERIOD_CHANGE_NS has passed and the budget allows; returns the time of
 * the next round (or UINT64_MAX in fixed mode) so the caller can wake for
 * it. Call from the thread that called period_start (its CPU time is the
 * budget's measure). */
uint64_t period_change(period_tab *t, uint64_t now_ns);

#endif
