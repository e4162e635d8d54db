/* ember/json.h — writing JSON strings (core/json.c): the one escaper every
 * JSON writer shares (the HTTP API's bodies, the UI's call trees). Strict
 * JSON: invalid UTF-8 becomes U+FFFD, control characters \u00XX. */
#ifndef EMBER_JSON_H
#define EMBER_JSON_H

#include "ember/buf.h"

/* Appends s as a quoted JSON string. */
void ember_json_string(ember_buf *b, const char *s);

#endif
