/* symbolizer/kcache.c — the core kernel's text symbols on disk, for the
 * rest of the boot. Reading /proc/kallsyms costs about 25 ms of kernel CPU
 * on every run (the kernel formats 120,000 lines); the [_stext, _etext)
 * part of it cannot change until reboot, so it is written once per boot
 * and read back as a flat file.
 *
 * File (native byte order, as it never leaves the machine):
 *   header  magic "EMBKSYM1", version, n, boot_id[40], lo, hi, names_len
 *   n x     {u64 address; u32 name offset; u32 size}, sorted by address,
 *           aliases in /proc/kallsyms order
 *   names   names_len bytes of NUL-terminated names
 *
 * Root only (euid 0), both ways: real kernel addresses defeat KASLR, and a
 * non-root process sees them only through a capability (CAP_SYSLOG) that
 * the same user without it lacks, so a file of that user would leak them.
 * Trust: only a regular file of root, not writable by others, reached
 * without symlinks, whose boot id is this boot's and whose every offset and
 * size checks out; any doubt means "no cache", never a wrong name. Written
 * as an unnamed file (O_TMPFILE) in the directory, then linked and renamed
 * over the old one, mode 0600 in a 0700 directory.
 *
 * The file is mapped, not copied, and checked once when mapped: every
 * writer (this one) replaces it by rename, so a mapped file never changes
 * under its reader; editing it in place is root's own foot-gun.
 *
 * Owns: the file format, its validation, the boot id. Must never: answer an
 * address outside [lo, hi) (the caller asks kcache_covers first).
 */
#include "kcache.h"
#include "upper_bound.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char magic[8] = {'E', 'M', 'B', 'K', 'S', 'Y', 'M', '1'};
enum { VERSION = 1, BOOT_ID_LEN = 40, MAX_ENTRIES = 1 << 24, MAX_NAMES = 1 << 28 };

typedef struct kc_header {
	char magic[8];
	uint32_t version;
	uint32_t n;
	char boot_id[BOOT_ID_LEN];
	uint64_t lo, hi;
	uint64_t names_len;
} kc_header;

struct kc_entry {
	uint64_t addr;
	uint32_t name;
	uint32_t size;
};
typedef struct kc_entry kc_entry;

/* This boot's id (/proc/sys/kernel/random/boot_id), NUL-padded. */
static bool boot_id(char out[BOOT_ID_LEN])
{
	memset(out, 0, BOOT_ID_LEN);
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, out, BOOT_ID_LEN - 1);
	close(fd);
	if (n < 32)
		return false;
	out[strcspn(out, "\n")] = '\0';
	memset(out + strlen(out), 0, BOOT_ID_LEN - strlen(out));
	return true;
}

