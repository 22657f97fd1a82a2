/*
 * refs.c — the checks of names in a runbook being compiled: every name an
 * expression or template reads (params, steps, checks, item, the roots of
 * the context) must exist and be visible where it is read, and a
 * sub-runbook named by the `runbook` action must exist and declare the
 * params it is given. Adds diagnostics; owns nothing.
 */
#include "compile_int.h"

#include "catalog.h"
#include "host/action_host.h"

#include <string.h>

static const char *const roots[] = {"alert", "params", "checks", "steps", "item",
                                    "run",   "env",    "result", "event", NULL};

void rb__compile_on_ref(const char *root, const char *first, size_t offset, void *arg)
{
    compiler_t *c = arg;
    rb_runbook_t *rb = c->rb;
    rb_mark_t m = rb_doc_offset_mark(c->doc, c->at, offset);
    int known = 0;
    for (size_t i = 0; roots[i]; i++)
        known |= !strcmp(roots[i], root);
    if (!known && c->sc->result)
        return; /* a field of the action's result: `status == 200` */
    if (!known) {
        const char *best = NULL;
        int bd = 3;
        for (size_t i = 0; roots[i]; i++) {
            int dd = rb__edit_distance(root, roots[i]);
            if (dd < bd) {
                bd = dd;
                best = roots[i];
            }
        }
        if (best)
            ERR(c, m, "expression: unknown name \"%s\" (did you mean \"%s\"?)", root, best);
        else
            ERR(c, m,
                "expression: unknown name \"%s\" (names are alert, params, checks, steps, "
                "item, run, env, result, event)",
                root);
        return;
    }
    if (!strcmp(root, "item") && !c->sc->item) {
        ERR(c, m,
            "expression: \"item\" is set only in the action, verify and undo of a step "
            "with foreach");
        return;
    }
    if (!first)
        return;
    if (!strcmp(root, "steps")) {
        for (size_t i = 0; i < rb->nsteps; i++) {
            if (!rb->steps[i].name || strcmp(rb->steps[i].name, first))
                continue;
            if (c->sc->self && !strcmp(c->sc->self, first))
                return;
            if (i >= c->sc->steps_before)
                ERR(c, m, "expression: step \"%s\" comes later; its result is not known here",
                    first);
            return;
        }
        ERR(c, m, "expression: unknown step \"%s\"", first);
    } else if (!strcmp(root, "checks")) {
        size_t n = c->sc->checks == 2 ? rb->nchecks : c->sc->checks == 1 ? c->ncheck_detect : 0;
        for (size_t i = 0; i < rb->nchecks; i++)
            if (rb->checks[i].name && !strcmp(rb->checks[i].name, first)) {
                if (i >= n)
                    ERR(c, m, "expression: check \"%s\" has not run yet here", first);
                return;
            }
        ERR(c, m, "expression: unknown check \"%s\"", first);
    } else if (!strcmp(root, "params")) {
        for (size_t i = 0; i < rb->nparams; i++) {
            if (strcmp(rb->params[i].name, first))
                continue;
            if (i == c->params_before)
                ERR(c, m, "expression: the default of parameter \"%s\" refers to itself", first);
            else if (i > c->params_before)
                ERR(c, m,
                    "expression: parameter \"%s\" is declared later; a default may use "
                    "only the parameters declared before it (move \"%s\" up)",
                    first, first);
            return;
        }
        ERR(c, m, "expression: unknown parameter \"%s\" (declare it under params:)", first);
    }
}

/* 1 when s is exactly one {{ expression }} (blanks around allowed): the
 * one form of template that keeps the value's type, as a foreach needs. */
int rb__whole_template(const char *s)
{
    s += strspn(s, " \t\n");
    size_t n = strlen(s);
    while (n && strchr(" \t\n", s[n - 1]))
        n--;
    const char *close = strstr(s, "}}");
    return n >= 4 && !strncmp(s, "{{", 2) && close == s + n - 2 && !strstr(s + 2, "{{");
}

/* The `runbook` action of obj with a literal name: the sub-runbook must
 * exist beside this one (when this one's folder is known) and declare the
 * params given to it; its required params without a default must be
 * given. The sub-runbook is read, not loaded, so runbooks that name each
 * other cannot recurse. */
void rb__check_subrunbook(compiler_t *c, const json_t *obj)
{
    const json_t *with = json_object_get(obj, "with");
    const char *act = json_string_value(json_object_get(obj, "action"));
    const char *name = json_string_value(json_object_get(with, "name"));
    if (!act || strcmp(act, "runbook") || !name || strstr(name, "{{") || !c->rb->dir)
        return;
    size_t found = 0;
    json_t *root = rb__runbook_peek(c->rb->dir, name, &found);
    rb_mark_t nm = rb_doc_val_mark(c->doc, with, "name");
    if (!found)
        ERR(c, nm, "no runbook named \"%s\" in %s", name, c->rb->dir);
    else if (found > 1)
        ERR(c, nm, "%zu runbooks are named \"%s\" in %s", found, name, c->rb->dir);
    if (!root)
        return;
    const json_t *declared = json_object_get(root, "params");
    const json_t *given = json_object_get(with, "params");
    const char *k;
    json_t *v;
    if (json_is_object(given)) {
        json_object_foreach((json_t *)given, k, v) {
            if (!json_object_get(declared, k))
                ERR(c, rb_doc_key_mark(c->doc, given, k), "runbook \"%s\" has no parameter \"%s\"",
                    name, k);
        }
    }
    if (json_is_object(declared) && (json_is_object(given) || !given)) {
        json_object_foreach((json_t *)declared, k, v) {
            if (json_is_true(json_object_get(v, "required")) && !json_object_get(v, "default") &&
                !json_object_get(given, k))
                ERR(c, rb_doc_val_mark(c->doc, obj, "with"),
                    "runbook \"%s\" needs parameter \"%s\" (it is required and has no default)",
                    name, k);
        }
    }
    json_decref(root);
}
