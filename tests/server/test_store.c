/* tests/server/test_store.c — the profile store: ids, put/list/read, restart
 * rebuild, temp cleanup, retention by age and size, and ids that must never
 * reach the filesystem (path traversal). */
#include "../check.h"
#include "ember/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ember/pprof.h"
#include "server/store.h"

#define S 1000000000LL

static ember_profile *window(int64_t start_ns, int64_t dur_ns, int64_t samples)
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->period = 10101010;
	p->time_nanos = start_ns;
	p->duration_nanos = dur_ns;
	uint64_t fn = ember_profile_intern_function(p, ember_profile_intern(p, "split_a"), 0, 0, 0);
	ember_mapping m = { .filename = ember_profile_intern(p, "/bin/split") };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	uint64_t loc = ember_profile_add_location(p, mid, 0x1234);
	ember_profile_location_add_line(p, loc, fn, 7);
	int64_t v[2] = { samples, samples * 10101010 };
	ember_profile_add_sample(p, &loc, 1, v, NULL, 0);
	return p;
}

static int count_files(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strstr(de->d_name, needle) != NULL;
	closedir(d);
	return n;
}

static void test_ids(void)
{
	char id[EMBER_WINDOW_ID_MAX];
	int64_t t = 1764032400LL * S;   /* 2025-11-25T01:00:00Z */
	CHECK(ember_window_id_format(t, 10 * S, id, sizeof id) > 0);
	CHECK(strcmp(id, "20251125T010000Z-10s") == 0);
	CHECK(ember_window_id_format(t + 3512000000LL, 6488000000LL, id, sizeof id) > 0);
	CHECK(strcmp(id, "20251125T010003.512Z-6488ms") == 0);
	int64_t st, du;
	CHECK(ember_window_id_parse(id, &st, &du, NULL) == 0);
	CHECK(st == t + 3512000000LL);
	CHECK(du == 6488000000LL);
	CHECK(ember_window_id_format(-1, S, id, sizeof id) == -EINVAL);
	CHECK(ember_window_id_format(t, 0, id, sizeof id) == -EINVAL);
	const char *bad[] = {
		"", "..", "../20251125T010000Z-10s", "20251125T010000Z-10s/../x",
		"..%2f..%2fetc", "/etc/passwd", "20251125T010000Z-10s.pb.zst",
		"20251125T010000Z-10000ms",   /* not canonical: 10s */
		"20251125T010000.000Z-10s",   /* not canonical */
		"20250230T010000Z-10s",       /* Feb 30 */
		"20251125T250000Z-10s", "20251125T010000Z-0s", "20251125T010000Z-10",
		"20251125T010000Z-10s\n", " 20251125T010000Z-10s", "20251125T010000Z--10s",
		"20251125t010000Z-10s", "20251125T010000Z-1000000000000000000s",
		/* start or end past int64 nanoseconds (fuzz_http) */
		"60261125T010003.512Z-6488ms", "22620412T000000Z-10s",
		"21000101T000000Z-9000000000s", "99991231T235959.999Z-999999999999999s",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ember_error err = { 0 };
		int rc = ember_window_id_parse(bad[i], NULL, NULL, &err);
		if (rc != -EINVAL)
			fprintf(stderr, "accepted bad id '%s'\n", bad[i]);
		CHECK(rc == -EINVAL);
		CHECK(strstr(err.msg, "bad window id") != NULL);
	}
}

