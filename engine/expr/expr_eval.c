/*
 * expr_eval.c — evaluating a compiled expression (DESIGN §3) over jansson
 * values: paths, operators, comparison, arithmetic, `in`, truthiness, and
 * the calls into the built-in functions of expr_func.c.
 *
 * Owns: nothing past a call. The tree is expr_parse.c's and is only read.
 *
 * Evaluation never copies what it can borrow: a path walks the context and
 * returns the context's own value; only operators and functions that make a
 * new value allocate. It touches nothing but its arguments (no globals, no
 * I/O), so any thread may evaluate a compiled expression concurrently.
 *
 * Must never: crash on any value. Recursion follows the tree, whose height
 * the compiler bounded; a missing path anywhere evaluates to null, and a
 * wrong type, division by zero or an overflow is an error message, never
 * undefined behaviour.
 */
#define _GNU_SOURCE /* memmem */
#include "expr_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- evaluation */

typedef struct evst {
    const json_t *ctx;
    char *err;
    size_t errlen;
    char *miss; /* the first path that missed a key, said, or NULL: not asked */
    size_t misslen;
} evst;

/* A value that is either borrowed (from ctx or the tree) or owned. */
typedef struct val {
    json_t *v;
    int own;
} val;

static inline void vrel(val x)
{
    if (x.own)
        json_decref(x.v);
}

static int fail(evst *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(evst *s, const char *fmt, ...)
{
    if (s->err && s->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, s->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int rb_expr_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE: return 0;
    case JSON_TRUE: return 1;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_STRING: return json_string_length(v) != 0;
    case JSON_ARRAY: return json_array_size(v) != 0;
    case JSON_OBJECT: return json_object_size(v) != 0;
    }
    return 0;
}

/* ==: numbers compare as numbers (1 == 1.0), other values of different
 * types are never equal, lists and objects compare element by element. */
static int equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, k, kl, v) {
            json_t *w = json_object_getn(b, k, kl);
            if (!w || !equal(v, w))
                return 0;
        }
        return 1;
    }
    default: return 1; /* true, false, null */
    }
}

int rb__expr_contains(const json_t *hay, const json_t *needle, const char *what, char *err,
                      size_t errlen)
{
    switch (json_typeof(hay)) {
    case JSON_NULL: return 0;
    case JSON_STRING:
        if (!json_is_string(needle))
            break;
        if (!json_string_length(needle))
            return 1;
        return memmem(json_string_value(hay), json_string_length(hay), json_string_value(needle),
                      json_string_length(needle)) != NULL;
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(hay); i++)
            if (equal(json_array_get(hay, i), needle))
                return 1;
        return 0;
    case JSON_OBJECT:
        if (!json_is_string(needle))
            break;
        return json_object_getn(hay, json_string_value(needle), json_string_length(needle)) != NULL;
    default: break;
    }
    if (err && errlen)
        snprintf(err, errlen, "%s: cannot look for a %s in a %s", what, rb__expr_type(needle),
                 rb__expr_type(hay));
    return -1;
}

/* <, <=, >, >=: numbers and strings (bytewise) order; anything else is not
 * ordered and every comparison is false. Returns -1, 0, 1 or 2 (unordered). */
static int order(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_string(a) && json_is_string(b)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
        if (c)
            return c < 0 ? -1 : 1;
        return la < lb ? -1 : la > lb;
    }
    return 2;
}

static const char *op_text(int op)
{
    switch (op) {
    case T_PLUS: return "+";
    case T_MINUS: return "-";
    case T_STAR: return "*";
    case T_SLASH: return "/";
    case T_PCT: return "%";
    default: return "?";
    }
}

static int real_result(evst *s, double d, val *out)
{
    json_t *r = isfinite(d) ? json_real(d) : NULL;
    if (!r)
        return fail(s, "number out of range");
    *out = (val){r, 1};
    return 0;
}

