/*
 * expr_parse.c — compiling the expression language (DESIGN §3): a
 * precedence-climbing parser over the tokens of expr_lex.c to a tree,
 * with the compile-time checks (function names and arities, literal
 * arguments, nesting, tree height) and constant folding, and rb_expr_refs.
 *
 * Owns: a compiled expression (rb_expr_t) and everything hanging off it.
 * The tree lives in one arena freed with the expression; literal values and
 * compiled regexes are listed beside it and released in rb_expr_free.
 *
 * Must never: crash or recurse without bound on any input. Source length,
 * nesting and tree height are bounded here, so evaluation (expr_eval.c)
 * is bounded too; the first error is reported with its byte offset. The
 * tree is never changed after compile returns: evaluation shares it.
 */
#include "expr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEST   64    /* parentheses, brackets, calls, prefix operators */
#define MAX_HEIGHT 256   /* tree height, so `a+a+a+…` cannot blow the stack */

/* ---------------------------------------------------------------- arena */

static void *arena_alloc(rb_expr_t *e, size_t n)
{
    n = (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
    chunk *c = e->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : 512;
        while (size < n)
            size *= 2;
        c = malloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->next = e->chunks;
        c->used = 0;
        c->size = size;
        e->chunks = c;
    }
    void *p = c->mem + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void rb_expr_free(rb_expr_t *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nlits; i++)
        json_decref(e->lits[i]);
    for (size_t i = 0; i < e->naux; i++)
        e->auxv[i].f->release(e->auxv[i].aux);
    free(e->lits);
    free(e->auxv);
    while (e->chunks) {
        chunk *next = e->chunks->next;
        free(e->chunks);
        e->chunks = next;
    }
    free(e);
}

/* ---------------------------------------------------------------- parser */

static int track(rb_expr_t *e, json_t *v)
{
    if (e->nlits == e->caplits) {
        size_t cap = e->caplits ? e->caplits * 2 : 8;
        json_t **l = realloc(e->lits, cap * sizeof(*l));
        if (!l)
            return -1;
        e->lits = l;
        e->caplits = cap;
    }
    e->lits[e->nlits++] = v;
    return 0;
}

static node *mk(parser *p, int kind, size_t off)
{
    node *n = arena_alloc(p->e, sizeof(*n));
    if (!n) {
        rb__expr_oom(p);
        return NULL;
    }
    n->kind = kind;
    n->off = off;
    n->height = 1;
    return n;
}

/* Takes v (a new reference) into the tree. */
static node *mk_lit(parser *p, json_t *v, size_t off)
{
    if (!v || track(p->e, v) < 0) {
        json_decref(v);
        rb__expr_oom(p);
        return NULL;
    }
    node *n = mk(p, N_LIT, off);
    if (n)
        n->u.lit = v;
    return n;
}

static int set_height(parser *p, node *n, int child)
{
    if (child + 1 > n->height)
        n->height = child + 1;
    if (n->height > MAX_HEIGHT) {
        rb__expr_perr(p, n->off, "expression too complex (more than %d levels)", MAX_HEIGHT);
        return -1;
    }
    return 0;
}

static int enter(parser *p)
{
    if (++p->depth > MAX_NEST) {
        rb__expr_perr(p, p->cur.off, "expression nested too deeply (more than %d levels)", MAX_NEST);
        return -1;
    }
    return 0;
}

static int expect(parser *p, int kind, const char *what)
{
    if (p->cur.kind == kind)
        return rb__expr_lex(p);
    char b[64];
    rb__expr_perr(p, p->cur.off, "expected %s but found %s", what,
                  rb__expr_tok_desc(p, &p->cur, b, sizeof(b)));
    return -1;
}


/* A node whose operands are all constants is evaluated now: the value is
 * computed once, and an error such as 1/0 or int("x") is a compile error
 * pointing at the node instead of a failure at 3 a.m. */
