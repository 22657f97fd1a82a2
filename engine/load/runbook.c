/*
 * runbook.c — compiles a validated document into an rb_runbook_t (see
 * runbook.h): expressions and templates compiled once, durations parsed,
 * `run:` shorthand turned into exec parameters, and the semantic checks
 * that need names: duplicate names, references to checks, steps and params
 * that do not exist or come later, goto targets.
 *
 * Owns: every allocation of a compiled runbook. Never runs anything.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "runbook.h"

#include "host/action_host.h"
#include "doc.h"
#include "validate.h"

#include <limits.h>
#include <regex.h>
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

struct rb_runbook {
    char *name, *path, *dir;
    rb_doc_t *doc;
    rb_param_t *params;
    size_t nparams;
    rb_step_t *steps;
    size_t nsteps;
    rb_check_t *checks; /* detect, then validate */
    size_t nchecks, ndetect;
    rb_expr_t *confirm;
    rb_severity_rule_t *sev;
    size_t nsev;
    rb_notify_rule_t *notify;
    size_t nnotify;
    rb_escalation_t *esc;
    size_t nesc;
    json_t *levels; /* the `levels` mapping as written, or NULL */
    struct trigger *triggers;
    size_t ntriggers;
    int cancel_on_resolve;
    rb_tmpl_t *concurrency; /* NULL: the key is the runbook's name */
    uint64_t cooldown_ms;
};

/* One label matcher of a trigger: equality, or "=~" and a regex. */
typedef struct matcher {
    char *label;
    char *value;
    int is_regex;
    regex_t re;
} matcher_t;

struct trigger {
    matcher_t *m;
    size_t n;
};

/* Where references may point, for one expression being checked. */
typedef struct scope {
    size_t steps_before; /* steps with an index below this are visible */
    const char *self;    /* this step's own name, visible in until/expect/verify */
    int checks;          /* 0: none, 1: detect checks, 2: detect + validate checks */
    int params;          /* params visible */
    int result;          /* expect / until: the result's fields are names too */
} scope_t;

typedef struct compiler {
    rb_runbook_t *rb;
    const rb_doc_t *doc;
    rb_diags_t *d;
    size_t errors;
    /* the expression being checked */
    const scope_t *sc;
    rb_mark_t at;
    size_t ncheck_detect;
} compiler_t;

#define ERR(c, m, ...)                                                                   \
    do {                                                                                 \
        (c)->errors++;                                                                   \
        rb_diag_add((c)->d, RB_DIAG_ERROR, rb_doc_name((c)->doc), (m), __VA_ARGS__);     \
    } while (0)

static const char *const roots[] = {"alert", "params", "checks", "steps", "item",
                                    "run",   "env",    "result", "event", NULL};

static void on_ref(const char *root, const char *first, size_t offset, void *arg)
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
            ERR(c, m, "expression: unknown name \"%s\" (names are alert, params, checks, steps, "
                      "item, run, env, result, event)", root);
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
                ERR(c, m, "expression: step \"%s\" comes later; its result is not known here", first);
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
        for (size_t i = 0; i < rb->nparams; i++)
            if (!strcmp(rb->params[i].name, first))
                return;
        ERR(c, m, "expression: unknown parameter \"%s\" (declare it under params:)", first);
    }
}

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
    rb_expr_refs(x, on_ref, c);
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
    rb_tmpl_refs(t, on_ref, c);
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
    inv->action = rb__action_find(run ? "exec" : json_string_value(act));
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
        tvalue_build(c, &tv->kids[i++], json_object_get(with, k), rb_doc_val_mark(c->doc, with, k), 0,
                     sc);
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
            else
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
            else
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
    json_object_foreach((json_t *)ps, k, p) {
        rb_mark_t km = rb_doc_key_mark(c->doc, ps, k);
        int good = (k[0] < '0' || k[0] > '9') && k[0];
        for (const char *q = k; *q; q++)
            good &= (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                    (*q >= '0' && *q <= '9') || *q == '_';
        if (!good)
            ERR(c, km, "invalid parameter name \"%s\": use letters, digits and '_'", k);
        rb_param_t *rp = &rb->params[rb->nparams++];
        rp->name = strdup(k);
        rp->required = json_is_true(json_object_get(p, "required"));
        rp->secret = json_is_true(json_object_get(p, "secret"));
        const json_t *def = json_object_get(p, "default");
        if (json_is_string(def)) {
            /* A default may use the alert, env and params declared before it. */
            scope_t sc = {0, NULL, 0, 1, 0};
            rp->def = compile_tmpl(c, def, rb_doc_val_mark(c->doc, p, "default"), &sc);
        } else if (def) {
            rp->def_lit = json_deep_copy(def);
        }
    }
}

