/*
 * validate.c — the runbook/v1 shape, as tables, and the walk that checks a
 * document against it (see validate.h).
 *
 * Owns: the list of every key of the format and its type. Semantic checks
 * that need compiled expressions (references, goto targets, duplicates)
 * live in runbook.c. Messages name the key and the expected type; positions
 * point at the key for key problems and at the value for value problems.
 */
#include "validate.h"

#include "host/action_host.h"
#include "param.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

typedef enum {
    T_ANY, T_STRING, T_BOOL, T_INT, T_NUMBER, T_DURATION, T_EXPR, T_TMPL, T_RUN, T_LIST,
    T_MAP, T_OBJ, T_FOREACH, T_NAME, T_ONFAIL, T_ACTION, T_WITH, T_POSINT, T_ONTIMEOUT, T_EVENT,
    T_PTYPE
} vtype_t;

static const char *const on_timeout_values[] = {"fail", "continue", NULL};
static const char *const event_values[] = {"declared", "severity", "step_failed", "escalated",
                                           "resolved", "failed", "not_confirmed",
                                           "inconclusive", "notify_failed",
                                           "approval_requested", NULL};

typedef struct shape shape_t;
typedef struct keyspec {
    const char *key;
    int required;
    const shape_t *shape;
} keyspec_t;

struct shape {
    vtype_t type;
    const char *what;      /* "step", "check" … for messages */
    const keyspec_t *keys; /* T_OBJ */
    const shape_t *elem;   /* T_LIST / T_MAP */
    int invocation;        /* T_OBJ: needs exactly one of action / run */
};

static const shape_t s_str = {T_STRING, 0, 0, 0, 0}, s_bool = {T_BOOL, 0, 0, 0, 0},
                     s_int = {T_INT, 0, 0, 0, 0}, s_num = {T_NUMBER, 0, 0, 0, 0},
                     s_dur = {T_DURATION, 0, 0, 0, 0}, s_expr = {T_EXPR, 0, 0, 0, 0},
                     s_tmpl = {T_TMPL, 0, 0, 0, 0}, s_run = {T_RUN, 0, 0, 0, 0},
                     s_any = {T_ANY, 0, 0, 0, 0}, s_name = {T_NAME, 0, 0, 0, 0},
                     s_onfail = {T_ONFAIL, 0, 0, 0, 0}, s_action = {T_ACTION, 0, 0, 0, 0},
                     s_with = {T_WITH, 0, 0, 0, 0}, s_foreach = {T_FOREACH, 0, 0, 0, 0},
                     s_posint = {T_POSINT, 0, 0, 0, 0}, s_ontimeout = {T_ONTIMEOUT, 0, 0, 0, 0},
                     s_event = {T_EVENT, 0, 0, 0, 0}, s_ptype = {T_PTYPE, 0, 0, 0, 0};

static const keyspec_t k_retry[] = {
    {"attempts", 0, &s_int}, {"delay", 0, &s_dur}, {"backoff", 0, &s_num},
    {"max_delay", 0, &s_dur}, {"until", 0, &s_expr}, {NULL, 0, NULL}};
static const shape_t s_retry = {T_OBJ, "retry", k_retry, NULL, 0};

#define INVOKE_KEYS {"action", 0, &s_action}, {"run", 0, &s_run}, {"with", 0, &s_with}

static const keyspec_t k_verify[] = {INVOKE_KEYS, {"expect", 0, &s_expr}, {"timeout", 0, &s_dur},
                                     {"retry", 0, &s_retry}, {NULL, 0, NULL}};
static const shape_t s_verify = {T_OBJ, "verify", k_verify, NULL, 1};

static const keyspec_t k_undo[] = {INVOKE_KEYS, {"timeout", 0, &s_dur}, {NULL, 0, NULL}};
static const shape_t s_undo = {T_OBJ, "undo", k_undo, NULL, 1};

static const keyspec_t k_approval[] = {
    {"when", 0, &s_expr}, {"timeout", 0, &s_dur}, {"on_timeout", 0, &s_ontimeout}, {NULL, 0, NULL}};
static const shape_t s_approval = {T_OBJ, "approval", k_approval, NULL, 0};

