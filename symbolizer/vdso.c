/* symbolizer/vdso.c — the vDSO, read from this process: every process on
 * one kernel maps the same vDSO image (same build id), so ours stands in for
 * the profiled process's. The caller checks the build id against the
 * mapping's. Must never: read another process's memory. */
#include "debuginfo.h"

#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

/* Size of the [vdso] mapping from /proc/self/maps, or 0. */
static size_t vdso_size(uintptr_t base)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return 0;
	char line[512];
	size_t size = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    lo == base) {
			size = hi - lo;
			break;
		}
	}
	fclose(f);
	return size;
}

int vdso_open(ei_file *out, ember_error *err)
{
	*out = (ei_file){-1, NULL, NULL};
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	size_t size = base ? vdso_size(base) : 0;
	if (!size)
		return ember_errorf(err, ENOENT, "[vdso]: this process has no vDSO to read");
	void *mem = malloc(size);
	if (!mem)
		return ember_errorf(err, ENOMEM, "out of memory");
	memcpy(mem, (const void *)base, size);
	Elf *elf = elf_memory(mem, size);
	GElf_Ehdr eh;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		if (elf)
			elf_end(elf);
		free(mem);
		return ember_errorf(err, EINVAL, "[vdso]: not a valid ELF image");
	}
	*out = (ei_file){-1, elf, mem};
	return 0;
}
