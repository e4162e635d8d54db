/* server/ui_folds.c — the call trees' memory (server/ui.h): each stored
 * window folded (ember/calltree.h: its own call tree and its samples'
 * leaves, weights and labels), kept so that the call tree of a range merges
 * folded windows instead of decoding stored pprof again. The worker puts
 * each window as it stores it; a window stored before a restart is put the
 * first time a request reads it.
 *
 * Bounded by bytes (what ember_calltree_folded_bytes counts plus the
 * entry): past the bound the least recently used windows go first, and a
 * window bigger than the whole bound is not kept. Entries are reference
 * counted, so a window evicted while a request merges it lives until that
 * request lets it go.
 *
 * The windows are folded with ids shared by all of them (ember/calltree.h:
 * one id per function name and per path), so a request adds a window with
 * an array lookup per node instead of a probe and names interned again.
 * The ids only grow (every path of every window folded since the start)
 * up to one path per EMBER_UI_IDS_BYTES_PER_PATH bytes of the bound
 * (server/ui.h); past it windows fold without them, and add as before.
 *
 * Owns: the folded windows and their index. Must never: hold its mutex
 * while folding or merging (a lookup, an insert or an eviction only), or
 * keep more than the bound once no request holds an evicted window.
 */
#include "server/ui.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/hash.h"

#define BUCKETS 4096

struct ember_ui_fold_ref {
	char id[EMBER_WINDOW_ID_MAX];
	uint64_t file_bytes;          /* the stored file's size when folded */
	ember_calltree_folded *f;
	size_t bytes;                 /* charged against the bound */
	unsigned refs;                /* the cache's own (while listed) + readers' */
	struct ember_ui_fold_ref *next;          /* bucket chain */
	struct ember_ui_fold_ref *newer, *older; /* recency list */
};
typedef struct ember_ui_fold_ref fold_entry;

struct ember_ui_folds {
	pthread_mutex_t mu;
	fold_entry *buckets[BUCKETS];
	fold_entry *newest, *oldest;
	size_t bytes, max_bytes, n;
	uint64_t hits, misses, evictions;
	ember_calltree_ids *ids;
};

int ember_ui_folds_new(ember_ui_folds **out, size_t max_bytes)
{
	ember_ui_folds *c = calloc(1, sizeof *c);
	if (!c || ember_calltree_ids_new(&c->ids, max_bytes / EMBER_UI_IDS_BYTES_PER_PATH + 1) < 0) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

static void entry_free(fold_entry *e)
{
	ember_calltree_folded_free(e->f);
	free(e);
}

void ember_ui_folds_free(ember_ui_folds *c)
{
	if (!c)
		return;
	for (fold_entry *e = c->newest, *next; e; e = next) {
		next = e->older;
		entry_free(e);   /* no request runs once the server stopped */
	}
	ember_calltree_ids_free(c->ids);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static fold_entry **bucket(ember_ui_folds *c, const char *id)
{
	return &c->buckets[ember_hash_bytes(id, strlen(id), 0xf01d) % BUCKETS];
}

static void unlink_recency(ember_ui_folds *c, fold_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void link_newest(ember_ui_folds *c, fold_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

/* Takes e out of the cache (mu held); freed now unless a reader holds it. */
static void drop(ember_ui_folds *c, fold_entry *e)
{
	fold_entry **p = bucket(c, e->id);
	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	unlink_recency(c, e);
	c->bytes -= e->bytes;
	c->n--;
	if (--e->refs == 0)
		entry_free(e);
}

ember_ui_fold_ref *ember_ui_folds_get(ember_ui_folds *c, const char *id, uint64_t file_bytes)
{
	if (!c)
		return NULL;
	pthread_mutex_lock(&c->mu);
	fold_entry *e = *bucket(c, id);
	while (e && strcmp(e->id, id))
		e = e->next;
	if (e && file_bytes && e->file_bytes != file_bytes) {   /* stored again since */
		drop(c, e);
		e = NULL;
	}
	if (e) {
		e->refs++;
		unlink_recency(c, e);
		link_newest(c, e);
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->mu);
	return e;
}

ember_calltree_ids *ember_ui_folds_ids(ember_ui_folds *c)
{
	return c ? c->ids : NULL;
}

const ember_calltree_folded *ember_ui_fold(const ember_ui_fold_ref *ref)
{
	return ref->f;
}

void ember_ui_folds_release(ember_ui_folds *c, ember_ui_fold_ref *ref)
{
	if (!ref)
		return;
	if (c)
		pthread_mutex_lock(&c->mu);
	bool last = --ref->refs == 0;
	if (c)
		pthread_mutex_unlock(&c->mu);
	if (last)
		entry_free(ref);
}

ember_ui_fold_ref *ember_ui_folds_put(ember_ui_folds *c, const char *id, uint64_t file_bytes,
				      ember_calltree_folded *f)
{
	fold_entry *e = calloc(1, sizeof *e);
	if (!e) {
		ember_calltree_folded_free(f);
		return NULL;
	}
	snprintf(e->id, sizeof e->id, "%s", id);
	e->file_bytes = file_bytes;
	e->f = f;
	e->bytes = ember_calltree_folded_bytes(f) + sizeof *e;
	e->refs = 1;   /* the caller's */
	if (!c || e->bytes > c->max_bytes)   /* not kept: lives until released */
		return e;
	pthread_mutex_lock(&c->mu);
	fold_entry *old = *bucket(c, id);
	while (old && strcmp(old->id, id))
		old = old->next;
	if (old)   /* the window stored again, or another request folded it too */
		drop(c, old);
	while (c->oldest && c->bytes + e->bytes > c->max_bytes) {
		c->evictions++;
		drop(c, c->oldest);
	}
	fold_entry **b = bucket(c, id);
	e->next = *b;
	*b = e;
	link_newest(c, e);
	e->refs++;   /* and the cache's */
	c->bytes += e->bytes;
	c->n++;
	pthread_mutex_unlock(&c->mu);
	return e;
}

void ember_ui_folds_stats(ember_ui_folds *c, ember_ui_folds_stat *out)
{
	*out = (ember_ui_folds_stat){ 0 };
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	*out = (ember_ui_folds_stat){ c->n, c->bytes, c->max_bytes, c->hits, c->misses,
				      c->evictions };
	pthread_mutex_unlock(&c->mu);
}
