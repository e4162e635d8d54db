/* server/privdrop.h — `ember serve --user NAME`: after the perf events are open
 * and the port is bound, become NAME and keep only the capabilities that
 * sampling and symbolizing still need (server/privdrop.c). */
#ifndef EMBER_CLI_PRIVDROP_H
#define EMBER_CLI_PRIVDROP_H

#include <sys/types.h>

#include "ember/error.h"

typedef struct privdrop_user {
	char name[64];
	uid_t uid;
	gid_t gid;
} privdrop_user;

/* NAME (or a numeric uid) -> uid and primary gid. -ENOENT: no such user. */
int privdrop_lookup(const char *name, privdrop_user *out, ember_error *err);

/* Becomes u (supplementary groups, gid, uid) and keeps only the
 * capabilities of privdrop_keep_caps in the calling thread; threads
 * created before lose every capability, threads created after inherit the
 * kept ones. Needs root (CAP_SETUID, CAP_SETGID, CAP_SETPCAP). Verifies the
 * result: afterwards the uid cannot be regained. */
int privdrop_to(const privdrop_user *u, ember_error *err);

/* The names of the capabilities kept, for messages: "cap_sys_ptrace,...". */
extern const char privdrop_keep_names[];

#endif
