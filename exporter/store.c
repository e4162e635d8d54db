/* exporter/store.c — PLACEHOLDER: not built yet. */
typedef int ember_placeholder_store;
