/* fuzz/fuzz_symbolize.c — libFuzzer target for the symbolizer on malformed
 * ELF and DWARF files, through the public API of ember/symbolize.h: the
 * input becomes a file (a memfd), which is indexed and asked about a few
 * addresses with ember_symbolizer_addr2line, and symbolizes a RAW profile
 * whose mapping names it (found through the find_elf callback). Debug-file
 * search is cut off by a find_debuginfo callback, so nothing on the machine
 * is read. Answers must be well-formed: frames with sane lines and names
 * that are C strings. */
#include "ember/symbolize.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static int find_elf(void *ctx, const char *path, const char *build_id, int64_t pid)
{
	(void)path;
	(void)build_id;
	(void)pid;
	int fd = dup(*(const int *)ctx);
	return fd < 0 ? -errno : fd;
}

static int find_debuginfo(void *ctx, const char *path, const char *build_id,
			  const char *debuglink)
{
	(void)ctx;
	(void)path;
	(void)build_id;
	(void)debuglink;
	return -ENOENT;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void check_frames(const ember_frame *f, int n, size_t max)
{
	assert(n <= (int)max);
	for (int i = 0; i < n; i++) {
		if (f[i].function)
			(void)strlen(f[i].function);
		if (f[i].file)
			(void)strlen(f[i].file);
		if (f[i].linkage_name)
			(void)strlen(f[i].linkage_name);
		if (f[i].decl_file)
			(void)strlen(f[i].decl_file);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	assert(fd >= 0);
	if (len && write(fd, data, len) != (ssize_t)len)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	ember_symbolizer_callbacks cb = { .ctx = &fd, .find_elf = NULL,
					  .find_debuginfo = find_debuginfo };
	ember_symbolizer_opts opts = { .callbacks = &cb, .quiet = true,
				       .kallsyms_path = "/nonexistent", .perfmap_dir = "/nonexistent" };
	ember_symbolizer *s = NULL;
	int rc = ember_symbolizer_new(&s, &opts, NULL);
	assert(rc == 0);

	/* addresses: the entry point, a few from the input's tail, and some
	 * typical text addresses */
	uint64_t addrs[8] = { 0x1000, 0x1130, 0x401000, 0x400000 };
	size_t n_addrs = 4;
	if (len >= 32)
		addrs[n_addrs++] = get_u64(data + 24);   /* e_entry of an ELF64 */
	for (size_t off = len; off >= 8 && n_addrs < 8 && off + 24 > len; off -= 8)
		addrs[n_addrs++] = get_u64(data + off - 8);
	ember_frame frames[16];
	for (size_t i = 0; i < n_addrs; i++) {
		ember_error err = { 0 };
		int n = ember_symbolizer_addr2line(s, path, addrs[i], frames, 16, &err);
		if (n < 0)
			assert(err.msg[0]);
		else
			check_frames(frames, n, 16);
	}
	ember_symbolizer_free(s);

	/* a RAW profile with one mapping of the file, through the callbacks */
	cb.find_elf = find_elf;
	rc = ember_symbolizer_new(&s, &opts, NULL);
	assert(rc == 0);
	ember_profile *p = ember_profile_new();
	assert(p);
	ember_profile_add_sample_type(p, "samples", "count");
	ember_mapping m = { .memory_start = 0x400000, .memory_limit = 0x800000,
			    .file_offset = 0,
			    .filename = ember_profile_intern(p, "/fuzz/bin"),
			    .build_id = ember_profile_intern(p, "") };
	uint64_t mid = ember_profile_add_mapping(p, &m);
	uint64_t loc[8];
	for (size_t i = 0; i < n_addrs; i++)
		loc[i] = ember_profile_add_location(p, mid, 0x400000 + (addrs[i] & 0x3fffff));
	int64_t one = 1;
	ember_profile_add_sample(p, loc, n_addrs, &one, NULL, 0);
	ember_error err = { 0 };
	if (ember_symbolizer_run(s, p, &err) == 0) {
		char msg[256];
		rc = ember_profile_check(p, msg, sizeof msg);
		assert(rc == 0);
	}
	ember_profile_free(p);
	ember_symbolizer_free(s);
	close(fd);
	return 0;
}
