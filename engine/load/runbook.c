/*
 * runbook.c — compiles a validated document into an rb_runbook_t (see
 * runbook.h): expressions and templates compiled once, durations parsed,
 * `run:` shorthand turned into exec parameters, and the checks that need
 * the whole runbook: duplicate names, goto targets. References in
 * expressions and sub-runbooks are checked by refs.c.
 *
 * Owns: every allocation of a compiled runbook. Never runs anything.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "runbook.h"

#include "compile_int.h"
#include "host/action_host.h"
#include "doc.h"
#include "validate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TV_LIT, TV_TMPL, TV_OBJ, TV_ARR };

struct rb_tvalue {
    int kind;
    int flags; /* rb_tmpl_render flags, TV_TMPL */
    json_t *lit;
    rb_tmpl_t *t;
    size_t n;
    char **keys;
    rb_tvalue_t *kids;
};

/* Compiles the expression in string value v (at mark m). */
static rb_expr_t *compile_expr(compiler_t *c, const json_t *v, rb_mark_t m, const scope_t *sc)
{
    if (!json_is_string(v))
        return NULL;
    rb_expr_error_t e;
    rb_expr_t *x = rb_expr_compile(json_string_value(v), json_string_length(v), &e);
    if (!x) {
        ERR(c, rb_doc_offset_mark(c->doc, m, e.offset), "expression: %s", e.msg);
        return NULL;
    }
    c->sc = sc;
    c->at = m;
    rb_expr_refs(x, rb__compile_on_ref, c);
    return x;
}

static rb_expr_t *keep_expr(compiler_t *c, const json_t *obj, const char *key, const scope_t *sc)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    return compile_expr(c, v, rb_doc_val_mark(c->doc, obj, key), sc);
}

/* Compiles the template in string value v (at mark m) and checks its
 * references in scope sc; NULL after a diagnostic. */
static rb_tmpl_t *compile_tmpl(compiler_t *c, const json_t *v, rb_mark_t m, const scope_t *sc)
{
    rb_expr_error_t e;
    rb_tmpl_t *t = rb_tmpl_compile(json_string_value(v), json_string_length(v), &e);
    if (!t) {
        ERR(c, rb_doc_offset_mark(c->doc, m, e.offset), "template: %s", e.msg);
        return NULL;
    }
    c->sc = sc;
    c->at = m;
    rb_tmpl_refs(t, rb__compile_on_ref, c);
    return t;
}

static void tvalue_clear(rb_tvalue_t *tv)
{
    json_decref(tv->lit);
    rb_tmpl_free(tv->t);
    for (size_t i = 0; i < tv->n; i++) {
        if (tv->keys)
            free(tv->keys[i]);
        tvalue_clear(&tv->kids[i]);
    }
    free(tv->keys);
    free(tv->kids);
}

static void tvalue_free(rb_tvalue_t *tv)
{
    if (!tv)
        return;
    tvalue_clear(tv);
    free(tv);
}

/* Builds a template tree for v (at mark m). flags apply to strings. */
/* How the templates of parameter k of action a render: a command line for
 * a shell (RB_PARAM_SHELL) has every interpolated value shell-quoted, as
 * `run: "…"` has. */
static int param_flags(const rb_action_t *a, const char *k)
{
    for (const rb_action_param_t *p = a ? a->params : NULL; p && p->name; p++)
        if (!strcmp(p->name, k))
            return p->type == RB_PARAM_SHELL ? RB_TMPL_SHELL_QUOTE : 0;
    return 0;
}

