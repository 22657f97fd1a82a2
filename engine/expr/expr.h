/*
 * expr.h — the expression language and `{{ }}` templates (DESIGN §3).
 *
 * Expressions are compiled once, at load, into a tree; evaluation walks the
 * tree against a context object (alert, params, checks, steps, item, run,
 * env) and returns a new jansson value. A missing path evaluates to null,
 * never to an error. Internal to the engine (rb__ would be the prefix of
 * anything non-static that is not part of this interface). The files that
 * implement it (expr_lex.c, expr_parse.c, expr_eval.c, expr_func.c,
 * template.c) share their internals through expr_int.h, never through here.
 */
#ifndef RB_EXPR_H
#define RB_EXPR_H

#include <jansson.h>
#include <stddef.h>

typedef struct rb_expr rb_expr_t;
typedef struct rb_tmpl rb_tmpl_t;

/* Where and why compiling failed. offset is the byte offset into the source
 * text given to the compile function (0-based), so the caller can turn it
 * into a column. */
typedef struct rb_expr_error {
    size_t offset;
    char msg[200];
} rb_expr_error_t;

/* Compiles an expression. Returns the compiled tree, or NULL with *err
 * filled. src need not be NUL-terminated. */
rb_expr_t *rb_expr_compile(const char *src, size_t len, rb_expr_error_t *err);
void rb_expr_free(rb_expr_t *e);

/* Evaluates against ctx (borrowed). Returns a new reference (never NULL on
 * success; a missing path is json_null()). Returns NULL on a runtime error
 * (a function given the wrong type, division by zero …) with a message in
 * err. The value may be shared with ctx or with the compiled expression (a
 * path returns the context's own value, increfed, not a copy): treat it as
 * read-only and json_deep_copy it before changing it. Loop thread or any
 * thread: it touches nothing but its arguments. */
json_t *rb_expr_eval(const rb_expr_t *e, const json_t *ctx, char *err, size_t errlen);

/* Where now() reads the time on the calling thread: fn(arg) returns
 * seconds since the epoch. NULL restores the system clock. Thread-local, so
 * that one thread's replay never answers another thread's now(). The run
 * installs a clock that records every value it hands out
 * (rb_expr_clock_take), so that a replay can give back the same values;
 * a replay installs one that answers from the journal. */
typedef double (*rb_expr_clock_fn)(void *arg);
void rb_expr_set_clock(rb_expr_clock_fn fn, void *arg);
rb_expr_clock_fn rb_expr_get_clock(void **arg);
/* The system clock, in seconds since the epoch (what now() reads by default). */
double rb_expr_system_now(void);

/* Truthiness: null, false, 0, "", [] and {} are false; all else true. */
int rb_expr_truthy(const json_t *v);

/* Evaluates and returns truthiness: 1 true, 0 false, -1 error (err set). */
int rb_expr_test(const rb_expr_t *e, const json_t *ctx, char *err, size_t errlen);

/* Calls cb for every path in the expression whose root is a plain name:
 * root is the first name ("steps"), first is the next segment when it is a
 * literal key or NULL ("restart" in steps.restart.ok or steps["restart"]),
 * offset is the byte offset of the path in the source. Used by the validator
 * to check references. */
typedef void (*rb_expr_ref_cb)(const char *root, const char *first, size_t offset, void *arg);
void rb_expr_refs(const rb_expr_t *e, rb_expr_ref_cb cb, void *arg);

/* Calls cb once for every path the expression reads under the plain name
 * root ("checks"), in source order: name is the next segment when it is a
 * literal key ("rpc" in checks.rpc.ok or checks["rpc"]) or NULL when it is
 * computed or absent (checks[x], checks: any name may be read); field is
 * the segment after it when that is a literal key ("ok"), or NULL when the
 * path stops at the name or goes on with a computed segment (the whole
 * value may be read). Used to tell which checks `confirm` depends on
 * (docs/semantics.md, R-probe-error). Any thread. */
typedef void (*rb_expr_field_cb)(const char *name, const char *field, void *arg);
void rb_expr_fields(const rb_expr_t *e, const char *root, rb_expr_field_cb cb, void *arg);

/* --- templates: text with {{ expr }} parts --- */

/* Rendering flags. */
#define RB_TMPL_SHELL_QUOTE 0x1 /* quote every interpolated value for /bin/sh */
#define RB_TMPL_STRING      0x2 /* always render to a string, even one {{ }} */

/* Compiles a template. A string with no "{{" compiles to a literal. Returns
 * NULL with *err filled (offset into src) on a syntax error or an unclosed
 * "{{". */
rb_tmpl_t *rb_tmpl_compile(const char *src, size_t len, rb_expr_error_t *err);
void rb_tmpl_free(rb_tmpl_t *t);

/* 1 when the template has no {{ }} part. */
int rb_tmpl_is_literal(const rb_tmpl_t *t);

/* Renders against ctx (borrowed). A template that is exactly one "{{ expr }}"
 * keeps the value's type (unless RB_TMPL_STRING or RB_TMPL_SHELL_QUOTE);
 * anything else renders to a string where strings stay as they are, numbers
 * and booleans print as JSON, null prints as "", arrays and objects print as
 * compact JSON. With RB_TMPL_SHELL_QUOTE each interpolated value (not the
 * literal text around it) is single-quoted for POSIX sh so that no value can
 * become a command. Returns a new reference, or NULL with err set. */
json_t *rb_tmpl_render(const rb_tmpl_t *t, const json_t *ctx, int flags, char *err, size_t errlen);
/* Why a template that is one {{ }} renders null, when a key it looked up
 * is not there: "{{ inventory.hosts[params.node] }} gave nothing:
 * inventory.hosts has no \"nope\"" into out, and 1; else 0. */
int rb_tmpl_missing(const rb_tmpl_t *t, const json_t *ctx, char *out, size_t len);

/* Calls cb for the references of every expression in the template, with
 * offsets relative to the template source. */
void rb_tmpl_refs(const rb_tmpl_t *t, rb_expr_ref_cb cb, void *arg);

/* Quotes s for POSIX sh ('…' with ' as '\''). Returns a malloc'd string,
 * or NULL when s contains a NUL byte (no argv string can carry one) or
 * memory ran out. Any thread. */
char *rb_shell_quote(const char *s, size_t len);

/* Checks that every {{ }} of t sits where RB_TMPL_SHELL_QUOTE can make its
 * value inert: outside quotes, or inside '…' or "…" (the quote is closed
 * around the value and reopened). A {{ }} after a backslash or a '$', inside
 * `…`, ${…}, $((…)), ((…)), a comment or a here-document is refused, and so
 * is every {{ }} after shell syntax the check cannot follow ($'…', $[…],
 * <<<, case inside $(…)). 0, or -1 with
 * *err (offset of the {{ into the template source). rb_tmpl_render with
 * RB_TMPL_SHELL_QUOTE refuses the same templates; the validator calls this
 * to report them at load. Any thread. */
int rb_tmpl_shell_check(const rb_tmpl_t *t, rb_expr_error_t *err);

#endif
