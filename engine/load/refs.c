/*
 * refs.c — the checks of names in a runbook being compiled: every name an
 * expression or template reads (params, steps, checks, item, the roots of
 * the context) must exist and be visible where it is read, and a
 * sub-runbook named by the `runbook` action must exist, must not lead back
 * to this runbook, and must declare the params it is given. Adds
 * diagnostics; owns nothing.
 */
#include "compile_int.h"

#include "catalog.h"
#include "host/action_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const roots[] = {"alert", "params", "checks", "steps",     "item", "run",
                                    "env",   "result", "event",  "inventory", NULL};

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
                "item, run, env, result, event, inventory)",
                root);
        return;
    }
    if (c->params_before != SIZE_MAX && strcmp(root, "alert") && strcmp(root, "env") &&
        strcmp(root, "params")) {
        ERR(c, m,
            "expression: \"%s\" is not visible in a parameter's default (it may use alert, "
            "env and the parameters declared before it)",
            root);
        return;
    }
    if (!strcmp(root, "result") && !c->sc->result && !c->sc->result_root) {
        ERR(c, m,
            "expression: \"result\" is set only in expect, retry.until, verify and undo (a "
            "step's own result is steps.NAME)");
        return;
    }
    if (!strcmp(root, "event") && !c->sc->event) {
        ERR(c, m, "expression: \"event\" is set only in notify and escalate");
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

/* The literal name (no {{ }}) that the `runbook` action of obj starts, or
 * NULL when obj is not one. */
static const char *sub_name(const json_t *obj)
{
    const char *act = json_string_value(json_object_get(obj, "action"));
    const char *name = json_string_value(json_object_get(json_object_get(obj, "with"), "name"));
    return act && !strcmp(act, "runbook") && name && !strstr(name, "{{") ? name : NULL;
}

/* How many runbooks one check of a chain reads at most: each is a walk of
 * its folder, and a chain longer than this is stopped at run time anyway. */
#define MAX_CHAIN_READS 32

/* 1 when the runbook called name, looked up in dir (read, not loaded), is
 * self or starts it through the sub-runbooks it names literally (in its
 * checks, steps, verify and undo), each looked up in the folder of the
 * one that names it, as a run looks them up; then chain gets the names
 * from name to self. seen holds the names already read. */
static int leads_to(const char *dir, const char *name, const char *self, json_t *seen,
                    json_t *chain)
{
    if (json_object_get(seen, name) || json_object_size(seen) >= MAX_CHAIN_READS)
        return 0;
    json_object_set_new(seen, name, json_true());
    size_t found = 0;
    char *path = NULL;
    json_t *root = rb__runbook_peek(dir, name, &found, &path);
    char *slash = path ? strrchr(path, '/') : NULL;
    int hit = root && slash && !strcmp(name, self);
    if (root && slash && !hit) {
        slash[slash == path] = '\0'; /* its folder: where its own sub-runbooks are looked up */
        static const char *const lists[] = {"detect", "validate", "steps", NULL};
        for (size_t i = 0; lists[i] && !hit; i++) {
            size_t j;
            json_t *o;
            json_array_foreach(json_object_get(root, lists[i]), j, o) {
                const json_t *parts[] = {o, json_object_get(o, "verify"), json_object_get(o, "undo")};
                for (size_t k = 0; k < 3 && !hit; k++) {
                    const char *sub = sub_name(parts[k]);
                    hit = sub && leads_to(path, sub, self, seen, chain);
                }
                if (hit)
                    break;
            }
        }
    }
    if (hit)
        json_array_insert_new(chain, 0, json_string(name));
    free(path);
    json_decref(root);
    return hit;
}

/* An error when the sub-runbook name, named at m, is this runbook or
 * starts it again through its own sub-runbooks: every run would start one
 * more, without end (the run-time depth cap is only a backstop). */
static void check_cycle(compiler_t *c, const char *name, rb_mark_t m)
{
    const char *self = c->rb->name;
    json_t *seen = json_object(), *chain = json_array();
    int hit = leads_to(c->rb->dir, name, self, seen, chain);
    if (hit && !strcmp(name, self)) {
        ERR(c, m, "runbook \"%s\" starts itself as a sub-runbook: every run would start another",
            self);
    } else if (hit) {
        char way[512];
        size_t n = (size_t)snprintf(way, sizeof(way), "%s", self);
        size_t i;
        json_t *v;
        json_array_foreach(chain, i, v) {
            if (n < sizeof(way))
                n += (size_t)snprintf(way + n, sizeof(way) - n, " -> %s", json_string_value(v));
        }
        ERR(c, m, "runbook \"%s\" starts this runbook again (%s): every run would start another",
            name, way);
    }
    json_decref(chain);
    json_decref(seen);
}

/* The `runbook` action of obj with a literal name: the sub-runbook must
 * exist beside this one (when this one's folder is known), must not lead
 * back to this one, and must declare the params given to it; its required
 * params without a default must be given. The sub-runbook is read, not
 * loaded, so runbooks that name each other cannot recurse. */
void rb__check_subrunbook(compiler_t *c, const json_t *obj)
{
    const json_t *with = json_object_get(obj, "with");
    const char *name = sub_name(obj);
    if (!name || !c->rb->dir)
        return;
    size_t found = 0;
    json_t *root = rb__runbook_peek(c->rb->dir, name, &found, NULL);
    rb_mark_t nm = rb_doc_val_mark(c->doc, with, "name");
    if (!found)
        ERR(c, nm, "no runbook named \"%s\" in %s", name, c->rb->dir);
    else if (found > 1)
        ERR(c, nm, "%zu runbooks are named \"%s\" in %s", found, name, c->rb->dir);
    if (!root)
        return;
    check_cycle(c, name, nm);
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