static const keyspec_t k_step[] = {
    {"name", 1, &s_name}, {"title", 0, &s_str}, {"description", 0, &s_str}, INVOKE_KEYS,
    {"when", 0, &s_expr}, {"timeout", 0, &s_dur}, {"retry", 0, &s_retry},
    {"verify", 0, &s_verify}, {"idempotent", 0, &s_bool}, {"read_only", 0, &s_bool},
    {"on_failure", 0, &s_onfail},
    {"approval", 0, &s_approval}, {"undo", 0, &s_undo}, {"foreach", 0, &s_foreach},
    {"max_parallel", 0, &s_posint}, {"expect", 0, &s_expr}, {NULL, 0, NULL}};
static const shape_t s_step = {T_OBJ, "step", k_step, NULL, 1};

static const keyspec_t k_check[] = {
    {"name", 1, &s_name}, {"description", 0, &s_str}, INVOKE_KEYS, {"expect", 0, &s_expr},
    {"timeout", 0, &s_dur}, {"retry", 0, &s_retry}, {NULL, 0, NULL}};
static const shape_t s_check = {T_OBJ, "check", k_check, NULL, 1};

static const keyspec_t k_trigger[] = {
    {"match", 1, &(const shape_t){T_MAP, "match", NULL, &s_str, 0}},
    {"description", 0, &s_str}, {NULL, 0, NULL}};
static const shape_t s_trigger = {T_OBJ, "trigger", k_trigger, NULL, 0};

static const keyspec_t k_param[] = {{"default", 0, &s_any}, {"required", 0, &s_bool},
                                    {"description", 0, &s_str}, {"secret", 0, &s_bool},
                                    {"type", 0, &s_ptype}, {NULL, 0, NULL}};
static const shape_t s_param = {T_OBJ, "parameter", k_param, NULL, 0};

static const keyspec_t k_sev[] = {{"level", 1, &s_str}, {"when", 0, &s_expr}, {NULL, 0, NULL}};
static const shape_t s_sev = {T_OBJ, "severity rule", k_sev, NULL, 0};

static const keyspec_t k_notify[] = {
    {"on", 1, &(const shape_t){T_LIST, NULL, NULL, &s_event, 0}}, INVOKE_KEYS,
    {"when", 0, &s_expr}, {NULL, 0, NULL}};
static const shape_t s_notify = {T_OBJ, "notify rule", k_notify, NULL, 1};

static const keyspec_t k_escalate[] = {{"after", 1, &s_dur}, {"unless", 0, &s_expr}, INVOKE_KEYS,
                                       {NULL, 0, NULL}};
static const shape_t s_escalate = {T_OBJ, "escalation", k_escalate, NULL, 1};

static const keyspec_t k_level[] = {{"respond", 0, &s_dur}, {"resolve", 0, &s_dur}, {NULL, 0, NULL}};
static const shape_t s_level = {T_OBJ, "level", k_level, NULL, 0};

static const keyspec_t k_root[] = {
    {"apiVersion", 1, &s_str}, {"name", 1, &s_name}, {"title", 0, &s_str},
    {"description", 0, &s_str}, {"owner", 0, &s_str},
    {"triggers", 0, &(const shape_t){T_LIST, NULL, NULL, &s_trigger, 0}},
    {"concurrency", 0, &s_tmpl}, {"cooldown", 0, &s_dur}, {"cancel_on_resolve", 0, &s_bool},
    {"params", 0, &(const shape_t){T_MAP, NULL, NULL, &s_param, 0}},
    {"detect", 0, &(const shape_t){T_LIST, NULL, NULL, &s_check, 0}},
    {"confirm", 0, &s_expr},
    {"severity", 0, &(const shape_t){T_LIST, NULL, NULL, &s_sev, 0}},
    {"steps", 1, &(const shape_t){T_LIST, NULL, NULL, &s_step, 0}},
    {"validate", 0, &(const shape_t){T_LIST, NULL, NULL, &s_check, 0}},
    {"notify", 0, &(const shape_t){T_LIST, NULL, NULL, &s_notify, 0}},
    {"escalate", 0, &(const shape_t){T_LIST, NULL, NULL, &s_escalate, 0}},
    {"levels", 0, &(const shape_t){T_MAP, NULL, NULL, &s_level, 0}},
    {NULL, 0, NULL}};
static const shape_t s_root = {T_OBJ, "runbook", k_root, NULL, 0};

typedef struct walk {
    const rb_doc_t *doc;
    rb_diags_t *d;
    size_t errors;
} walk_t;