static int tvalue_build(compiler_t *c, rb_tvalue_t *tv, const json_t *v, rb_mark_t m, int flags,
                        const scope_t *sc)
{
    memset(tv, 0, sizeof(*tv));
    if (json_is_string(v) && strstr(json_string_value(v), "{{")) {
        if (!(tv->t = compile_tmpl(c, v, m, sc)))
            return -1;
        tv->kind = TV_TMPL;
        tv->flags = flags;
        rb_expr_error_t e;
        if ((flags & RB_TMPL_SHELL_QUOTE) && rb_tmpl_shell_check(tv->t, &e) < 0) {
            ERR(c, rb_doc_offset_mark(c->doc, m, e.offset), "shell command: %s", e.msg);
            return -1;
        }
        return 0;
    }
    if (json_is_object(v) && json_object_size(v)) {
        tv->kind = TV_OBJ;
        tv->n = json_object_size(v);
        tv->keys = calloc(tv->n, sizeof(char *));
        tv->kids = calloc(tv->n, sizeof(rb_tvalue_t));
        if (!tv->keys || !tv->kids)
            return -1;
        size_t i = 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            tv->keys[i] = strdup(k);
            tvalue_build(c, &tv->kids[i], x, rb_doc_val_mark(c->doc, v, k), flags, sc);
            i++;
        }
        return 0;
    }
    if (json_is_array(v) && json_array_size(v)) {
        tv->kind = TV_ARR;
        tv->n = json_array_size(v);
        tv->kids = calloc(tv->n, sizeof(rb_tvalue_t));
        if (!tv->kids)
            return -1;
        for (size_t i = 0; i < tv->n; i++)
            tvalue_build(c, &tv->kids[i], json_array_get(v, i), rb_doc_item_mark(c->doc, v, i),
                         flags, sc);
        return 0;
    }
    tv->kind = TV_LIT;
    if ((flags & RB_TMPL_STRING) && json_is_number(v)) {
        /* argv items written as numbers (`run: [sleep, 5]`) are strings. */
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        tv->lit = json_string(s ? s : "");
        free(s);
    } else {
        tv->lit = json_deep_copy(v);
    }
    return 0;
}

json_t *rb_tvalue_render(const rb_tvalue_t *tv, const json_t *ctx, char *err, size_t errlen)
{
    switch (tv->kind) {
    case TV_LIT: return json_incref(tv->lit);
    case TV_TMPL: return rb_tmpl_render(tv->t, ctx, tv->flags, err, errlen);
    case TV_OBJ: {
        json_t *o = json_object();
        for (size_t i = 0; o && i < tv->n; i++) {
            json_t *x = rb_tvalue_render(&tv->kids[i], ctx, err, errlen);
            if (!x) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, tv->keys[i], x);
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        for (size_t i = 0; a && i < tv->n; i++) {
            json_t *x = rb_tvalue_render(&tv->kids[i], ctx, err, errlen);
            if (!x) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, x);
        }
        return a;
    }
    }
}

int rb_tvalue_missing(const rb_tvalue_t *tv, const json_t *ctx, char *out, size_t len)
{
    int n = 0;
    size_t at = 0;
    if (len)
        out[0] = '\0';
    for (size_t i = 0; tv && tv->kind == TV_OBJ && i < tv->n && at + 1 < len; i++) {
        char why[400];
        if (tv->kids[i].kind != TV_TMPL || !rb_tmpl_missing(tv->kids[i].t, ctx, why, sizeof why))
            continue;
        at += (size_t)snprintf(out + at, len - at, "%s%s: %s", n ? "; " : "", tv->keys[i], why);
        n++;
    }
    return n;
}

