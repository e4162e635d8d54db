/* server/store.c — serve's profile store: windows as zstd pprof files in
 * one directory, an index of them in memory, retention by age and size.
 *
 * Owns: window ids (format and strict parse), file names, the index (an
 * array sorted by start time, guarded by one mutex), scanning at open,
 * cleaning temp files, retention. Must never: build a path from anything
 * but a re-formatted id or a name it listed itself, hold the mutex while
 * encoding, or leave a partial file under a final name.
 */
#include "server/store.h"
#include "ember/clock.h"
#include "ember/grow.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ember/pprof.h"
#include "server/timeparse.h"

#define NS_PER_MS 1000000LL
#define SUFFIX ".pb.zst"

typedef struct entry {
	ember_window_info info;
	char name[EMBER_WINDOW_ID_MAX + 32];   /* file name in the directory */
} entry;

struct ember_store {
	char *path;
	ember_store_opts opts;
	pthread_mutex_t mu;
	entry *v;   /* sorted by (start_ns, id) */
	size_t n, cap;
	uint64_t bytes;
	uint64_t stored, failed, removed;
};

int ember_store_default_path(char *buf, size_t len)
{
	int n;
	if (access("/var/lib/ember", W_OK) == 0 ||
	    (access("/var/lib/ember", F_OK) != 0 && access("/var/lib", W_OK) == 0)) {
		n = snprintf(buf, len, "/var/lib/ember");
	} else if (getenv("XDG_STATE_HOME") && getenv("XDG_STATE_HOME")[0] == '/') {
		n = snprintf(buf, len, "%s/ember", getenv("XDG_STATE_HOME"));
	} else if (getenv("HOME") && getenv("HOME")[0] == '/' && strcmp(getenv("HOME"), "/")) {
		n = snprintf(buf, len, "%s/.local/state/ember", getenv("HOME"));
	} else {
		n = snprintf(buf, len, "/tmp/ember-%u", (unsigned)getuid());
	}
	return n < 0 || (size_t)n >= len ? -ERANGE : 0;
}

/* ---- ids ---------------------------------------------------------------- */

int ember_window_id_format(int64_t start_ns, int64_t duration_ns, char *buf, size_t len)
{
	if (start_ns < 0 || duration_ns < NS_PER_MS)
		return -EINVAL;
	int64_t ms = start_ns / NS_PER_MS, dur = duration_ns / NS_PER_MS;
	int64_t s = ms / 1000, days = s / 86400, sod = s % 86400;
	int64_t y;
	unsigned mo, d;
	ember_civil_from_days(days, &y, &mo, &d);
	if (y > 9999)
		return -EINVAL;
	char frac[8] = "";
	if (ms % 1000)
		snprintf(frac, sizeof frac, ".%03d", (int)(ms % 1000));
	char dstr[32];
	if (dur % 1000 == 0)
		snprintf(dstr, sizeof dstr, "%" PRId64 "s", dur / 1000);
	else
		snprintf(dstr, sizeof dstr, "%" PRId64 "ms", dur);
	int n = snprintf(buf, len, "%04d%02u%02uT%02d%02d%02d%sZ-%s", (int)y, mo, d,
			 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac, dstr);
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return n;
}

