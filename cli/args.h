/* cli/args.h — shared by the ember subcommands (cli/ only): exit codes and
 * parsers for the values flags take. Parsers return 0 or -EINVAL and never
 * print; the subcommand prints "ember CMD: ..." and exits 2 for usage errors. */
#ifndef EMBER_CLI_ARGS_H
#define EMBER_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* "10", "10s", "500ms", "5m", "1h30m", "24h", "7d" -> nanoseconds (> 0). A
 * bare number means seconds. */
int cli_parse_duration(const char *s, uint64_t *out_ns);
/* Decimal unsigned in [min, max]. */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "123,456" -> newly allocated array of pids (> 0). */
int cli_parse_pids(const char *s, pid_t **out, size_t *n);
/* Byte sizes: "65536", "32K", "32KiB", "1M", "512MiB", "2G". */
int cli_parse_bytes(const char *s, uint64_t *out);

/* getenv("EMBER_" NAME) with '.' and '-' mapped to '_' and upper-cased, e.g.
 * "storage.path" -> EMBER_STORAGE_PATH. NULL if unset. */
const char *cli_env_flag(const char *flag_name);
/* That variable's name into out; false when it does not fit. */
bool cli_env_name(const char *flag_name, char *out, size_t size);

int cmd_record(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_addr2line(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_push(int argc, char **argv);

#endif
