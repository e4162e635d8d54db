/* symbolizer/demangle.c — turns linker names into source names with
 * libiberty's cplus_demangle (the demangler of binutils and gdb; it knows
 * C++ and both Rust manglings), with the flags binutils' `addr2line -C` uses,
 * so our output matches it. Must never hand-parse manglings itself. */
#include "demangle.h"

#include <stddef.h>

#include <libiberty/demangle.h>

char *sym_demangle(const char *name)
{
	if (!name || !name[0])
		return NULL;
	/* Only names that look mangled: Itanium/Rust "_Z", Rust v0 "_R". Plain C
	 * names would be returned unchanged at the cost of a parse. */
	if (name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
}