#define ERR(w, m, ...)                                                                   \
    do {                                                                                 \
        (w)->errors++;                                                                   \
        rb_diag_add((w)->d, RB_DIAG_ERROR, rb_doc_name((w)->doc), (m), __VA_ARGS__);     \
    } while (0)

/* The error for v, a duration of key that rb_duration_value refused: too
 * long, or no duration at all. */
static void duration_error(walk_t *w, rb_mark_t m, const json_t *v, const char *key)
{
    uint64_t ms;
    if (rb_duration_value(v, &ms) == RB_ETOOBIG && json_is_string(v))
        ERR(w, m, "duration \"%s\" for \"%s\" is longer than 366 days", json_string_value(v),
            key);
    else if (json_is_string(v))
        ERR(w, m, "invalid duration \"%s\" for \"%s\" (use e.g. 30s, 5m, 1h30m)",
            json_string_value(v), key);
    else
        ERR(w, m, "duration of %.15g seconds for \"%s\" is longer than 366 days",
            json_number_value(v), key);
}

const char *rb__json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static const char *type_want(vtype_t t)
{
    switch (t) {
    case T_STRING: case T_NAME: case T_ACTION: case T_ONFAIL: case T_TMPL: return "a string";
    case T_EXPR: return "an expression (a string)";
    case T_BOOL: return "a boolean (true or false)";
    case T_INT: return "an integer";
    case T_POSINT: return "a whole number of at least 1";
    case T_ONTIMEOUT: return "fail or continue";
    case T_PTYPE: return "a parameter type";
    case T_EVENT: return "a run event";
    case T_NUMBER: return "a number";
    case T_DURATION: return "a duration (like 30s, 5m or 1h30m)";
    case T_RUN: return "a command (a list of strings, or one string for /bin/sh)";
    case T_LIST: return "a list";
    case T_MAP: case T_OBJ: case T_WITH: return "a mapping";
    case T_FOREACH: return "a list or an expression";
    default: return "a value";
    }
}

static const char *suggest_key(const keyspec_t *keys, const char *k)
{
    const char *best = NULL;
    int bd = strlen(k) > 4 ? 3 : 2;
    for (const keyspec_t *s = keys; s->key; s++) {
        int dd = rb__edit_distance(k, s->key);
        if (dd < bd) {
            bd = dd;
            best = s->key;
        }
    }
    return best;
}

static void check_value(walk_t *w, const char *key, const json_t *v, rb_mark_t m, const shape_t *sh);

/* validate_all's reports: one diagnostic each, at its key, except about a
 * key whose type was already found wrong (one diagnostic per problem). */
typedef struct {
    walk_t *w;
    const rb_action_t *a;
    const json_t *obj, *with, *typed; /* typed: {key: true} of type errors */
} all_t;

static void on_report(void *arg, const char *key, const char *msg)
{
    all_t *c = arg;
    if (key && json_object_get(c->typed, key))
        return;
    rb_mark_t at = key && json_object_get(c->with, key) ? rb_doc_key_mark(c->w->doc, c->with, key)
                                                        : rb_doc_val_mark(c->w->doc, c->obj, "with");
    ERR(c->w, at, "action \"%s\": %s", c->a->name, msg && *msg ? msg : "invalid parameters");
}

