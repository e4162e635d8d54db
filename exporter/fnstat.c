/* exporter/fnstat.c — per-function flat and cumulative totals of one
 * profile, the table behind the metrics registry and the top report.
 *
 * Keys split by the sample labels, binary and function the caller picks
 * (fnstat_keys): the metrics' --metrics.labels, top's --group-by.
 *
 * Self (flat) goes to the leaf frame: the innermost inline frame of a
 * sample's first location. Cumulative goes to every function on the stack,
 * inline frames included, once per sample even under recursion (each entry
 * remembers the last sample that added to it). Also keeps each sample's
 * frames as entry indices so a caller can re-aggregate (metrics folding).
 *
 * Owns: the entries' strings and the index. Must never: change the profile.
 */
#include "frames.h"
#include "ember/buf.h"
#include "ember/grow.h"
#include "ember/hash.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t key_hash(const char *group, const char *binary, const char *function)
{
	uint64_t h = ember_hash_bytes(group, strlen(group), 0x11);
	h = ember_hash_bytes(binary, strlen(binary), h);
	return ember_hash_bytes(function, strlen(function), h);
}

static bool rehash(fnstat *fs, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	free(fs->slots);
	fs->slots = slots;
	fs->mask = cap - 1;
	for (size_t i = 0; i < fs->n_entries; i++) {
		const fnstat_entry *e = &fs->entries[i];
		size_t h = (size_t)key_hash(e->group, e->binary, e->function) & fs->mask;
		while (fs->slots[h])
			h = (h + 1) & fs->mask;
		fs->slots[h] = (uint32_t)(i + 1);
	}
	return true;
}

/* Index of the entry for the key, created when new; -1 on ENOMEM. */
static long lookup(fnstat *fs, const char *group, const char *binary, const char *function)
{
	if ((fs->n_entries + 1) * 2 > fs->mask + 1 || !fs->slots)
		if (!rehash(fs, fs->slots ? (fs->mask + 1) * 2 : 256))
			return -1;
	size_t h = (size_t)key_hash(group, binary, function) & fs->mask;
	while (fs->slots[h]) {
		const fnstat_entry *e = &fs->entries[fs->slots[h] - 1];
		if (strcmp(e->function, function) == 0 && strcmp(e->binary, binary) == 0 &&
		    strcmp(e->group, group) == 0)
			return (long)fs->slots[h] - 1;
		h = (h + 1) & fs->mask;
	}
	if (fs->n_entries >= UINT32_MAX - 1 ||
	    !ember_grow((void **)&fs->entries, &fs->cap_entries, fs->n_entries + 1,
	                   sizeof *fs->entries))
		return -1;
	size_t lc = strlen(group) + 1, lb = strlen(binary) + 1, lf = strlen(function) + 1;
	char *s = malloc(lc + lb + lf);
	if (!s)
		return -1;
	memcpy(s, group, lc);
	memcpy(s + lc, binary, lb);
	memcpy(s + lc + lb, function, lf);
	fnstat_entry *e = &fs->entries[fs->n_entries];
	*e = (fnstat_entry){
	    .group = s, .binary = s + lc, .function = s + lc + lb, .last_sample = SIZE_MAX};
	fs->slots[h] = (uint32_t)(fs->n_entries + 1);
	return (long)fs->n_entries++;
}

/* The sample's group: its values of keys->labels joined by FNSTAT_SEP (a
 * separator inside a value becomes a space). 0, or -1 when it is too long. */
static int group_of(const ember_profile *p, const ember_sample *s, const fnstat_keys *keys,
                    ember_buf *g)
{
	ember_buf_reset(g);
	for (size_t i = 0; i < keys->n_labels; i++) {
		const char *v = ember_sample_label_str(p, s, keys->labels[i]);
		if ((!v || !*v) && strcmp(keys->labels[i], "comm") == 0)
			v = "[unknown]";
		if (i)
			ember_buf_putc(g, FNSTAT_SEP);
		for (; v && *v; v++)
			ember_buf_putc(g, *v == FNSTAT_SEP ? ' ' : *v);
	}
	return ember_buf_ok(g) ? 0 : -1;
}

int fnstat_build(fnstat *fs, const ember_profile *p, const frame_weight *w,
                 const fnstat_keys *keys, ember_error *err)
{
	memset(fs, 0, sizeof *fs);
	ember_buf g = EMBER_BUF_INIT;
	fs->sample_start = calloc(p->n_samples + 1, sizeof *fs->sample_start);
	fs->sample_value = calloc(p->n_samples ? p->n_samples : 1, sizeof *fs->sample_value);
	if (!fs->sample_start || !fs->sample_value)
		goto oom;
	char buf[FRAME_NAME_MAX];
	for (size_t si = 0; si < p->n_samples; si++) {
		const ember_sample *s = &p->samples[si];
		if (group_of(p, s, keys, &g) < 0)
			goto oom;
		const char *group = g.data ? g.data : "";
		int64_t v = frame_weigh(w, s);
		fs->sample_value[si] = v;
		fs->sample_start[si] = fs->n_frames;
		for (size_t li = 0; li < s->n_locations; li++) {
			const ember_location *l = ember_profile_location(p, s->location_ids[li]);
			assert(l);
			const char *bin = keys->binary ? frame_binary(p, l) : "";
			for (size_t fi = 0; fi < frame_count(l); fi++) {
				const char *fn = keys->function ? frame_function(p, l, fi, buf) : "";
				long e = lookup(fs, group, bin, fn);
				if (e < 0 || !ember_grow((void **)&fs->frames, &fs->cap_frames,
				                            fs->n_frames + 1, sizeof *fs->frames))
					goto oom;
				fs->frames[fs->n_frames++] = (uint32_t)e;
				fnstat_entry *ent = &fs->entries[e];
				if (li == 0 && fi == 0)
					ent->self = frame_sat_add(ent->self, v);
				if (ent->last_sample != si) {
					ent->last_sample = si;
					ent->cum = frame_sat_add(ent->cum, v);
				}
			}
		}
	}
	fs->sample_start[p->n_samples] = fs->n_frames;
	ember_buf_free(&g);
	return 0;
oom:
	ember_buf_free(&g);
	fnstat_free(fs);
	return ember_errorf(err, ENOMEM, "per-function totals: out of memory");
}

void fnstat_free(fnstat *fs)
{
	for (size_t i = 0; i < fs->n_entries; i++)
		free((char *)fs->entries[i].group);
	free(fs->entries);
	free(fs->slots);
	free(fs->frames);
	free(fs->sample_start);
	free(fs->sample_value);
	memset(fs, 0, sizeof *fs);
}

static int rank_cmp(const void *a, const void *b, void *arg)
{
	const fnstat *fs = arg;
	const fnstat_entry *x = &fs->entries[*(const size_t *)a];
	const fnstat_entry *y = &fs->entries[*(const size_t *)b];
	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	int c = strcmp(x->function, y->function);
	if (c)
		return c;
	c = strcmp(x->binary, y->binary);
	return c ? c : strcmp(x->group, y->group);
}

size_t *fnstat_rank(const fnstat *fs)
{
	size_t *rank = malloc((fs->n_entries ? fs->n_entries : 1) * sizeof *rank);
	if (!rank)
		return NULL;
	for (size_t i = 0; i < fs->n_entries; i++)
		rank[i] = i;
	qsort_r(rank, fs->n_entries, sizeof *rank, rank_cmp, (void *)fs);
	return rank;
}
