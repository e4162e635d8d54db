/* server/store.h — the profile store of `ember serve` (server/store.c):
 * one zstd pprof file per window under a directory, an in-memory index
 * rebuilt by scanning at open, and retention by age and total size.
 *
 * Window ids are stable, URL-safe and derived from the window's start and
 * length, in UTC with millisecond precision:
 *     20261125T010000Z-10s        (start 01:00:00.000, 10 s long)
 *     20261125T010003.512Z-6488ms (a partial window)
 * They are the exemplars' profile_id. ember_window_id_parse accepts exactly
 * what ember_window_id_format writes (it re-formats and compares), so no id
 * that reaches the filesystem can hold '/', "..", or anything else.
 *
 * On disk: "<id>.<samples>.pb.zst" (the sample count in the name lets the
 * index be rebuilt without decoding files). Files appear atomically (temp
 * name, fsync, rename, fsync of the directory); temp files left by a crash
 * (".*.tmp.*") are removed at open; other files are left alone.
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef EMBER_STORE_H
#define EMBER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/profile.h"

#define EMBER_WINDOW_ID_MAX 64

typedef struct ember_window_info {
	char id[EMBER_WINDOW_ID_MAX];
	int64_t start_ns;   /* unix ns, millisecond precision */
	int64_t end_ns;
	uint64_t samples;   /* sum of the samples/count values */
	uint64_t bytes;     /* size of the file */
} ember_window_info;

typedef struct ember_store_opts {
	const char *path;        /* directory, created (0700) if missing */
	uint64_t retention_ns;   /* drop windows that ended longer ago; 0 = keep */
	uint64_t max_bytes;      /* drop oldest windows beyond this total; 0 = no cap */
	bool no_fsync;           /* tests only: skip fsync */
} ember_store_opts;

typedef struct ember_store_stats {
	uint64_t windows;        /* windows in the index */
	uint64_t bytes;          /* their total size */
	uint64_t stored;         /* puts that succeeded since open */
	uint64_t failed;         /* puts that failed since open */
	uint64_t removed;        /* windows removed by retention since open */
} ember_store_stats;

typedef struct ember_store ember_store;

/* The directory serve uses when --storage.path is not given: /var/lib/ember
 * when it is (or can be made) writable, else $XDG_STATE_HOME/ember, else
 * $HOME/.local/state/ember, else /tmp/ember-UID. 0 or -ERANGE. */
int ember_store_default_path(char *buf, size_t len);

/* Id of the window [start_ns, start_ns + duration_ns), both rounded down to
 * milliseconds (duration at least 1 ms). Returns the length or -EINVAL/-ERANGE. */
int ember_window_id_format(int64_t start_ns, int64_t duration_ns, char *buf, size_t len);
/* Strict inverse of ember_window_id_format. 0, or -EINVAL with a message. */
int ember_window_id_parse(const char *id, int64_t *start_ns, int64_t *duration_ns,
			  ember_error *err);

/* Opens (creating the directory), removes stale temp files, scans the index
 * and applies retention. */
int ember_store_open(ember_store **out, const ember_store_opts *opts, ember_error *err);
void ember_store_free(ember_store *s);

/* Stores p as the window [p->time_nanos, + p->duration_nanos), rounded out
 * to whole milliseconds (start down, end up; so a window's id covers all of
 * it and back-to-back windows stay back to back), replacing a window of the
 * same id, then applies retention. info (may be NULL) gets the
 * stored window's entry. */
int ember_store_put(ember_store *s, const ember_profile *p, ember_window_info *info,
		    ember_error *err);

/* The stored bytes (zstd pprof) of a window, appended to out; -ENOENT when
 * no such window (unknown, or removed by retention). The id is validated. */
int ember_store_read(ember_store *s, const char *id, ember_buf *out, ember_error *err);
/* The window decoded; -ENOENT as above. */
int ember_store_load(ember_store *s, const char *id, ember_profile **out, ember_error *err);

/* Windows overlapping [start_ns, end_ns), oldest first, as a new array
 * (caller frees; NULL when n is 0). */
int ember_store_list(ember_store *s, int64_t start_ns, int64_t end_ns, ember_window_info **out,
		     size_t *n, ember_error *err);

/* Removes windows that ended before now_ns - retention, then the oldest
 * until the total fits max_bytes. Returns how many were removed. */
int ember_store_prune(ember_store *s, int64_t now_ns);

void ember_store_get_stats(ember_store *s, ember_store_stats *out);
const char *ember_store_path(const ember_store *s);

#endif
