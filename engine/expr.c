/*
 * expr.c — the expression language (DESIGN §3): lexer, precedence-climbing
 * parser to a tree, evaluator over jansson values, and rb_expr_refs.
 *
 * Owns: a compiled expression (rb_expr_t) and everything hanging off it.
 * The tree lives in one arena freed with the expression; literal values and
 * compiled regexes are listed beside it and released in rb_expr_free.
 *
 * Evaluation never copies what it can borrow: a path walks the context and
 * returns the context's own value; only operators and functions that make a
 * new value allocate. It touches nothing but its arguments (no globals, no
 * I/O), so any thread may evaluate a compiled expression concurrently.
 *
 * Must never: crash on any input. Source length, nesting and tree height are
 * bounded at compile time, so evaluation recursion is bounded too, and a
 * missing path anywhere evaluates to null. The built-in functions are in
 * expr_func.c; templates and shell quoting in template.c.
 */
#define _GNU_SOURCE /* memmem */
#include "expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEN    65536 /* bytes of one expression */
#define MAX_NEST   64    /* parentheses, brackets, calls, prefix operators */
#define MAX_HEIGHT 256   /* tree height, so `a+a+a+…` cannot blow the stack */

/* ---------------------------------------------------------------- tree */

enum {
    N_LIT,     /* a constant: lit */
    N_LIST,    /* [a, b] with at least one non-constant item */
    N_PATH,    /* root name or base expression, then segments */
    N_CALL,    /* built-in function */
    N_DEFAULT, /* default(a, b): b only when a is null */
    N_NOT,
    N_NEG,
    N_AND,
    N_OR,
    N_BIN, /* op is the operator's token kind */
};

enum { SEG_KEY, SEG_INDEX, SEG_EXPR };

typedef struct node node;

typedef struct seg {
    int kind;
    const char *key; /* SEG_KEY: NUL-terminated copy in the arena */
    size_t klen;
    json_int_t idx; /* SEG_INDEX */
    node *ex;       /* SEG_EXPR */
} seg;

struct node {
    int kind, op;
    int height;
    size_t off; /* byte offset in the source: path start, operator, call name */
    union {
        json_t *lit;
        struct {
            node **items;
            size_t n;
        } list;
        struct {
            node *base;       /* NULL: root is a name looked up in ctx */
            const char *root; /* NUL-terminated */
            size_t rlen;
            seg *segs;
            size_t nseg;
        } path;
        struct {
            const rb__func_t *f;
            node **args;
            int n;
            void *aux;
        } call;
        struct {
            node *a, *b;
        } bin;
    } u;
};

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    _Alignas(max_align_t) unsigned char mem[];
} chunk;

typedef struct aux_ref {
    const rb__func_t *f;
    void *aux;
} aux_ref;

struct rb_expr {
    node *root;
    chunk *chunks;
    json_t **lits; /* every literal value the tree holds a reference to */
    size_t nlits, caplits;
    aux_ref *auxv;
    size_t naux, capaux;
};

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

/* ---------------------------------------------------------------- lexer */

enum {
    T_EOF, T_INT, T_REAL, T_STR, T_IDENT, T_TMPL_END,
    T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_DOT,
    T_NOT, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR, T_IN,
    T_TRUE, T_FALSE, T_NULL,
};

typedef struct tok {
    int kind;
    size_t off, len;
    json_int_t ival;
    double dval;
    size_t slen; /* T_STR: decoded length, bytes in parser.sbuf */
} tok;

typedef struct parser {
    const char *src;
    size_t len;   /* end of the text the lexer may read */
    size_t start; /* where this expression starts (templates: after "{{") */
    size_t pos;   /* just past cur */
    int tmpl;     /* stop at "}}" */
    tok cur;
    rb_expr_t *e;
    rb_expr_error_t *err;
    int failed;
    int depth;
    char *sbuf;
    size_t scap;
} parser;

