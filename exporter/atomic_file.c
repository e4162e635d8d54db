/* exporter/atomic_file.c — PLACEHOLDER: not built yet. */
typedef int ember_placeholder_atomic_file;
