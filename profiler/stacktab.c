/* profiler/stacktab.c — the stack table of stacktab.h. Owns the slot array
 * and the frame arena; never resolves addresses or touches perf. Linear
 * probing; entries compare by hash first, then by key. */
#include "stacktab.h"

#include "ember/hash.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int stacktab_init(stacktab *t, size_t capacity_hint)
{
	memset(t, 0, sizeof *t);
	size_t cap = 64;
	while (cap < capacity_hint)
		cap *= 2;
	t->slots = calloc(cap, sizeof *t->slots);
	t->arena_cap = cap * 8;
	t->arena = malloc(t->arena_cap * sizeof *t->arena);
	if (!t->slots || !t->arena) {
		stacktab_fini(t);
		return -ENOMEM;
	}
	t->mask = cap - 1;
	return 0;
}

void stacktab_fini(stacktab *t)
{
	free(t->slots);
	free(t->arena);
	memset(t, 0, sizeof *t);
}

static uint64_t key_hash(uint32_t proc, uint32_t tid, uint64_t cgroup, const uint64_t *frames,
			 uint32_t n)
{
	return ember_hash_words(frames, n, (((uint64_t)proc << 32) | tid) ^ (cgroup * 0x9e3779b97f4a7c15ULL));
}

static bool same(const stacktab *t, const stack_entry *e, uint64_t hash, uint32_t proc,
		 uint32_t tid, uint64_t cgroup, const uint64_t *frames, uint32_t n)
{
	return e->hash == hash && e->proc == proc && e->tid == tid && e->cgroup == cgroup &&
	       e->n_frames == n && memcmp(t->arena + e->frames, frames, n * sizeof *frames) == 0;
}

static int grow_slots(stacktab *t)
{
	size_t ncap = (t->mask + 1) * 2;
	stack_entry *slots = calloc(ncap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i <= t->mask; i++) {
		if (!t->slots[i].used)
			continue;
		size_t j = t->slots[i].hash & (ncap - 1);
		while (slots[j].used)
			j = (j + 1) & (ncap - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->mask = ncap - 1;
	return 0;
}

static int reserve_arena(stacktab *t, size_t n)
{
	if (t->arena_len + n <= t->arena_cap)
		return 0;
	size_t ncap = t->arena_cap * 2;
	while (ncap < t->arena_len + n)
		ncap *= 2;
	uint64_t *a = realloc(t->arena, ncap * sizeof *a);
	if (!a)
		return -ENOMEM;
	t->arena = a;
	t->arena_cap = ncap;
	return 0;
}

int stacktab_add_cgroup(stacktab *t, uint32_t proc, uint32_t tid, uint64_t cgroup,
			const uint64_t *frames, uint32_t n, uint64_t period)
{
	uint64_t hash = key_hash(proc, tid, cgroup, frames, n);
	size_t i = hash & t->mask;
	for (;; i = (i + 1) & t->mask) {
		stack_entry *e = &t->slots[i];
		if (!e->used)
			break;
		if (same(t, e, hash, proc, tid, cgroup, frames, n)) {
			e->count++;
			e->period += period;
			return 0;
		}
	}
	/* a new stack: make room, then insert */
	if ((t->len + 1) * 4 > (t->mask + 1) * 3) {
		if (grow_slots(t) < 0)
			return -ENOMEM;
		for (i = hash & t->mask; t->slots[i].used; i = (i + 1) & t->mask)
			;
	}
	if (reserve_arena(t, n) < 0)
		return -ENOMEM;
	memcpy(t->arena + t->arena_len, frames, n * sizeof *frames);
	t->slots[i] = (stack_entry){ .hash = hash, .frames = t->arena_len, .n_frames = n,
				     .proc = proc, .tid = tid, .used = 1, .cgroup = cgroup,
				     .count = 1, .period = period };
	t->arena_len += n;
	t->len++;
	assert(t->len * 4 <= (t->mask + 1) * 3);
	return 0;
}

void stacktab_reset(stacktab *t)
{
	memset(t->slots, 0, (t->mask + 1) * sizeof *t->slots);
	t->len = 0;
	t->arena_len = 0;
}
