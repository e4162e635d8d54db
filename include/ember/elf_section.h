/* ember/elf_section.h — an ELF section by name (core/elf_section.c), the one
 * lookup the symbolizer, the unwinder and the .gopclntab locator share. */
#ifndef EMBER_ELF_SECTION_H
#define EMBER_ELF_SECTION_H

#include <libelf.h>

/* The first section called name that has contents in the file (not
 * SHT_NOBITS), or NULL. */
Elf_Scn *ember_elf_section(Elf *elf, const char *name);

#endif