/* Compiles action/run/with/timeout/retry/expect of obj into inv. */
static void compile_invoke(compiler_t *c, rb_invoke_t *inv, const json_t *obj, const scope_t *sc,
                           const scope_t *self_sc)
{
    memset(inv, 0, sizeof(*inv));
    scope_t res_sc = *self_sc;
    res_sc.result = 1;
    inv->retry.attempts = 1;
    inv->retry.backoff = 1.0;
    const json_t *act = json_object_get(obj, "action"), *run = json_object_get(obj, "run");
    const json_t *with = json_object_get(obj, "with");
    const char *aname = run ? "exec" : json_string_value(act);
    inv->action = aname ? rb__action_find(aname) : NULL;
    json_t *w = json_is_object(with) ? json_deep_copy(with) : json_object();
    rb_tvalue_t *tv = calloc(1, sizeof(*tv));
    tv->kind = TV_OBJ;
    size_t n = json_object_size(w) + (run ? 1 : 0);
    tv->keys = calloc(n ? n : 1, sizeof(char *));
    tv->kids = calloc(n ? n : 1, sizeof(rb_tvalue_t));
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach(w, k, x) {
        tv->keys[i] = strdup(k);
        tvalue_build(c, &tv->kids[i++], json_object_get(with, k), rb_doc_val_mark(c->doc, with, k),
                     param_flags(inv->action, k), sc);
    }
    if (run) {
        rb_mark_t rm = rb_doc_val_mark(c->doc, obj, "run");
        if (json_is_string(run)) {
            tv->keys[i] = strdup("shell");
            tvalue_build(c, &tv->kids[i++], run, rm, RB_TMPL_SHELL_QUOTE, sc);
        } else {
            tv->keys[i] = strdup("argv");
            tvalue_build(c, &tv->kids[i++], run, rm, RB_TMPL_STRING, sc);
        }
    }
    tv->n = i;
    json_decref(w);
    inv->with = tv;

    uint64_t ms;
    const json_t *t = json_object_get(obj, "timeout");
    if (t && rb_duration_value(t, &ms) == 0)
        inv->timeout_ms = ms;
    const json_t *r = json_object_get(obj, "retry");
    if (json_is_object(r)) {
        const json_t *a = json_object_get(r, "attempts");
        if (a) {
            if (json_is_integer(a) && json_integer_value(a) >= 1 && json_integer_value(a) <= 100)
                inv->retry.attempts = (uint32_t)json_integer_value(a);
            else if (json_is_integer(a)) /* not an integer: validate.c said so */
                ERR(c, rb_doc_val_mark(c->doc, r, "attempts"), "\"attempts\" must be from 1 to 100");
        }
        if (json_object_get(r, "delay") && rb_duration_value(json_object_get(r, "delay"), &ms) == 0)
            inv->retry.delay_ms = ms;
        if (json_object_get(r, "max_delay") &&
            rb_duration_value(json_object_get(r, "max_delay"), &ms) == 0)
            inv->retry.max_delay_ms = ms;
        const json_t *b = json_object_get(r, "backoff");
        if (b) {
            if (json_is_number(b) && json_number_value(b) >= 1.0 && json_number_value(b) <= 10.0)
                inv->retry.backoff = json_number_value(b);
            else if (json_is_number(b))
                ERR(c, rb_doc_val_mark(c->doc, r, "backoff"), "\"backoff\" must be from 1 to 10");
        }
        inv->retry.until = keep_expr(c, r, "until", &res_sc);
    }
    inv->expect = keep_expr(c, obj, "expect", &res_sc);
}

static void invoke_clear(rb_invoke_t *inv)
{
    tvalue_free(inv->with);
    rb_expr_free(inv->retry.until);
    rb_expr_free(inv->expect);
}

static void compile_params(compiler_t *c, const json_t *root)
{
    rb_runbook_t *rb = c->rb;
    const json_t *ps = json_object_get(root, "params");
    if (!json_is_object(ps))
        return;
    rb->params = calloc(json_object_size(ps) + 1, sizeof(rb_param_t));
    const char *k;
    json_t *p;
    /* every name first, so that a default naming a later one is told so */
    json_object_foreach((json_t *)ps, k, p) {
        rb_mark_t km = rb_doc_key_mark(c->doc, ps, k);
        int good = (k[0] < '0' || k[0] > '9') && k[0];
        for (const char *q = k; *q; q++)
            good &= (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                    (*q >= '0' && *q <= '9') || *q == '_';
        if (!good)
            ERR(c, km, "invalid parameter name \"%s\": use letters, digits and '_'", k);
        rb->params[rb->nparams++].name = strdup(k);
    }
    size_t i = 0;
    json_object_foreach((json_t *)ps, k, p) {
        rb_param_t *rp = &rb->params[i];
        rp->required = json_is_true(json_object_get(p, "required"));
        rp->secret = json_is_true(json_object_get(p, "secret"));
        const json_t *def = json_object_get(p, "default");
        int t = rb__ptype_find(json_string_value(json_object_get(p, "type")));
        if (t < 0 && !json_object_get(p, "type")) /* the type of a literal default */
            t = json_is_array(def) ? RB_PTYPE_LIST : json_is_integer(def) ? RB_PTYPE_INT
                : json_is_real(def) ? RB_PTYPE_NUMBER : json_is_boolean(def) ? RB_PTYPE_BOOL : -1;
        rp->type = t < 0 ? RB_PTYPE_STRING : (rb_ptype_t)t; /* a bad name: validate.c said so */
        rb_mark_t dm = rb_doc_val_mark(c->doc, p, "default");
        if (json_is_string(def) && strstr(json_string_value(def), "{{")) {
            /* A default may use the alert, env and the params declared
             * before it: they are resolved in order. */
            scope_t sc = {0, NULL, 0, 1, 0, 0, 0, 0};
            c->params_before = i;
            rp->def = compile_tmpl(c, def, dm, &sc);
            c->params_before = SIZE_MAX;
        } else if (json_is_object(def) && t < 0) {
            rp->def_lit = json_deep_copy(def); /* a mapping: kept as written */
        } else if (def && !json_is_null(def)) {
            char e[200];
            if (!(rp->def_lit = rb__param_value(rp->type, def, e, sizeof(e))))
                ERR(c, dm, "default of parameter \"%s\": %s", k, e);
        }
        i++;
    }
}

static void compile_checks(compiler_t *c, const json_t *list, const scope_t *sc)
{
    rb_runbook_t *rb = c->rb;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *o = json_array_get(list, i);
        rb_check_t *ck = &rb->checks[rb->nchecks];
        const char *nm = json_string_value(json_object_get(o, "name"));
        ck->name = strdup(nm ? nm : "");
        for (size_t j = 0; j < rb->nchecks && *ck->name; j++)
            if (!strcmp(rb->checks[j].name, ck->name))
                ERR(c, rb_doc_val_mark(c->doc, o, "name"), "duplicate check name \"%s\"", ck->name);
        rb->nchecks++;
        scope_t self = *sc;
        compile_invoke(c, &ck->inv, o, sc, &self);
        rb__check_subrunbook(c, o);
    }
}

