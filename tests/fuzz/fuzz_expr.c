/*
 * fuzz_expr.c — libFuzzer target for the expression language and templates.
 *
 * The first input byte picks what to do with the rest: compile it as an
 * expression (then evaluate, test and list references), or as a template
 * (then render it plain, as a string and for the shell, list references
 * and run the shell check). Everything runs against a small fixed context
 * that has every kind of value. Besides the sanitizers, it checks the
 * promises callers rely on: an error offset lies inside the source, an
 * error always has a message, and text rendered for the shell never holds
 * a NUL byte.
 *
 * Built only with -DRB_FUZZ=ON (clang): `./fuzz_expr -max_len=4096 corpus/`.
 */
#include "expr/expr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char CTX[] =
    "{\"alert\": {\"labels\": {\"instance\": \"node1:20332\", \"team-name\": \"a'b$(x)\"}},"
    " \"params\": {\"n\": 3, \"r\": 0.5, \"s\": \"neo\", \"l\": [1, \"two\", null, [3]], \"o\": {},"
    "             \"big\": 9223372036854775807, \"nul\": \"a\\u0000b\", \"t\": true},"
    " \"steps\": {\"restart\": {\"ok\": false, \"exit_code\": 1, \"stdout\": \"42\\n\"}},"
    " \"checks\": {\"rpc\": {\"json\": {\"result\": {\"height\": 7}}}},"
    " \"item\": \"v1\", \"run\": {\"severity\": \"P1\"}}";

static json_t *ctx;

static void on_ref(const char *root, const char *first, size_t offset, void *arg)
{
    size_t size = *(const size_t *)arg;
    if (!root || offset > size)
        abort();
}

static void check_error(const rb_expr_error_t *err, size_t size)
{
    /* an offset may point one past the end ("found end of expression") */
    if (err->offset > size || err->msg[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx && !(ctx = json_loads(CTX, JSON_ALLOW_NUL, NULL)))
        abort();
    if (size < 1)
        return 0;
    int mode = data[0];
    const char *src = (const char *)data + 1;
    size--;
    rb_expr_error_t err;
    char msg[256];

    if (mode & 1) {
        rb_expr_t *e = rb_expr_compile(src, size, &err);
        if (!e) {
            /* longer than the limit: the offset is the limit itself */
            if (size <= 65536)
                check_error(&err, size);
            return 0;
        }
        json_t *v = rb_expr_eval(e, ctx, msg, sizeof(msg));
        if (!v && msg[0] == '\0')
            abort();
        json_decref(v);
        v = rb_expr_eval(e, NULL, msg, sizeof(msg));
        json_decref(v);
        rb_expr_test(e, ctx, msg, sizeof(msg));
        rb_expr_refs(e, on_ref, &size);
        rb_expr_free(e);
        return 0;
    }

    rb_tmpl_t *t = rb_tmpl_compile(src, size, &err);
    if (!t) {
        if (size <= (1u << 20))
            check_error(&err, size);
        return 0;
    }
    static const int flags[] = {0, RB_TMPL_STRING, RB_TMPL_SHELL_QUOTE};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        json_t *v = rb_tmpl_render(t, ctx, flags[i], msg, sizeof(msg));
        if (v && flags[i] && !json_is_string(v))
            abort();
        if (v && flags[i] == RB_TMPL_SHELL_QUOTE &&
            memchr(json_string_value(v), '\0', json_string_length(v)) &&
            !memchr(src, '\0', size)) /* a NUL the author wrote is theirs */
            abort();
        json_decref(v);
    }
    rb_tmpl_refs(t, on_ref, &size);
    if (rb_tmpl_shell_check(t, &err) < 0)
        check_error(&err, size);
    rb_tmpl_is_literal(t);
    rb_tmpl_free(t);
    return 0;
}
