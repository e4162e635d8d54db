/* tests/pprof/test_pprof.c — the pprof codec: round trips through raw, gzip
 * and zstd; sparse ids renumbered; corrupt and truncated input refused with
 * one line; atomic writes leave no partial file.
 *
 * `test_pprof --write PATH` writes the sample profile to PATH and exits (the
 * go-reads test hands it to `go tool pprof`). */
#include "ember/pprof.h"
#include "../check.h"

#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ember_profile *sample_profile(void)
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->period = 1001001;
	p->time_nanos = 1700000000000000000LL;
	p->duration_nanos = 10000000000LL;
	ember_mapping m = { .memory_start = 0x400000, .memory_limit = 0x500000,
			    .file_offset = 0, .filename = ember_profile_intern(p, "/usr/bin/app"),
			    .build_id = ember_profile_intern(p, "abcdef0123"),
			    .has_functions = true, .has_filenames = true,
			    .has_line_numbers = true, .has_inline_frames = true };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	int64_t file = ember_profile_intern(p, "app.c");
	uint64_t fmain = ember_profile_intern_function(p, ember_profile_intern(p, "main"),
						       ember_profile_intern(p, "main"), file, 10);
	uint64_t fwork = ember_profile_intern_function(p, ember_profile_intern(p, "work"),
						       ember_profile_intern(p, "work"), file, 20);
	uint64_t finl = ember_profile_intern_function(p, ember_profile_intern(p, "inl"),
						      ember_profile_intern(p, "inl"), file, 30);
	uint64_t lmain = ember_profile_add_location(p, mid, 0x401000);
	ember_profile_location_add_line(p, lmain, fmain, 12);
	uint64_t lwork = ember_profile_add_location(p, mid, 0x402000);
	ember_profile_location_add_line(p, lwork, finl, 31);
	ember_profile_location_add_line(p, lwork, fwork, 22);
	ember_label labels[3] = {
		{ .key = ember_profile_intern(p, "pid"), .num = 42 },
		{ .key = ember_profile_intern(p, "tid"), .num = 43 },
		{ .key = ember_profile_intern(p, "comm"), .str = ember_profile_intern(p, "app") },
	};
	uint64_t st1[2] = { lwork, lmain };
	int64_t v1[2] = { 30, 30 * 1001001 };
	ember_profile_add_sample(p, st1, 2, v1, labels, 3);
	uint64_t st2[1] = { lmain };
	int64_t v2[2] = { 5, 5 * 1001001 };
	ember_profile_add_sample(p, st2, 1, v2, labels, 3);
	return p;
}

static void check_equal(const ember_profile *a, const ember_profile *b)
{
	CHECK_EQ_INT(a->n_samples, b->n_samples);
	CHECK_EQ_INT(a->n_locations, b->n_locations);
	CHECK_EQ_INT(a->n_functions, b->n_functions);
	CHECK_EQ_INT(a->n_mappings, b->n_mappings);
	CHECK_EQ_INT(a->period, b->period);
	CHECK_EQ_INT(a->time_nanos, b->time_nanos);
	CHECK_EQ_INT(a->duration_nanos, b->duration_nanos);
	for (size_t i = 0; i < a->n_samples && i < b->n_samples; i++) {
		CHECK_EQ_INT(a->samples[i].n_locations, b->samples[i].n_locations);
		CHECK_EQ_INT(a->samples[i].values[1], b->samples[i].values[1]);
		CHECK(strcmp(ember_sample_label_str(a, &a->samples[i], "comm"),
			     ember_sample_label_str(b, &b->samples[i], "comm")) == 0);
	}
	for (size_t i = 0; i < a->n_locations && i < b->n_locations; i++) {
		CHECK_EQ_INT(a->locations[i].address, b->locations[i].address);
		CHECK_EQ_INT(a->locations[i].n_lines, b->locations[i].n_lines);
	}
	const ember_mapping *ma = &a->mappings[0], *mb = &b->mappings[0];
	CHECK(strcmp(ember_profile_str(a, ma->build_id), ember_profile_str(b, mb->build_id)) == 0);
	CHECK(mb->has_inline_frames);
}