static void compile_checks(compiler_t *c, const json_t *list, const scope_t *sc)
{
    rb_runbook_t *rb = c->rb;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *o = json_array_get(list, i);
        rb_check_t *ck = &rb->checks[rb->nchecks];
        ck->name = strdup(json_string_value(json_object_get(o, "name")));
        for (size_t j = 0; j < rb->nchecks; j++)
            if (!strcmp(rb->checks[j].name, ck->name))
                ERR(c, rb_doc_val_mark(c->doc, o, "name"), "duplicate check name \"%s\"", ck->name);
        rb->nchecks++;
        scope_t self = *sc;
        compile_invoke(c, &ck->inv, o, sc, &self);
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
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rb->steps[j].name, rb->steps[i].name))
                ERR(c, rb_doc_val_mark(c->doc, o, "name"),
                    "duplicate step name \"%s\" (first used by step %zu)", rb->steps[i].name, j + 1);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(steps, i);
        rb_step_t *s = &rb->steps[i];
        scope_t sc = {i, NULL, 1, 1, 0}, self = {i, s->name, 1, 1, 0};
        compile_invoke(c, &s->inv, o, &sc, &self);
        s->when = keep_expr(c, o, "when", &sc);
        s->idempotent = json_is_true(json_object_get(o, "idempotent"));
        const json_t *v = json_object_get(o, "verify");
        if (json_is_object(v)) {
            s->verify = calloc(1, sizeof(rb_invoke_t));
            compile_invoke(c, s->verify, v, &self, &self);
        }
        const json_t *u = json_object_get(o, "undo");
        if (json_is_object(u)) {
            s->undo = calloc(1, sizeof(rb_invoke_t));
            compile_invoke(c, s->undo, u, &self, &self);
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
        const json_t *fe = json_object_get(o, "foreach");
        if (fe) {
            s->foreach = calloc(1, sizeof(rb_tvalue_t));
            tvalue_build(c, s->foreach, fe, rb_doc_val_mark(c->doc, o, "foreach"), 0, &sc);
            if (json_is_string(fe) && !strstr(json_string_value(fe), "{{"))
                ERR(c, rb_doc_val_mark(c->doc, o, "foreach"),
                    "\"foreach\" must be a list or a {{ expression }} giving one");
        }
        const json_t *mp = json_object_get(o, "max_parallel");
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

static void compile_triggers(compiler_t *c, const json_t *root)
{
    rb_runbook_t *rb = c->rb;
    const json_t *ts = json_object_get(root, "triggers");
    rb->triggers = calloc(json_array_size(ts) + 1, sizeof(struct trigger));
    for (size_t i = 0; i < json_array_size(ts); i++) {
        const json_t *match = json_object_get(json_array_get(ts, i), "match");
        struct trigger *t = &rb->triggers[rb->ntriggers++];
        t->m = calloc(json_object_size(match) + 1, sizeof(matcher_t));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)match, k, v) {
            matcher_t *m = &t->m[t->n++];
            const char *val = json_string_value(v);
            m->label = strdup(k);
            m->is_regex = val && !strncmp(val, "=~", 2);
            const char *pat = m->is_regex ? val + 2 + strspn(val + 2, " ") : val;
            m->value = strdup(pat ? pat : "");
            if (!m->is_regex)
                continue;
            /* anchored, as Alertmanager's matchers are */
            char *anchored;
            if (asprintf(&anchored, "^(%s)$", m->value) < 0) {
                m->is_regex = 0;
                continue;
            }
            int rc = regcomp(&m->re, anchored, REG_EXTENDED | REG_NOSUB);
            free(anchored);
            if (rc) {
                char why[128];
                regerror(rc, &m->re, why, sizeof(why));
                ERR(c, rb_doc_val_mark(c->doc, match, k), "invalid regular expression \"%s\": %s",
                    m->value, why);
                m->is_regex = 0; /* nothing to free */
            }
        }
    }
}

