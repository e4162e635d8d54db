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

int addrmap_add(addrmap *m, uint64_t lo, uint64_t hi, const char *name, size_t name_len,
                const char *module, size_t module_len)
{
	if (!ember_grow((void **)&m->e, &m->cap, m->n + 1, sizeof *m->e))
		return -ENOMEM;
	addrmap_entry *e = &m->e[m->n];
	*e = (addrmap_entry){lo, hi, strndup(name, name_len), NULL, (uint32_t)m->n};
	if (!e->name)
		return -ENOMEM;
	if (module && module_len && !(e->module = intern_module(m, module, module_len))) {
		free(e->name);
		return -ENOMEM;
	}
	m->n++;
	m->sorted = false;
	return 0;
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
	if (m->n)
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
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].name);
	for (size_t i = 0; i < m->n_modules; i++)
		free(m->modules[i]);
	free(m->e);
	free(m->modules);
	*m = (addrmap){0};
}
