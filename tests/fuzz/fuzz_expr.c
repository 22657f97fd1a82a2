/*
 * fuzz_expr.c — libFuzzer target for the expression compiler and evaluator
 * (engine/expr, `when:`, `expect:`, `until:` and every {{ }}).
 *
 * The input is an expression's source. It is compiled, then evaluated,
 * tested and its references listed against a small fixed context that has
 * every kind of value, and once against no context. Besides the sanitizers
 * it checks the promises callers rely on: an error offset lies inside the
 * source (or one past its end), an error always has a message, a runtime
 * error always says why. Owns nothing but its context; never touches files.
 *
 * Built with -DRB_FUZZ=ON (clang); run by tests/fuzz/run.sh.
 */
#include "fuzz.h"

static void on_field(const char *name, const char *field, void *arg)
{
    (void)name, (void)field, (void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *ctx = rb_fuzz_ctx();
    const char *src = (const char *)data;
    rb_expr_error_t err;
    char msg[256];

    rb_expr_t *e = rb_expr_compile(src, size, &err);
    if (!e) {
        /* longer than the limit: the offset is the limit itself */
        if (size <= 65536)
            rb_fuzz_check_error(&err, size);
        return 0;
    }
    msg[0] = '\0';
    json_t *v = rb_expr_eval(e, ctx, msg, sizeof(msg));
    if (!v && msg[0] == '\0')
        abort();
    json_decref(v);
    v = rb_expr_eval(e, NULL, msg, sizeof(msg));
    json_decref(v);
    rb_expr_test(e, ctx, msg, sizeof(msg));
    rb_expr_refs(e, rb_fuzz_on_ref, &size);
    rb_expr_fields(e, "checks", on_field, NULL);
    rb_expr_free(e);
    return 0;
}
