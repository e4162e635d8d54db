/* core/json.c — the JSON string escaper of ember/json.h. Owns: quoting and
 * escaping. Must never: let a byte that is not valid UTF-8 through (a
 * client's strict decoder would reject the whole body). */
#include "ember/json.h"
#include "ember/utf8.h"

void ember_json_string(ember_buf *b, const char *s)
{
	ember_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t k = ember_utf8_seq((const char *)p);
		if (k == 0) {
			ember_buf_puts(b, EMBER_UTF8_REPLACEMENT);
			p++;
			continue;
		}
		if (*p == '"' || *p == '\\')
			ember_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			ember_buf_printf(b, "\\u%04x", *p);
		else
			ember_buf_append(b, p, k);
		p += k;
	}
	ember_buf_putc(b, '"');
}