static node *fold(parser *p, node *n)
{
    char msg[sizeof(p->err->msg)];
    json_t *v = rb__expr_eval_node(n, NULL, msg, sizeof(msg));
    if (!v) {
        rb__expr_perr(p, n->off, "%s", msg);
        return NULL;
    }
    return mk_lit(p, v, n->off);
}

static node *parse_expr(parser *p, int minprec);

static char *arena_str(parser *p, const char *s, size_t n)
{
    char *c = arena_alloc(p->e, n + 1);
    if (!c) {
        rb__expr_oom(p);
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

/* Comma-separated expressions up to `close`; the opening token is consumed. */
static node **parse_list(parser *p, int close, const char *what, int *count)
{
    node **v = NULL, **out = NULL;
    size_t n = 0, cap = 0;
    if (enter(p) < 0)
        return NULL;
    while (p->cur.kind != close) {
        node *x = parse_expr(p, 1);
        if (!x)
            goto done;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            node **nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                rb__expr_oom(p);
                goto done;
            }
            v = nv;
        }
        v[n++] = x;
        if (p->cur.kind == T_COMMA) {
            if (rb__expr_lex(p) < 0)
                goto done;
        } else if (p->cur.kind != close) {
            char b[64];
            rb__expr_perr(p, p->cur.off, "expected %s but found %s", what,
                          rb__expr_tok_desc(p, &p->cur, b, sizeof(b)));
            goto done;
        }
    }
    if (n > 100000) {
        rb__expr_perr(p, p->cur.off, "too many items");
        goto done;
    }
    out = arena_alloc(p->e, (n ? n : 1) * sizeof(*out));
    if (!out) {
        rb__expr_oom(p);
        goto done;
    }
    if (n)
        memcpy(out, v, n * sizeof(*out));
    *count = (int)n;
    p->depth--;
    if (rb__expr_lex(p) < 0)
        out = NULL;
done:
    free(v);
    return out;
}

static node *parse_call(parser *p, size_t off, const char *name, size_t nlen)
{
    const rb__func_t *f = rb__func_find(name, nlen);
    if (!f) {
        char nm[48];
        snprintf(nm, sizeof(nm), "%.*s", (int)(nlen < 40 ? nlen : 40), name);
        const char *s = rb__func_suggest(nm);
        if (s)
            rb__expr_perr(p, off, "unknown function '%s' (did you mean '%s'?)", nm, s);
        else
            rb__expr_perr(p, off, "unknown function '%s'", nm);
        return NULL;
    }
    if (rb__expr_lex(p) < 0) /* past '(' */
        return NULL;
    int argc = 0;
    node **args = parse_list(p, T_RPAREN, "',' or ')'", &argc);
    if (!args)
        return NULL;
    if (argc < f->min_args || argc > f->max_args) {
        if (f->min_args == f->max_args)
            rb__expr_perr(p, off, "%s() takes %d argument%s but was given %d", f->name, f->min_args,
                          f->min_args == 1 ? "" : "s", argc);
        else
            rb__expr_perr(p, off, "%s() takes %d to %d arguments but was given %d", f->name, f->min_args,
                          f->max_args, argc);
        return NULL;
    }
    node *n = mk(p, f->call ? N_CALL : N_DEFAULT, off);
    if (!n)
        return NULL;
    int consts = 1;
    json_t *lits[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < argc; i++) {
        if (set_height(p, n, args[i]->height) < 0)
            return NULL;
        if (i < 4 && args[i]->kind == N_LIT)
            lits[i] = args[i]->u.lit;
        else
            consts = 0;
    }
    if (n->kind == N_DEFAULT) {
        n->u.bin.a = args[0];
        n->u.bin.b = args[1];
        return consts ? fold(p, n) : n;
    }
    n->u.call.f = f;
    n->u.call.args = args;
    n->u.call.n = argc;
    if (f->prepare) {
        int bad = 0;
        char msg[sizeof(p->err->msg)];
        if (f->prepare(lits, argc, &n->u.call.aux, &bad, msg, sizeof(msg)) < 0) {
            rb__expr_perr(p, bad >= 0 && bad < argc ? args[bad]->off : off, "%s", msg);
            return NULL;
        }
        if (n->u.call.aux) {
            rb_expr_t *e = p->e;
            if (e->naux == e->capaux) {
                size_t cap = e->capaux ? e->capaux * 2 : 4;
                aux_ref *a = realloc(e->auxv, cap * sizeof(*a));
                if (!a) {
                    f->release(n->u.call.aux);
                    rb__expr_oom(p);
                    return NULL;
                }
                e->auxv = a;
                e->capaux = cap;
            }
            e->auxv[e->naux++] = (aux_ref){f, n->u.call.aux};
        }
    }
    return consts && f->pure ? fold(p, n) : n;
}