static void test_put_list_read_restart(const char *dir)
{
	ember_store_opts o = { .path = dir, .no_fsync = true };
	ember_store *s;
	ember_error err = { 0 };
	CHECK(ember_store_open(&s, &o, &err) == 0);
	int64_t base = ember_real_ns() / S * S - 60 * S;
	ember_window_info info;
	for (int i = 0; i < 5; i++) {
		ember_profile *p = window(base + i * 10 * S, 10 * S, 10 + i);
		CHECK(ember_store_put(s, p, &info, &err) == 0);
		ember_profile_free(p);
	}
	CHECK(info.samples == 14);
	CHECK(info.start_ns == base + 40 * S);
	CHECK(info.end_ns == base + 50 * S);
	CHECK(info.bytes > 0);
	ember_window_info *v;
	size_t n;
	CHECK(ember_store_list(s, 0, INT64_MAX, &v, &n, &err) == 0);
	CHECK(n == 5);
	for (size_t i = 1; i < n; i++)
		CHECK(v[i - 1].start_ns < v[i].start_ns);
	char last[EMBER_WINDOW_ID_MAX];
	strcpy(last, v[4].id);
	free(v);
	/* overlap: [base+15, base+25) touches windows 1 and 2 */
	CHECK(ember_store_list(s, base + 15 * S, base + 25 * S, &v, &n, &err) == 0);
	CHECK(n == 2);
	CHECK(n == 2 && v[0].samples == 11 && v[1].samples == 12);
	free(v);
	CHECK(ember_store_list(s, base + 10 * S, base + 20 * S, &v, &n, &err) == 0);
	CHECK(n == 1);   /* end is exclusive, windows end-exclusive too */
	free(v);

	ember_profile *back;
	CHECK(ember_store_load(s, last, &back, &err) == 0);
	CHECK(back->n_samples == 1 && back->samples[0].values[0] == 14);
	CHECK(back->time_nanos == base + 40 * S);
	ember_profile_free(back);
	ember_buf raw = EMBER_BUF_INIT;
	CHECK(ember_store_read(s, last, &raw, &err) == 0);
	CHECK(raw.len > 4 && (unsigned char)raw.data[0] == 0x28);   /* zstd magic */
	ember_buf_free(&raw);

	/* unknown and malicious ids */
	CHECK(ember_store_read(s, "20001125T010000Z-10s", &raw, &err) == -ENOENT);
	CHECK(ember_store_read(s, "../../../../etc/passwd", &raw, &err) == -EINVAL);
	CHECK(ember_store_load(s, "..", &back, &err) == -EINVAL);
	CHECK(raw.len == 0);

	/* replacing a window of the same id keeps one file */
	ember_profile *p = window(base + 40 * S, 10 * S, 99);
	CHECK(ember_store_put(s, p, NULL, &err) == 0);
	ember_profile_free(p);
	CHECK(count_files(dir, last) == 1);
	ember_store_stats st;
	ember_store_get_stats(s, &st);
	CHECK(st.windows == 5 && st.stored == 6 && st.failed == 0);
	uint64_t bytes = st.bytes;
	ember_store_free(s);

	/* a crash left a temp file and a stray file; restart rebuilds the index */
	char path[1024];
	snprintf(path, sizeof path, "%s/.%s.7.pb.zst.tmp.AbCdEf", dir, last);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "partial", 7) == 7);
	close(fd);
	snprintf(path, sizeof path, "%s/notes.txt", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK(count_files(dir, ".tmp.") == 1);
	CHECK(ember_store_open(&s, &o, &err) == 0);
	CHECK(count_files(dir, ".tmp.") == 0);
	CHECK(count_files(dir, "notes.txt") == 1);   /* not ours: left alone */
	ember_store_get_stats(s, &st);
	CHECK(st.windows == 5);
	CHECK(st.bytes == bytes);
	CHECK(ember_store_list(s, 0, INT64_MAX, &v, &n, &err) == 0);
	CHECK(n == 5 && strcmp(v[4].id, last) == 0 && v[4].samples == 99);
	free(v);
	CHECK(ember_store_load(s, last, &back, &err) == 0);
	CHECK(back->samples[0].values[0] == 99);
	ember_profile_free(back);
	ember_store_free(s);

	/* a crash between a replacement's rename and the unlink of the file it
	 * replaced leaves two files of one id: the newer wins, the older goes */
	char newer[1024], older[1024];
	snprintf(newer, sizeof newer, "%s/%s.99.pb.zst", dir, last);
	snprintf(older, sizeof older, "%s/%s.14.pb.zst", dir, last);
	char cmd[2200];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", newer, older);
	CHECK(system(cmd) == 0);
	struct timespec old_times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	CHECK(utimensat(AT_FDCWD, older, old_times, 0) == 0);
	CHECK(ember_store_open(&s, &o, &err) == 0);
	CHECK(access(older, F_OK) != 0 && access(newer, F_OK) == 0);
	ember_store_get_stats(s, &st);
	CHECK(st.windows == 5 && st.bytes == bytes);
	ember_store_free(s);
}

