/* symbolizer/jitdump.c — JIT symbols from jitdump files (/tmp/jit-PID.dump,
 * written by CPython 3.13 -X perf_jit, node --perf-prof, JVM agents), in the
 * layout of the kernel's tools/perf/Documentation/jitdump-specification.txt:
 * a file header, then records; JIT_CODE_LOAD names [code_addr, +code_size),
 * JIT_CODE_MOVE moves a loaded function (by code_index) to a new address.
 * Other records (debug info, unwinding info, close) are skipped. Later
 * records win where ranges overlap, as in perf maps (addrmap.h). A record
 * that runs past the end ends the read (a file still being written); a
 * file whose header is not a jitdump is an error. Must never: trust a
 * size field without checking it against what was read. */
#include "addrmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	JITDUMP_MAGIC = 0x4a695444, /* "JiTD" in the writer's byte order */
	HEADER_MIN = 40,
	RECORD_HEADER = 16,
	CODE_LOAD = 0,
	CODE_MOVE = 1,
	LOAD_FIXED = 40,  /* pid, tid, vma, code_addr, code_size, code_index */
	MOVE_FIXED = 48,  /* pid, tid, vma, old_addr, new_addr, code_size, code_index */
	MAX_RECORD = 64 << 20,
};

typedef struct loaded {
	uint64_t index;
	size_t entry; /* in the addrmap */
} loaded;

static uint64_t u64_at(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t u32_at(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

int jitdump_load(const char *path, addrmap *out, ember_error *err)
{
	*out = (addrmap){0};
	FILE *f = fopen(path, "re");
	if (!f)
		return ember_errorf(err, errno, "%s: %s", path, strerror(errno));
	unsigned char hdr[HEADER_MIN];
	if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || u32_at(hdr) != JITDUMP_MAGIC ||
	    u32_at(hdr + 8) < HEADER_MIN || u32_at(hdr + 8) > 4096) {
		fclose(f);
		return ember_errorf(err, EINVAL, "%s: not a jitdump file (or another byte order)",
		                    path);
	}
	int r = fseek(f, (long)u32_at(hdr + 8), SEEK_SET) == 0 ? 0 : -EIO;
	unsigned char *rec = NULL;
	size_t cap = 0;
	loaded *ld = NULL;
	size_t n_ld = 0, cap_ld = 0;
	while (r == 0) {
		unsigned char rh[RECORD_HEADER];
		if (fread(rh, 1, sizeof rh, f) != sizeof rh)
			break;
		uint32_t id = u32_at(rh), size = u32_at(rh + 4);
		if (size < RECORD_HEADER || size > MAX_RECORD)
			break;
		size_t body = size - RECORD_HEADER;
		if (id != CODE_LOAD && id != CODE_MOVE) {
			if (fseek(f, (long)body, SEEK_CUR) != 0)
				break;
			continue;
		}
		if (body > cap) {
			unsigned char *nr = realloc(rec, body);
			if (!nr) {
				r = -ENOMEM;
				break;
			}
			rec = nr;
			cap = body;
		}
		if (fread(rec, 1, body, f) != body)
			break; /* still being written */
		if (id == CODE_LOAD && body > LOAD_FIXED) {
			uint64_t addr = u64_at(rec + 16), size_c = u64_at(rec + 24);
			const char *name = (const char *)rec + LOAD_FIXED;
			size_t nl = strnlen(name, body - LOAD_FIXED);
			if (nl == 0 || nl == body - LOAD_FIXED || size_c == 0 || addr + size_c < addr)
				continue;
			if (n_ld == cap_ld) {
				size_t nc = cap_ld ? 2 * cap_ld : 64;
				loaded *nl2 = realloc(ld, nc * sizeof *ld);
				if (!nl2) {
					r = -ENOMEM;
					break;
				}
				ld = nl2;
				cap_ld = nc;
			}
			ld[n_ld++] = (loaded){u64_at(rec + 32), out->n};
			r = addrmap_add(out, addr, addr + size_c, name, nl, NULL, 0);
		} else if (id == CODE_MOVE && body >= MOVE_FIXED) {
			uint64_t to = u64_at(rec + 24), size_c = u64_at(rec + 32);
			uint64_t index = u64_at(rec + 40);
			for (size_t i = n_ld; i-- > 0;) {
				if (ld[i].index != index)
					continue;
				const char *name = out->e[ld[i].entry].name;
				if (size_c && to + size_c > to)
					r = addrmap_add(out, to, to + size_c, name, strlen(name), NULL,
					                0);
				break;
			}
		}
	}
	free(rec);
	free(ld);
	bool read_err = ferror(f);
	fclose(f);
	if (r < 0 || read_err) {
		addrmap_free(out);
		return ember_errorf(err, r == -ENOMEM ? ENOMEM : EIO, "%s: %s", path,
		                    r == -ENOMEM ? "out of memory" : "read error");
	}
	addrmap_finish(out);
	return 0;
}