static bool digits(const char **p, int n, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

int ember_window_id_parse(const char *id, int64_t *start_ns, int64_t *duration_ns,
			  ember_error *err)
{
	const char *p = id;
	int64_t y, mo, d, h, mi, s, ms = 0, dur = 0;
	if (!id || strlen(id) >= EMBER_WINDOW_ID_MAX)
		goto bad;
	if (!digits(&p, 4, &y) || !digits(&p, 2, &mo) || !digits(&p, 2, &d) || *p++ != 'T' ||
	    !digits(&p, 2, &h) || !digits(&p, 2, &mi) || !digits(&p, 2, &s))
		goto bad;
	if (*p == '.' && (p++, !digits(&p, 3, &ms)))
		goto bad;
	if (*p++ != 'Z' || *p++ != '-')
		goto bad;
	int nd = 0;
	while (*p >= '0' && *p <= '9') {
		if (++nd > 15)
			goto bad;
		dur = dur * 10 + (*p++ - '0');
	}
	if (nd == 0)
		goto bad;
	if (strcmp(p, "s") == 0)
		dur *= 1000;
	else if (strcmp(p, "ms") != 0)
		goto bad;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
		goto bad;
	/* start and end must fit int64 nanoseconds (years past 2262 do not;
	 * found by fuzz_http) */
	int64_t start_ms = (ember_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
			    h * 3600 + mi * 60 + s) * 1000 + ms;
	if (start_ms > INT64_MAX / NS_PER_MS || dur > INT64_MAX / NS_PER_MS - start_ms)
		goto bad;
	int64_t start = start_ms * NS_PER_MS;
	char again[EMBER_WINDOW_ID_MAX];
	/* The canonical form only: no "10000ms", no Feb 30, no leading junk. */
	if (ember_window_id_format(start, dur * NS_PER_MS, again, sizeof again) < 0 ||
	    strcmp(again, id) != 0)
		goto bad;
	if (start_ns)
		*start_ns = start;
	if (duration_ns)
		*duration_ns = dur * NS_PER_MS;
	return 0;
bad:
	return ember_errorf(err, EINVAL,
			    "bad window id '%.80s': ids look like 20261125T010000Z-10s (see "
			    "/api/v1/profiles)",
			    id ? id : "");
}

/* "<id>.<samples>.pb.zst" -> info; false for any other name. */
static bool parse_name(const char *name, ember_window_info *info)
{
	size_t len = strlen(name), sl = strlen(SUFFIX);
	if (len <= sl || len >= sizeof(((entry *)0)->name) || strcmp(name + len - sl, SUFFIX))
		return false;
	char tmp[EMBER_WINDOW_ID_MAX + 32];
	memcpy(tmp, name, len - sl);
	tmp[len - sl] = '\0';
	char *dot = strrchr(tmp, '.');
	if (!dot || !dot[1] || strlen(dot + 1) > 19)
		return false;
	uint64_t samples = 0;
	for (const char *q = dot + 1; *q; q++) {
		if (*q < '0' || *q > '9')
			return false;
		samples = samples * 10 + (uint64_t)(*q - '0');
	}
	*dot = '\0';
	int64_t start, dur;
	if (ember_window_id_parse(tmp, &start, &dur, NULL) < 0)
		return false;
	memset(info, 0, sizeof *info);
	memcpy(info->id, tmp, strlen(tmp) + 1);   /* parse checked the length */
	info->start_ns = start;
	info->end_ns = start + dur;
	info->samples = samples;
	return true;
}

/* ---- index (caller holds mu) -------------------------------------------- */

static int entry_cmp(const ember_window_info *a, const ember_window_info *b)
{
	if (a->start_ns != b->start_ns)
		return a->start_ns < b->start_ns ? -1 : 1;
	return strcmp(a->id, b->id);
}

static entry *find_locked(ember_store *s, const char *id)
{
	for (size_t i = s->n; i-- > 0;)   /* recent windows are asked for most */
		if (strcmp(s->v[i].info.id, id) == 0)
			return &s->v[i];
	return NULL;
}

static void unlink_name(ember_store *s, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", s->path, name);
	unlink(path);
}

static void remove_at_locked(ember_store *s, size_t i, bool delete_file)
{
	assert(i < s->n);
	assert(s->bytes >= s->v[i].info.bytes);
	if (delete_file)
		unlink_name(s, s->v[i].name);
	s->bytes -= s->v[i].info.bytes;
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
	s->n--;
}

/* Inserts e, replacing (and deleting the file of) an entry of the same id
 * whose file name differs. */
static int insert_locked(ember_store *s, const entry *e)
{
	entry *old = find_locked(s, e->info.id);
	if (old) {
		bool same_file = strcmp(old->name, e->name) == 0;
		remove_at_locked(s, (size_t)(old - s->v), !same_file);
	}
	if (!ember_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v))
		return -ENOMEM;
	size_t i = s->n;
	while (i > 0 && entry_cmp(&s->v[i - 1].info, &e->info) > 0)
		i--;
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
	s->v[i] = *e;
	s->n++;
	s->bytes += e->info.bytes;
	return 0;
}

/* One pass over the index (a first start after a long pause may drop tens
 * of thousands of windows): entries kept are compacted in place. */
static int prune_locked(ember_store *s, int64_t now_ns)
{
	int64_t cutoff = s->opts.retention_ns ? now_ns - (int64_t)s->opts.retention_ns
					      : INT64_MIN;
	/* by size: the oldest go first, so find how many of the front must go */
	uint64_t bytes = s->bytes;
	size_t drop_front = 0;
	if (s->opts.max_bytes) {
		uint64_t kept = 0;   /* bytes of the windows age retention keeps */
		for (size_t i = 0; i < s->n; i++)
			if (s->v[i].info.end_ns >= cutoff)
				kept += s->v[i].info.bytes;
		while (kept > s->opts.max_bytes && drop_front < s->n) {
			if (s->v[drop_front].info.end_ns >= cutoff)
				kept -= s->v[drop_front].info.bytes;
			drop_front++;
		}
	}
	size_t k = 0;
	int removed = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (i < drop_front || s->v[i].info.end_ns < cutoff) {
			unlink_name(s, s->v[i].name);
			assert(bytes >= s->v[i].info.bytes);
			bytes -= s->v[i].info.bytes;
			removed++;
		} else {
			s->v[k++] = s->v[i];
		}
	}
	s->n = k;
	s->bytes = bytes;
	s->removed += (uint64_t)removed;
	return removed;
}