int rb_runbook_match_alert(const rb_runbook_t *rb, const json_t *alert)
{
    const json_t *labels = json_object_get(alert, "labels");
    for (size_t i = 0; i < rb->ntriggers; i++) {
        const struct trigger *t = &rb->triggers[i];
        size_t k = 0;
        for (; k < t->n; k++) {
            const matcher_t *m = &t->m[k];
            const char *have = json_string_value(json_object_get(labels, m->label));
            if (m->is_regex ? regexec(&m->re, have ? have : "", 0, NULL, 0) != 0
                            : !have || strcmp(have, m->value))
                break;
        }
        if (k == t->n)
            return 1;
    }
    return 0;
}

size_t rb_runbook_ntriggers(const rb_runbook_t *rb) { return rb->ntriggers; }
int rb_runbook_cancel_on_resolve(const rb_runbook_t *rb) { return rb->cancel_on_resolve; }
const rb_tmpl_t *rb_runbook_concurrency(const rb_runbook_t *rb) { return rb->concurrency; }
uint64_t rb_runbook_cooldown_ms(const rb_runbook_t *rb) { return rb->cooldown_ms; }

static void compile_root(compiler_t *c)
{
    rb_runbook_t *rb = c->rb;
    const json_t *root = rb_doc_root(c->doc);
    rb->name = strdup(json_string_value(json_object_get(root, "name")));
    compile_params(c, root);
    compile_triggers(c, root);
    rb->cancel_on_resolve = json_is_true(json_object_get(root, "cancel_on_resolve"));
    const json_t *cc = json_object_get(root, "concurrency");
    if (json_is_string(cc)) {
        /* the key may use the alert, the params and env: it is known before any check runs */
        scope_t ksc = {0, NULL, 0, 1, 0};
        rb->concurrency = compile_tmpl(c, cc, rb_doc_val_mark(c->doc, root, "concurrency"), &ksc);
    }
    if (json_object_get(root, "cooldown"))
        rb_duration_value(json_object_get(root, "cooldown"), &rb->cooldown_ms);
    const json_t *det = json_object_get(root, "detect"), *val = json_object_get(root, "validate");
    rb->checks = calloc(json_array_size(det) + json_array_size(val) + 1, sizeof(rb_check_t));
    /* names of both lists are known before any expression is checked */
    scope_t det_sc = {0, NULL, 0, 1, 0};
    compile_checks(c, det, &det_sc);
    c->ncheck_detect = rb->nchecks;
    rb->ndetect = rb->nchecks;
    compile_steps(c, json_object_get(root, "steps"));
    scope_t pre = {0, NULL, 1, 1, 0}, post = {SIZE_MAX, NULL, 2, 1, 0};
    scope_t val_sc = {SIZE_MAX, NULL, 1, 1, 0};
    compile_checks(c, val, &val_sc);
    rb->confirm = keep_expr(c, root, "confirm", &pre);
    const json_t *sev = json_object_get(root, "severity");
    rb->sev = calloc(json_array_size(sev) + 1, sizeof(rb_severity_rule_t));
    for (size_t i = 0; i < json_array_size(sev); i++) {
        const json_t *o = json_array_get(sev, i);
        rb_severity_rule_t *sr = &rb->sev[rb->nsev++];
        sr->level = strdup(json_string_value(json_object_get(o, "level")));
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
        if (!a && !b)
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
                                        "inconclusive", NULL};
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
    if (rb__validate_shape(doc, d) > 0) {
        rb_doc_free(doc);
        return RB_EINVAL;
    }
    rb_runbook_t *rb = calloc(1, sizeof(*rb));
    if (!rb) {
        rb_doc_free(doc);
        return RB_ENOMEM;
    }
    rb->doc = doc;
    rb->path = strdup(path);
    if (dir) {
        rb->dir = strdup(dir);
    } else {
        char *slash = strrchr(rb->path, '/');
        rb->dir = slash ? strndup(rb->path, (size_t)(slash - rb->path) + (slash == rb->path))
                        : strdup(".");
    }
    compiler_t c = {rb, doc, d, 0, NULL, {0, 0, 0}, 0};
    compile_root(&c);
    if (c.errors) {
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
    for (size_t i = 0; i < rb->ntriggers; i++) {
        for (size_t k = 0; k < rb->triggers[i].n; k++) {
            matcher_t *m = &rb->triggers[i].m[k];
            if (m->is_regex)
                regfree(&m->re);
            free(m->label);
            free(m->value);
        }
        free(rb->triggers[i].m);
    }
    free(rb->triggers);
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
