/* exporter/compress.c — PLACEHOLDER: not built yet. */
typedef int ember_placeholder_compress;
