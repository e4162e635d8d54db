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
 * Trust: only a regular file of this user, not writable by others, whose
 * boot id is this boot's and whose every offset and size checks out; any
 * doubt means "no cache", never a wrong name. Written to a temporary name
 * and renamed, mode 0600 in a 0700 directory (kernel addresses defeat
 * KASLR and are root's to see).
 *
 * Owns: the file format, its validation, the boot id. Must never: answer an
 * address outside [lo, hi) (the caller asks kcache_covers first).
 */
#include "kcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

typedef struct kc_entry {
	uint64_t addr;
	uint32_t name;
	uint32_t size;
} kc_entry;

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

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
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

/* Checks the file's body against its header; true when every entry is
 * sorted, inside [lo, hi) and names a string of the table. */
static bool valid_body(const kc_header *h, const kc_entry *e, const char *names)
{
	if (h->lo >= h->hi || h->names_len == 0 || names[h->names_len - 1] != '\0')
		return false;
	for (uint32_t i = 0; i < h->n; i++) {
		if (e[i].addr < h->lo || e[i].addr >= h->hi || e[i].size == 0 ||
		    e[i].name >= h->names_len || (i && e[i].addr < e[i - 1].addr))
			return false;
	}
	return true;
}

int kcache_load(const char *dir, kcache *out)
{
	*out = (kcache){0};
	char path[PATH_MAX], want_id[BOOT_ID_LEN];
	if (!dir || path_in(path, sizeof path, dir, "kallsyms") < 0 || !boot_id(want_id))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	struct stat st;
	kc_header h;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !trusted(&st) ||
	    (size_t)st.st_size < sizeof h || !transfer_all(fd, &h, sizeof h, false) ||
	    memcmp(h.magic, magic, sizeof magic) != 0 || h.version != VERSION ||
	    memcmp(h.boot_id, want_id, BOOT_ID_LEN) != 0 || h.n == 0 || h.n > MAX_ENTRIES ||
	    h.names_len > MAX_NAMES ||
	    (uint64_t)st.st_size != sizeof h + (uint64_t)h.n * sizeof(kc_entry) + h.names_len) {
		close(fd);
		return 0;
	}
	size_t body = (size_t)st.st_size - sizeof h;
	char *buf = malloc(body);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	bool ok = transfer_all(fd, buf, body, false);
	close(fd);
	const kc_entry *e = (const kc_entry *)buf;
	char *names = buf + (size_t)h.n * sizeof(kc_entry);
	if (!ok || !valid_body(&h, e, names)) {
		free(buf);
		return 0;
	}
	if (addrmap_reserve(&out->map, h.n) < 0) {
		free(buf);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < h.n; i++)
		out->map.e[i] = (addrmap_entry){e[i].addr, e[i].addr + e[i].size,
		                                (char *)(uintptr_t)e[i].name, NULL, i};
	/* The names become the arena: move them to the front and let go of
	 * the rest. */
	memmove(buf, names, h.names_len);
	char *arena = realloc(buf, h.names_len);
	if (arena)
		buf = arena;
	for (uint32_t i = 0; i < h.n; i++)
		out->map.e[i].name = buf + (uintptr_t)out->map.e[i].name;
	out->map.arena = buf;
	out->map.n = h.n;
	addrmap_finish(&out->map);
	out->lo = h.lo;
	out->hi = h.hi;
	return 1;
}

static const addrmap_entry *core_symbol(const addrmap *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->e[i].module && strcmp(m->e[i].name, name) == 0)
			return &m->e[i];
	return NULL;
}

/* dir, and its parent if missing, as 0700 directories; then dir must be
 * ours and closed to others. */
static int make_dir(const char *dir)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) != 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (lstat(dir, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) && trusted(&st) ? 0 : -EPERM;
}

int kcache_store(const char *dir, const addrmap *full)
{
	kc_header h = {.version = VERSION};
	memcpy(h.magic, magic, sizeof magic);
	if (!dir || !boot_id(h.boot_id))
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
		if (full->e[i].module)
			return -EINVAL; /* a module inside the core image: not ours to judge */
		h.names_len += strlen(full->e[i].name) + 1;
		n++;
	}
	if (n == 0 || n > MAX_ENTRIES || h.names_len > MAX_NAMES)
		return -EINVAL;
	h.n = (uint32_t)n;
	kc_entry *ents = malloc(n * sizeof *ents);
	char *names = malloc(h.names_len);
	int r = ents && names ? 0 : -ENOMEM;
	for (size_t i = 0, off = 0; r == 0 && i < n; i++) {
		const addrmap_entry *x = &full->e[first + i];
		uint64_t size = x->hi - x->lo;
		size_t len = strlen(x->name) + 1;
		ents[i] = (kc_entry){x->lo, (uint32_t)off,
		                     size > UINT32_MAX ? UINT32_MAX : (uint32_t)size};
		memcpy(names + off, x->name, len);
		off += len;
	}
	char tmp[PATH_MAX], final[PATH_MAX];
	if (r == 0 && (r = make_dir(dir)) == 0 &&
	    (r = path_in(tmp, sizeof tmp, dir, ".kallsyms.XXXXXX")) == 0 &&
	    (r = path_in(final, sizeof final, dir, "kallsyms")) == 0) {
		int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
		if (fd < 0) {
			r = -errno;
		} else {
			bool ok = transfer_all(fd, &h, sizeof h, true) &&
			          transfer_all(fd, ents, n * sizeof *ents, true) &&
			          transfer_all(fd, names, h.names_len, true);
			ok = close(fd) == 0 && ok;
			if (!ok || rename(tmp, final) != 0) {
				r = -EIO;
				unlink(tmp);
			}
		}
	}
	free(ents);
	free(names);
	return r;
}

void kcache_free(kcache *kc)
{
	addrmap_free(&kc->map);
	*kc = (kcache){0};
}
