/* ember/error.h — how every fallible ember function reports failure.
 *
 * Convention: a function returns 0 (or a non-negative result) on success and a
 * negative errno on failure, and fills the caller's ember_error with one line
 * that names the cause and, where there is one, the fix. The error pointer may
 * be NULL when the caller does not want the text. No library code calls exit().
 */
#ifndef EMBER_ERROR_H
#define EMBER_ERROR_H

#include <stddef.h>

typedef struct ember_error {
	int code;        /* positive errno of the failure, 0 if none */
	char msg[512];   /* one line, no trailing newline */
} ember_error;

/* Formats the message into err (if non-NULL) and returns -abs(code), or -EIO
 * when code is 0, so callers can write `return ember_errorf(err, ENOMEM, ...)`. */
int ember_errorf(ember_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (for context while unwinding). */
void ember_error_prefix(ember_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