static node *parse_postfix(parser *p, node *base, const char *root, size_t rlen, size_t off)
{
    seg *v = NULL;
    size_t n = 0, cap = 0;
    node *out = NULL;
    int height = base ? base->height : 0, entered = 0, consts = base && base->kind == N_LIT;
    for (;;) {
        seg s = {0};
        if (p->cur.kind == T_DOT) {
            size_t moff, mlen;
            if (rb__expr_lex_member(p, &moff, &mlen) < 0)
                goto done;
            s.kind = SEG_KEY;
            s.klen = mlen;
            if (!(s.key = arena_str(p, p->src + moff, mlen)))
                goto done;
        } else if (p->cur.kind == T_LBRACK) {
            if (enter(p) < 0 || rb__expr_lex(p) < 0)
                goto done;
            entered++;
            node *x = parse_expr(p, 1);
            if (!x || expect(p, T_RBRACK, "']'") < 0)
                goto done;
            p->depth--;
            entered--;
            if (x->kind == N_LIT && json_is_string(x->u.lit)) {
                s.kind = SEG_KEY;
                s.klen = json_string_length(x->u.lit);
                s.key = json_string_value(x->u.lit); /* the literal lives as long as the tree */
            } else if (x->kind == N_LIT && json_is_integer(x->u.lit)) {
                s.kind = SEG_INDEX;
                s.idx = json_integer_value(x->u.lit);
            } else {
                s.kind = SEG_EXPR;
                s.ex = x;
                consts &= x->kind == N_LIT;
                if (x->height > height)
                    height = x->height;
            }
        } else if (p->cur.kind == T_LPAREN) {
            rb__expr_perr(p, p->cur.off, "only built-in functions can be called");
            goto done;
        } else {
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            seg *nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                rb__expr_oom(p);
                goto done;
            }
            v = nv;
        }
        v[n++] = s;
        if (n > 4096) {
            rb__expr_perr(p, p->cur.off, "path too long");
            goto done;
        }
    }
    if (base && n == 0) {
        out = base;
        goto done;
    }
    node *pn = mk(p, N_PATH, off);
    if (!pn || set_height(p, pn, height) < 0)
        goto done;
    pn->u.path.base = base;
    pn->u.path.root = root;
    pn->u.path.rlen = rlen;
    pn->u.path.nseg = n;
    if (n) {
        if (!(pn->u.path.segs = arena_alloc(p->e, n * sizeof(seg)))) {
            rb__expr_oom(p);
            goto done;
        }
        memcpy(pn->u.path.segs, v, n * sizeof(seg));
    }
    /* a constant base ([1, 2][0]) makes a constant path */
    out = consts ? fold(p, pn) : pn;
done:
    p->depth -= entered;
    free(v);
    return out;
}

