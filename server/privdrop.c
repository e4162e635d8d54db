/* server/privdrop.c — drops root after setup: setgroups/setgid/setuid with
 * PR_SET_KEEPCAPS, then capset to the few capabilities still needed, the
 * bounding and ambient sets emptied and no_new_privs set. Raw syscalls,
 * not libcap: three calls do not need a library. Must never: return 0
 * with the old uid regainable or with a capability outside the kept set.
 *
 * What is kept, and why (the perf events are already open, the port bound):
 *   CAP_SYS_PTRACE          /proc/PID/maps, /proc/PID/root/... of other users'
 *                           processes (ptrace "read" access checks)
 *   CAP_DAC_READ_SEARCH     read binaries and debug files not readable by
 *                           the user (through /proc/PID/root too)
 *   CAP_CHECKPOINT_RESTORE  open /proc/PID/map_files/ (mapped files that were
 *                           deleted or replaced since)
 *   CAP_SYSLOG              real addresses in /proc/kallsyms (kptr_restrict)
 * Not kept: CAP_PERFMON (reading the open rings needs none), CAP_SYS_ADMIN,
 * CAP_DAC_OVERRIDE (storage must be writable by the user), CAP_KILL.
 */
#include "server/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const int keep[] = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_CHECKPOINT_RESTORE,
			    CAP_SYSLOG };
const char privdrop_keep_names[] = "cap_sys_ptrace,cap_dac_read_search,cap_checkpoint_restore,"
				   "cap_syslog";

int privdrop_lookup(const char *name, privdrop_user *out, ember_error *err)
{
	memset(out, 0, sizeof *out);
	struct passwd pw, *res = NULL;
	char buf[4096];
	int e = getpwnam_r(name, &pw, buf, sizeof buf, &res);
	if (!res && name[0] && strspn(name, "0123456789") == strlen(name)) {
		uid_t uid = (uid_t)strtoul(name, NULL, 10);
		e = getpwuid_r(uid, &pw, buf, sizeof buf, &res);
	}
	if (!res)
		return ember_errorf(err, e ? e : ENOENT,
				    "--user '%s': no such user: create it (useradd -r %s) or give "
				    "an existing one",
				    name, name);
	if (pw.pw_uid == 0)
		return ember_errorf(err, EINVAL, "--user '%s': that is root: give an unprivileged "
				    "user", name);
	snprintf(out->name, sizeof out->name, "%s", pw.pw_name);
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	return 0;
}

static int cap_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	return (int)syscall(SYS_capget, &h, d);
}

static int cap_set(const struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	return (int)syscall(SYS_capset, &h, d);
}

int privdrop_to(const privdrop_user *u, ember_error *err)
{
	if (geteuid() != 0)
		return ember_errorf(err, EPERM, "--user %s: ember serve must start as root to drop to "
				    "another user; without root, give it the capabilities instead "
				    "(see README)", u->name);
	/* Bounding set: everything but the kept ones (needs CAP_SETPCAP, so first). */
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		bool kept = false;
		for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
			kept |= keep[i] == c;
		if (!kept && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return ember_errorf(err, errno, "--user %s: dropping capability %d from the "
					    "bounding set: %s", u->name, c, strerror(errno));
	}
	int ngroups = 64;
	gid_t groups[64];
	if (getgrouplist(u->name, u->gid, groups, &ngroups) < 0)
		ngroups = 64;   /* more than 64: keep the first 64 */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setgroups((size_t)ngroups, groups) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
	    setresuid(u->uid, u->uid, u->uid) < 0)
		return ember_errorf(err, errno, "--user %s: cannot change to uid %u gid %u: %s",
				    u->name, (unsigned)u->uid, (unsigned)u->gid, strerror(errno));
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		d[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
		d[keep[i] / 32].effective |= 1u << (keep[i] % 32);
	}
	if (cap_set(d) < 0)
		return ember_errorf(err, errno, "--user %s: capset(%s): %s", u->name,
				    privdrop_keep_names, strerror(errno));
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ember_errorf(err, errno, "--user %s: no_new_privs: %s", u->name,
				    strerror(errno));
	/* Verify: root is gone for good and nothing beyond the kept set. */
	struct __user_cap_data_struct now[2];
	if (setuid(0) == 0 || getuid() != u->uid || geteuid() != u->uid || getegid() != u->gid ||
	    cap_get(now) < 0)
		return ember_errorf(err, EPERM, "--user %s: the privilege drop did not hold",
				    u->name);
	for (int i = 0; i < 2; i++)
		if ((now[i].permitted & ~d[i].permitted) || (now[i].effective & ~d[i].effective) ||
		    now[i].inheritable)
			return ember_errorf(err, EPERM, "--user %s: capabilities beyond %s remain",
					    u->name, privdrop_keep_names);
	return 0;
}
