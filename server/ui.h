/* server/ui.h — the UI of `ember serve` and `ember view` (server/ui.c): the
 * embedded pages under /ui/ and the JSON they draw from (/api/v1/calltree,
 * /api/v1/timeline). Route handlers of the one table in server/http.c;
 * what they serve comes from the ember_http_api like every endpoint's. */
#ifndef EMBER_SERVER_UI_H
#define EMBER_SERVER_UI_H

#include "server/http.h"

/* /ui/, /ui/profile, /ui/diff (HTML) and /ui/NAME (the scripts and styles). */
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
