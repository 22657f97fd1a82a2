/*
 * fuzz_template.c — libFuzzer target for the template renderer
 * (engine/expr/template.c: text with {{ expr }} parts).
 *
 * The input is a template's source. It is compiled, rendered plain, as a
 * string and quoted for the shell against a fixed context with every kind
 * of value, its references listed and the shell check run. Besides the
 * sanitizers it checks: an error offset lies inside the source, a string
 * render is a string, and text rendered for the shell never holds a NUL
 * byte the author did not write. Owns nothing but its context.
 *
 * Built with -DRB_FUZZ=ON (clang); run by tests/fuzz/run.sh.
 */
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *ctx = rb_fuzz_ctx();
    const char *src = (const char *)data;
    rb_expr_error_t err;
    char msg[256];

    rb_tmpl_t *t = rb_tmpl_compile(src, size, &err);
    if (!t) {
        if (size <= (1u << 20))
            rb_fuzz_check_error(&err, size);
        return 0;
    }
    static const int flags[] = {0, RB_TMPL_STRING, RB_TMPL_SHELL_QUOTE};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        msg[0] = '\0';
        json_t *v = rb_tmpl_render(t, ctx, flags[i], msg, sizeof(msg));
        if (!v && msg[0] == '\0')
            abort();
        if (v && flags[i] && !json_is_string(v))
            abort();
        if (v && flags[i] == RB_TMPL_SHELL_QUOTE &&
            memchr(json_string_value(v), '\0', json_string_length(v)) &&
            !memchr(src, '\0', size)) /* a NUL the author wrote is theirs */
            abort();
        json_decref(v);
    }
    rb_tmpl_refs(t, rb_fuzz_on_ref, &size);
    if (rb_tmpl_shell_check(t, &err) < 0)
        rb_fuzz_check_error(&err, size);
    rb_tmpl_is_literal(t);
    rb_tmpl_free(t);
    return 0;
}
