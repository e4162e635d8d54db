/* symbolizer/demangle.h — private to symbolizer/: C++ and Rust demangling
 * (demangle.c). */
#ifndef EMBER_SYMBOLIZER_DEMANGLE_H
#define EMBER_SYMBOLIZER_DEMANGLE_H

/* The demangled form of a linker name (C++ Itanium, Rust legacy and v0) as a
 * malloc'd string, or NULL when `name` is not mangled or cannot be
 * demangled (then the caller uses the name as it is). */
char *sym_demangle(const char *name);

#endif