static void compile_steps(compiler_t *c, const json_t *steps)
{
    rb_runbook_t *rb = c->rb;
    size_t n = json_array_size(steps);
    rb->steps = calloc(n ? n : 1, sizeof(rb_step_t));
    rb->nsteps = n;
    for (size_t i = 0; i < n; i++) { /* names first: references may point anywhere */
        const json_t *o = json_array_get(steps, i);
        const char *nm = json_string_value(json_object_get(o, "name"));
        rb->steps[i].name = strdup(nm ? nm : "");
        for (size_t j = 0; j < i && nm; j++)
            if (!strcmp(rb->steps[j].name, rb->steps[i].name))
                ERR(c, rb_doc_val_mark(c->doc, o, "name"),
                    "duplicate step name \"%s\" (first used by step %zu)", rb->steps[i].name, j + 1);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(steps, i);
        rb_step_t *s = &rb->steps[i];
        const json_t *fe = json_object_get(o, "foreach");
        /* item: in what runs once per item */
        scope_t sc = {i, NULL, 1, 1, 0, 0, 0, 0};
        scope_t isc = {i, NULL, 1, 1, 0, fe != NULL, 0, 0};
        scope_t iself = {i, s->name, 1, 1, 0, fe != NULL, 1, 0};
        compile_invoke(c, &s->inv, o, &isc, &iself);
        rb__check_subrunbook(c, o);
        s->when = keep_expr(c, o, "when", &sc);
        s->idempotent = json_is_true(json_object_get(o, "idempotent"));
        s->inv.read_only = json_is_true(json_object_get(o, "read_only"));
        const json_t *v = json_object_get(o, "verify");
        if (json_is_object(v)) {
            s->verify = calloc(1, sizeof(rb_invoke_t));
            compile_invoke(c, s->verify, v, &iself, &iself);
            rb__check_subrunbook(c, v);
        }
        const json_t *u = json_object_get(o, "undo");
        if (json_is_object(u)) {
            s->undo = calloc(1, sizeof(rb_invoke_t));
            compile_invoke(c, s->undo, u, &iself, &iself);
            rb__check_subrunbook(c, u);
        }
        const json_t *ap = json_object_get(o, "approval");
        if (json_is_object(ap)) {
            s->approval = calloc(1, sizeof(rb_approval_t));
            s->approval->when = keep_expr(c, ap, "when", &sc);
            uint64_t ms;
            if (json_object_get(ap, "timeout") && rb_duration_value(json_object_get(ap, "timeout"), &ms) == 0)
                s->approval->timeout_ms = ms;
            const char *ot = json_string_value(json_object_get(ap, "on_timeout"));
            s->approval->on_timeout_continue = ot && !strcmp(ot, "continue");
        }
        if (fe) {
            s->foreach = calloc(1, sizeof(rb_tvalue_t));
            tvalue_build(c, s->foreach, fe, rb_doc_val_mark(c->doc, o, "foreach"), 0, &sc);
            if (json_is_string(fe) && !rb__whole_template(json_string_value(fe)))
                ERR(c, rb_doc_val_mark(c->doc, o, "foreach"),
                    "\"foreach\" must be a list or one {{ expression }} giving one (text "
                    "around it, or several, renders a string)");
        }
        const json_t *mp = json_object_get(o, "max_parallel");
        if (mp && !fe)
            ERR(c, rb_doc_key_mark(c->doc, o, "max_parallel"),
                "\"max_parallel\" applies only to a step with foreach");
        s->max_parallel = json_is_integer(mp) ? (uint32_t)json_integer_value(mp) : 4;
        const json_t *of = json_object_get(o, "on_failure");
        if (json_is_string(of)) {
            const char *f = json_string_value(of);
            rb_mark_t fm = rb_doc_val_mark(c->doc, o, "on_failure");
            if (!strcmp(f, "continue")) {
                s->on_failure = RB_ONFAIL_CONTINUE;
            } else if (!strcmp(f, "rollback")) {
                s->on_failure = RB_ONFAIL_ROLLBACK;
            } else if (!strncmp(f, "goto:", 5)) {
                const char *t = f + 5;
                while (*t == ' ')
                    t++;
                s->on_failure = RB_ONFAIL_GOTO;
                size_t j = 0;
                while (j < n && strcmp(rb->steps[j].name, t))
                    j++;
                if (j == n)
                    ERR(c, fm, "goto target \"%s\" is not a step of this runbook", t);
                else if (j <= i)
                    ERR(c, fm, "goto target \"%s\" does not come after this step: a backward goto "
                               "is a loop with no bound (use retry instead)", t);
                s->goto_idx = j;
            }
        }
    }
}

