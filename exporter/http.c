/* exporter/http.c — PLACEHOLDER: not built yet. */
typedef int ember_placeholder_http;