static void check_with(walk_t *w, const json_t *obj, rb_mark_t objm, const rb_action_t *a,
                       int has_run)
{
    const json_t *with = json_object_get(obj, "with");
    if (!a || !with || !json_is_object(with))
        return;
    const char *k;
    const json_t *v;
    size_t typed = 0;
    const char *bad_key = NULL; /* the last key with a type error */
    json_t *typed_keys = json_object(); /* every key with a type error */
    json_object_foreach((json_t *)with, k, v) {
        const rb_action_param_t *p = NULL, *best = NULL;
        int bd = 3;
        for (const rb_action_param_t *q = a->params; q && q->name; q++) {
            if (!strcmp(q->name, k))
                p = q;
            int dd = rb__edit_distance(k, q->name);
            if (dd < bd) {
                bd = dd;
                best = q;
            }
        }
        rb_mark_t km = rb_doc_key_mark(w->doc, with, k);
        if (!p) {
            if (best)
                ERR(w, km, "action \"%s\" has no parameter \"%s\" (did you mean \"%s\"?)", a->name, k,
                    best->name);
            else
                ERR(w, km, "action \"%s\" has no parameter \"%s\"", a->name, k);
            continue;
        }
        if (has_run && (!strcmp(k, "argv") || !strcmp(k, "shell"))) {
            ERR(w, km, "\"%s\" is given by \"run\"; do not repeat it in \"with\"", k);
            continue;
        }
        rb_mark_t vm = rb_doc_val_mark(w->doc, with, k);
        size_t before = w->errors;
        /* A template may stand for any type: it is checked when rendered. */
        if (json_is_string(v) && strstr(json_string_value(v), "{{"))
            continue;
        int okt = 1;
        uint64_t ms;
        switch (p->type) {
        case RB_PARAM_STRING:
        case RB_PARAM_SHELL: okt = json_is_string(v); break;
        case RB_PARAM_INT: okt = json_is_integer(v); break;
        case RB_PARAM_BOOL: okt = json_is_boolean(v); break;
        case RB_PARAM_DURATION:
            if (rb_duration_value(v, &ms) < 0) {
                if (json_is_string(v) || rb_duration_value(v, &ms) == RB_ETOOBIG)
                    duration_error(w, vm, v, k);
                else if (json_is_number(v) && json_number_value(v) < 0)
                    ERR(w, vm, "\"%s\" must not be negative: a duration (30s, 5m) or a number of "
                               "seconds, 0 or more", k);
                else
                    okt = 0;
            }
            break;
        case RB_PARAM_STRINGS:
            okt = json_is_array(v);
            for (size_t i = 0; okt && i < json_array_size(v); i++)
                if (!json_is_string(json_array_get(v, i))) {
                    ERR(w, rb_doc_item_mark(w->doc, v, i), "items of \"%s\" must be strings, got %s",
                        k, rb__json_type_name(json_array_get(v, i)));
                }
            break;
        case RB_PARAM_MAP: okt = json_is_object(v); break;
        default: break;
        }
        if (!okt) {
            static const char *names[] = {"", "a string", "an integer", "a boolean", "a duration",
                                          "a list of strings", "a mapping", "a value", "a string"};
            ERR(w, vm, "\"%s\" must be %s, got %s", k, names[p->type], rb__json_type_name(v));
        }
        if (w->errors > before) {
            typed++;
            bad_key = k;
            json_object_set_new(typed_keys, k, json_true());
        }
    }
    for (const rb_action_param_t *q = a->params; q && q->name; q++) {
        if (!q->required || json_object_get(with, q->name))
            continue;
        if (has_run && (!strcmp(q->name, "argv") || !strcmp(q->name, "shell")))
            continue;
        ERR(w, objm, "action \"%s\" needs parameter \"%s\"", a->name, q->name);
        json_object_set_new(typed_keys, q->name, json_true()); /* said once */
    }
    int (*all)(const json_t *, rb_action_report_fn, void *) = rb__action_validate_all(a);
    if (all && !has_run) {
        all_t c = {w, a, obj, with, typed_keys};
        all(with, on_report, &c);
    } else if (a->validate && !has_run) {
        char msg[256] = "";
        const char *bad = NULL;
        /* One diagnostic per problem: the action's own check is not repeated
         * about a value whose type was already found wrong above. */
        int rc = a->validate(with, msg, sizeof(msg), &bad);
        int told = (typed && (!bad || typed > 1 || !strcmp(bad, bad_key))) ||
                   (bad && json_object_get(typed_keys, bad));
        if (rc < 0 && !told) {
            rb_mark_t at = bad && json_object_get(with, bad) ? rb_doc_key_mark(w->doc, with, bad)
                                                             : rb_doc_val_mark(w->doc, obj, "with");
            ERR(w, at, "action \"%s\": %s", a->name, msg[0] ? msg : "invalid parameters");
        }
    }
    json_decref(typed_keys);
}

