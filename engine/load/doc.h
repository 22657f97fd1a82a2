/*
 * doc.h — a YAML file read into a jansson tree that remembers where every
 * node came from, so that the validator can say `file:line:col`.
 *
 * Scalars follow YAML 1.2's core schema: only true/false are booleans (so
 * `on:` and `yes` stay strings), ~/null/empty are null, integers and floats
 * as written; quoted scalars are always strings. Mapping keys are strings.
 * Anchors and aliases work, with a bound on the expanded size.
 */
#ifndef RB_DOC_H
#define RB_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "diag.h"

/* Scalar styles kept in rb_mark_t.style. */
#define RB_STYLE_PLAIN   0
#define RB_STYLE_SQUOTE  1
#define RB_STYLE_DQUOTE  2
#define RB_STYLE_LITERAL 3
#define RB_STYLE_FOLDED  4

/* Limits on hostile input. */
#define RB_DOC_MAX_BYTES (4u << 20) /* a runbook file */
#define RB_DOC_MAX_NODES 200000u    /* after alias expansion */
#define RB_DOC_MAX_DEPTH 128u

typedef struct rb_doc rb_doc_t;

/* Reads and parses path. On failure returns a negative RB_E* and, when the
 * problem is in the file, a diagnostic in d; *out is NULL. */
int rb_doc_load_file(const char *path, rb_diags_t *d, rb_doc_t **out);

/* Same from memory; name is used in diagnostics. The text is copied. */
int rb_doc_load_string(const char *name, const char *text, size_t len, rb_diags_t *d,
                       rb_doc_t **out);

/* The same for a file that is not a runbook: an empty file is an error
 * "empty file: expected EXPECT" (e.g. "an inventory (…)"), or, with expect
 * NULL, a document whose root is null. */
int rb_doc_load_file_as(const char *path, const char *expect, rb_diags_t *d, rb_doc_t **out);
int rb_doc_load_string_as(const char *name, const char *expect, const char *text, size_t len,
                          rb_diags_t *d, rb_doc_t **out);

void rb_doc_free(rb_doc_t *doc);

json_t *rb_doc_root(const rb_doc_t *doc);            /* borrowed */
const char *rb_doc_name(const rb_doc_t *doc);        /* the file name given */
const char *rb_doc_source(const rb_doc_t *doc, size_t *len); /* the full text */

/* Where the root value starts. */
rb_mark_t rb_doc_root_mark(const rb_doc_t *doc);
/* Where the key `key` of object obj is written, and where its value starts. */
rb_mark_t rb_doc_key_mark(const rb_doc_t *doc, const json_t *obj, const char *key);
rb_mark_t rb_doc_val_mark(const rb_doc_t *doc, const json_t *obj, const char *key);
/* Where item idx of array arr starts. */
rb_mark_t rb_doc_item_mark(const rb_doc_t *doc, const json_t *arr, size_t idx);

/* The position of byte `offset` inside the string value that starts at m
 * (as given by the functions above): accounts for the opening quote and for
 * block scalars. Used to point inside an expression. */
rb_mark_t rb_doc_offset_mark(const rb_doc_t *doc, rb_mark_t m, size_t offset);

#endif
