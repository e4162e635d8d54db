/* cli/args.c — parsers for flag values shared by the subcommands (durations,
 * sizes, pid lists, EMBER_* environment fallbacks). Pure functions; no I/O. */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_duration(const char *s, uint64_t *out_ns)
{
	if (!s || !*s)
		return -EINVAL;
	if (strspn(s, "0123456789.") == strlen(s)) {   /* bare number: seconds */
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		if (errno || *end || !(v > 0) || v > 1e9)
			return -EINVAL;
		*out_ns = (uint64_t)(v * 1e9);
		return *out_ns ? 0 : -EINVAL;
	}
	uint64_t total = 0;
	const char *p = s;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (errno || end == p || v < 0)
			return -EINVAL;
		p = end;
		double mult;
		if (strncmp(p, "ms", 2) == 0) {
			mult = 1e6;
			p += 2;
		} else if (strncmp(p, "us", 2) == 0) {
			mult = 1e3;
			p += 2;
		} else if (strncmp(p, "ns", 2) == 0) {
			mult = 1;
			p += 2;
		} else if (*p == 's') {
			mult = 1e9;
			p++;
		} else if (*p == 'm') {
			mult = 60e9;
			p++;
		} else if (*p == 'h') {
			mult = 3600e9;
			p++;
		} else if (*p == 'd') {
			mult = 86400e9;
			p++;
		} else
			return -EINVAL;
		double ns = v * mult;
		if (ns > 1e18 || total + (uint64_t)ns < total)
			return -EINVAL;
		total += (uint64_t)ns;
	}
	if (total == 0)
		return -EINVAL;
	*out_ns = total;
	return 0;
}

int cli_parse_pids(const char *s, pid_t **out, size_t *n)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	pid_t *pids = calloc(cap, sizeof *pids);
	if (!pids)
		return -ENOMEM;
	size_t k = 0;
	const char *p = s;
	while (1) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char tmp[24];
		uint64_t v;
		if (len == 0 || len >= sizeof tmp)
			goto bad;
		memcpy(tmp, p, len);
		tmp[len] = '\0';
		if (cli_parse_uint(tmp, 1, 4194304, &v) < 0)
			goto bad;
		pids[k++] = (pid_t)v;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = pids;
	*n = k;
	return 0;
bad:
	free(pids);
	return -EINVAL;
}

int cli_parse_bytes(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	uint64_t mult = 1;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1ULL << 10; break;
		case 'M': mult = 1ULL << 20; break;
		case 'G': mult = 1ULL << 30; break;
		case 'T': mult = 1ULL << 40; break;
		case 'B': mult = 1; end--; break;
		default: return -EINVAL;
		}
		end++;
		if (strcmp(end, "") && strcmp(end, "B") && strcmp(end, "iB") && strcmp(end, "b"))
			return -EINVAL;
	}
	if (v && mult > UINT64_MAX / v)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

bool cli_env_name(const char *flag_name, char *out, size_t size)
{
	size_t k = 0;
	for (const char *p = "EMBER_"; *p && k + 1 < size; p++)
		out[k++] = *p;
	for (const char *p = flag_name; *p && k + 1 < size; p++)
		out[k++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
	if (size)
		out[k < size ? k : size - 1] = '\0';
	return size && k + 1 < size;
}

const char *cli_env_flag(const char *flag_name)
{
	char name[128];
	if (!cli_env_name(flag_name, name, sizeof name))
		return NULL;
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}
