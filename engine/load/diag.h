/*
 * diag.h — compiler-style diagnostics: `file:line:col: error: message`.
 * Every user-facing problem with an input file goes through here, so that
 * the text form and `--format json` say the same thing.
 */
#ifndef RB_DIAG_H
#define RB_DIAG_H

#include <jansson.h>
#include <stdio.h>
#include <stdint.h>

/* A source position: 1-based line and column; 0 when unknown. style is the
 * YAML scalar style of the value that starts there (see doc.h). */
typedef struct rb_mark {
    uint32_t line;
    uint32_t col;
    uint8_t style;
} rb_mark_t;

typedef enum { RB_DIAG_ERROR = 0, RB_DIAG_WARNING = 1 } rb_diag_level_t;

typedef struct rb_diags rb_diags_t;

rb_diags_t *rb_diags_new(void);
void rb_diags_free(rb_diags_t *d);

/* Adds a diagnostic. file is copied. Past a cap (100 per file) further
 * diagnostics are counted but not stored. */
void rb_diag_add(rb_diags_t *d, rb_diag_level_t level, const char *file, rb_mark_t at,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

size_t rb_diags_errors(const rb_diags_t *d);
size_t rb_diags_warnings(const rb_diags_t *d);

/* Prints every diagnostic, in the order of the file positions of each file. */
void rb_diags_print(const rb_diags_t *d, FILE *f, int color);

/* Diagnostic i (0 … rb_diags_count - 1) in the order added, with its mark
 * as given (line 0: about the file as a whole). Strings borrowed. */
size_t rb_diags_count(const rb_diags_t *d);
void rb_diags_get(const rb_diags_t *d, size_t i, rb_diag_level_t *level, const char **file,
                  rb_mark_t *at, const char **msg);

/* [{file, line, col, level, message}] — a new reference. */
json_t *rb_diags_json(const rb_diags_t *d);

#endif
