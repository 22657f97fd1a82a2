/*
 * trigger.c — matching an alert's labels against a runbook's `triggers`
 * (label equality, or "=~" and a regular expression anchored as
 * Alertmanager anchors it). Works on the document as written, so that an
 * invalid runbook an alert would start can be found and reported
 * (catalog.c). Owns nothing past the call.
 */
#define _GNU_SOURCE /* asprintf */
#include "runbook.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pattern of a "=~" matcher value, or NULL when it is an equality. */
static const char *regex_of(const char *val)
{
    return val && !strncmp(val, "=~", 2) ? val + 2 + strspn(val + 2, " ") : NULL;
}

/* Compiles a matcher's pattern anchored, as Alertmanager's matchers are.
 * Returns regcomp's code. */
static int regex_compile(regex_t *re, const char *pat)
{
    char *anchored;
    if (asprintf(&anchored, "^(%s)$", pat) < 0)
        return REG_ESPACE;
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    return rc;
}

int rb__trigger_check(const char *val, char *why, size_t whylen)
{
    const char *pat = regex_of(val);
    regex_t re;
    int rc = pat ? regex_compile(&re, pat) : 0;
    if (!pat)
        return 0;
    if (!rc) {
        regfree(&re);
        return 0;
    }
    char e[100];
    regerror(rc, &re, e, sizeof(e));
    snprintf(why, whylen, "invalid regular expression \"%s\": %s", pat, e);
    return RB_EINVAL;
}

int rb__triggers_match(const json_t *triggers, const json_t *alert)
{
    const json_t *labels = json_object_get(alert, "labels");
    for (size_t i = 0; i < json_array_size(triggers); i++) {
        const json_t *match = json_object_get(json_array_get(triggers, i), "match");
        if (!json_is_object(match) || !json_object_size(match))
            continue;
        int all = 1;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)match, k, v) {
            const char *want = json_string_value(v), *pat = regex_of(want);
            const char *have = json_string_value(json_object_get(labels, k));
            regex_t re;
            if (pat) {
                all = regex_compile(&re, pat) == 0;
                if (all) {
                    all = regexec(&re, have ? have : "", 0, NULL, 0) == 0;
                    regfree(&re);
                }
            } else {
                all = want && have && !strcmp(have, want);
            }
            if (!all)
                break;
        }
        if (all)
            return 1;
    }
    return 0;
}
