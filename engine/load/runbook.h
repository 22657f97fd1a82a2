/*
 * runbook.h — a compiled runbook: what load → validate → compile produces
 * and what a run executes. Expressions and templates are compiled once here;
 * a run never parses text.
 *
 * The struct layouts below are internal to the engine (run.c reads them);
 * the public embedding API only ever sees rb_runbook_t as a handle.
 */
#ifndef RB_RUNBOOK_H
#define RB_RUNBOOK_H

#include <runbook/action.h>

#include "diag.h"
#include "param.h"
#include "expr/expr.h"

typedef struct rb_runbook rb_runbook_t;

/* A `with:` value tree whose strings are compiled templates. */
typedef struct rb_tvalue rb_tvalue_t;

typedef struct rb_retry {
    uint32_t attempts;     /* ≥ 1 */
    uint64_t delay_ms;
    double backoff;        /* ≥ 1 */
    uint64_t max_delay_ms; /* 0 = none */
    rb_expr_t *until;      /* NULL = retry while not ok */
} rb_retry_t;

/* One action invocation: a step's, a verify's, an undo's, a check's. */
typedef struct rb_invoke {
    const rb_action_t *action;
    rb_tvalue_t *with;
    uint64_t timeout_ms; /* 0 = none */
    rb_retry_t retry;
    rb_expr_t *expect;   /* NULL = the action's own ok */
    int read_only;       /* the step says it only looks (`read_only: true`): a drill
                            runs it for real whatever its action's flags */
} rb_invoke_t;

typedef enum {
    RB_ONFAIL_ABORT = 0,
    RB_ONFAIL_CONTINUE,
    RB_ONFAIL_ROLLBACK,
    RB_ONFAIL_GOTO
} rb_onfail_t;

typedef struct rb_approval {
    rb_expr_t *when;     /* NULL = always asked */
    uint64_t timeout_ms; /* 0 = wait forever */
    int on_timeout_continue; /* else the step fails */
} rb_approval_t;

typedef struct rb_step {
    char *name;
    rb_invoke_t inv;
    rb_expr_t *when;
    rb_invoke_t *verify; /* NULL when none */
    rb_invoke_t *undo;   /* NULL when none */
    rb_approval_t *approval; /* NULL when none */
    rb_tvalue_t *foreach;    /* NULL when none; renders to a list */
    uint32_t max_parallel;
    int idempotent;
    rb_onfail_t on_failure;
    size_t goto_idx;
} rb_step_t;

/* A check of `detect` or `validate`. */
typedef struct rb_check {
    char *name;
    rb_invoke_t inv;
} rb_check_t;

typedef struct rb_severity_rule {
    char *level;
    rb_expr_t *when; /* NULL = always */
} rb_severity_rule_t;

/* Run events a notification can be sent on (bits). */
#define RB_EV_DECLARED      0x01u
#define RB_EV_SEVERITY      0x02u
#define RB_EV_STEP_FAILED   0x04u
#define RB_EV_ESCALATED     0x08u
#define RB_EV_RESOLVED      0x10u
#define RB_EV_FAILED        0x20u
#define RB_EV_NOT_CONFIRMED 0x40u
#define RB_EV_INCONCLUSIVE  0x80u
#define RB_EV_NOTIFY_FAILED 0x100u /* another notification finally failed */
#define RB_EV_APPROVAL_REQUESTED 0x200u /* a step waits for an answer */

typedef struct rb_notify_rule {
    uint32_t events;
    rb_expr_t *when;
    rb_invoke_t inv;
} rb_notify_rule_t;

typedef struct rb_escalation {
    uint64_t after_ms;
    rb_expr_t *unless;
    rb_invoke_t inv;
} rb_escalation_t;

/* The run event bit for a name ("declared" …), or 0. */
uint32_t rb_runbook_event_bit(const char *name);

typedef struct rb_param {
    char *name;
    rb_tmpl_t *def;  /* a default with {{ }}: rendered at start, then made the type */
    json_t *def_lit; /* a default without {{ }}, already of the type */
    rb_ptype_t type; /* RB_PTYPE_STRING unless `type:` says otherwise */
    int required;
    int secret;
} rb_param_t;

/*
 * Reads, validates and compiles the runbook at path. Diagnostics go to d.
 * Returns 0 and *out, or RB_EINVAL when the file has errors (see d), or
 * another negative code. Any thread (touches no loop).
 */
