/* ember/buf.h — a growable byte buffer, the one way ember builds text and
 * binary output in memory (exposition, folded stacks, JSON, encoded pprof).
 *
 * Invariant: data[len] == '\0' whenever data != NULL, so text can be used as a
 * C string; len never counts that terminator. An allocation failure is sticky:
 * once oom is set, appends are ignored and ember_buf_ok() returns false.
 */
#ifndef EMBER_BUF_H
#define EMBER_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ember_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom;
} ember_buf;

#define EMBER_BUF_INIT { NULL, 0, 0, false }

void ember_buf_append(ember_buf *b, const void *data, size_t len);
void ember_buf_puts(ember_buf *b, const char *s);
void ember_buf_putc(ember_buf *b, char c);
void ember_buf_printf(ember_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Ensure room for `extra` more bytes; false on allocation failure. */
bool ember_buf_reserve(ember_buf *b, size_t extra);
void ember_buf_reset(ember_buf *b);          /* len = 0, keeps memory */
void ember_buf_free(ember_buf *b);           /* releases memory, back to INIT */
static inline bool ember_buf_ok(const ember_buf *b) { return !b->oom; }

#endif