static void check_object(walk_t *w, const json_t *obj, rb_mark_t m, const shape_t *sh)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        const keyspec_t *s = sh->keys;
        while (s->key && strcmp(s->key, k))
            s++;
        if (!s->key) {
            const char *sug = suggest_key(sh->keys, k);
            rb_mark_t km = rb_doc_key_mark(w->doc, obj, k);
            if (sug)
                ERR(w, km, "unknown key \"%s\" in %s (did you mean \"%s\"?)", k, sh->what, sug);
            else
                ERR(w, km, "unknown key \"%s\" in %s", k, sh->what);
            continue;
        }
        check_value(w, k, v, rb_doc_val_mark(w->doc, obj, k), s->shape);
    }
    for (const keyspec_t *s = sh->keys; s->key; s++)
        if (s->required && !json_object_get(obj, s->key))
            ERR(w, m, "missing required key \"%s\" in %s", s->key, sh->what);
    /* Lists and maps that must not be empty: a runbook with no steps does
     * nothing, an empty matcher would match every alert, and a notify
     * entry on no event would never be sent. */
    static const char *const non_empty[] = {"steps", "match", "on", NULL};
    static const char *const why_empty[] = {"", " (it would match every alert)",
                                            " (the entry would never be sent)"};
    for (size_t i = 0; non_empty[i]; i++) {
        const json_t *x = json_object_get(obj, non_empty[i]);
        if ((json_is_array(x) && json_array_size(x) == 0) ||
            (json_is_object(x) && json_object_size(x) == 0))
            ERR(w, rb_doc_val_mark(w->doc, obj, non_empty[i]), "\"%s\" must not be empty%s",
                non_empty[i], why_empty[i]);
    }
    if (!sh->invocation)
        return;
    const json_t *act = json_object_get(obj, "action"), *run = json_object_get(obj, "run");
    if (!!act == !!run) {
        ERR(w, m, "a %s needs exactly one of \"action\" or \"run\"%s", sh->what,
            act ? ", not both" : "");
        return;
    }
    const rb_action_t *a = NULL;
    if (json_is_string(act)) {
        a = rb__action_find(json_string_value(act));
        if (!a) {
            const char *sug = rb__action_suggest(json_string_value(act));
            rb_mark_t am = rb_doc_val_mark(w->doc, obj, "action");
            if (sug)
                ERR(w, am, "unknown action \"%s\" (did you mean \"%s\"?)", json_string_value(act), sug);
            else
                ERR(w, am, "unknown action \"%s\" (see `runbook actions`)", json_string_value(act));
        }
    } else if (run) {
        a = rb__action_find("exec");
    }
    check_with(w, obj, m, a, run != NULL);
}