static int decode_buf(const ember_buf *b, ember_profile **out, ember_error *err)
{
	return ember_pprof_decode(b->data, b->len, out, err);
}

static void test_round_trips(void)
{
	ember_profile *p = sample_profile();
	ember_compression cs[3] = { EMBER_COMPRESS_NONE, EMBER_COMPRESS_GZIP, EMBER_COMPRESS_ZSTD };
	for (int i = 0; i < 3; i++) {
		ember_buf b = EMBER_BUF_INIT;
		ember_error err = { 0 };
		CHECK_EQ_INT(ember_pprof_encode(p, cs[i], &b, &err), 0);
		if (cs[i] == EMBER_COMPRESS_GZIP)
			CHECK((unsigned char)b.data[0] == 0x1f && (unsigned char)b.data[1] == 0x8b);
		ember_profile *q = NULL;
		CHECK_EQ_INT(decode_buf(&b, &q, &err), 0);
		if (q) {
			check_equal(p, q);
			ember_profile_free(q);
		}
		/* every truncation is refused cleanly, never a crash */
		int refused = 0;
		for (size_t cut = 0; cut < b.len; cut += (b.len / 40) + 1) {
			ember_profile *r = NULL;
			ember_error e2 = { 0 };
			int rc = ember_pprof_decode(b.data, cut, &r, &e2);
			if (rc < 0) {
				refused++;
				CHECK(strchr(e2.msg, '\n') == NULL && e2.msg[0]);
			} else {
				ember_profile_free(r);
			}
		}
		CHECK(refused > 0);
		/* flipped bytes: either a valid profile or a clean error */
		for (size_t k = 0; k < b.len; k += 3) {
			ember_buf c = EMBER_BUF_INIT;
			ember_buf_append(&c, b.data, b.len);
			c.data[k] ^= 0x5a;
			ember_profile *r = NULL;
			if (decode_buf(&c, &r, NULL) == 0)
				ember_profile_free(r);
			ember_buf_free(&c);
		}
		ember_buf_free(&b);
	}
	ember_profile_free(p);
}

static int encode_decode(ember_profile *p, char *msg, size_t len)
{
	ember_buf b = EMBER_BUF_INIT;
	ember_error err = { 0 };
	ember_profile *q = NULL;
	ember_pprof_encode(p, EMBER_COMPRESS_NONE, &b, NULL);
	int rc = decode_buf(&b, &q, &err);
	snprintf(msg, len, "%s", err.msg);
	ember_profile_free(q);
	ember_buf_free(&b);
	return rc;
}

static void test_corrupt_references(void)
{
	char msg[512];
	ember_profile *p = sample_profile();
	p->samples[0].labels[0].key = 9999;
	CHECK(encode_decode(p, msg, sizeof msg) == -EINVAL);
	CHECK(strstr(msg, "string index") != NULL);
	ember_profile_free(p);

	p = sample_profile();
	p->samples[0].location_ids[0] = 77;
	CHECK(encode_decode(p, msg, sizeof msg) == -EINVAL);
	CHECK(strstr(msg, "missing location 77") != NULL);
	ember_profile_free(p);

	p = sample_profile();
	p->locations[1].lines[0].function_id = 55;
	CHECK(encode_decode(p, msg, sizeof msg) == -EINVAL);
	CHECK(strstr(msg, "missing function 55") != NULL);
	ember_profile_free(p);

	p = sample_profile();
	p->locations[0].mapping_id = 9;
	CHECK(encode_decode(p, msg, sizeof msg) == -EINVAL);
	CHECK(strstr(msg, "missing mapping 9") != NULL);
	ember_profile_free(p);

	p = sample_profile();
	p->locations[1].id = 1; /* duplicate */
	CHECK(encode_decode(p, msg, sizeof msg) == -EINVAL);
	CHECK(strstr(msg, "duplicate location id") != NULL);
	ember_profile_free(p);

	ember_profile *q = NULL;
	ember_error err = { 0 };
	CHECK(ember_pprof_decode("", 0, &q, &err) < 0);
	CHECK(ember_pprof_decode("\x1f\x8b garbage garbage", 18, &q, &err) < 0);
	CHECK(strstr(err.msg, "gzip") != NULL);
	CHECK(ember_pprof_decode("\x28\xb5\x2f\xfd garbage", 12, &q, &err) < 0);
	CHECK(strstr(err.msg, "zstd") != NULL);
	CHECK(ember_pprof_decode("hello world, not a profile", 26, &q, &err) < 0);
}