static void perr(parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(parser *p, size_t off, const char *fmt, ...)
{
    if (p->failed)
        return; /* the first error is the one the user needs */
    p->failed = 1;
    p->err->offset = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
}

static void oom(parser *p) { perr(p, p->cur.off, "out of memory"); }

static int is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_ident_char(int c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

/* How a token reads in "expected X but found Y". */
static const char *tok_desc(const parser *p, const tok *t, char *buf, size_t n)
{
    switch (t->kind) {
    case T_EOF: return "end of expression";
    case T_STR: return "a string";
    case T_TMPL_END: return "'}}'";
    default:
        if (t->len > 24)
            snprintf(buf, n, "'%.24s…'", p->src + t->off);
        else
            snprintf(buf, n, "'%.*s'", (int)t->len, p->src + t->off);
        return buf;
    }
}

static int sbuf_put(parser *p, size_t *n, const char *s, size_t k)
{
    if (*n + k > p->scap) {
        size_t cap = p->scap ? p->scap * 2 : 64;
        while (cap < *n + k)
            cap *= 2;
        char *b = realloc(p->sbuf, cap);
        if (!b)
            return -1;
        p->sbuf = b;
        p->scap = cap;
    }
    memcpy(p->sbuf + *n, s, k);
    *n += k;
    return 0;
}

static int hex4(const char *s, size_t avail, unsigned *out)
{
    if (avail < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int lex_string(parser *p, size_t i)
{
    const char *s = p->src;
    char q = s[i];
    size_t open = i, n = 0;
    i++;
    for (;;) {
        if (i >= p->len) {
            perr(p, open, "unterminated string");
            return -1;
        }
        char c = s[i];
        if (c == q)
            break;
        if (c != '\\') {
            size_t j = i;
            while (j < p->len && s[j] != q && s[j] != '\\')
                j++;
            if (sbuf_put(p, &n, s + i, j - i) < 0)
                return oom(p), -1;
            i = j;
            continue;
        }
        size_t esc = i;
        if (i + 1 >= p->len) {
            perr(p, open, "unterminated string");
            return -1;
        }
        char e = s[i + 1], o[4];
        size_t k = 1;
        i += 2;
        switch (e) {
        case 'n': o[0] = '\n'; break;
        case 't': o[0] = '\t'; break;
        case 'r': o[0] = '\r'; break;
        case '\\': o[0] = '\\'; break;
        case '\'': o[0] = '\''; break;
        case '"': o[0] = '"'; break;
        case '/': o[0] = '/'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(s + i, p->len - i, &cp) < 0) {
                perr(p, esc, "invalid \\u escape: expected 4 hex digits");
                return -1;
            }
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* a surrogate pair, as JSON writes characters beyond U+FFFF */
                if (i + 1 < p->len && s[i] == '\\' && s[i + 1] == 'u' &&
                    hex4(s + i + 2, p->len - i - 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else {
                    perr(p, esc, "invalid \\u escape: lone surrogate");
                    return -1;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                perr(p, esc, "invalid \\u escape: lone surrogate");
                return -1;
            }
            k = utf8_encode(cp, o);
            break;
        }
        default:
            if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7F)
                perr(p, esc, "unknown escape '\\%c' in string", e);
            else
                perr(p, esc, "unknown escape in string");
            return -1;
        }
        if (sbuf_put(p, &n, o, k) < 0)
            return oom(p), -1;
    }
    p->cur.kind = T_STR;
    p->cur.slen = n;
    p->pos = i + 1;
    return 0;
}

static int lex_number(parser *p, size_t i)
{
    const char *s = p->src;
    size_t b = i;
    int real = 0;
    while (i < p->len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i + 1 < p->len && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        real = 1;
        for (i++; i < p->len && s[i] >= '0' && s[i] <= '9'; i++)
            ;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < p->len && s[j] >= '0' && s[j] <= '9') {
            real = 1;
            for (i = j; i < p->len && s[i] >= '0' && s[i] <= '9'; i++)
                ;
        }
    }
    if (i - b > 64) {
        perr(p, b, "number literal too long");
        return -1;
    }
    char tmp[72];
    memcpy(tmp, s + b, i - b);
    tmp[i - b] = '\0';
    if (real) {
        double d = strtod(tmp, NULL);
        if (!isfinite(d)) {
            perr(p, b, "number literal out of range");
            return -1;
        }
        p->cur.kind = T_REAL;
        p->cur.dval = d;
    } else {
        json_int_t v = 0;
        for (size_t k = b; k < i; k++) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[k] - '0', &v)) {
                perr(p, b, "integer literal out of range");
                return -1;
            }
        }
        p->cur.kind = T_INT;
        p->cur.ival = v;
    }
    p->pos = i;
    return 0;
}

