/* cli/push_flags.c — the --push.* flags (cli/push_flags.h): names, usage
 * text, the EMBER_* fallback. Parsing only: server/push_dest.c checks. */
#include "push_flags.h"

#include <stddef.h>

#include "args.h"

const char cli_push_usage[] =
	"Push (every stored window, at least once; README: Push):\n"
	"  --push.pyroscope.url URL  Grafana Pyroscope: POST URL/push.v1.PusherService/Push\n"
	"                                                                       [EMBER_PUSH_PYROSCOPE_URL]\n"
	"  --push.pyroscope.basic-auth-file FILE  basic auth, one line USER:PASSWORD\n"
	"                                                                       [EMBER_PUSH_PYROSCOPE_BASIC_AUTH_FILE]\n"
	"  --push.pyroscope.bearer-token-file FILE  Authorization: Bearer, the file's first line\n"
	"                                                                       [EMBER_PUSH_PYROSCOPE_BEARER_TOKEN_FILE]\n"
	"  --push.pyroscope.tenant-id ID  X-Scope-OrgID header (multi-tenant Pyroscope)\n"
	"                                                                       [EMBER_PUSH_PYROSCOPE_TENANT_ID]\n"
	"  --push.otlp.endpoint URL  OpenTelemetry Collector, OTLP/HTTP: POST\n"
	"                            URL/v1development/profiles (default: the OTEL_EXPORTER_OTLP_*\n"
	"                            variables; headers from OTEL_EXPORTER_OTLP_HEADERS)\n"
	"                                                                       [EMBER_PUSH_OTLP_ENDPOINT]\n"
	"  --push.service-name NAME  service_name / service.name (default OTEL_SERVICE_NAME,\n"
	"                            else each process's name: one series per process name)\n"
	"                                                                       [EMBER_PUSH_SERVICE_NAME]\n"
	"  --push.labels K=V,...     extra Pyroscope labels                    [EMBER_PUSH_LABELS]\n";

static const struct {
	int code;
	const char *name;
	size_t offset;
} flags[] = {
	{ CLI_OPT_PUSH_PYROSCOPE_URL, "push.pyroscope.url",
	  offsetof(ember_push_opts, pyroscope_url) },
	{ CLI_OPT_PUSH_BASIC_AUTH_FILE, "push.pyroscope.basic-auth-file",
	  offsetof(ember_push_opts, pyroscope_basic_auth_file) },
	{ CLI_OPT_PUSH_BEARER_TOKEN_FILE, "push.pyroscope.bearer-token-file",
	  offsetof(ember_push_opts, pyroscope_bearer_token_file) },
	{ CLI_OPT_PUSH_TENANT_ID, "push.pyroscope.tenant-id",
	  offsetof(ember_push_opts, pyroscope_tenant_id) },
	{ CLI_OPT_PUSH_OTLP_ENDPOINT, "push.otlp.endpoint",
	  offsetof(ember_push_opts, otlp_endpoint) },
	{ CLI_OPT_PUSH_SERVICE_NAME, "push.service-name",
	  offsetof(ember_push_opts, service_name) },
	{ CLI_OPT_PUSH_LABELS, "push.labels", offsetof(ember_push_opts, labels) },
};

static const char **slot(ember_push_opts *o, size_t i)
{
	return (const char **)((char *)o + flags[i].offset);
}

bool cli_push_take(ember_push_opts *o, int code, const char *arg)
{
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		if (flags[i].code == code) {
			*slot(o, i) = arg;
			return true;
		}
	}
	return false;
}

void cli_push_env(ember_push_opts *o)
{
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (!*slot(o, i))
			*slot(o, i) = cli_env_flag(flags[i].name);
}
