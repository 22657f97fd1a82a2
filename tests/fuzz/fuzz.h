/*
 * fuzz.h — what the libFuzzer targets of tests/fuzz share: the fixed
 * expression context and the check of a compile error. Header-only (each
 * target is one program); never used by the engine.
 */
#ifndef RB_FUZZ_H
#define RB_FUZZ_H

#include "expr/expr.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A context with every kind of value, made once (lives as long as the
 * process). */
static inline json_t *rb_fuzz_ctx(void)
{
    static const char text[] =
        "{\"alert\": {\"labels\": {\"instance\": \"node1:20332\", \"team-name\": \"a'b$(x)\"}},"
        " \"params\": {\"n\": 3, \"r\": 0.5, \"s\": \"neo\", \"l\": [1, \"two\", null, [3]], \"o\": {},"
        "             \"big\": 9223372036854775807, \"neg\": -9223372036854775807,"
        "             \"nul\": \"a\\u0000b\", \"t\": true, \"u\": \"\\u00e9\\u4e2d\"},"
        " \"steps\": {\"restart\": {\"ok\": false, \"exit_code\": 1, \"stdout\": \"42\\n\"}},"
        " \"checks\": {\"rpc\": {\"json\": {\"result\": {\"height\": 7}}}},"
        " \"item\": \"v1\", \"run\": {\"severity\": \"P1\"}, \"env\": {\"HOME\": \"/root\"}}";
    static json_t *ctx;
    if (!ctx && !(ctx = json_loads(text, JSON_ALLOW_NUL, NULL)))
        abort();
    return ctx;
}

/* An offset may point one past the end ("found end of expression"); an
 * error always says why. */
static inline void rb_fuzz_check_error(const rb_expr_error_t *err, size_t size)
{
    if (err->offset > size || err->msg[0] == '\0')
        abort();
}

/* A reference callback (rb_expr_refs, rb_tmpl_refs) with the source's
 * size as arg: a reference has a root and lies inside the source. */
static inline void rb_fuzz_on_ref(const char *root, const char *first, size_t offset, void *arg)
{
    (void)first;
    if (!root || offset > *(const size_t *)arg)
        abort();
}

#endif