static int lex(parser *p)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i - p->start > MAX_LEN) {
        perr(p, i, "expression longer than %d bytes", MAX_LEN);
        return -1;
    }
    tok *t = &p->cur;
    t->off = i;
    if (i >= p->len) {
        t->kind = T_EOF;
        t->len = 0;
        p->pos = i;
        return 0;
    }
    char c = s[i], d = i + 1 < p->len ? s[i + 1] : '\0';
    int k = -1, w = 1;
    switch (c) {
    case '(': k = T_LPAREN; break;
    case ')': k = T_RPAREN; break;
    case '[': k = T_LBRACK; break;
    case ']': k = T_RBRACK; break;
    case ',': k = T_COMMA; break;
    case '.': k = T_DOT; break;
    case '+': k = T_PLUS; break;
    case '-': k = T_MINUS; break;
    case '*': k = T_STAR; break;
    case '/': k = T_SLASH; break;
    case '%': k = T_PCT; break;
    case '!': if (d == '=') { k = T_NE; w = 2; } else k = T_NOT; break;
    case '<': if (d == '=') { k = T_LE; w = 2; } else k = T_LT; break;
    case '>': if (d == '=') { k = T_GE; w = 2; } else k = T_GT; break;
    case '=':
        if (d != '=') {
            perr(p, i, "unexpected character '=' (did you mean '=='?)");
            return -1;
        }
        k = T_EQ; w = 2;
        break;
    case '&':
        if (d != '&') {
            perr(p, i, "unexpected character '&' (did you mean '&&'?)");
            return -1;
        }
        k = T_AND; w = 2;
        break;
    case '|':
        if (d != '|') {
            perr(p, i, "unexpected character '|' (did you mean '||'?)");
            return -1;
        }
        k = T_OR; w = 2;
        break;
    case '}':
        if (p->tmpl && d == '}') {
            k = T_TMPL_END; w = 2;
        }
        break;
    case '\'':
    case '"':
        if (lex_string(p, i) < 0)
            return -1;
        t->len = p->pos - i;
        return 0;
    default: break;
    }
    if (k >= 0) {
        t->kind = k;
        t->len = (size_t)w;
        p->pos = i + (size_t)w;
        return 0;
    }
    if (c >= '0' && c <= '9') {
        if (lex_number(p, i) < 0)
            return -1;
        t->len = p->pos - i;
        return 0;
    }
    if (is_ident_start((unsigned char)c)) {
        size_t j = i;
        while (j < p->len && is_ident_char((unsigned char)s[j]))
            j++;
        size_t n = j - i;
        t->kind = T_IDENT;
        if (n == 4 && !memcmp(s + i, "true", 4)) t->kind = T_TRUE;
        else if (n == 5 && !memcmp(s + i, "false", 5)) t->kind = T_FALSE;
        else if (n == 4 && !memcmp(s + i, "null", 4)) t->kind = T_NULL;
        else if (n == 2 && !memcmp(s + i, "in", 2)) t->kind = T_IN;
        t->len = n;
        p->pos = j;
        return 0;
    }
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F)
        perr(p, i, "unexpected character '%c'", c);
    else
        perr(p, i, "unexpected byte 0x%02x", (unsigned char)c);
    return -1;
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
        oom(p);
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
        oom(p);
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
        perr(p, n->off, "expression too complex (more than %d levels)", MAX_HEIGHT);
        return -1;
    }
    return 0;
}

static int enter(parser *p)
{
    if (++p->depth > MAX_NEST) {
        perr(p, p->cur.off, "expression nested too deeply (more than %d levels)", MAX_NEST);
        return -1;
    }
    return 0;
}

static int expect(parser *p, int kind, const char *what)
{
    if (p->cur.kind == kind)
        return lex(p);
    char b[64];
    perr(p, p->cur.off, "expected %s but found %s", what, tok_desc(p, &p->cur, b, sizeof(b)));
    return -1;
}

