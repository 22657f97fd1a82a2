/*
 * param.h — the types a runbook parameter may declare (`type:` under
 * params) and how a value becomes one: text from `--param k=v`, a default
 * as written, or a default rendered from a template. The one place that
 * knows what `int`, `list` or `duration` accept (docs/authoring.md#params).
 */
#ifndef RB_PARAM_H
#define RB_PARAM_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    RB_PTYPE_STRING = 0, /* the default */
    RB_PTYPE_INT,
    RB_PTYPE_NUMBER,
    RB_PTYPE_BOOL,
    RB_PTYPE_LIST,
    RB_PTYPE_DURATION,
} rb_ptype_t;

/* "string", "int" … for messages; the names `type:` accepts, NULL-ended. */
extern const char *const rb__ptype_names[];

/* The type called name, or -1. */
int rb__ptype_find(const char *name);

/*
 * v as a value of type t (a new reference), or NULL with err. A string is
 * parsed as text: an int as a decimal integer, a number as a decimal, a
 * bool as true or false, a list as a JSON array or as comma-separated text
 * (items trimmed; "" is the empty list), a duration as "30s" or "1h30m"
 * (kept as the text, checked). Any other JSON value must already have the
 * type (an integer is also a number; a duration may be whole seconds).
 * A string param takes any scalar as its text. Borrows v. Any thread.
 */
json_t *rb__param_value(rb_ptype_t t, const json_t *v, char *err, size_t errlen);

/* 1 when v counts as no value for `required: true`: absent, null, "", or
 * an empty list. */
int rb__param_empty(const json_t *v);

#endif
