/* symbolizer/addrmap.c — a sorted table of named address ranges, answered by
 * binary search: the common shape of kernel symbols and JIT perf maps.
 * Invariant after addrmap_finish: e[] sorted by lo, then input order.
 * Must never: read files (the parsers do). */
#include "addrmap.h"
#include "ember/grow.h"
#include "upper_bound.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *intern_module(addrmap *m, const char *s, size_t len)
{
	for (size_t i = 0; i < m->n_modules; i++)
		if (strlen(m->modules[i]) == len && memcmp(m->modules[i], s, len) == 0)
			return m->modules[i];
	char **nm = realloc(m->modules, (m->n_modules + 1) * sizeof *nm);
	if (!nm)
		return NULL;
	m->modules = nm;
	char *c = strndup(s, len);
	if (!c)
		return NULL;
	m->modules[m->n_modules++] = c;
	return c;
}

int addrmap_reserve_big(addrmap *m, size_t n)
{
	assert(m->n == 0 || m->e_mem.p);
	if (n <= m->cap && m->e_mem.p)
		return 0;
	if (n > SIZE_MAX / sizeof *m->e)
		return -ENOMEM;
	if (!m->e_mem.p) {
		free(m->e);
		m->e = NULL;
		m->cap = 0;
	}
	if (ember_bigmem_grow(&m->e_mem, n * sizeof *m->e) < 0)
		return -ENOMEM;
	m->e = m->e_mem.p;
	m->cap = m->e_mem.len / sizeof *m->e;
	return 0;
}

static int add_entry(addrmap *m, uint64_t lo, uint64_t hi, char *name, const char *module,
                     size_t module_len)
{
	if (m->e_mem.p ? m->n == m->cap && addrmap_reserve_big(m, m->cap * 2) < 0
	               : !ember_grow((void **)&m->e, &m->cap, m->n + 1, sizeof *m->e))
		return -ENOMEM;
	addrmap_entry *e = &m->e[m->n];
	*e = (addrmap_entry){lo, hi, name, NULL, (uint32_t)m->n};
	if (module && module_len && !(e->module = intern_module(m, module, module_len)))
		return -ENOMEM;
	m->n++;
	m->sorted = false;
	return 0;
}

int addrmap_add(addrmap *m, uint64_t lo, uint64_t hi, const char *name, size_t name_len,
                const char *module, size_t module_len)
{
	assert(!m->arena);
	char *copy = strndup(name, name_len);
	if (!copy)
		return -ENOMEM;
	int r = add_entry(m, lo, hi, copy, module, module_len);
	if (r < 0)
		free(copy);
	return r;
}

int addrmap_add_in_arena(addrmap *m, uint64_t lo, uint64_t hi, char *name, const char *module,
                         size_t module_len)
{
	assert(m->arena);
	return add_entry(m, lo, hi, name, module, module_len);
}

void addrmap_own_big_arena(addrmap *m, ember_bigmem *mem)
{
	assert(!m->arena);
	m->arena_mem = *mem;
	m->arena = mem->p;
	*mem = (ember_bigmem){0};
}

void addrmap_adopt_big_arena(addrmap *m, size_t used)
{
	assert(m->arena && m->arena == m->arena_mem.p);
	ember_bigmem_trim(&m->arena_mem, used);
	for (size_t i = 0; i < m->n; i++)
		m->e[i].name = m->arena + (uintptr_t)m->e[i].name;
}

static int cmp_entry(const void *a, const void *b)
{
	const addrmap_entry *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void addrmap_finish(addrmap *m)
{
	size_t i = 1;
	while (i < m->n && cmp_entry(&m->e[i - 1], &m->e[i]) < 0)
		i++; /* /proc/kallsyms usually comes in address order */
	if (i < m->n)
		qsort(m->e, m->n, sizeof *m->e, cmp_entry);
	m->sorted = true;
}

const addrmap_entry *addrmap_find(const addrmap *m, uint64_t a)
{
	assert(m->sorted || m->n == 0);
	size_t lo = sym_upper_bound(m->e, m->n, sizeof *m->e, a);
	/* The latest definition covering a among the few before it. */
	const addrmap_entry *best = NULL;
	for (size_t i = lo, k = 0; i > 0 && k < 16; i--, k++) {
		const addrmap_entry *e = &m->e[i - 1];
		if (a < e->hi && (!best || e->order > best->order))
			best = e;
	}
	return best;
}

void addrmap_free(addrmap *m)
{
	for (size_t i = 0; i < m->n && !m->arena; i++)
		free(m->e[i].name);
	if (m->arena_mem.p)
		ember_bigmem_free(&m->arena_mem);
	else
		free(m->arena);
	for (size_t i = 0; i < m->n_modules; i++)
		free(m->modules[i]);
	if (m->e_mem.p)
		ember_bigmem_free(&m->e_mem);
	else
		free(m->e);
	free(m->modules);
	*m = (addrmap){0};
}