/* Checks the regular expressions of the triggers; matching reads the
 * document (rb__triggers_match). */
static void compile_triggers(compiler_t *c, const json_t *root)
{
    rb_runbook_t *rb = c->rb;
    const json_t *ts = json_object_get(root, "triggers");
    rb->ntriggers = json_array_size(ts);
    for (size_t i = 0; i < json_array_size(ts); i++) {
        const json_t *match = json_object_get(json_array_get(ts, i), "match");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)match, k, v) {
            char why[128];
            if (rb__trigger_check(json_string_value(v), why, sizeof(why)) < 0)
                ERR(c, rb_doc_val_mark(c->doc, match, k), "%s", why);
        }
    }
}

int rb_runbook_match_alert(const rb_runbook_t *rb, const json_t *alert)
{
    return rb__triggers_match(json_object_get(rb_doc_root(rb->doc), "triggers"), alert);
}

size_t rb_runbook_ntriggers(const rb_runbook_t *rb) { return rb->ntriggers; }
int rb_runbook_cancel_on_resolve(const rb_runbook_t *rb) { return rb->cancel_on_resolve; }
const rb_tmpl_t *rb_runbook_concurrency(const rb_runbook_t *rb) { return rb->concurrency; }
uint64_t rb_runbook_cooldown_ms(const rb_runbook_t *rb) { return rb->cooldown_ms; }