static void check_value(walk_t *w, const char *key, const json_t *v, rb_mark_t m, const shape_t *sh)
{
    int okt = 1;
    uint64_t ms;
    switch (sh->type) {
    case T_ANY: return;
    case T_STRING: case T_TMPL: case T_EXPR: case T_ACTION: okt = json_is_string(v); break;
    case T_BOOL: okt = json_is_boolean(v); break;
    case T_INT: okt = json_is_integer(v); break;
    case T_POSINT:
        okt = json_is_integer(v);
        if (okt && json_integer_value(v) < 1) {
            ERR(w, m, "\"%s\" must be %s, got %lld", key, type_want(sh->type),
                (long long)json_integer_value(v));
            return;
        }
        break;
    case T_ONTIMEOUT:
    case T_EVENT:
    case T_PTYPE:
        okt = json_is_string(v);
        if (okt) {
            const char *const *vals = sh->type == T_EVENT     ? event_values
                                      : sh->type == T_PTYPE ? rb__ptype_names
                                                            : on_timeout_values;
            size_t i = 0;
            while (vals[i] && strcmp(vals[i], json_string_value(v)))
                i++;
            if (!vals[i]) {
                char list[160] = "";
                for (size_t k = 0; vals[k]; k++)
                    snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? ", " : "",
                             vals[k]);
                ERR(w, m, "invalid %s \"%s\": use one of %s",
                    sh->type == T_EVENT ? "event" : sh->type == T_PTYPE ? "type" : "on_timeout",
                    json_string_value(v), list);
            }
        }
        break;
    case T_NUMBER: okt = json_is_number(v); break;
    case T_DURATION:
        if (json_is_string(v) || json_is_integer(v)) {
            if (rb_duration_value(v, &ms) < 0) {
                if (json_is_string(v) || rb_duration_value(v, &ms) == RB_ETOOBIG)
                    duration_error(w, m, v, key);
                else
                    ERR(w, m, "\"%s\" must be %s, got a negative or huge number", key,
                        type_want(sh->type));
            }
            return;
        }
        okt = 0;
        break;
    case T_RUN:
        if (json_is_string(v)) {
            if (!json_string_value(v)[strspn(json_string_value(v), " \t\n")])
                ERR(w, m, "\"run\" must not be an empty command");
            return;
        }
        okt = json_is_array(v) && json_array_size(v) > 0;
        if (json_is_array(v) && json_array_size(v) == 0) {
            ERR(w, m, "\"run\" must not be an empty list");
            return;
        }
        for (size_t i = 0; okt && i < json_array_size(v); i++) {
            const json_t *a = json_array_get(v, i);
            if (!json_is_string(a) && !json_is_number(a) && !json_is_boolean(a))
                ERR(w, rb_doc_item_mark(w->doc, v, i),
                    "argument %zu of \"run\" must be a string, got %s", i + 1, rb__json_type_name(a));
            else if (i == 0 && json_is_string(a) && !json_string_length(a))
                ERR(w, rb_doc_item_mark(w->doc, v, i),
                    "the program of \"run\" (its first item) must not be empty");
        }
        break;
    case T_NAME:
        okt = json_is_string(v);
        if (okt) {
            const char *s = json_string_value(v);
            size_t n = strlen(s);
            int good = n > 0 && n <= 64 && s[0] != '-';
            for (size_t i = 0; good && i < n; i++) {
                char c = s[i];
                good = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                       (c >= 'A' && c <= 'Z');
            }
            if (!good)
                ERR(w, m, "invalid name \"%s\": use letters, digits, '-' and '_', not starting "
                          "with '-' (at most 64)", s);
        }
        break;
    case T_ONFAIL:
        okt = json_is_string(v);
        if (okt) {
            const char *s = json_string_value(v);
            if (strcmp(s, "abort") && strcmp(s, "continue") && strcmp(s, "rollback") &&
                strncmp(s, "goto:", 5))
                ERR(w, m, "invalid on_failure \"%s\": use abort, continue, rollback or goto:<step>", s);
        }
        break;
    case T_FOREACH: okt = json_is_string(v) || json_is_array(v); break;
    case T_WITH: okt = json_is_object(v); break;
    case T_LIST:
        if (!json_is_array(v)) {
            okt = 0;
            break;
        }
        for (size_t i = 0; i < json_array_size(v); i++)
            check_value(w, key, json_array_get(v, i), rb_doc_item_mark(w->doc, v, i), sh->elem);
        return;
    case T_MAP:
        if (!json_is_object(v)) {
            okt = 0;
            break;
        }
        {
            const char *k;
            const json_t *x;
            json_object_foreach((json_t *)v, k, x)
                check_value(w, k, x, rb_doc_val_mark(w->doc, v, k), sh->elem);
        }
        return;
    case T_OBJ:
        if (!json_is_object(v)) {
            okt = 0;
            break;
        }
        check_object(w, v, m, sh);
        return;
    }
    if (!okt) {
        if (sh->type == T_OBJ && sh->what)
            ERR(w, m, "a %s must be %s, got %s", sh->what, type_want(sh->type), rb__json_type_name(v));
        else
            ERR(w, m, "\"%s\" must be %s, got %s", key, type_want(sh->type), rb__json_type_name(v));
    }
}

size_t rb__validate_shape(const rb_doc_t *doc, rb_diags_t *d)
{
    walk_t w = {doc, d, 0};
    const json_t *root = rb_doc_root(doc);
    rb_mark_t rm = rb_doc_root_mark(doc);
    if (!json_is_object(root)) {
        ERR(&w, rm, "a runbook must be a mapping (apiVersion, name, steps …), got %s",
            rb__json_type_name(root));
        return w.errors;
    }
    check_object(&w, root, rm, &s_root);
    const json_t *api = json_object_get(root, "apiVersion");
    if (json_is_string(api) && strcmp(json_string_value(api), "runbook/v1"))
        ERR(&w, rb_doc_val_mark(doc, root, "apiVersion"),
            "unsupported apiVersion \"%s\" (this engine reads runbook/v1)", json_string_value(api));
    const json_t *name = json_object_get(root, "name");
    if (json_is_string(name)) {
        const char *s = json_string_value(name);
        for (const char *p = s; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
                ERR(&w, rb_doc_val_mark(doc, root, "name"),
                    "invalid runbook name \"%s\": use lowercase letters, digits and '-'", s);
                break;
            }
    }
    return w.errors;
}
