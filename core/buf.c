/* core/buf.c — the growable byte buffer of ember/buf.h. Keeps data
 * NUL-terminated; an allocation failure is sticky (oom) so long chains of
 * appends need one check at the end. */
#include "ember/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ember_buf_reserve(ember_buf *b, size_t extra)
{
	if (b->oom)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1) {
		if (cap > SIZE_MAX / 2) {
			b->oom = true;
			return false;
		}
		cap *= 2;
	}
	char *d = realloc(b->data, cap);
	if (!d) {
		b->oom = true;
		return false;
	}
	b->data = d;
	b->cap = cap;
	return true;
}

void ember_buf_append(ember_buf *b, const void *data, size_t len)
{
	if (!ember_buf_reserve(b, len))
		return;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void ember_buf_puts(ember_buf *b, const char *s)
{
	ember_buf_append(b, s, strlen(s));
}

void ember_buf_putc(ember_buf *b, char c)
{
	ember_buf_append(b, &c, 1);
}

void ember_buf_printf(ember_buf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	va_list ap;
	va_start(ap, fmt);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		ember_buf_append(b, tmp, (size_t)n);
		return;
	}
	if (!ember_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void ember_buf_reset(ember_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ember_buf_free(ember_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}
