/* ember/utf8.h — UTF-8 validity, shared by every writer of text that peers
 * parse strictly (exposition formats, JSON): invalid bytes must never pass
 * through, they become U+FFFD. */
#ifndef EMBER_UTF8_H
#define EMBER_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at s, or 0 when the bytes at s
 * are not one (overlong forms, surrogates, code points past U+10FFFF, a
 * truncated sequence). s must be NUL-terminated; *s == 0 gives 1. */
size_t ember_utf8_seq(const char *s);

/* The replacement character U+FFFD, UTF-8 encoded. */
#define EMBER_UTF8_REPLACEMENT "\xef\xbf\xbd"

#endif