/* ---- open / scan -------------------------------------------------------- */

static int mkdir_p(const char *path, ember_error *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return ember_errorf(err, ENAMETOOLONG, "%s: path too long", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return ember_errorf(err, errno, "%s: cannot create directory: %s", tmp,
					    strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return ember_errorf(err, errno,
				    "%s: cannot create the storage directory: %s (pick another "
				    "with --storage.path)",
				    tmp, strerror(errno));
	struct stat st;
	if (stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode))
		return ember_errorf(err, ENOTDIR, "%s: not a directory (--storage.path)", tmp);
	if (access(tmp, W_OK | X_OK) < 0)
		return ember_errorf(err, errno, "%s: not writable: %s (pick another with "
						"--storage.path)",
				    tmp, strerror(errno));
	return 0;
}

/* A file found by the scan, with its mtime to settle duplicate ids. */
typedef struct scanned {
	entry e;
	struct timespec mtime;
} scanned;

static int scanned_cmp(const void *a, const void *b)
{
	const scanned *x = a, *y = b;
	int c = entry_cmp(&x->e.info, &y->e.info);
	if (c)
		return c;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/* Lists the directory, removes temp files, and builds the sorted index in
 * O(n log n) (a week of 10 s windows is 60 000 files). */
static int scan(ember_store *s, ember_error *err)
{
	DIR *d = opendir(s->path);
	if (!d)
		return ember_errorf(err, errno, "%s: cannot list: %s", s->path, strerror(errno));
	scanned *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		/* temp files of ember_write_file_atomic: ".<final>.tmp.XXXXXX" */
		if (name[0] == '.' && strstr(name, SUFFIX ".tmp.")) {
			unlinkat(dirfd(d), name, 0);
			continue;
		}
		scanned f;
		if (!parse_name(name, &f.e.info))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		snprintf(f.e.name, sizeof f.e.name, "%s", name);
		f.e.info.bytes = (uint64_t)st.st_size;
		f.mtime = st.st_mtim;
		if (!ember_grow((void **)&v, &cap, n + 1, sizeof *v)) {
			rc = ember_errorf(err, ENOMEM, "%s: out of memory while scanning", s->path);
			break;
		}
		v[n++] = f;
	}
	if (rc == 0 && n) {
		qsort(v, n, sizeof *v, scanned_cmp);
		s->v = malloc(n * sizeof *s->v);
		if (!s->v)
			rc = ember_errorf(err, ENOMEM, "%s: out of memory while scanning", s->path);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		/* two files of one id: a crash between the rename of a replacement
		 * and the unlink of the file it replaced; the newer (last) wins */
		if (i + 1 < n && strcmp(v[i].e.info.id, v[i + 1].e.info.id) == 0) {
			unlinkat(dirfd(d), v[i].e.name, 0);
			continue;
		}
		assert(s->n == 0 || entry_cmp(&s->v[s->n - 1].info, &v[i].e.info) < 0);
		s->v[s->n++] = v[i].e;
		s->bytes += v[i].e.info.bytes;
	}
	if (rc == 0)
		s->cap = n;
	closedir(d);
	free(v);
	return rc;
}

int ember_store_open(ember_store **out, const ember_store_opts *opts, ember_error *err)
{
	*out = NULL;
	if (!opts->path || !*opts->path)
		return ember_errorf(err, EINVAL, "store: no path given (--storage.path)");
	int rc = mkdir_p(opts->path, err);
	if (rc < 0)
		return rc;
	ember_store *s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(opts->path))) {
		free(s);
		return ember_errorf(err, ENOMEM, "store: out of memory");
	}
	s->opts = *opts;
	s->opts.path = s->path;
	pthread_mutex_init(&s->mu, NULL);
	rc = scan(s, err);
	if (rc < 0) {
		ember_store_free(s);
		return rc;
	}
	prune_locked(s, ember_real_ns());
	s->removed = 0;   /* count only what this process removes while running */
	*out = s;
	return 0;
}

void ember_store_free(ember_store *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->v);
	free(s->path);
	free(s);
}

const char *ember_store_path(const ember_store *s)
{
	return s->path;
}

/* ---- put / read / list -------------------------------------------------- */