/* All of len bytes read (or written), retrying short transfers. */
static bool transfer_all(int fd, void *buf, size_t len, bool writing)
{
	size_t done = 0;
	while (done < len) {
		char *at = (char *)buf + done;
		ssize_t n = writing ? write(fd, at, len - done) : read(fd, at, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* Ours and not writable by anyone else. */
static bool trusted(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* The cache directory, opened without following a symlink at its last
 * component and checked as trusted; -1 if unusable. */
static int open_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (dfd >= 0 && (fstat(dfd, &st) != 0 || !S_ISDIR(st.st_mode) || !trusted(&st))) {
		close(dfd);
		dfd = -1;
	}
	return dfd;
}

/* Checks the file's body against its header; true when every entry is
 * sorted, lies inside [lo, hi) start to end and names a string of the
 * table. */
static bool valid_body(const kc_header *h, const kc_entry *e, const char *names)
{
	if (h->lo >= h->hi || h->names_len == 0 || names[h->names_len - 1] != '\0')
		return false;
	for (uint32_t i = 0; i < h->n; i++) {
		if (e[i].addr < h->lo || e[i].addr >= h->hi || e[i].size == 0 ||
		    e[i].size > h->hi - e[i].addr || /* ends inside [lo, hi), no wrap */
		    e[i].name >= h->names_len || (i && e[i].addr < e[i - 1].addr))
			return false;
	}
	return true;
}

int kcache_load(const char *dir, kcache *out)
{
	*out = (kcache){0};
	char want_id[BOOT_ID_LEN];
	if (!dir || geteuid() != 0 || !boot_id(want_id))
		return 0;
	int dfd = open_dir(dir);
	if (dfd < 0)
		return 0;
	int fd = openat(dfd, "kallsyms", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !trusted(&st) ||
	    (uint64_t)st.st_size < sizeof(kc_header) || (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return 0;
	}
	size_t len = (size_t)st.st_size;
	void *file = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (file == MAP_FAILED)
		return 0;
	const kc_header *h = file;
	bool whole = memcmp(h->magic, magic, sizeof magic) == 0 && h->version == VERSION &&
	             memcmp(h->boot_id, want_id, BOOT_ID_LEN) == 0 && h->n > 0 &&
	             h->n <= MAX_ENTRIES && h->names_len <= MAX_NAMES &&
	             (uint64_t)len == sizeof *h + (uint64_t)h->n * sizeof(kc_entry) + h->names_len;
	const kc_entry *e = (const kc_entry *)((const char *)file + sizeof *h);
	const char *names = whole ? (const char *)(e + h->n) : NULL;
	if (!whole || !valid_body(h, e, names)) {
		munmap(file, len);
		return 0;
	}
	*out = (kcache){.file = file, .file_len = len, .e = e, .n = h->n, .names = names,
	                .names_len = h->names_len, .lo = h->lo, .hi = h->hi};
	return 1;
}

bool kcache_find(const kcache *kc, uint64_t a, addrmap_entry *out)
{
	assert(kcache_covers(kc, a));
	/* of the (few) aliases at or below a, the last in file order that
	 * covers it */
	size_t above = sym_upper_bound(kc->e, kc->n, sizeof *kc->e, a);
	for (size_t i = above, k = 0; i > 0 && k < 16; i--, k++) {
		const kc_entry *x = &kc->e[i - 1];
		if (a - x->addr < x->size) {
			*out = (addrmap_entry){x->addr, x->addr + x->size,
			                       (char *)(uintptr_t)(kc->names + x->name), NULL,
			                       (uint32_t)(i - 1)};
			return true;
		}
	}
	return false;
}

static const addrmap_entry *core_symbol(const addrmap *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->e[i].module && strcmp(m->e[i].name, name) == 0)
			return &m->e[i];
	return NULL;
}

/* dir, and its parent if missing, as 0700 directories; then dir opened
 * (no symlink) and checked: ours and closed to others. A descriptor, or
 * -errno. */
static int make_dir(const char *dir)
{
	char parent[PATH_MAX];
	if (snprintf(parent, sizeof parent, "%s", dir) >= (int)sizeof parent)
		return -ENAMETOOLONG;
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) != 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	int dfd = open_dir(dir);
	return dfd >= 0 ? dfd : -EPERM;
}

/* A small write buffer: the table is written through it in pieces, so
 * storing costs no copy of the table (5 MB of fresh memory to fault in). */
typedef struct kc_writer {
	int fd;
	bool ok;
	size_t used;
	char buf[64 << 10];
} kc_writer;

static void kw_flush(kc_writer *w)
{
	w->ok = w->ok && transfer_all(w->fd, w->buf, w->used, true);
	w->used = 0;
}

static void kw_put(kc_writer *w, const void *data, size_t len)
{
	const char *d = data;
	while (len > 0) {
		if (w->used == sizeof w->buf)
			kw_flush(w);
		size_t n = sizeof w->buf - w->used < len ? sizeof w->buf - w->used : len;
		memcpy(w->buf + w->used, d, n);
		w->used += n;
		d += n;
		len -= n;
	}
}

/* Writes the header and the entries e[0, h->n) of full (names from there)
 * to a new file in dfd and renames it to "kallsyms": an unnamed O_TMPFILE
 * linked in at the end where the filesystem has them (nothing is left
 * behind if killed while writing), else a named temporary. 0 or -errno. */
static int write_cache(int dfd, const kc_header *h, const addrmap_entry *e)
{
	char tmp[64], proc[64];
	snprintf(tmp, sizeof tmp, ".kallsyms.%ld", (long)getpid());
	(void)unlinkat(dfd, tmp, 0); /* a leftover of an earlier process with our pid */
	bool unnamed = true;
	int fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		unnamed = false;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
	}
	kc_writer *w = malloc(sizeof *w);
	bool ok = w != NULL, allocated = ok;
	if (w) {
		*w = (kc_writer){.fd = fd, .ok = true};
		kw_put(w, h, sizeof *h);
		uint64_t off = 0;
		for (uint32_t i = 0; i < h->n; i++) {
			kc_entry x = {e[i].lo, (uint32_t)off, (uint32_t)(e[i].hi - e[i].lo)};
			kw_put(w, &x, sizeof x);
			off += strlen(e[i].name) + 1;
		}
		for (uint32_t i = 0; i < h->n; i++)
			kw_put(w, e[i].name, strlen(e[i].name) + 1);
		kw_flush(w);
		ok = w->ok;
		free(w);
	}
	if (ok && unnamed) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		ok = linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) == 0;
	}
	ok = close(fd) == 0 && ok;
	if (ok && renameat(dfd, tmp, dfd, "kallsyms") == 0)
		return 0;
	(void)unlinkat(dfd, tmp, 0);
	return allocated ? -EIO : -ENOMEM;
}

int kcache_store(const char *dir, const addrmap *full)
{
	kc_header h = {.version = VERSION};
	memcpy(h.magic, magic, sizeof magic);
	if (!dir || geteuid() != 0 || !boot_id(h.boot_id))
		return -ENOENT;
	const addrmap_entry *st = core_symbol(full, "_stext"), *et = core_symbol(full, "_etext");
	if (!st || !et || st->lo == 0 || st->lo >= et->lo)
		return -ENOENT;
	h.lo = st->lo;
	h.hi = et->lo;
	size_t first = 0, n = 0;
	while (first < full->n && full->e[first].lo < h.lo)
		first++;
	for (size_t i = first; i < full->n && full->e[i].lo < h.hi; i++) {
		const addrmap_entry *x = &full->e[i];
		if (x->module)
			return -EINVAL; /* a module inside the core image: not ours to judge */
		if (x->hi - x->lo > UINT32_MAX)
			return -EINVAL; /* no kernel function is 4 GiB: not a real table */
		h.names_len += strlen(x->name) + 1;
		n++;
	}
	if (n == 0 || n > MAX_ENTRIES || h.names_len > MAX_NAMES)
		return -EINVAL;
	h.n = (uint32_t)n;
	int dfd = make_dir(dir);
	if (dfd < 0)
		return dfd;
	int r = write_cache(dfd, &h, &full->e[first]);
	close(dfd);
	return r;
}

void kcache_free(kcache *kc)
{
	if (kc->file)
		munmap(kc->file, kc->file_len);
	*kc = (kcache){0};
}