int rb_runbook_load(const char *path, rb_diags_t *d, rb_runbook_t **out);
/* The same from text (a version recorded in the journal): name is used in
 * diagnostics, dir is where relative commands resolve (NULL: "."). */
int rb_runbook_load_text(const char *name, const char *text, size_t len, const char *dir,
                         rb_diags_t *d, rb_runbook_t **out);

/* 1 when the alert ({labels: {…}}) matches one of the runbook's triggers:
 * every label matcher of that trigger holds (equal, or "=~" and a regex
 * matching the whole value). 0 otherwise, and when it has no triggers. */
int rb_runbook_match_alert(const rb_runbook_t *rb, const json_t *alert);
size_t rb_runbook_ntriggers(const rb_runbook_t *rb);
/* trigger.c: the same over a document's `triggers` list as written (it need
 * not be valid): what finds an invalid runbook that an alert would start. */
int rb__triggers_match(const json_t *triggers, const json_t *alert);
/* trigger.c: 0 when a matcher's value is an equality or a "=~" regular
 * expression that compiles; else RB_EINVAL and why. */
int rb__trigger_check(const char *val, char *why, size_t whylen);
/* 1 when a resolved alert cancels the run still going (cancel_on_resolve). */
int rb_runbook_cancel_on_resolve(const rb_runbook_t *rb);
/* The concurrency key's template (NULL: the key is the name) and the
 * cooldown after a run of the same key (0: none). */
const rb_tmpl_t *rb_runbook_concurrency(const rb_runbook_t *rb);
uint64_t rb_runbook_cooldown_ms(const rb_runbook_t *rb);

/* The index of the step called name, or -1. */
long rb_runbook_step_index(const rb_runbook_t *rb, const char *name);

void rb_runbook_free(rb_runbook_t *rb);

const char *rb_runbook_name(const rb_runbook_t *rb);
const char *rb_runbook_path(const rb_runbook_t *rb);
const char *rb_runbook_dir(const rb_runbook_t *rb);    /* folder of the file */
const char *rb_runbook_source(const rb_runbook_t *rb, size_t *len);

size_t rb_runbook_nsteps(const rb_runbook_t *rb);
const rb_step_t *rb_runbook_step(const rb_runbook_t *rb, size_t i);
size_t rb_runbook_nparams(const rb_runbook_t *rb);
const rb_param_t *rb_runbook_param(const rb_runbook_t *rb, size_t i);

/* The checks of `detect` (which 0) or `validate` (which 1). */
size_t rb_runbook_nchecks(const rb_runbook_t *rb, int which);
const rb_check_t *rb_runbook_check(const rb_runbook_t *rb, int which, size_t i);
const rb_expr_t *rb_runbook_confirm(const rb_runbook_t *rb); /* NULL = confirmed */
size_t rb_runbook_nseverity(const rb_runbook_t *rb);
const rb_severity_rule_t *rb_runbook_severity(const rb_runbook_t *rb, size_t i);
size_t rb_runbook_nnotify(const rb_runbook_t *rb);
const rb_notify_rule_t *rb_runbook_notify(const rb_runbook_t *rb, size_t i);
size_t rb_runbook_nescalate(const rb_runbook_t *rb);
const rb_escalation_t *rb_runbook_escalation(const rb_runbook_t *rb, size_t i);
/* The respond / resolve targets of a level: the runbook's `levels`, else
 * the seeds' table (P1 15m/2h, P2 30m/4h, P3 2h/24h, P4 24h/72h). 0 when
 * the level is unknown. */
void rb_runbook_level_targets(const rb_runbook_t *rb, const char *level, uint64_t *respond_ms,
                              uint64_t *resolve_ms);

/* How severe a level is: its place in the runbook's `levels`, else in the
 * seeds' order P1, P2, P3, P4; 0 is the most severe. A level named in
 * neither ranks after all of them. */
size_t rb_runbook_level_rank(const rb_runbook_t *rb, const char *level);

/* Renders a `with` tree against ctx. Returns a new object, or NULL with err. */
json_t *rb_tvalue_render(const rb_tvalue_t *tv, const json_t *ctx, char *err, size_t errlen);
/* Why parameters written as one {{ }} render null, where a key they looked
 * up is not there ("host: {{ inventory.hosts[params.node] }} gave nothing:
 * inventory.hosts has no \"nope\""; several joined by "; "): for an
 * action's error, which sees only the null. Returns how many were said. */
int rb_tvalue_missing(const rb_tvalue_t *tv, const json_t *ctx, char *out, size_t len);

#endif