static void compile_root(compiler_t *c)
{
    rb_runbook_t *rb = c->rb;
    const json_t *root = rb_doc_root(c->doc);
    const char *nm = json_string_value(json_object_get(root, "name"));
    rb->name = strdup(nm ? nm : "");
    compile_params(c, root);
    compile_triggers(c, root);
    rb->cancel_on_resolve = json_is_true(json_object_get(root, "cancel_on_resolve"));
    const json_t *cc = json_object_get(root, "concurrency");
    if (json_is_string(cc)) {
        /* the key may use the alert, the params and env: it is known before any check runs */
        scope_t ksc = {0, NULL, 0, 1, 0, 0, 0, 0};
        rb->concurrency = compile_tmpl(c, cc, rb_doc_val_mark(c->doc, root, "concurrency"), &ksc);
    }
    if (json_object_get(root, "cooldown"))
        rb_duration_value(json_object_get(root, "cooldown"), &rb->cooldown_ms);
    const json_t *det = json_object_get(root, "detect"), *val = json_object_get(root, "validate");
    rb->checks = calloc(json_array_size(det) + json_array_size(val) + 1, sizeof(rb_check_t));
    /* names of both lists are known before any expression is checked */
    scope_t det_sc = {0, NULL, 0, 1, 0, 0, 0, 0};
    compile_checks(c, det, &det_sc);
    c->ncheck_detect = rb->nchecks;
    rb->ndetect = rb->nchecks;
    compile_steps(c, json_object_get(root, "steps"));
    scope_t pre = {0, NULL, 1, 1, 0, 0, 0, 0}, post = {SIZE_MAX, NULL, 2, 1, 0, 0, 0, 1};
    scope_t val_sc = {SIZE_MAX, NULL, 1, 1, 0, 0, 0, 0};
    compile_checks(c, val, &val_sc);
    rb->confirm = keep_expr(c, root, "confirm", &pre);
    const json_t *sev = json_object_get(root, "severity");
    rb->sev = calloc(json_array_size(sev) + 1, sizeof(rb_severity_rule_t));
    for (size_t i = 0; i < json_array_size(sev); i++) {
        const json_t *o = json_array_get(sev, i);
        rb_severity_rule_t *sr = &rb->sev[rb->nsev++];
        const char *lv = json_string_value(json_object_get(o, "level"));
        sr->level = lv ? strdup(lv) : NULL;
        sr->when = keep_expr(c, o, "when", &pre);
    }
    const json_t *nt = json_object_get(root, "notify");
    rb->notify = calloc(json_array_size(nt) + 1, sizeof(rb_notify_rule_t));
    for (size_t i = 0; i < json_array_size(nt); i++) {
        const json_t *o = json_array_get(nt, i);
        rb_notify_rule_t *nr = &rb->notify[rb->nnotify++];
        const json_t *on = json_object_get(o, "on");
        for (size_t k = 0; k < json_array_size(on); k++)
            nr->events |= rb_runbook_event_bit(json_string_value(json_array_get(on, k)));
        compile_invoke(c, &nr->inv, o, &post, &post);
        nr->when = keep_expr(c, o, "when", &post);
    }
    const json_t *es = json_object_get(root, "escalate");
    rb->esc = calloc(json_array_size(es) + 1, sizeof(rb_escalation_t));
    for (size_t i = 0; i < json_array_size(es); i++) {
        const json_t *o = json_array_get(es, i);
        rb_escalation_t *e = &rb->esc[rb->nesc++];
        rb_duration_value(json_object_get(o, "after"), &e->after_ms);
        compile_invoke(c, &e->inv, o, &post, &post);
        e->unless = keep_expr(c, o, "unless", &post);
    }
    const json_t *lv = json_object_get(root, "levels");
    if (json_is_object(lv))
        rb->levels = json_incref((json_t *)lv);
    /* a severity rule naming a level with no targets is a typo */
    for (size_t i = 0; i < rb->nsev; i++) {
        uint64_t a = 0, b = 0;
        rb_runbook_level_targets(rb, rb->sev[i].level, &a, &b);
        if (!a && !b && rb->sev[i].level)
            rb_diag_add(c->d, RB_DIAG_WARNING, rb_doc_name(c->doc),
                        rb_doc_val_mark(c->doc, json_array_get(sev, i), "level"),
                        "level \"%s\" has no respond/resolve targets (add it under levels:)",
                        rb->sev[i].level);
    }
}

uint32_t rb_runbook_event_bit(const char *name)
{
    static const char *const names[] = {"declared", "severity", "step_failed", "escalated",
                                        "resolved", "failed", "not_confirmed",
                                        "inconclusive", "notify_failed",
                                           "approval_requested", NULL};
    for (uint32_t i = 0; name && names[i]; i++)
        if (!strcmp(names[i], name))
            return 1u << i;
    return 0;
}

