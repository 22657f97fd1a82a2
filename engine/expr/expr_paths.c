/*
 * expr_paths.c — what a compiled expression reads under one root name:
 * rb_expr_fields (expr.h). The run uses it to tell which checks `confirm`
 * depends on (docs/semantics.md, R-probe-error).
 *
 * Reads the compiled tree (expr_int.h) and never changes it; evaluates
 * nothing.
 */
#include "expr_int.h"

#include <string.h>

typedef struct walk {
    const char *root;
    rb_expr_field_cb cb;
    void *arg;
} walk_t;

static const char *key_at(const node *n, size_t i)
{
    return i < n->u.path.nseg && n->u.path.segs[i].kind == SEG_KEY ? n->u.path.segs[i].key : NULL;
}

static void visit(const node *n, const walk_t *w)
{
    switch (n->kind) {
    case N_LIT:
        return;
    case N_LIST:
        for (size_t i = 0; i < n->u.list.n; i++)
            visit(n->u.list.items[i], w);
        return;
    case N_PATH:
        if (n->u.path.base) {
            visit(n->u.path.base, w);
        } else if (!strcmp(n->u.path.root, w->root)) {
            /* checks.rpc.ok → ("rpc", "ok"); checks.rpc → ("rpc", NULL);
             * checks[x] → (NULL, NULL): it could be any of them */
            const char *name = key_at(n, 0);
            w->cb(name, name ? key_at(n, 1) : NULL, w->arg);
        }
        for (size_t i = 0; i < n->u.path.nseg; i++)
            if (n->u.path.segs[i].kind == SEG_EXPR)
                visit(n->u.path.segs[i].ex, w);
        return;
    case N_CALL:
        for (int i = 0; i < n->u.call.n; i++)
            visit(n->u.call.args[i], w);
        return;
    case N_NOT:
    case N_NEG:
        visit(n->u.bin.a, w);
        return;
    default:
        visit(n->u.bin.a, w);
        visit(n->u.bin.b, w);
        return;
    }
}

void rb_expr_fields(const rb_expr_t *e, const char *root, rb_expr_field_cb cb, void *arg)
{
    if (!e || !e->root || !root || !cb)
        return;
    walk_t w = {root, cb, arg};
    visit(e->root, &w);
}