static void test_retention(const char *dir)
{
	/* by age: a window that ended two days ago goes, one from a minute ago stays */
	ember_store_opts o = { .path = dir, .retention_ns = 24 * 3600 * S, .no_fsync = true };
	ember_store *s;
	ember_error err = { 0 };
	CHECK(ember_store_open(&s, &o, &err) == 0);
	int64_t now = ember_real_ns() / S * S;
	ember_profile *old = window(now - 48 * 3600 * S, 10 * S, 1);
	ember_profile *fresh = window(now - 60 * S, 10 * S, 2);
	CHECK(ember_store_put(s, old, NULL, &err) == 0);
	CHECK(ember_store_put(s, fresh, NULL, &err) == 0);
	ember_store_stats st;
	ember_store_get_stats(s, &st);
	CHECK(st.windows == 1 && st.removed == 1);
	CHECK(ember_store_prune(s, now + 25 * 3600 * S) == 1);
	ember_store_get_stats(s, &st);
	CHECK(st.windows == 0 && st.bytes == 0);
	ember_store_free(s);
	CHECK(count_files(dir, ".pb.zst") == 0);

	/* by size: room for about two windows; the oldest go first */
	ember_buf enc = EMBER_BUF_INIT;
	CHECK(ember_pprof_encode(fresh, EMBER_COMPRESS_ZSTD, &enc, &err) == 0);
	o.retention_ns = 0;
	o.max_bytes = enc.len * 2 + enc.len / 2;
	ember_buf_free(&enc);
	CHECK(ember_store_open(&s, &o, &err) == 0);
	for (int i = 0; i < 5; i++) {
		ember_profile *p = window(now - (10 - i) * 10 * S, 10 * S, 2);
		CHECK(ember_store_put(s, p, NULL, &err) == 0);
		ember_profile_free(p);
	}
	ember_window_info *v;
	size_t n;
	CHECK(ember_store_list(s, 0, INT64_MAX, &v, &n, &err) == 0);
	CHECK(n == 2);
	CHECK(n == 2 && v[1].start_ns == now - 6 * 10 * S);
	free(v);
	ember_store_get_stats(s, &st);
	CHECK(st.bytes <= o.max_bytes);
	CHECK(count_files(dir, ".pb.zst") == 2);
	ember_store_free(s);
	ember_profile_free(old);
	ember_profile_free(fresh);
}

static void test_errors(const char *dir)
{
	ember_store *s;
	ember_error err = { 0 };
	char file[1024];
	snprintf(file, sizeof file, "%s/plainfile", dir);
	int fd = open(file, O_CREAT | O_WRONLY, 0600);
	close(fd);
	ember_store_opts o = { .path = file };
	CHECK(ember_store_open(&s, &o, &err) < 0);
	CHECK(strstr(err.msg, "--storage.path") != NULL);
	/* ids round out to whole ms: a 0.3 ms window still gets a name, and
	 * windows meeting on a whole ms (as serve's do) stay back to back */
	snprintf(file, sizeof file, "%s/round", dir);
	o.path = file;
	o.no_fsync = true;
	CHECK(ember_store_open(&s, &o, &err) == 0);
	int64_t t = 1764032400LL * S;
	ember_profile *a = window(t + 256700000, 143300000, 1);   /* .2567 .. .4000 */
	ember_profile *b = window(t + 400000000, 300000, 1);      /* .4000 .. .4003 */
	ember_window_info ia, ib;
	CHECK(ember_store_put(s, a, &ia, &err) == 0);
	CHECK(ember_store_put(s, b, &ib, &err) == 0);
	CHECK(strcmp(ia.id, "20251125T010000.256Z-144ms") == 0);
	CHECK(strcmp(ib.id, "20251125T010000.400Z-1ms") == 0);
	CHECK(ia.end_ns == t + 400000000 && ib.start_ns == t + 400000000);
	ember_profile_free(a);
	ember_profile_free(b);
	ember_store_free(s);
	/* a window without a time cannot be named */
	snprintf(file, sizeof file, "%s/ok", dir);
	o.path = file;
	CHECK(ember_store_open(&s, &o, &err) == 0);
	ember_profile *p = window(0, 0, 1);
	CHECK(ember_store_put(s, p, NULL, &err) == -EINVAL);
	ember_profile_free(p);
	ember_store_stats st;
	ember_store_get_stats(s, &st);
	CHECK(st.failed == 1 && st.windows == 0);
	ember_store_free(s);
	char def[256];
	CHECK(ember_store_default_path(def, sizeof def) == 0);
	CHECK(def[0] == '/');
}