void rb_runbook_level_targets(const rb_runbook_t *rb, const char *level, uint64_t *respond_ms,
                              uint64_t *resolve_ms)
{
    static const struct { const char *name; uint64_t respond, resolve; } table[] = {
        {"P1", 15 * 60000ull, 2 * 3600000ull},
        {"P2", 30 * 60000ull, 4 * 3600000ull},
        {"P3", 2 * 3600000ull, 24 * 3600000ull},
        {"P4", 24 * 3600000ull, 72 * 3600000ull},
    };
    *respond_ms = *resolve_ms = 0;
    if (!level)
        return;
    const json_t *l = rb->levels ? json_object_get(rb->levels, level) : NULL;
    for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++)
        if (!strcmp(table[i].name, level)) {
            *respond_ms = table[i].respond;
            *resolve_ms = table[i].resolve;
        }
    if (json_is_object(l)) {
        rb_duration_value(json_object_get(l, "respond"), respond_ms);
        rb_duration_value(json_object_get(l, "resolve"), resolve_ms);
    }
}

/* path made absolute against the working directory, its folders resolved
 * (realpath) but not its last name: a runbook reached through a link to
 * its file keeps the folder it was named in. malloc'd, or NULL. */
static char *abs_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *folder = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    const char *last = slash ? slash + 1 : path;
    char *real = folder ? realpath(folder, NULL) : NULL;
    char *out = NULL;
    if (real && !*last)
        out = strdup(real);
    else if (real && asprintf(&out, "%s%s%s", real, strcmp(real, "/") ? "/" : "", last) < 0)
        out = NULL;
    else if (!real)
        out = strdup(path); /* a folder that is gone: as given */
    free(real);
    free(folder);
    return out;
}

size_t rb_runbook_level_rank(const rb_runbook_t *rb, const char *level)
{
    static const char *const seeds[] = {"P1", "P2", "P3", "P4"};
    size_t i = 0;
    const char *k;
    json_t *v;
    if (rb->levels) {
        json_object_foreach(rb->levels, k, v) {
            if (level && !strcmp(k, level))
                return i;
            i++;
        }
        return i;
    }
    for (i = 0; i < 4; i++)
        if (level && !strcmp(seeds[i], level))
            return i;
    return i;
}

/* Validates and compiles a loaded document; takes doc. */
static int compile_doc(rb_doc_t *doc, const char *path, const char *dir, rb_diags_t *d,
                       rb_runbook_t **out)
{
    /* Shape errors do not stop the compile: references, expressions and
     * goto targets are checked too, so one pass reports every error. The
     * compile reads only what has the shape it needs. */
    size_t shape_errors = rb__validate_shape(doc, d);
    if (!json_is_object(rb_doc_root(doc))) {
        rb_doc_free(doc);
        return RB_EINVAL;
    }
    rb_runbook_t *rb = calloc(1, sizeof(*rb));
    if (!rb) {
        rb_doc_free(doc);
        return RB_ENOMEM;
    }
    rb->doc = doc;
    /* Absolute, so that relative commands resolve against the runbook's
     * folder whatever directory the engine runs in, and the journal
     * records where the runbook came from (R-relative-paths). */
    rb->path = dir ? strdup(path) : abs_path(path);
    if (dir) {
        rb->dir = realpath(dir, NULL);
        if (!rb->dir)
            rb->dir = strdup(dir);
    } else if (rb->path) {
        char *slash = strrchr(rb->path, '/');
        rb->dir = strndup(rb->path, (size_t)(slash - rb->path) + (slash == rb->path));
    }
    compiler_t c = {rb, doc, d, 0, NULL, {0, 0, 0}, 0, SIZE_MAX};
    compile_root(&c);
    if (c.errors || shape_errors) {
        rb_runbook_free(rb);
        return RB_EINVAL;
    }
    *out = rb;
    return 0;
}

int rb_runbook_load(const char *path, rb_diags_t *d, rb_runbook_t **out)
{
    *out = NULL;
    rb_doc_t *doc;
    int rc = rb_doc_load_file(path, d, &doc);
    if (rc < 0)
        return rc;
    return compile_doc(doc, path, NULL, d, out);
}

int rb_runbook_load_text(const char *name, const char *text, size_t len, const char *dir,
                         rb_diags_t *d, rb_runbook_t **out)
{
    *out = NULL;
    rb_doc_t *doc;
    int rc = rb_doc_load_string(name, text, len, d, &doc);
    if (rc < 0)
        return rc;
    return compile_doc(doc, name, dir ? dir : ".", d, out);
}