static int concat(evst *s, const json_t *a, const json_t *b, val *out)
{
    char ba[48], bb[48], *ha = NULL, *hb = NULL;
    size_t la, lb;
    const char *ta = rb__expr_text(a, ba, sizeof(ba), &la, &ha);
    const char *tb = rb__expr_text(b, bb, sizeof(bb), &lb, &hb);
    char *buf = ta && tb ? malloc(la + lb + 1) : NULL;
    json_t *r = NULL;
    if (buf) {
        memcpy(buf, ta, la);
        memcpy(buf + la, tb, lb);
        r = json_stringn(buf, la + lb);
    }
    free(buf);
    free(ha);
    free(hb);
    if (!r)
        return fail(s, "out of memory");
    *out = (val){r, 1};
    return 0;
}

static int arith(evst *s, int op, const json_t *a, const json_t *b, val *out)
{
    if (op == T_PLUS) {
        int sa = json_is_string(a), sb = json_is_string(b);
        if ((sa && (sb || json_is_number(b))) || (sb && json_is_number(a)))
            return concat(s, a, b, out);
        if (json_is_array(a) && json_is_array(b)) {
            json_t *r = json_array();
            if (!r || json_array_extend(r, (json_t *)a) || json_array_extend(r, (json_t *)b)) {
                json_decref(r);
                return fail(s, "out of memory");
            }
            *out = (val){r, 1};
            return 0;
        }
    }
    if (!json_is_number(a) || !json_is_number(b))
        return fail(s, "cannot apply '%s' to %s and %s", op_text(op), rb__expr_type(a), rb__expr_type(b));
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b), r = 0;
        int ovf = 0;
        switch (op) {
        case T_PLUS: ovf = __builtin_add_overflow(x, y, &r); break;
        case T_MINUS: ovf = __builtin_sub_overflow(x, y, &r); break;
        case T_STAR: ovf = __builtin_mul_overflow(x, y, &r); break;
        case T_SLASH:
            if (y == 0)
                return fail(s, "division by zero");
            if (y == -1) {
                ovf = __builtin_sub_overflow((json_int_t)0, x, &r);
                break;
            }
            if (x % y)
                return real_result(s, (double)x / (double)y, out); /* 7 / 2 is 3.5 */
            r = x / y;
            break;
        case T_PCT:
            if (y == 0)
                return fail(s, "division by zero");
            r = y == -1 ? 0 : x % y;
            break;
        }
        if (ovf)
            return fail(s, "integer overflow in '%s'", op_text(op));
        json_t *v = json_integer(r);
        if (!v)
            return fail(s, "out of memory");
        *out = (val){v, 1};
        return 0;
    }
    double x = json_number_value(a), y = json_number_value(b), r = 0;
    switch (op) {
    case T_PLUS: r = x + y; break;
    case T_MINUS: r = x - y; break;
    case T_STAR: r = x * y; break;
    case T_SLASH:
        if (y == 0.0)
            return fail(s, "division by zero");
        r = x / y;
        break;
    case T_PCT:
        if (y == 0.0)
            return fail(s, "division by zero");
        r = fmod(x, y);
        break;
    }
    return real_result(s, r, out);
}

static int ev(const node *n, evst *s, val *out);

static const json_t *index_get(const json_t *v, json_int_t i)
{
    if (!json_is_array(v))
        return NULL;
    json_int_t size = (json_int_t)json_array_size(v);
    if (i < 0)
        i += size; /* x[-1] is the last element */
    if (i < 0 || i >= size)
        return NULL;
    return json_array_get(v, (size_t)i);
}

/* Says which key path n missed at segment i (the first miss only):
 * `inventory.hosts has no "nope"`. */
static void note_miss(const node *n, evst *s, size_t i, const char *key, size_t klen)
{
    if (!s->miss || !s->misslen || s->miss[0] || !n->u.path.root)
        return;
    size_t at = (size_t)snprintf(s->miss, s->misslen, "%s", n->u.path.base ? "(…)" : n->u.path.root);
    for (size_t k = 0; k < i && at < s->misslen; k++) {
        const seg *g = &n->u.path.segs[k];
        at += g->kind == SEG_KEY     ? (size_t)snprintf(s->miss + at, s->misslen - at, ".%s", g->key)
              : g->kind == SEG_INDEX ? (size_t)snprintf(s->miss + at, s->misslen - at, "[%lld]", (long long)g->idx)
                                     : (size_t)snprintf(s->miss + at, s->misslen - at, "[…]");
    }
    if (at < s->misslen)
        snprintf(s->miss + at, s->misslen - at, " has no \"%.*s\"", (int)(klen < 80 ? klen : 80), key);
}