int ember_store_put(ember_store *s, const ember_profile *p, ember_window_info *info,
		    ember_error *err)
{
	entry e;
	memset(&e, 0, sizeof e);
	/* the id covers the window rounded out to whole ms: start down, end up */
	int64_t start = p->time_nanos, dur = p->duration_nanos;
	bool ok = start >= 0 && dur > 0 && dur <= INT64_MAX - start - NS_PER_MS;
	if (ok) {
		e.info.start_ns = start / NS_PER_MS * NS_PER_MS;
		e.info.end_ns = (start + dur + NS_PER_MS - 1) / NS_PER_MS * NS_PER_MS;
		ok = ember_window_id_format(e.info.start_ns, e.info.end_ns - e.info.start_ns,
					    e.info.id, sizeof e.info.id) > 0;
	}
	if (!ok) {
		pthread_mutex_lock(&s->mu);
		s->failed++;
		pthread_mutex_unlock(&s->mu);
		return ember_errorf(err, EINVAL,
				    "store: window has no valid time (time_nanos %lld, duration "
				    "%lld ns)",
				    (long long)p->time_nanos, (long long)p->duration_nanos);
	}
	e.info.samples = ember_profile_sample_total(p);
	snprintf(e.name, sizeof e.name, "%s.%" PRIu64 SUFFIX, e.info.id, e.info.samples);

	ember_buf buf = EMBER_BUF_INIT;
	int rc = ember_pprof_encode(p, EMBER_COMPRESS_ZSTD, &buf, err);
	char path[4096];
	if (rc == 0 && snprintf(path, sizeof path, "%s/%s", s->path, e.name) >= (int)sizeof path)
		rc = ember_errorf(err, ENAMETOOLONG, "%s: path too long", s->path);
	if (rc == 0)
		rc = ember_write_file_atomic(path, buf.data, buf.len, !s->opts.no_fsync, err);
	e.info.bytes = buf.len;
	ember_buf_free(&buf);

	pthread_mutex_lock(&s->mu);
	if (rc == 0) {
		rc = insert_locked(s, &e);
		if (rc < 0) {
			unlink(path);
			ember_errorf(err, ENOMEM, "store: out of memory");
		}
	}
	if (rc == 0) {
		s->stored++;
		prune_locked(s, ember_real_ns());
	} else {
		s->failed++;
	}
	pthread_mutex_unlock(&s->mu);
	if (rc == 0 && info)
		*info = e.info;
	return rc;
}

int ember_store_read(ember_store *s, const char *id, ember_buf *out, ember_error *err)
{
	int rc = ember_window_id_parse(id, NULL, NULL, err);
	if (rc < 0)
		return rc;
	char path[4096];
	pthread_mutex_lock(&s->mu);
	entry *e = find_locked(s, id);
	if (e)
		snprintf(path, sizeof path, "%s/%s", s->path, e->name);
	pthread_mutex_unlock(&s->mu);
	if (!e)
		return ember_errorf(err, ENOENT, "no stored window '%s' (see /api/v1/profiles)",
				    id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)   /* removed by retention meanwhile */
			return ember_errorf(err, ENOENT, "window '%s' was removed by retention",
					    id);
		return ember_errorf(err, errno, "%s: %s", path, strerror(errno));
	}
	rc = 0;
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ember_errorf(err, errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		ember_buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	if (rc == 0 && !ember_buf_ok(out))
		rc = ember_errorf(err, ENOMEM, "%s: out of memory", path);
	return rc;
}

int ember_store_load(ember_store *s, const char *id, ember_profile **out, ember_error *err)
{
	ember_buf buf = EMBER_BUF_INIT;
	int rc = ember_store_read(s, id, &buf, err);
	if (rc == 0) {
		rc = ember_pprof_decode(buf.data, buf.len, out, err);
		if (rc < 0)
			ember_error_prefix(err, "stored window %s", id);
	}
	ember_buf_free(&buf);
	return rc;
}

int ember_store_list(ember_store *s, int64_t start_ns, int64_t end_ns, ember_window_info **out,
		     size_t *n, ember_error *err)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->mu);
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++)
		k += s->v[i].info.start_ns < end_ns && s->v[i].info.end_ns > start_ns;
	ember_window_info *v = k ? malloc(k * sizeof *v) : NULL;
	if (k && !v) {
		pthread_mutex_unlock(&s->mu);
		return ember_errorf(err, ENOMEM, "store: out of memory");
	}
	size_t j = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].info.start_ns < end_ns && s->v[i].info.end_ns > start_ns)
			v[j++] = s->v[i].info;
	assert(j == k);
	pthread_mutex_unlock(&s->mu);
	*out = v;
	*n = k;
	return 0;
}

int ember_store_prune(ember_store *s, int64_t now_ns)
{
	pthread_mutex_lock(&s->mu);
	int r = prune_locked(s, now_ns);
	pthread_mutex_unlock(&s->mu);
	return r;
}

void ember_store_get_stats(ember_store *s, ember_store_stats *out)
{
	pthread_mutex_lock(&s->mu);
	out->windows = s->n;
	out->bytes = s->bytes;
	out->stored = s->stored;
	out->failed = s->failed;
	out->removed = s->removed;
	pthread_mutex_unlock(&s->mu);
}
