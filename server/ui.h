/* server/ui.h — the UI of `ember serve` and `ember view` (server/ui.c): the
 * embedded pages under /ui/ and the JSON they draw from (/api/v1/calltree,
 * /api/v1/timeline). Route handlers of the one table in server/http.c;
 * what they serve comes from the ember_http_api like every endpoint's. */
#ifndef EMBER_SERVER_UI_H
#define EMBER_SERVER_UI_H

#include "ember/calltree.h"
#include "server/http.h"

/* /ui/, /ui/profile, /ui/diff (HTML) and /ui/NAME (the scripts and styles);
 * /ui redirects to /ui/ with its query. */
void ember_ui_route_page(const ember_http_api *api, const ember_http_opts *opts,
			 const ember_http_request *req, const char *rest, ember_http_response *r);
/* /api/v1/calltree?id=ID|start=T&end=T[&function=RE][&base=ID|&base_start=T&base_end=T]
 * [&comm=RE&pid=RE&thread=RE]: the call tree JSON of ember/calltree.h. */
void ember_ui_route_calltree(const ember_http_api *api, const ember_http_opts *opts,
			     const ember_http_request *req, const char *rest,
			     ember_http_response *r);
/* /api/v1/timeline?start=T&end=T[&limit=N][&top=N]: the latest windows in the
 * range, each with its CPU and top functions. */
void ember_ui_route_timeline(const ember_http_api *api, const ember_http_opts *opts,
			     const ember_http_request *req, const char *rest,
			     ember_http_response *r);

/* server/ui_cache.c: the timeline's entries of windows already read, at
 * most max (then it starts over). Thread-safe; a NULL cache keeps nothing. */
typedef struct ember_ui_cache ember_ui_cache;
int ember_ui_cache_new(ember_ui_cache **out, size_t max);
void ember_ui_cache_free(ember_ui_cache *c);
/* Appends the entry of key to out: true when there is one. */
bool ember_ui_cache_get(ember_ui_cache *c, const char *key, ember_buf *out);
void ember_ui_cache_put(ember_ui_cache *c, const char *key, const char *frag, size_t len);

/* server/ui_folds.c: the stored windows folded for call trees (ember/
 * calltree.h), so a range merges them instead of decoding its windows
 * again. Bounded by bytes (serve's --ui.cache-size,
 * EMBER_AGENT_UI_CACHE_BYTES by default): past it the least recently used
 * windows go. Thread-safe; a NULL cache keeps nothing (put then hands back
 * a reference only the caller holds). The shared ids
 * of the kept windows (ember_calltree_ids) grow up to one path per
 * EMBER_UI_IDS_BYTES_PER_PATH bytes of the bound (~50 bytes a path: at
 * most about as much again as the bound; 2^19 paths for the default
 * 32M), then windows fold without them. */
#define EMBER_UI_IDS_BYTES_PER_PATH 64
typedef struct ember_ui_folds ember_ui_folds;
typedef struct ember_ui_fold_ref ember_ui_fold_ref;   /* one window, held */
typedef struct ember_ui_folds_stat {
	size_t windows, bytes, max_bytes;
	uint64_t hits, misses, evictions;
} ember_ui_folds_stat;
int ember_ui_folds_new(ember_ui_folds **out, size_t max_bytes);
void ember_ui_folds_free(ember_ui_folds *c);
/* The window id folded from a file of file_bytes (0: any size), held until
 * released; NULL when not kept. */
ember_ui_fold_ref *ember_ui_folds_get(ember_ui_folds *c, const char *id, uint64_t file_bytes);
/* Keeps f (taken over) as window id, replacing an older one, evicting as
 * needed; the reference is the caller's to release. NULL on ENOMEM. */
ember_ui_fold_ref *ember_ui_folds_put(ember_ui_folds *c, const char *id, uint64_t file_bytes,
				      ember_calltree_folded *f);
const ember_calltree_folded *ember_ui_fold(const ember_ui_fold_ref *ref);
/* The ids the windows kept in c are folded with (NULL for a NULL c). */
ember_calltree_ids *ember_ui_folds_ids(ember_ui_folds *c);
void ember_ui_folds_release(ember_ui_folds *c, ember_ui_fold_ref *ref);
void ember_ui_folds_stats(ember_ui_folds *c, ember_ui_folds_stat *out);

/* server/ui.c: folds p (the stored window w) with the labels the UI
 * filters on and keeps it in c: the worker calls it as it stores a window.
 * 0 or -ENOMEM/-EINVAL (then the window is folded when first read). */
int ember_ui_folds_keep(ember_ui_folds *c, const ember_window_info *w, const ember_profile *p,
			ember_error *err);

/* The embedded files of web/ (generated at build time by web/embed.py). */
typedef struct ember_ui_asset {
	const char *name;           /* "profile.html" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
} ember_ui_asset;
extern const ember_ui_asset ember_ui_assets[];
extern const size_t ember_ui_n_assets;

#endif