static int ev_path(const node *n, evst *s, val *out)
{
    val base = {NULL, 0};
    const json_t *cur;
    if (n->u.path.base) {
        if (ev(n->u.path.base, s, &base) < 0)
            return -1;
        cur = base.v;
    } else {
        cur = json_is_object(s->ctx) ? json_object_getn(s->ctx, n->u.path.root, n->u.path.rlen) : NULL;
    }
    for (size_t i = 0; i < n->u.path.nseg && cur; i++) {
        const seg *g = &n->u.path.segs[i];
        switch (g->kind) {
        case SEG_KEY: {
            const json_t *in = cur;
            cur = json_is_object(cur) ? json_object_getn(cur, g->key, g->klen) : NULL;
            if (!cur && json_is_object(in))
                note_miss(n, s, i, g->key, g->klen);
            break;
        }
        case SEG_INDEX: cur = index_get(cur, g->idx); break;
        case SEG_EXPR: {
            val k;
            if (ev(g->ex, s, &k) < 0) {
                vrel(base);
                return -1;
            }
            if (json_is_string(k.v)) {
                const json_t *in = cur;
                cur = json_is_object(cur) ? json_object_getn(cur, json_string_value(k.v), json_string_length(k.v))
                                          : NULL;
                if (!cur && json_is_object(in))
                    note_miss(n, s, i, json_string_value(k.v), json_string_length(k.v));
            }
            else if (json_is_integer(k.v))
                cur = index_get(cur, json_integer_value(k.v));
            else if (json_is_real(k.v) && json_real_value(k.v) == floor(json_real_value(k.v)) &&
                     fabs(json_real_value(k.v)) < 1e15)
                cur = index_get(cur, (json_int_t)json_real_value(k.v));
            else
                cur = NULL;
            vrel(k);
            break;
        }
        }
    }
    if (!cur) {
        vrel(base);
        *out = (val){json_null(), 0};
    } else if (base.own) {
        /* cur may live inside a value only this evaluation holds (split()[0]) */
        json_incref((json_t *)cur);
        json_decref(base.v);
        *out = (val){(json_t *)cur, 1};
    } else {
        *out = (val){(json_t *)cur, 0};
    }
    return 0;
}