static void test_sparse_ids(void)
{
	/* ids 100, 200... in the file become dense 1, 2... in memory */
	ember_profile *p = sample_profile();
	p->mappings[0].id = 100;
	for (size_t i = 0; i < p->n_locations; i++) {
		p->locations[i].id = 1000 + i * 7;
		p->locations[i].mapping_id = 100;
	}
	for (size_t i = 0; i < p->n_functions; i++)
		p->functions[i].id = 500 + i;
	for (size_t i = 0; i < p->n_locations; i++)
		for (size_t j = 0; j < p->locations[i].n_lines; j++)
			p->locations[i].lines[j].function_id += 499;
	for (size_t i = 0; i < p->n_samples; i++)
		for (size_t j = 0; j < p->samples[i].n_locations; j++)
			p->samples[i].location_ids[j] = 1000 + (p->samples[i].location_ids[j] - 1) * 7;
	ember_buf b = EMBER_BUF_INIT;
	ember_pprof_encode(p, EMBER_COMPRESS_NONE, &b, NULL);
	ember_profile *q = NULL;
	ember_error err = { 0 };
	CHECK_EQ_INT(decode_buf(&b, &q, &err), 0);
	if (q) {
		CHECK_EQ_INT(q->mappings[0].id, 1);
		CHECK_EQ_INT(q->samples[0].location_ids[0], 2);
		CHECK_EQ_INT(q->locations[1].lines[0].function_id, 3);
		CHECK(strcmp(ember_profile_str(q, ember_profile_function(q, 3)->name), "inl") == 0);
		ember_profile_free(q);
	}
	ember_buf_free(&b);
	ember_profile_free(p);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void test_files(void)
{
	char dir[] = "/tmp/ember-test-pprof-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256], zpath[256], bad[256];
	snprintf(path, sizeof path, "%s/a.pb.gz", dir);
	snprintf(zpath, sizeof zpath, "%s/a.pb.zst", dir);
	snprintf(bad, sizeof bad, "%s/missing-dir/a.pb.gz", dir);
	ember_profile *p = sample_profile();
	ember_error err = { 0 };
	CHECK_EQ_INT(ember_pprof_write_file(p, path, &err), 0);
	CHECK_EQ_INT(ember_pprof_write_file(p, zpath, &err), 0);
	CHECK(ember_pprof_write_file(p, bad, &err) < 0);
	CHECK(strstr(err.msg, "missing-dir") != NULL);
	CHECK_EQ_INT(count_entries(dir), 2); /* no temp files left */
	ember_profile *q = NULL;
	CHECK_EQ_INT(ember_pprof_read_file(zpath, &q, &err), 0);
	if (q) {
		check_equal(p, q);
		ember_profile_free(q);
	}
	CHECK(ember_pprof_read_file(dir, &q, &err) < 0);
	CHECK(strstr(err.msg, "directory") != NULL);
	char nothere[300];
	snprintf(nothere, sizeof nothere, "%s/nothere", dir);
	CHECK(ember_pprof_read_file(nothere, &q, &err) == -ENOENT);
	CHECK(strstr(err.msg, "nothere") != NULL);
	unlink(path);
	unlink(zpath);
	rmdir(dir);
	ember_profile_free(p);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		ember_profile *p = sample_profile();
		ember_error err = { 0 };
		int rc = ember_pprof_write_file(p, argv[2], &err);
		if (rc < 0)
			fprintf(stderr, "%s\n", err.msg);
		ember_profile_free(p);
		return rc < 0;
	}
	test_round_trips();
	test_corrupt_references();
	test_sparse_ids();
	test_files();
	return check_exit();
}