static json_t *eval_node(const node *n, const json_t *ctx, char *err, size_t errlen);

/* A node whose operands are all constants is evaluated now: the value is
 * computed once, and an error such as 1/0 or int("x") is a compile error
 * pointing at the node instead of a failure at 3 a.m. */
static node *fold(parser *p, node *n)
{
    char msg[sizeof(p->err->msg)];
    json_t *v = eval_node(n, NULL, msg, sizeof(msg));
    if (!v) {
        perr(p, n->off, "%s", msg);
        return NULL;
    }
    return mk_lit(p, v, n->off);
}

static node *parse_expr(parser *p, int minprec);

static char *arena_str(parser *p, const char *s, size_t n)
{
    char *c = arena_alloc(p->e, n + 1);
    if (!c) {
        oom(p);
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
                oom(p);
                goto done;
            }
            v = nv;
        }
        v[n++] = x;
        if (p->cur.kind == T_COMMA) {
            if (lex(p) < 0)
                goto done;
        } else if (p->cur.kind != close) {
            char b[64];
            perr(p, p->cur.off, "expected %s but found %s", what, tok_desc(p, &p->cur, b, sizeof(b)));
            goto done;
        }
    }
    if (n > 100000) {
        perr(p, p->cur.off, "too many items");
        goto done;
    }
    out = arena_alloc(p->e, (n ? n : 1) * sizeof(*out));
    if (!out) {
        oom(p);
        goto done;
    }
    if (n)
        memcpy(out, v, n * sizeof(*out));
    *count = (int)n;
    p->depth--;
    if (lex(p) < 0)
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
            perr(p, off, "unknown function '%s' (did you mean '%s'?)", nm, s);
        else
            perr(p, off, "unknown function '%s'", nm);
        return NULL;
    }
    if (lex(p) < 0) /* past '(' */
        return NULL;
    int argc = 0;
    node **args = parse_list(p, T_RPAREN, "',' or ')'", &argc);
    if (!args)
        return NULL;
    if (argc < f->min_args || argc > f->max_args) {
        if (f->min_args == f->max_args)
            perr(p, off, "%s() takes %d argument%s but was given %d", f->name, f->min_args,
                 f->min_args == 1 ? "" : "s", argc);
        else
            perr(p, off, "%s() takes %d to %d arguments but was given %d", f->name, f->min_args,
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
        if (args[i]->kind == N_LIT && i < 4)
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
            perr(p, bad >= 0 && bad < argc ? args[bad]->off : off, "%s", msg);
            return NULL;
        }
        if (n->u.call.aux) {
            rb_expr_t *e = p->e;
            if (e->naux == e->capaux) {
                size_t cap = e->capaux ? e->capaux * 2 : 4;
                aux_ref *a = realloc(e->auxv, cap * sizeof(*a));
                if (!a) {
                    f->release(n->u.call.aux);
                    oom(p);
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

/* A member name after '.': an identifier that may also hold '-' between
 * word characters (steps.restore-backup.ok), so step names read as written.
 * A '-' not followed by a word character ends the name (a.b - 1). */
static int lex_member(parser *p, size_t *off, size_t *len)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i >= p->len || !is_ident_start((unsigned char)s[i])) {
        p->pos = i;
        if (lex(p) < 0)
            return -1;
        char b[64];
        perr(p, p->cur.off, "expected a name after '.' but found %s", tok_desc(p, &p->cur, b, sizeof(b)));
        return -1;
    }
    size_t j = i;
    for (;;) {
        while (j < p->len && is_ident_char((unsigned char)s[j]))
            j++;
        if (j + 1 < p->len && s[j] == '-' && is_ident_char((unsigned char)s[j + 1]))
            j++;
        else
            break;
    }
    *off = i;
    *len = j - i;
    p->pos = j;
    return lex(p);
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
            if (lex_member(p, &moff, &mlen) < 0)
                goto done;
            s.kind = SEG_KEY;
            s.klen = mlen;
            if (!(s.key = arena_str(p, p->src + moff, mlen)))
                goto done;
        } else if (p->cur.kind == T_LBRACK) {
            if (enter(p) < 0 || lex(p) < 0)
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
            perr(p, p->cur.off, "only built-in functions can be called");
            goto done;
        } else {
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            seg *nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                oom(p);
                goto done;
            }
            v = nv;
        }
        v[n++] = s;
        if (n > 4096) {
            perr(p, p->cur.off, "path too long");
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
            oom(p);
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
            perr(p, t.off, "string is not valid UTF-8");
            return NULL;
        }
        n = mk_lit(p, v, t.off);
        break;
    }
    case T_IDENT: {
        const char *name = p->src + t.off;
        if (lex(p) < 0)
            return NULL;
        if (p->cur.kind == T_LPAREN) {
            n = parse_call(p, t.off, name, t.len);
            return n ? parse_postfix(p, n, NULL, 0, t.off) : NULL;
        }
        const char *root = arena_str(p, name, t.len);
        return root ? parse_postfix(p, NULL, root, t.len, t.off) : NULL;
    }
    case T_LPAREN:
        if (enter(p) < 0 || lex(p) < 0)
            return NULL;
        n = parse_expr(p, 1);
        if (!n || expect(p, T_RPAREN, "')'") < 0)
            return NULL;
        p->depth--;
        return parse_postfix(p, n, NULL, 0, t.off);
    case T_LBRACK: {
        if (lex(p) < 0)
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
        perr(p, t.off, "expected a value but found %s", tok_desc(p, &t, b, sizeof(b)));
        return NULL;
    }
    }
    if (!n || lex(p) < 0)
        return NULL;
    return parse_postfix(p, n, NULL, 0, t.off);
}

