/* cli/push_flags.h — the one parser of the --push.* flags (cli/ only),
 * shared by `ember serve` and `ember push`: each flag also from its EMBER_*
 * variable (--push.pyroscope.url <- EMBER_PUSH_PYROSCOPE_URL). The values
 * are checked where they are used (server/push_dest.c). */
#ifndef EMBER_CLI_PUSH_FLAGS_H
#define EMBER_CLI_PUSH_FLAGS_H

#include <getopt.h>
#include <stdbool.h>

#include "ember/push.h"

/* Option codes, clear of the sampling flags' and every subcommand's own. */
enum {
	CLI_OPT_PUSH_PYROSCOPE_URL = 0x200,
	CLI_OPT_PUSH_BASIC_AUTH_FILE,
	CLI_OPT_PUSH_BEARER_TOKEN_FILE,
	CLI_OPT_PUSH_TENANT_ID,
	CLI_OPT_PUSH_OTLP_ENDPOINT,
	CLI_OPT_PUSH_SERVICE_NAME,
	CLI_OPT_PUSH_LABELS,
};

#define CLI_PUSH_LONGOPTS                                                                         \
	{ "push.pyroscope.url", required_argument, NULL, CLI_OPT_PUSH_PYROSCOPE_URL },            \
	{ "push.pyroscope.basic-auth-file", required_argument, NULL,                              \
	  CLI_OPT_PUSH_BASIC_AUTH_FILE },                                                         \
	{ "push.pyroscope.bearer-token-file", required_argument, NULL,                            \
	  CLI_OPT_PUSH_BEARER_TOKEN_FILE },                                                       \
	{ "push.pyroscope.tenant-id", required_argument, NULL, CLI_OPT_PUSH_TENANT_ID },          \
	{ "push.otlp.endpoint", required_argument, NULL, CLI_OPT_PUSH_OTLP_ENDPOINT },            \
	{ "push.service-name", required_argument, NULL, CLI_OPT_PUSH_SERVICE_NAME },              \
	{ "push.labels", required_argument, NULL, CLI_OPT_PUSH_LABELS }

/* The usage text of these flags. */
extern const char cli_push_usage[];

/* Keeps a --push.* value in o; false for a code that is not one. */
bool cli_push_take(ember_push_opts *o, int code, const char *arg);
/* Fills what the command line left unset from the EMBER_* variables. */
void cli_push_env(ember_push_opts *o);

#endif
