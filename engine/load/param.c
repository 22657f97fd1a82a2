/*
 * param.c — parameter types: parsing text and checking values (see
 * param.h). Owns nothing past the call; knows nothing of runs.
 */
#define _GNU_SOURCE /* strchrnul */
#include "param.h"

#include <runbook/action.h>
#include <runbook/runbook.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rb__ptype_names[] = {"string", "int", "number", "bool", "list", "duration", NULL};

int rb__ptype_find(const char *name)
{
    for (int i = 0; name && rb__ptype_names[i]; i++)
        if (!strcmp(rb__ptype_names[i], name))
            return i;
    return -1;
}

/* A comma-separated list: each item trimmed of blanks, "" the empty list. */
static json_t *split_list(const char *s)
{
    json_t *a = json_array();
    if (!s[strspn(s, " \t")])
        return a;
    for (const char *p = s;;) {
        const char *comma = strchrnul(p, ',');
        const char *b = p, *e = comma;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        json_array_append_new(a, json_stringn(b, (size_t)(e - b)));
        if (!*comma)
            return a;
        p = comma + 1;
    }
}

/* Text as a value of type t, or NULL. */
static json_t *from_text(rb_ptype_t t, const char *s)
{
    char *end;
    uint64_t ms;
    errno = 0;
    switch (t) {
    case RB_PTYPE_INT: {
        long long n = strtoll(s, &end, 10);
        return *s && !*end && !errno ? json_integer(n) : NULL;
    }
    case RB_PTYPE_NUMBER: {
        double d = strtod(s, &end);
        if (!*s || *end || errno || !isfinite(d))
            return NULL;
        return d == floor(d) && fabs(d) < 9e15 ? json_integer((json_int_t)d) : json_real(d);
    }
    case RB_PTYPE_BOOL:
        return !strcmp(s, "true") ? json_true() : !strcmp(s, "false") ? json_false() : NULL;
    case RB_PTYPE_LIST: {
        if (s[strspn(s, " \t")] == '[') {
            json_t *a = json_loads(s, JSON_DECODE_ANY, NULL);
            if (json_is_array(a))
                return a;
            json_decref(a);
            return NULL;
        }
        return split_list(s);
    }
    case RB_PTYPE_DURATION:
        return rb_duration_parse(s, &ms) == 0 ? json_string(s) : NULL;
    default:
        return json_string(s);
    }
}

json_t *rb__param_value(rb_ptype_t t, const json_t *v, char *err, size_t errlen)
{
    json_t *out = NULL;
    uint64_t ms;
    if (json_is_string(v)) {
        /* A string stays the very string, NUL bytes and all; any other type
         * is parsed from text, which a NUL would cut short: refused. */
        const char *txt = json_string_value(v);
        if (t == RB_PTYPE_STRING)
            out = json_incref((json_t *)v);
        else if (strlen(txt) == json_string_length(v))
            out = from_text(t, txt);
    } else if (t == RB_PTYPE_STRING) {
        out = json_is_number(v) || json_is_boolean(v) ? json_incref((json_t *)v) : NULL;
        if (out) {
            char *txt = json_dumps(v, JSON_ENCODE_ANY);
            json_decref(out);
            out = json_string(txt ? txt : "");
            free(txt);
        }
    } else if ((t == RB_PTYPE_INT && json_is_integer(v)) ||
               (t == RB_PTYPE_NUMBER && json_is_number(v)) ||
               (t == RB_PTYPE_BOOL && json_is_boolean(v)) ||
               (t == RB_PTYPE_LIST && json_is_array(v)) ||
               (t == RB_PTYPE_DURATION && json_is_integer(v) && rb_duration_value(v, &ms) == 0)) {
        out = json_incref((json_t *)v);
    }
    if (!out) {
        static const char *const want[] = {"text",
                                           "a whole number (like 3)",
                                           "a number (like 2.5)",
                                           "true or false",
                                           "a list (a JSON array, or comma-separated text)",
                                           "a duration (like 30s, 5m, 1h30m)"};
        char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(err, errlen, "%s is not %s %s: want %s", txt ? txt : "the value",
                 t == RB_PTYPE_INT ? "an" : "a", rb__ptype_names[t], want[t]);
        free(txt);
    }
    return out;
}

int rb__param_empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)) ||
           (json_is_array(v) && !json_array_size(v));
}
