/*
 * compile_int.h — what runbook.c (the compile) and refs.c (the checks of
 * names: references in expressions, sub-runbooks) share about a runbook
 * being compiled. Internal to engine/load/; everything else sees
 * rb_runbook_t through runbook.h.
 */
#ifndef RB_COMPILE_INT_H
#define RB_COMPILE_INT_H

#include "doc.h"
#include "runbook.h"

#include <stdint.h>

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
    size_t ntriggers;
    int cancel_on_resolve;
    rb_tmpl_t *concurrency; /* NULL: the key is the runbook's name */
    uint64_t cooldown_ms;
};

/* Where references may point, for one expression being checked. */
typedef struct scope {
    size_t steps_before; /* steps with an index below this are visible */
    const char *self;    /* this step's own name, visible in until/expect/verify */
    int checks;          /* 0: none, 1: detect checks, 2: detect + validate checks */
    int params;          /* params visible */
    int result;          /* expect / until: the result's fields are names too */
    int item;            /* the action of a foreach step: `item` is set */
    int result_root;     /* `result` is set (verify, undo; expect and until have result) */
    int event;           /* notify, escalate: `event` is set */
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
    size_t params_before; /* a param default: only params below this; else SIZE_MAX */
} compiler_t;

#define ERR(c, m, ...)                                                                             \
    do {                                                                                           \
        (c)->errors++;                                                                             \
        rb_diag_add((c)->d, RB_DIAG_ERROR, rb_doc_name((c)->doc), (m), __VA_ARGS__);               \
    } while (0)

/* rb_expr_ref_cb for rb_expr_refs / rb_tmpl_refs, arg a compiler_t: checks
 * that each name an expression reads exists and is visible in c->sc (a
 * step that comes later, a check not yet run, `item` outside a foreach, a
 * param declared after the default that reads it are errors). refs.c. */
void rb__compile_on_ref(const char *root, const char *first, size_t offset, void *arg);

/* 1 when s is exactly one {{ expression }}. refs.c. */
int rb__whole_template(const char *s);

/* Checks the `runbook` action of obj (a step, check, verify or undo) with a
 * literal name against the runbook of that name beside this one. refs.c. */
void rb__check_subrunbook(compiler_t *c, const json_t *obj);

#endif