static int ev(const node *n, evst *s, val *out)
{
    switch (n->kind) {
    case N_LIT:
        *out = (val){n->u.lit, 0};
        return 0;
    case N_PATH: return ev_path(n, s, out);
    case N_LIST: {
        json_t *arr = json_array();
        if (!arr)
            return fail(s, "out of memory");
        for (size_t i = 0; i < n->u.list.n; i++) {
            val x;
            if (ev(n->u.list.items[i], s, &x) < 0) {
                json_decref(arr);
                return -1;
            }
            int rc = json_array_append(arr, x.v);
            vrel(x);
            if (rc) {
                json_decref(arr);
                return fail(s, "out of memory");
            }
        }
        *out = (val){arr, 1};
        return 0;
    }
    case N_CALL: {
        val a[4];
        json_t *args[4];
        int k = n->u.call.n;
        for (int i = 0; i < k; i++) {
            if (ev(n->u.call.args[i], s, &a[i]) < 0) {
                while (i--)
                    vrel(a[i]);
                return -1;
            }
            args[i] = a[i].v;
        }
        json_t *r = n->u.call.f->call(args, k, n->u.call.aux, s->err, s->errlen);
        for (int i = 0; i < k; i++)
            vrel(a[i]);
        if (!r)
            return -1;
        *out = (val){r, 1};
        return 0;
    }
    case N_DEFAULT:
        if (ev(n->u.bin.a, s, out) < 0)
            return -1;
        if (!json_is_null(out->v))
            return 0;
        vrel(*out);
        return ev(n->u.bin.b, s, out);
    case N_NOT: {
        val a;
        if (ev(n->u.bin.a, s, &a) < 0)
            return -1;
        int t = rb_expr_truthy(a.v);
        vrel(a);
        *out = (val){json_boolean(!t), 0};
        return 0;
    }
    case N_NEG: {
        val a;
        if (ev(n->u.bin.a, s, &a) < 0)
            return -1;
        int rc = 0;
        if (json_is_integer(a.v)) {
            json_int_t r;
            if (__builtin_sub_overflow((json_int_t)0, json_integer_value(a.v), &r))
                rc = fail(s, "integer overflow in '-'");
            else if (!(out->v = json_integer(r)))
                rc = fail(s, "out of memory");
            out->own = 1;
        } else if (json_is_real(a.v)) {
            rc = real_result(s, -json_real_value(a.v), out);
        } else {
            rc = fail(s, "cannot apply unary '-' to %s", rb__expr_type(a.v));
        }
        vrel(a);
        return rc;
    }
    case N_AND:
    case N_OR: {
        val a;
        if (ev(n->u.bin.a, s, &a) < 0)
            return -1;
        int t = rb_expr_truthy(a.v);
        vrel(a);
        if (t == (n->kind == N_OR)) {
            *out = (val){json_boolean(t), 0};
            return 0;
        }
        if (ev(n->u.bin.b, s, &a) < 0)
            return -1;
        t = rb_expr_truthy(a.v);
        vrel(a);
        *out = (val){json_boolean(t), 0};
        return 0;
    }
    case N_BIN: break;
    }
    val a, b;
    if (ev(n->u.bin.a, s, &a) < 0)
        return -1;
    if (ev(n->u.bin.b, s, &b) < 0) {
        vrel(a);
        return -1;
    }
    int rc = 0, r;
    switch (n->op) {
    case T_EQ: *out = (val){json_boolean(equal(a.v, b.v)), 0}; break;
    case T_NE: *out = (val){json_boolean(!equal(a.v, b.v)), 0}; break;
    case T_LT: r = order(a.v, b.v); *out = (val){json_boolean(r == -1), 0}; break;
    case T_LE: r = order(a.v, b.v); *out = (val){json_boolean(r == -1 || r == 0), 0}; break;
    case T_GT: r = order(a.v, b.v); *out = (val){json_boolean(r == 1), 0}; break;
    case T_GE: r = order(a.v, b.v); *out = (val){json_boolean(r == 1 || r == 0), 0}; break;
    case T_IN:
        r = rb__expr_contains(b.v, a.v, "in", s->err, s->errlen);
        if (r < 0)
            rc = -1;
        else
            *out = (val){json_boolean(r), 0};
        break;
    default: rc = arith(s, n->op, a.v, b.v, out); break;
    }
    vrel(a);
    vrel(b);
    return rc;
}

json_t *rb__expr_eval_node(const node *n, const json_t *ctx, char *err, size_t errlen)
{
    return rb__expr_eval_miss(n, ctx, err, errlen, NULL, 0);
}

json_t *rb__expr_eval_miss(const node *n, const json_t *ctx, char *err, size_t errlen, char *miss,
                           size_t misslen)
{
    evst s = {ctx, err, errlen, miss, misslen};
    if (miss && misslen)
        miss[0] = '\0';
    val v;
    if (err && errlen)
        err[0] = '\0';
    if (ev(n, &s, &v) < 0)
        return NULL;
    return v.own ? v.v : json_incref(v.v);
}

json_t *rb_expr_eval(const rb_expr_t *e, const json_t *ctx, char *err, size_t errlen)
{
    if (!e || !e->root) {
        if (err && errlen)
            snprintf(err, errlen, "no expression");
        return NULL;
    }
    return rb__expr_eval_node(e->root, ctx, err, errlen);
}

int rb_expr_test(const rb_expr_t *e, const json_t *ctx, char *err, size_t errlen)
{
    json_t *v = rb_expr_eval(e, ctx, err, errlen);
    if (!v)
        return -1;
    int t = rb_expr_truthy(v);
    json_decref(v);
    return t;
}
