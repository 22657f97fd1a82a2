/*
 * with.c — every problem of an action's `with` in one pass, for the
 * built-in actions whose load-time check stops at the first (validate_all
 * in the action ABI, include/runbook/action.h).
 *
 * Owns nothing past a call: it works on a copy of `with` and reports
 * through the caller's function. Must never change the caller's `with`.
 */
#include "with.h"

/* A value set aside: a template, which the load-time checks leave to the
 * check of the rendered value. */
#define WITH_PLACEHOLDER "{{ set-aside }}"

int rb__with_check_all(const json_t *with, rb__with_check_fn check, const char *stop_key,
                       rb_action_report_fn report, void *arg)
{
    char msg[512], last[512] = "";
    const char *key = NULL;
    json_t *w = json_is_object(with) ? json_deep_copy(with) : NULL;
    int n = 0;
    if (!w) {
        if (check(with, 0, msg, sizeof msg, &key) < 0)
            report(arg, key, msg), n++;
        return n;
    }
    /* The check stops at the first problem: after each, the offending value
     * is set aside — made a template, or taken out when it already is one —
     * and `with` checked again. */
    for (int round = 0; round < 64; round++) {
        msg[0] = 0;
        key = NULL;
        if (check(w, 0, msg, sizeof msg, &key) == 0)
            break;
        int again = key && !strcmp(msg, last);
        if (!again) /* the same problem, found again once its value was set aside */
            report(arg, key, msg), n++;
        snprintf(last, sizeof last, "%s", msg);
        if (!key || (stop_key && !strcmp(key, stop_key)) || (again && !json_object_get(w, key)))
            break;
        const char *v = json_string_value(json_object_get(w, key));
        /* A value found wrong again, or a placeholder, goes; anything else
         * (a required one that is missing included: as if it were there)
         * becomes the placeholder. */
        if (json_object_get(w, key) && (again || (v && !strcmp(v, WITH_PLACEHOLDER))))
            json_object_del(w, key);
        else
            json_object_set_new(w, key, json_string(WITH_PLACEHOLDER));
    }
    json_decref(w);
    return n;
}