/* One thread puts windows (with a size cap, so retention deletes while
 * others read) while readers list and load: every read either succeeds or
 * finds the window gone (-ENOENT), never anything else. */
typedef struct race {
	ember_store *s;
	int64_t base;
	_Atomic int done;
	_Atomic int bad;
	_Atomic int loaded;
} race;

static void *race_writer(void *arg)
{
	race *r = arg;
	ember_error err = { 0 };
	for (int i = 0; i < 200; i++) {
		ember_profile *p = window(r->base + i * S, S, 1 + i);
		if (ember_store_put(r->s, p, NULL, &err) < 0)
			r->bad++;
		ember_profile_free(p);
	}
	r->done = 1;
	return NULL;
}

static void *race_reader(void *arg)
{
	race *r = arg;
	while (!r->done) {
		ember_window_info *v;
		size_t n;
		ember_error err = { 0 };
		if (ember_store_list(r->s, 0, INT64_MAX, &v, &n, &err) < 0) {
			r->bad++;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			ember_profile *p;
			int rc = ember_store_load(r->s, v[i].id, &p, &err);
			if (rc == 0) {
				r->loaded++;
				if (p->samples[0].values[0] != (int64_t)v[i].samples)
					r->bad++;
				ember_profile_free(p);
			} else if (rc != -ENOENT) {
				r->bad++;
			}
		}
		free(v);
	}
	return NULL;
}

static void test_concurrency(const char *dir)
{
	ember_buf enc = EMBER_BUF_INIT;
	ember_error err = { 0 };
	ember_profile *p = window(ember_real_ns(), S, 1);
	CHECK(ember_pprof_encode(p, EMBER_COMPRESS_ZSTD, &enc, &err) == 0);
	ember_profile_free(p);
	ember_store_opts o = { .path = dir, .max_bytes = enc.len * 10, .no_fsync = true };
	ember_buf_free(&enc);
	race r = { .base = ember_real_ns() / S * S - 300 * S };
	CHECK(ember_store_open(&r.s, &o, &err) == 0);
	pthread_t w, rd[2];
	pthread_create(&w, NULL, race_writer, &r);
	for (int i = 0; i < 2; i++)
		pthread_create(&rd[i], NULL, race_reader, &r);
	pthread_join(w, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(rd[i], NULL);
	CHECK(r.bad == 0);
	ember_store_stats st;
	ember_store_get_stats(r.s, &st);
	CHECK(st.stored == 200 && st.removed > 150 && st.windows + st.removed == 200);
	CHECK((int)st.windows == count_files(dir, ".pb.zst"));
	ember_store_free(r.s);
}

int main(void)
{
	char dir[] = "/tmp/ember-store-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char sub[600];
	snprintf(sub, sizeof sub, "%s/a/b", dir);   /* created with parents */
	test_ids();
	test_put_list_read_restart(sub);
	snprintf(sub, sizeof sub, "%s/ret", dir);
	test_retention(sub);
	test_errors(dir);
	snprintf(sub, sizeof sub, "%s/race", dir);
	test_concurrency(sub);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return check_exit();
}