static node *parse_unary(parser *p)
{
    int k = p->cur.kind;
    if (k != T_NOT && k != T_MINUS)
        return parse_primary(p);
    size_t off = p->cur.off;
    if (enter(p) < 0 || lex(p) < 0)
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
        if (lex(p) < 0)
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
    if (!tmpl && len > MAX_LEN) {
        err->offset = MAX_LEN;
        snprintf(err->msg, sizeof(err->msg), "expression longer than %d bytes", MAX_LEN);
        return NULL;
    }
    parser p = {.src = src ? src : "", .len = src ? len : 0, .start = start, .pos = start, .tmpl = tmpl,
                .err = err};
    p.e = calloc(1, sizeof(*p.e));
    if (!p.e) {
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return NULL;
    }
    if (lex(&p) == 0) {
        if (p.cur.kind == T_EOF && !tmpl)
            perr(&p, p.cur.off, "empty expression");
        else if (p.cur.kind == T_TMPL_END)
            perr(&p, start - 2, "empty '{{ }}'");
        else
            p.e->root = parse_expr(&p, 1);
    }
    if (!p.failed) {
        if (tmpl && p.cur.kind == T_EOF)
            perr(&p, start - 2, "unclosed '{{'");
        else if (p.cur.kind != (tmpl ? T_TMPL_END : T_EOF)) {
            char b[64];
            perr(&p, p.cur.off, "expected %s but found %s",
                 tmpl ? "an operator or '}}'" : "an operator or end of expression",
                 tok_desc(&p, &p.cur, b, sizeof(b)));
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

/* ---------------------------------------------------------------- evaluation */

typedef struct evst {
    const json_t *ctx;
    char *err;
    size_t errlen;
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
        case SEG_KEY: cur = json_is_object(cur) ? json_object_getn(cur, g->key, g->klen) : NULL; break;
        case SEG_INDEX: cur = index_get(cur, g->idx); break;
        case SEG_EXPR: {
            val k;
            if (ev(g->ex, s, &k) < 0) {
                vrel(base);
                return -1;
            }
            if (json_is_string(k.v))
                cur = json_is_object(cur) ? json_object_getn(cur, json_string_value(k.v), json_string_length(k.v))
                                          : NULL;
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

static json_t *eval_node(const node *n, const json_t *ctx, char *err, size_t errlen)
{
    evst s = {ctx, err, errlen};
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
    return eval_node(e->root, ctx, err, errlen);
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
