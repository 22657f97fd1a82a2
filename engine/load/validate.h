/*
 * validate.h — the shape of runbook/v1: which keys exist where and what type
 * each value has. The one C description of the format; runbook.c compiles a
 * tree only after this has passed it.
 */
#ifndef RB_VALIDATE_H
#define RB_VALIDATE_H

#include "diag.h"
#include "doc.h"

/* Checks the whole tree: unknown keys (with "did you mean"), missing
 * required keys, wrong types, bad durations, unknown actions and the
 * actions' own parameter checks. Adds diagnostics; returns the number of
 * errors it added. */
size_t rb__validate_shape(const rb_doc_t *doc, rb_diags_t *d);

/* "a list", "a string", … for messages. */
const char *rb__json_type_name(const json_t *v);


#endif
