/* core/gopclntab_elf.c — finds Go's .gopclntab inside an ELF file for the
 * reader of core/gopclntab.c (ember/gopclntab.h): the section, the text
 * start, and through the runtime's moduledata the base of the inline trees.
 * Owns only locating; never decodes tables itself, allocates or writes.
 */
#include "ember/gopclntab.h"
#include "ember/elf_section.h"

#include <errno.h>
#include <gelf.h>
#include <string.h>

/* The words of runtime.moduledata before its gofunc field, per layout:
 * pcHeader, six slices, findfunctab, minpc/maxpc, text..enoptrbss,
 * (covctrs/ecovctrs since 1.20), end/gcdata/gcbss, types/etypes, rodata. */
enum { GOFUNC_WORD_118 = 38, GOFUNC_WORD_120 = 40 };

typedef struct sec {
	const uint8_t *data;
	size_t size;
	uint64_t addr;
} sec;

static bool section(Elf *elf, const char *want, sec *out)
{
	Elf_Scn *scn = ember_elf_section(elf, want);
	GElf_Shdr sh;
	Elf_Data *d = scn && gelf_getshdr(scn, &sh) ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf)
		return false;
	*out = (sec){d->d_buf, d->d_size, sh.sh_addr};
	return true;
}

/* The allocated section holding vaddr, or false. */
static bool section_at(Elf *elf, uint64_t vaddr, sec *out)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !(sh.sh_flags & SHF_ALLOC) ||
		    vaddr < sh.sh_addr || vaddr - sh.sh_addr >= sh.sh_size)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			return false;
		*out = (sec){d->d_buf, d->d_size, sh.sh_addr};
		return true;
	}
	return false;
}

/* moduledata: the word pointing at the table's header, followed by the
 * funcnametab slice (pointer, length, capacity). */
static bool find_moduledata(const sec *s, const ember_gopcln *t, size_t *at)
{
	for (size_t i = 0; i + 32 <= s->size; i += 8) {
		uint64_t w[2];
		memcpy(w, s->data + i, sizeof w);
		if (w[0] == t->vaddr && w[1] == t->vaddr + t->funcnames) {
			*at = i;
			return true;
		}
	}
	return false;
}

static void find_inline_base(ember_gopcln *t, Elf *elf)
{
	sec ro;
	if (t->version < 118) { /* funcdata are absolute: where they point */
		if (section(elf, ".rodata", &ro)) {
			t->ro = ro.data;
			t->ro_size = ro.size;
			t->ro_vaddr = ro.addr;
		}
		return;
	}
	static const char *const homes[] = {".noptrdata", ".data.rel.ro", ".data"};
	for (size_t h = 0; h < sizeof homes / sizeof *homes; h++) {
		sec d;
		size_t at;
		if (!section(elf, homes[h], &d) || !find_moduledata(&d, t, &at))
			continue;
		size_t word = t->version >= 120 ? GOFUNC_WORD_120 : GOFUNC_WORD_118;
		uint64_t gofunc;
		if (at + word * 8 + 8 > d.size)
			return;
		memcpy(&gofunc, d.data + at + word * 8, 8);
		if (!section_at(elf, gofunc, &ro))
			return;
		t->gofunc = gofunc;
		t->ro = ro.data;
		t->ro_size = ro.size;
		t->ro_vaddr = ro.addr;
		return;
	}
}

int ember_gopcln_from_elf(ember_gopcln *t, Elf *elf)
{
	memset(t, 0, sizeof *t);
	GElf_Ehdr eh;
	if (!elf || !gelf_getehdr(elf, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return -ENOENT;
	sec pcln, text = {0};
	if (!section(elf, ".gopclntab", &pcln) && !section(elf, ".data.rel.ro.gopclntab", &pcln))
		return -ENOENT;
	(void)section(elf, ".text", &text);
	if (ember_gopcln_init(t, pcln.data, pcln.size, text.addr) < 0)
		return -EINVAL;
	t->vaddr = pcln.addr;
	find_inline_base(t, elf);
	return 0;
}
