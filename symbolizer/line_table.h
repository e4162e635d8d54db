/* symbolizer/line_table.h — private to symbolizer/: one CU's DWARF line
 * program (.debug_line, versions 2 to 5) decoded straight into rows
 * (line_table.c). */
#ifndef EMBER_SYMBOLIZER_LINE_TABLE_H
#define EMBER_SYMBOLIZER_LINE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/buf.h"

typedef struct lt_sections {
	const uint8_t *line; /* .debug_line */
	size_t line_len;
	const uint8_t *str; /* .debug_str (DW_FORM_strp) */
	size_t str_len;
	const uint8_t *line_str; /* .debug_line_str (DW_FORM_line_strp) */
	size_t line_str_len;
} lt_sections;

/* A row as the line program emits it. Within one sequence, a row that a
 * later row (or the end) at the same address makes empty is dropped, so
 * every row covers [addr, next row of its sequence). */
typedef struct lt_row {
	uint64_t addr;
	uint32_t file; /* index into the unit's file table */
	uint32_t line;
	uint32_t column;
	uint32_t disc;
	bool end; /* end_sequence: no line from here on */
} lt_row;

typedef struct lt_unit {
	char **files; /* full paths as binutils prints them; NULL entries for
	               * invalid indices (file 0 before DWARF 5) */
	size_t n_files;
} lt_unit;

/* Decodes the line program at `offset`. Appends rows to *rows (lt_row) and
 * the index of each sequence's first row to *seqs (size_t). Relative paths
 * are joined to their directory and then to comp_dir (may be NULL). The
 * caller owns out->files and every string in it (lt_unit_free). Returns 0,
 * -EINVAL for a malformed program (rows read so far are kept), -ENOMEM. */
int line_table_read(const lt_sections *s, uint64_t offset, const char *comp_dir, ember_buf *rows,
                    ember_buf *seqs, lt_unit *out);
void lt_unit_free(lt_unit *u);

#endif