void rb_runbook_free(rb_runbook_t *rb)
{
    if (!rb)
        return;
    for (size_t i = 0; i < rb->nsteps; i++) {
        rb_step_t *s = &rb->steps[i];
        free(s->name);
        invoke_clear(&s->inv);
        rb_expr_free(s->when);
        if (s->verify)
            invoke_clear(s->verify);
        if (s->undo)
            invoke_clear(s->undo);
        free(s->verify);
        free(s->undo);
        if (s->approval)
            rb_expr_free(s->approval->when);
        free(s->approval);
        tvalue_free(s->foreach);
    }
    free(rb->steps);
    for (size_t i = 0; i < rb->nchecks; i++) {
        free(rb->checks[i].name);
        invoke_clear(&rb->checks[i].inv);
    }
    free(rb->checks);
    for (size_t i = 0; i < rb->nparams; i++) {
        free(rb->params[i].name);
        rb_tmpl_free(rb->params[i].def);
        json_decref(rb->params[i].def_lit);
    }
    free(rb->params);
    rb_expr_free(rb->confirm);
    for (size_t i = 0; i < rb->nsev; i++) {
        free(rb->sev[i].level);
        rb_expr_free(rb->sev[i].when);
    }
    free(rb->sev);
    for (size_t i = 0; i < rb->nnotify; i++) {
        invoke_clear(&rb->notify[i].inv);
        rb_expr_free(rb->notify[i].when);
    }
    free(rb->notify);
    for (size_t i = 0; i < rb->nesc; i++) {
        invoke_clear(&rb->esc[i].inv);
        rb_expr_free(rb->esc[i].unless);
    }
    free(rb->esc);
    json_decref(rb->levels);
    rb_tmpl_free(rb->concurrency);
    rb_doc_free(rb->doc);
    free(rb->name);
    free(rb->path);
    free(rb->dir);
    free(rb);
}

const char *rb_runbook_name(const rb_runbook_t *rb) { return rb->name; }
const char *rb_runbook_path(const rb_runbook_t *rb) { return rb->path; }
const char *rb_runbook_dir(const rb_runbook_t *rb) { return rb->dir; }
const char *rb_runbook_source(const rb_runbook_t *rb, size_t *len) { return rb_doc_source(rb->doc, len); }
size_t rb_runbook_nsteps(const rb_runbook_t *rb) { return rb->nsteps; }

long rb_runbook_step_index(const rb_runbook_t *rb, const char *name)
{
    for (size_t i = 0; name && i < rb->nsteps; i++)
        if (!strcmp(rb->steps[i].name, name))
            return (long)i;
    return -1;
}
const rb_step_t *rb_runbook_step(const rb_runbook_t *rb, size_t i) { return &rb->steps[i]; }
size_t rb_runbook_nparams(const rb_runbook_t *rb) { return rb->nparams; }
const rb_param_t *rb_runbook_param(const rb_runbook_t *rb, size_t i) { return &rb->params[i]; }

size_t rb_runbook_nchecks(const rb_runbook_t *rb, int which)
{
    return which ? rb->nchecks - rb->ndetect : rb->ndetect;
}

const rb_check_t *rb_runbook_check(const rb_runbook_t *rb, int which, size_t i)
{
    return &rb->checks[which ? rb->ndetect + i : i];
}

const rb_expr_t *rb_runbook_confirm(const rb_runbook_t *rb) { return rb->confirm; }
size_t rb_runbook_nseverity(const rb_runbook_t *rb) { return rb->nsev; }
const rb_severity_rule_t *rb_runbook_severity(const rb_runbook_t *rb, size_t i) { return &rb->sev[i]; }
size_t rb_runbook_nnotify(const rb_runbook_t *rb) { return rb->nnotify; }
const rb_notify_rule_t *rb_runbook_notify(const rb_runbook_t *rb, size_t i) { return &rb->notify[i]; }
size_t rb_runbook_nescalate(const rb_runbook_t *rb) { return rb->nesc; }
const rb_escalation_t *rb_runbook_escalation(const rb_runbook_t *rb, size_t i) { return &rb->esc[i]; }
