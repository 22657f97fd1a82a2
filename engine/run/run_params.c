/*
 * run_params.c — a run's parameters (docs/authoring.md#params): the values
 * given are checked against the runbook's declarations and made their
 * declared types, defaults fill the rest in declaration order, and required
 * ones must not be empty.
 *
 * Owns nothing past the call: the values live in the run's context.
 */
#include "run_int.h"

#include <stdio.h>
#include <string.h>

/* params.<name> of every declared parameter, in declaration order: the
 * value given (made the declared type), else its default (a template is
 * rendered with the alert and the params before it; one that renders empty,
 * as from an absent label, is no value). A required one must end up with a
 * value that is not empty. 0, or RB_EINVAL with err naming the parameter. */
static int resolve(rb_run_t *r, const json_t *given, char *err, size_t errlen)
{
    json_t *params = json_object_get(r->ctx, "params");
    for (size_t i = 0; i < rb_runbook_nparams(r->rb); i++) {
        const rb_param_t *p = rb_runbook_param(r->rb, i);
        const json_t *g = json_object_get(given, p->name);
        json_t *val = NULL;
        char e[200] = "";
        if (g) {
            if (!(val = rb__param_value(p->type, g, e, sizeof(e)))) {
                snprintf(err, errlen, "parameter \"%s\": %s", p->name, e);
                return RB_EINVAL;
            }
        } else if (p->def) {
            json_t *txt = rb_tmpl_render(p->def, r->ctx, 0, e, sizeof(e));
            if (!txt) {
                snprintf(err, errlen, "default of parameter \"%s\": %s", p->name, e);
                return RB_EINVAL;
            }
            if (!rb__param_empty(txt) && !(val = rb__param_value(p->type, txt, e, sizeof(e)))) {
                snprintf(err, errlen, "default of parameter \"%s\": %s", p->name, e);
                json_decref(txt);
                return RB_EINVAL;
            }
            json_decref(txt);
        } else if (p->def_lit) {
            val = json_incref(p->def_lit);
        }
        if (p->required && rb__param_empty(val)) {
            snprintf(err, errlen, "parameter \"%s\" is required%s (give --param %s=VALUE)",
                     p->name, val ? " and may not be empty" : "", p->name);
            json_decref(val);
            return RB_EINVAL;
        }
        if (val)
            json_object_set_new(params, p->name, val);
    }
    return 0;
}

int rb__run_params(rb_run_t *r, const json_t *given, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)given, k, v) {
        size_t i = 0;
        while (i < rb_runbook_nparams(r->rb) && strcmp(rb_runbook_param(r->rb, i)->name, k))
            i++;
        if (i == rb_runbook_nparams(r->rb)) {
            snprintf(err, errlen, "runbook %s has no parameter \"%s\"", rb_runbook_name(r->rb), k);
            return RB_EINVAL;
        }
    }
    return resolve(r, given, err, errlen);
}
