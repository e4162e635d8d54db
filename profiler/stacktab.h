/* profiler/stacktab.h — the window's stack aggregation, private to
 * profiler/: stacks interned in an open-addressing hash table keyed by
 * (process, tid, cgroup, frames) with a sample count and a period sum each.
 *
 * The hot path of the profiler is stacktab_add: a hash of the frames, a probe
 * and a counter bump. Frames live in one arena; the table and the arena only
 * grow (allocation happens when a window sees a new stack beyond capacity,
 * never for a stack already seen), and stacktab_reset keeps their memory, so
 * steady state allocates nothing.
 */
#ifndef EMBER_PROFILER_STACKTAB_H
#define EMBER_PROFILER_STACKTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct stack_entry {
	uint64_t hash;
	uint64_t frames;    /* offset into the arena */
	uint32_t n_frames;
	uint32_t proc;      /* process table handle */
	uint32_t tid;
	uint32_t used;      /* 0 = empty slot */
	uint64_t cgroup;    /* cgroup2 id the samples ran in, 0 when unknown */
	uint64_t count;     /* samples */
	uint64_t period;    /* sum of sample periods (ns for cpu-clock) */
} stack_entry;

typedef struct stacktab {
	stack_entry *slots;
	size_t mask;        /* capacity - 1 (a power of 2) */
	size_t len;         /* used slots; <= capacity * 3/4 */
	uint64_t *arena;
	size_t arena_len, arena_cap;
} stacktab;

int stacktab_init(stacktab *t, size_t capacity_hint);
void stacktab_fini(stacktab *t);

/* Counts one sample of frames[0..n) (leaf first) for (proc, tid, cgroup).
 * 0, or -ENOMEM (the sample is then not counted). */
int stacktab_add_cgroup(stacktab *t, uint32_t proc, uint32_t tid, uint64_t cgroup,
			const uint64_t *frames, uint32_t n, uint64_t period);

/* The same without a cgroup (0). */
static inline int stacktab_add(stacktab *t, uint32_t proc, uint32_t tid, const uint64_t *frames,
			       uint32_t n, uint64_t period)
{
	return stacktab_add_cgroup(t, proc, tid, 0, frames, n, period);
}

/* The frames of an entry. */
static inline const uint64_t *stacktab_frames(const stacktab *t, const stack_entry *e)
{
	return t->arena + e->frames;
}

/* Empties the table for the next window, keeping its memory. */
void stacktab_reset(stacktab *t);

#define stacktab_foreach(t, e)                                                   \
	for (const stack_entry *e = (t)->slots; e <= (t)->slots + (t)->mask; e++) \
		if (e->used)

#endif
