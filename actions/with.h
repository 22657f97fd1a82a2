/*
 * with.h — what the built-in actions share to read and check their `with`
 * parameters. Internal to the built-in actions (an external module has the ABI in
 * include/runbook/action.h and its own helpers).
 */
#ifndef RB_ACTIONS_WITH_H
#define RB_ACTIONS_WITH_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runbook/action.h>
#include <runbook/runbook.h>

/* An action's check of `with` that stops at its first problem: 0, or
 * RB_EINVAL with msg and *key (the offending key, or NULL). rendered: the
 * values are rendered (a start), not templates (a load). */
typedef int (*rb__with_check_fn)(const json_t *with, int rendered, char *msg, size_t msglen,
                                 const char **key);

/* validate_all from such a check (with.c): every problem of `with`, each
 * reported once at its key, by checking again with each offending value
 * set aside. A problem at stop_key (NULL: none) ends it: the other checks
 * depend on that value. Returns how many were reported. */
int rb__with_check_all(const json_t *with, rb__with_check_fn check, const char *stop_key,
                       rb_action_report_fn report, void *arg);

/* A parameter's value; an explicit null means "not given". */
static inline const json_t *rb__with_get(const json_t *with, const char *key)
{
    const json_t *v = json_object_get(with, key);
    return json_is_null(v) ? NULL : v;
}

/* A string that will still be rendered. After rendering, "{{" is literal
 * text (it may have come from an alert label) and means nothing here. */
static inline int rb__with_unrendered(const json_t *v, int rendered)
{
    return !rendered && json_is_string(v) && strstr(json_string_value(v), "{{") != NULL;
}

/* A string holding a NUL byte: C code that takes it as a path, an argument,
 * a name or a word would see only what comes before the NUL, so such a
 * value is refused, never cut. */
static inline int rb__with_has_nul(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v);
}

/* A port: an integer 1..65535, or its decimal text (a template that renders
 * to a string such as an alert label). 0 with *port, or -1. */
static inline int rb__with_port(const json_t *v, int *port)
{
    long p = -1;
    if (json_is_integer(v)) {
        p = json_integer_value(v) >= 0 && json_integer_value(v) <= 65535
                ? (long)json_integer_value(v)
                : -1;
    } else if (json_is_string(v) && !rb__with_has_nul(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (*s >= '0' && *s <= '9' && strlen(s) <= 5) {
            p = strtol(s, &end, 10);
            if (*end)
                p = -1;
        }
    }
    if (p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

/* In a check function with parameters (…, char *msg, size_t msglen,
 * const char **key): says what is wrong with parameter k and returns
 * RB_EINVAL. */
#define RB__WITH_FAIL(k, ...)                                                                      \
    do {                                                                                           \
        snprintf(msg, msglen, __VA_ARGS__);                                                        \
        if (key)                                                                                   \
            *key = (k);                                                                            \
        return RB_EINVAL;                                                                          \
    } while (0)

#endif
