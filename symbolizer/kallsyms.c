/* symbolizer/kallsyms.c — kernel text symbols from /proc/kallsyms (and its
 * modules: "ADDR t name\t[module]"). kallsyms has no sizes, so a symbol ends
 * where the next one starts; the last one gets one page. All-zero addresses
 * mean kptr_restrict hides them: an error, not a table of wrong names.
 *
 * The file (about 120,000 lines, most of them text symbols) is read in one
 * buffer with large reads and parsed in place: the names of text symbols are
 * packed to the front of that buffer, which then becomes the map's arena,
 * so loading costs no allocation per symbol.
 * Must never: guess a name for an address below the first symbol. */
#include "addrmap.h"
#include "ember/bigmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* reads of 1 MiB into a region first reserved at 16 MiB of address space
 * (no memory until written; doubled if ever too small) */
enum { READ_CHUNK = 1 << 20, RESERVE = 16 << 20 };

/* The whole file, NUL-terminated, in mem (length *len): huge pages, as
 * /proc/kallsyms is 5 MB and more (ember/bigmem.h). 0 or -errno. */
static int slurp(const char *path, ember_bigmem *mem, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*mem = (ember_bigmem){0};
	size_t n = 0;
	int r = 0;
	for (;;) {
		if (mem->len - n < READ_CHUNK + 1 &&
		    ember_bigmem_grow(mem, mem->len ? mem->len * 2 : RESERVE) < 0) {
			r = -ENOMEM;
			break;
		}
		char *b = mem->p;
		ssize_t got = read(fd, b + n, mem->len - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (r < 0) {
		ember_bigmem_free(mem);
		return r;
	}
	((char *)mem->p)[n] = '\0';
	*len = n;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_text(char type)
{
	return type == 't' || type == 'T' || type == 'w' || type == 'W';
}

/* Parses buf[0, len) into out, packing names to the front of buf; *packed
 * gets the bytes used. Entries' names hold offsets into buf until the caller
 * rebases them. 0 or -ENOMEM. */
static int parse(char *buf, size_t len, addrmap *out, size_t *packed, size_t *nonzero)
{
	char *end = buf + len, *w = buf;
	for (char *p = buf; p < end;) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		char *line = p;
		p = eol + 1;
		uint64_t a = 0;
		int digits = 0, v;
		char *q = line;
		for (; q < eol && (v = hexval(*q)) >= 0 && digits < 16; q++, digits++)
			a = a << 4 | (uint64_t)v;
		/* "ADDR T name" at least */
		if (digits == 0 || eol - q < 4 || q[0] != ' ' || q[2] != ' ' || !is_text(q[1]))
			continue;
		char *name = q + 3;
		size_t nl = 0;
		while (name + nl < eol && name[nl] != '\t' && name[nl] != ' ' && name[nl] != '\r')
			nl++;
		if (nl == 0)
			continue;
		const char *mod = NULL;
		size_t ml = 0;
		char *br = memchr(name + nl, '[', (size_t)(eol - (name + nl)));
		if (br) {
			mod = br + 1;
			while (mod + ml < eol && mod[ml] != ']')
				ml++;
		}
		/* w <= line < name: the module text after the name survives. */
		int r = addrmap_add_in_arena(out, a, a, (char *)(uintptr_t)(w - buf), mod, ml);
		if (r < 0)
			return r;
		memmove(w, name, nl);
		w[nl] = '\0';
		w += nl + 1;
		*nonzero += a != 0;
	}
	*packed = (size_t)(w - buf);
	return 0;
}

int kallsyms_load(const char *path, addrmap *out, ember_error *err)
{
	*out = (addrmap){0};
	ember_bigmem mem;
	size_t len = 0;
	int r = slurp(path, &mem, &len);
	if (r < 0)
		return ember_errorf(err, -r, "%s: %s", path, strerror(-r));
	/* about 40 bytes a line; one table, on huge pages as the text */
	size_t nonzero = 0, packed = 0;
	char *buf = mem.p;
	addrmap_own_big_arena(out, &mem);
	r = addrmap_reserve_big(out, len / 32 + 16);
	if (r == 0)
		r = parse(buf, len, out, &packed, &nonzero);
	if (r < 0) {
		addrmap_free(out);
		return ember_errorf(err, ENOMEM, "%s: out of memory", path);
	}
	/* the estimate was generous: what lies past the last entry goes back */
	ember_bigmem_trim(&out->e_mem, out->n * sizeof *out->e);
	out->cap = out->e_mem.len / sizeof *out->e;
	addrmap_adopt_big_arena(out, packed);
	if (out->n && nonzero == 0) {
		addrmap_free(out);
		return ember_errorf(
		    err, EPERM,
		    "%s: all addresses are 0 (kernel.kptr_restrict): run as root or "
		    "set kernel.kptr_restrict=0",
		    path);
	}
	addrmap_finish(out);
	for (size_t i = 0; i < out->n; i++) {
		size_t j = i + 1;
		while (j < out->n && out->e[j].lo == out->e[i].lo)
			j++;
		out->e[i].hi = j < out->n ? out->e[j].lo : out->e[i].lo + 4096;
	}
	return 0;
}