static node *parse_primary(parser *p)
{
    tok t = p->cur;
    node *n = NULL;
    switch (t.kind) {
    case T_INT: n = mk_lit(p, json_integer(t.ival), t.off); break;
    case T_REAL: n = mk_lit(p, json_real(t.dval), t.off); break;
    case T_TRUE: n = mk_lit(p, json_true(), t.off); break;
    case T_FALSE: n = mk_lit(p, json_false(), t.off); break;
    case T_NULL: n = mk_lit(p, json_null(), t.off); break;
    case T_STR: {
        json_t *v = json_stringn(p->sbuf ? p->sbuf : "", t.slen);
        if (!v) {
            rb__expr_perr(p, t.off, "string is not valid UTF-8");
            return NULL;
        }
        n = mk_lit(p, v, t.off);
        break;
    }
    case T_IDENT: {
        const char *name = p->src + t.off;
        if (rb__expr_lex(p) < 0)
            return NULL;
        if (p->cur.kind == T_LPAREN) {
            n = parse_call(p, t.off, name, t.len);
            return n ? parse_postfix(p, n, NULL, 0, t.off) : NULL;
        }
        const char *root = arena_str(p, name, t.len);
        return root ? parse_postfix(p, NULL, root, t.len, t.off) : NULL;
    }
    case T_LPAREN:
        if (enter(p) < 0 || rb__expr_lex(p) < 0)
            return NULL;
        n = parse_expr(p, 1);
        if (!n || expect(p, T_RPAREN, "')'") < 0)
            return NULL;
        p->depth--;
        return parse_postfix(p, n, NULL, 0, t.off);
    case T_LBRACK: {
        if (rb__expr_lex(p) < 0)
            return NULL;
        int count = 0;
        node **items = parse_list(p, T_RBRACK, "',' or ']'", &count);
        if (!items || !(n = mk(p, N_LIST, t.off)))
            return NULL;
        n->u.list.items = items;
        n->u.list.n = (size_t)count;
        int consts = 1;
        for (int i = 0; i < count; i++) {
            if (set_height(p, n, items[i]->height) < 0)
                return NULL;
            consts &= items[i]->kind == N_LIT;
        }
        if (consts && !(n = fold(p, n)))
            return NULL;
        return parse_postfix(p, n, NULL, 0, t.off);
    }
    default: {
        char b[64];
        rb__expr_perr(p, t.off, "expected a value but found %s", rb__expr_tok_desc(p, &t, b, sizeof(b)));
        return NULL;
    }
    }
    if (!n || rb__expr_lex(p) < 0)
        return NULL;
    return parse_postfix(p, n, NULL, 0, t.off);
}

static node *parse_unary(parser *p)
{
    int k = p->cur.kind;
    if (k != T_NOT && k != T_MINUS)
        return parse_primary(p);
    size_t off = p->cur.off;
    if (enter(p) < 0 || rb__expr_lex(p) < 0)
        return NULL;
    node *a = parse_unary(p);
    if (!a)
        return NULL;
    p->depth--;
    node *n = mk(p, k == T_NOT ? N_NOT : N_NEG, off);
    if (!n || set_height(p, n, a->height) < 0)
        return NULL;
    n->u.bin.a = a;
    return a->kind == N_LIT ? fold(p, n) : n;
}

static int binprec(int k)
{
    switch (k) {
    case T_OR: return 1;
    case T_AND: return 2;
    case T_EQ: case T_NE: return 3;
    case T_LT: case T_LE: case T_GT: case T_GE: case T_IN: return 4;
    case T_PLUS: case T_MINUS: return 5;
    case T_STAR: case T_SLASH: case T_PCT: return 6;
    default: return 0;
    }
}

/* Precedence climbing: every operator is left-associative. */
static node *parse_expr(parser *p, int minprec)
{
    node *lhs = parse_unary(p);
    while (lhs) {
        int op = p->cur.kind, prec = binprec(op);
        if (!prec || prec < minprec)
            break;
        size_t off = p->cur.off;
        if (rb__expr_lex(p) < 0)
            return NULL;
        node *rhs = parse_expr(p, prec + 1);
        if (!rhs)
            return NULL;
        node *n = mk(p, op == T_AND ? N_AND : op == T_OR ? N_OR : N_BIN, off);
        if (!n || set_height(p, n, lhs->height) < 0 || set_height(p, n, rhs->height) < 0)
            return NULL;
        n->op = op;
        n->u.bin.a = lhs;
        n->u.bin.b = rhs;
        lhs = lhs->kind == N_LIT && rhs->kind == N_LIT ? fold(p, n) : n;
    }
    return lhs;
}

