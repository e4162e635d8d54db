/* profiler/period.c — randomized sampling periods and the weight of each
 * sample (period.h). Owns the slots' periods, the random draws and what the
 * changer threads do on their CPUs (changer.c runs them); never opens,
 * enables or closes an event (events.c) and never reads a ring: the sampler
 * hands it each sample, and calls period_collect and period_change between
 * drains. */
#include "period.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "changer.h"
#include "ember/clock.h"
#include "ember/grow.h"

enum { PER_CPU_TID = 0xffffffffu };   /* the key's tid for events of every task */

static uint64_t mono_ns(void)
{
	return (uint64_t)ember_mono_ns();
}

static uint64_t thread_cpu_ns(void)
{
	return (uint64_t)ember_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static uint64_t slot_key(uint32_t tid, uint32_t cpu)
{
	return (uint64_t)tid << 32 | cpu;
}

void period_init(period_tab *t, bool random, unsigned freq_hz, bool wall)
{
	memset(t, 0, sizeof *t);
	double f = freq_hz ? freq_hz : 1;
	t->mean = 1000000000ULL / (uint64_t)f;
	/* [F/2, 3F/2], shrunk symmetrically below the rate of the kernel's
	 * period floor so the mean stays F; too little room left: fixed */
	double ceiling = 1e9 / PERIOD_MIN_NS;
	t->rate_hi = 1.5 * f < ceiling ? 1.5 * f : ceiling;
	t->rate_lo = 2 * f - t->rate_hi;
	t->random = random && t->rate_hi - t->rate_lo >= 0.02 * f;
	t->lo = (uint64_t)(1e9 / t->rate_hi + 0.5);
	t->hi = t->rate_lo > 0 ? (uint64_t)(1e9 / t->rate_lo + 0.5) : t->mean;
	if (getrandom(&t->rng, sizeof t->rng, GRND_NONBLOCK) != sizeof t->rng)
		t->rng = mono_ns();
	t->rng |= 1;   /* xorshift's state must not be 0 */
	t->wall = wall;
	t->by_key = (u64map)U64MAP_INIT;
	t->counts = (u64map)U64MAP_INIT;
	t->debts = (u64map)U64MAP_INIT;
	t->budget_pct = PERIOD_BUDGET_PCT;
	t->use_changer = true;
}

void period_stop(period_tab *t)
{
	changer_free(t->changer);
	t->changer = NULL;
}

void period_fini(period_tab *t)
{
	period_stop(t);   /* first: the threads read the slots */
	free(t->cpus);
	free(t->cpu_slots);
	free(t->slots);
	u64map_free(&t->by_key);
	u64map_free(&t->counts);
	u64map_free(&t->debts);
	memset(t, 0, sizeof *t);
}

void period_attr(const period_tab *t, struct perf_event_attr *a)
{
	if (!t->random)
		return;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	if (!t->wall) {
		a->sample_type |= PERF_SAMPLE_READ;
		a->read_format = 0;
	}
}

int period_add(period_tab *t, int fd, pid_t tid, int cpu)
{
	if (!t->random)
		return 0;
	if (t->changer)
		return -EBUSY;   /* its threads read the slots */
	if (!ember_grow((void **)&t->slots, &t->cap, t->n + 1, sizeof *t->slots))
		return -ENOMEM;
	t->per_cpu = tid < 0;
	uint64_t key = slot_key(tid < 0 ? PER_CPU_TID : (uint32_t)tid, (uint32_t)cpu);
	if (u64map_put(&t->by_key, key, t->n) < 0)
		return -ENOMEM;
	/* open_per_cpu adds a task's CPUs one after the other: a group */
	uint32_t group = (uint32_t)t->n;
	if (tid >= 0 && t->n && t->tid_last == tid)
		group = t->slots[t->n - 1].group;
	t->slots[t->n++] = (period_slot){ .fd = fd, .cpu = cpu, .cur = t->mean, .prev = t->mean,
					  .group = group };
	t->slots[group].group_n++;
	t->tid_last = tid;
	if ((uint32_t)cpu >= t->n_cpus)
		t->n_cpus = (uint32_t)cpu + 1;
	return 0;
}

/* xorshift64*: plenty for spreading sample times, and no syscall. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1DULL;
}

/* The period of a rate uniform in [rate_lo, rate_hi], from random state
 * rng (the sampling thread's, or a changer thread's own). */
static uint64_t draw_from(const period_tab *t, uint64_t *rng)
{
	uint64_t r = next_random(rng);
	double u = (double)(r >> 11) * 0x1.0p-53;   /* [0, 1) */
	uint64_t v = (uint64_t)(1e9 / (t->rate_lo + u * (t->rate_hi - t->rate_lo)) + 0.5);
	return v < t->lo ? t->lo : v > t->hi ? t->hi : v;
}

static uint64_t draw(period_tab *t)
{
	return draw_from(t, &t->rng);
}

static int set_period(int fd, uint64_t v)
{
	return ioctl(fd, PERF_EVENT_IOC_PERIOD, &v);
}

/* A per-task slot is worth changing where its task was sampled last: on
 * another CPU's slot the task has moved away (its event there is idle),
 * and an ioctl made on the CPU of that slot would IPI the task's new CPU.
 * It stays dirty until the task comes back. */
static bool task_is_there(const period_tab *t, const period_slot *s)
{
	if (t->per_cpu)
		return true;
	const period_slot *g = &t->slots[s->group];
	uint64_t seen = atomic_load_explicit(&s->seen, memory_order_relaxed);
	for (uint32_t k = 0; k < g->group_n; k++)
		if (atomic_load_explicit(&g[k].seen, memory_order_relaxed) > seen)
			return false;
	return true;
}

/* A changer thread's round on its cpu: a new period for each of the CPU's
 * slots that sampled since its last change, whose last change the
 * sampling thread has taken in, and whose task (if any) was last seen
 * here. Touches only those slots' atomics and mailboxes, and the CPU's own
 * random state. True when the CPU had sampled at all (the pace stays). */
static bool cpu_round(void *arg, int cpu)
{
	period_tab *t = arg;
	period_cpu *pc = &t->cpus[cpu];
	bool active = false, made = false;
	for (uint32_t k = 0; k < pc->n; k++) {
		period_slot *s = &t->slots[t->cpu_slots[pc->first + k]];
		if (!atomic_load_explicit(&s->dirty, memory_order_relaxed))
			continue;
		active = true;
		uint32_t m = atomic_load_explicit(&s->made, memory_order_relaxed);
		if ((t->wall && atomic_load_explicit(&s->taken, memory_order_acquire) != m) ||
		    !task_is_there(t, s))
			continue;
		atomic_store_explicit(&s->dirty, false, memory_order_relaxed);
		uint64_t v = draw_from(t, &pc->rng);
		atomic_store_explicit(&s->made_rc, set_period(s->fd, v) < 0 ? -errno : 0,
				      memory_order_relaxed);
		atomic_store_explicit(&s->made_period, v, memory_order_relaxed);
		atomic_store_explicit(&s->made_at, mono_ns(), memory_order_relaxed);
		atomic_store_explicit(&s->made, m + 1, memory_order_release);
		made = true;
	}
	if (made)
		atomic_fetch_add_explicit(&pc->made, 1, memory_order_release);
	return active;
}

/* A changer thread on each CPU the slots are on (on a 1-CPU machine the
 * sampling thread is always where the events are). Without one (out of
 * memory, a confined agent), a CPU's slots fall back to period_change. */
static void start_changer(period_tab *t)
{
	if (!t->use_changer || !t->n || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	uint32_t n_cpus = t->n_cpus;   /* the slots' (no sample has come yet) */
	t->cpus = aligned_alloc(64, ((n_cpus * sizeof *t->cpus + 63) / 64) * 64);
	t->cpu_slots = calloc(t->n, sizeof *t->cpu_slots);
	int *list = calloc(n_cpus, sizeof *list);
	if (!t->cpus || !t->cpu_slots || !list)
		goto out;
	memset(t->cpus, 0, n_cpus * sizeof *t->cpus);
	for (size_t i = 0; i < t->n; i++)
		t->cpus[t->slots[i].cpu].n++;
	size_t n_list = 0;
	for (uint32_t c = 0, first = 0; c < n_cpus; c++) {
		period_cpu *pc = &t->cpus[c];
		pc->first = first;
		first += pc->n;
		pc->rng = next_random(&t->rng) | 1;
		if (pc->n)
			list[n_list++] = (int)c;
		pc->n = 0;
	}
	for (size_t i = 0; i < t->n; i++) {
		period_cpu *pc = &t->cpus[t->slots[i].cpu];
		t->cpu_slots[pc->first + pc->n++] = (uint32_t)i;
	}
	t->slot_cpus = n_cpus;
	t->changer = changer_new(list, n_list, PERIOD_CHANGE_NS, cpu_round, t);
out:
	free(list);
}

void period_start(period_tab *t, uint64_t now_ns)
{
	for (size_t i = 0; i < t->n; i++) {
		period_slot *s = &t->slots[i];
		uint64_t v = draw(t);
		if (set_period(s->fd, v) < 0) {
			t->change_errors++;
			continue;
		}
		t->changes++;
		s->cur = v;
		s->changed = mono_ns();
	}
	t->next_change = now_ns + PERIOD_CHANGE_NS;
	start_changer(t);
	t->cpu0 = thread_cpu_ns();
}

/* A per-task or cgroup event's sample: the clock since its last sample,
 * at most PERIOD_GAP_MAX periods; the rest is a debt that the event's next
 * samples share (PERIOD_DEBT_SHARE of what is left, each). */
static uint64_t count_weight(period_tab *t, uint64_t key, const perf_sample *ps)
{
	uint64_t *last = u64map_get(&t->counts, key);
	uint64_t w = last && ps->count >= *last ? ps->count - *last : ps->count;
	if (last)
		*last = ps->count;
	else if (u64map_put(&t->counts, key, ps->count) < 0)
		return ps->period;   /* out of memory: the nominal period */
	if (ps->cpu >= t->n_cpus)
		t->n_cpus = ps->cpu + 1;
	uint64_t cap = PERIOD_GAP_MAX * t->hi, add = 0;
	uint64_t *debt = t->debts.len ? u64map_get(&t->debts, key) : NULL;   /* usually none */
	if (w > cap) {
		add = w - cap;
		w = cap;
		t->gaps++;
	}
	if (debt) {
		add += *debt;
		u64map_del(&t->debts, key);
	}
	if (add) {
		uint64_t share = add / PERIOD_DEBT_SHARE + 1;
		share = share < add ? share : add;
		w += share;
		if (add > share && u64map_put(&t->debts, key, add - share) < 0)
			w += add - share;   /* out of memory: all of it here */
	}
	return w;
}

/* A sample of -a's per-CPU event on wall time: the period in force. */
static uint64_t wall_weight(period_slot *s, const perf_sample *ps)
{
	if (ps->time < s->changed)
		return s->prev;   /* taken before the change, read after it */
	uint64_t w = s->cur;
	if (s->pending) {
		s->pending = false;
		/* the first fire after the change comes cur later; a later
		 * sample means that fire was idle (not recorded), and the
		 * cut-off time went with it */
		if (ps->time < s->changed + s->cur + s->cur / 2)
			w += s->credit;
	}
	s->last = ps->time;
	return w;
}

uint64_t period_weight(period_tab *t, const perf_sample *ps)
{
	if (!t->random)
		return ps->period;
	uint64_t key = slot_key(t->per_cpu ? PER_CPU_TID : ps->tid, ps->cpu);
	uint64_t *idx = u64map_get(&t->by_key, key);
	if (idx) {
		period_slot *s = &t->slots[*idx];
		if (!atomic_load_explicit(&s->dirty, memory_order_relaxed)) {
			atomic_store_explicit(&s->dirty, true, memory_order_relaxed);
			/* a CPU back from idle: its thread's next round may be
			 * a second away, and the draw in force would stand */
			t->kicks += changer_kick(t->changer, s->cpu);
		}
		if (++s->since > t->draw_max)
			t->draw_max = s->since;
		if (!t->per_cpu)   /* where the task is (task_is_there) */
			atomic_store_explicit(&s->seen, ps->time, memory_order_relaxed);
	}
	if (!t->wall)
		return count_weight(t, key, ps);
	return idx ? wall_weight(&t->slots[*idx], ps) : ps->period;
}

void period_forget(period_tab *t, pid_t tid)
{
	if (!t->random || t->wall || t->per_cpu)
		return;
	for (uint32_t cpu = 0; cpu < t->n_cpus; cpu++) {
		u64map_del(&t->counts, slot_key((uint32_t)tid, cpu));
		u64map_del(&t->debts, slot_key((uint32_t)tid, cpu));
	}
}

/* s has had period v since at (CLOCK_MONOTONIC, after the ioctl returned:
 * samples before it are old). */
static void applied(period_tab *t, period_slot *s, uint64_t v, uint64_t at)
{
	t->changes++;
	/* the restart discards the time since the last fire, known on a
	 * wall-clock timer (the counts of other events need no credit) */
	s->credit = at > s->last ? (at - s->last) % s->cur : 0;
	s->pending = t->wall;
	s->prev = s->cur;
	s->cur = v;
	s->changed = at;
	s->since = 0;
}

/* A new draw for s, in force from now (an ioctl from this thread). */
static void change_slot(period_tab *t, period_slot *s)
{
	atomic_store_explicit(&s->dirty, false, memory_order_relaxed);
	uint64_t v = draw(t);
	if (set_period(s->fd, v) < 0) {
		t->change_errors++;
		return;
	}
	applied(t, s, v, mono_ns());
}

void period_collect(period_tab *t)
{
	for (uint32_t c = 0; t->changer && c < t->slot_cpus; c++) {
		period_cpu *pc = &t->cpus[c];
		uint32_t made = atomic_load_explicit(&pc->made, memory_order_acquire);
		if (made == pc->taken)
			continue;
		pc->taken = made;
		for (uint32_t k = 0; k < pc->n; k++) {
			period_slot *s = &t->slots[t->cpu_slots[pc->first + k]];
			uint32_t m = atomic_load_explicit(&s->made, memory_order_acquire);
			uint32_t was = atomic_load_explicit(&s->taken, memory_order_relaxed);
			if (m == was)
				continue;
			/* -a: exactly one change since the last look (the thread
			 * waits for this); else the last of m - was, and the
			 * others only counted (their weights are counts) */
			if (atomic_load_explicit(&s->made_rc, memory_order_relaxed) < 0)
				t->change_errors++;
			else
				applied(t, s, atomic_load_explicit(&s->made_period, memory_order_relaxed),
					atomic_load_explicit(&s->made_at, memory_order_relaxed));
			t->changes += m - was - 1;
			atomic_store_explicit(&s->taken, m, memory_order_release);
		}
	}
}

uint64_t period_change(period_tab *t, uint64_t now_ns)
{
	if (!t->random)
		return UINT64_MAX;
	if (now_ns + PERIOD_CHANGE_SLACK_NS < t->next_change)
		return t->next_change;   /* a wake-up a little early still counts */
	t->next_change = now_ns + PERIOD_CHANGE_NS;
	int here = sched_getcpu();   /* vDSO / rseq: no system call */
	uint64_t cpu = thread_cpu_ns();
	/* pass 0: this CPU's slots (no IPI: their task, if any, is not
	 * running, this thread is), whatever the budget; pass 1: the others,
	 * round-robin, within it. Slots of a CPU with a changer thread are
	 * that thread's. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < t->n; k++) {
			size_t i = pass ? (t->rr + k) % t->n : k;
			period_slot *s = &t->slots[i];
			if (!atomic_load_explicit(&s->dirty, memory_order_relaxed) ||
			    (s->cpu == here) == pass || changer_has(t->changer, s->cpu) ||
			    !task_is_there(t, s))
				continue;   /* idle, gone, moved or another's, or not this pass's */
			if (pass && t->budget_pct &&
			    t->spent * (100 + t->budget_pct) > (cpu - t->cpu0) * t->budget_pct) {
				t->over_budget++;
				t->rr = i;
				return t->next_change;
			}
			change_slot(t, s);
			uint64_t c = thread_cpu_ns();
			t->spent += c - cpu;
			cpu = c;
		}
	}
	return t->next_change;
}