static rb_expr_t *compile(const char *src, size_t len, size_t start, int tmpl, size_t *end,
                          rb_expr_error_t *err)
{
    rb_expr_error_t dummy;
    if (!err)
        err = &dummy;
    err->offset = 0;
    err->msg[0] = '\0';
    if (!tmpl && len > RB_EXPR_MAX_LEN) {
        err->offset = RB_EXPR_MAX_LEN;
        snprintf(err->msg, sizeof(err->msg), "expression longer than %d bytes", RB_EXPR_MAX_LEN);
        return NULL;
    }
    parser p = {.src = src ? src : "", .len = src ? len : 0, .start = start, .pos = start, .tmpl = tmpl,
                .err = err};
    p.e = calloc(1, sizeof(*p.e));
    if (!p.e) {
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return NULL;
    }
    if (rb__expr_lex(&p) == 0) {
        if (p.cur.kind == T_EOF && !tmpl)
            rb__expr_perr(&p, p.cur.off, "empty expression");
        else if (p.cur.kind == T_TMPL_END)
            rb__expr_perr(&p, start - 2, "empty '{{ }}'");
        else
            p.e->root = parse_expr(&p, 1);
    }
    if (!p.failed) {
        if (tmpl && p.cur.kind == T_EOF)
            rb__expr_perr(&p, start - 2, "unclosed '{{'");
        else if (p.cur.kind != (tmpl ? T_TMPL_END : T_EOF)) {
            char b[64];
            rb__expr_perr(&p, p.cur.off, "expected %s but found %s",
                          tmpl ? "an operator or '}}'" : "an operator or end of expression",
                          rb__expr_tok_desc(&p, &p.cur, b, sizeof(b)));
        }
    }
    /* A template expression that runs off the end is an unclosed "{{"
     * whatever the parser expected at that point: say what is wrong. */
    if (p.failed && tmpl && p.cur.kind == T_EOF && p.cur.off >= len) {
        err->offset = start - 2;
        snprintf(err->msg, sizeof(err->msg), "unclosed '{{'");
    }
    free(p.sbuf);
    if (p.failed) {
        rb_expr_free(p.e);
        return NULL;
    }
    if (end)
        *end = p.pos;
    return p.e;
}

rb_expr_t *rb_expr_compile(const char *src, size_t len, rb_expr_error_t *err)
{
    return compile(src, len, 0, 0, NULL, err);
}

rb_expr_t *rb__expr_compile_tmpl(const char *src, size_t len, size_t start, size_t *end,
                                 rb_expr_error_t *err)
{
    return compile(src, len, start, 1, end, err);
}

/* ---------------------------------------------------------------- references */

static void refs(const node *n, rb_expr_ref_cb cb, void *arg)
{
    switch (n->kind) {
    case N_LIT: return;
    case N_LIST:
        for (size_t i = 0; i < n->u.list.n; i++)
            refs(n->u.list.items[i], cb, arg);
        return;
    case N_PATH:
        if (n->u.path.base)
            refs(n->u.path.base, cb, arg);
        else
            cb(n->u.path.root, n->u.path.nseg && n->u.path.segs[0].kind == SEG_KEY ? n->u.path.segs[0].key : NULL,
               n->off, arg);
        for (size_t i = 0; i < n->u.path.nseg; i++)
            if (n->u.path.segs[i].kind == SEG_EXPR)
                refs(n->u.path.segs[i].ex, cb, arg);
        return;
    case N_CALL:
        for (int i = 0; i < n->u.call.n; i++)
            refs(n->u.call.args[i], cb, arg);
        return;
    case N_NOT:
    case N_NEG: refs(n->u.bin.a, cb, arg); return;
    default:
        refs(n->u.bin.a, cb, arg);
        refs(n->u.bin.b, cb, arg);
        return;
    }
}

void rb_expr_refs(const rb_expr_t *e, rb_expr_ref_cb cb, void *arg)
{
    if (e && e->root && cb)
        refs(e->root, cb, arg);
}
