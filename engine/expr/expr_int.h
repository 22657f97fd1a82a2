/*
 * expr_int.h — what the files of the expression language share with each
 * other and with nothing else: the built-in function entry, the compiled
 * tree, the lexer's tokens and state, and the rb__ calls between the files.
 *
 *   expr_lex.c    tokens: the lexer and the first compile error
 *   expr_parse.c  the tree: parser, compile-time checks, constant folding,
 *                 rb_expr_compile, rb_expr_free, rb_expr_refs
 *   expr_eval.c   evaluation: rb_expr_eval, rb_expr_test, rb_expr_truthy,
 *                 comparison, arithmetic, `in`
 *   expr_func.c   the built-in functions and the value-to-text rule
 *   template.c    {{ }} templates and shell quoting
 *   expr_paths.c  rb_expr_fields: the paths an expression reads under a root
 *
 * Must never be included outside those files: the rest of the engine sees
 * the language only through expr.h, so what is here can change with the
 * language's insides without touching any caller.
 */
#ifndef RB_EXPR_INT_H
#define RB_EXPR_INT_H

#include "expr.h"

#define RB_EXPR_MAX_LEN 65536 /* bytes of one expression (the lexer and compile check it) */

/* ---------------------------------------------------------------- functions */

/* One built-in function. call gets the evaluated arguments (borrowed) and
 * returns a new reference, or NULL with err set; aux is what prepare made
 * at compile time (NULL otherwise). prepare, when set, sees the literal
 * arguments (NULL where an argument is not a literal) and may build aux
 * (a compiled regex) or refuse with msg and *bad_arg (the argument index).
 * pure: same arguments, same result (the compiler may fold literal calls).
 * default() has call == NULL: the evaluator handles it, lazily. */
typedef struct rb__func {
    const char *name;
    int min_args, max_args;
    int pure;
    json_t *(*call)(json_t *const *args, int n, void *aux, char *err, size_t errlen);
    int (*prepare)(json_t *const *lits, int n, void **aux, int *bad_arg, char *msg, size_t msglen);
    void (*release)(void *aux);
} rb__func_t;

/* expr_func.c: the function named name[0..len), or NULL. */
const rb__func_t *rb__func_find(const char *name, size_t len);
/* expr_func.c: the closest function name to name (NUL-terminated), or NULL. */
const char *rb__func_suggest(const char *name);

/* ---------------------------------------------------------------- tree */

/* Built by expr_parse.c in the expression's arena, read by expr_eval.c.
 * N_BIN's op is the operator's token kind (T_PLUS, T_EQ, …). */
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

/* ---------------------------------------------------------------- tokens */

/* The lexer's tokens and the state the lexer and the parser share. */
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

/* expr_lex.c: records the first compile error (later ones are dropped: the first is the
 * one the user needs). */
void rb__expr_perr(parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void rb__expr_oom(parser *p) { rb__expr_perr(p, p->cur.off, "out of memory"); }
/* Reads the next token into p->cur from p->pos. 0, or -1 with the error set. */
int rb__expr_lex(parser *p);
/* A member name after '.' (it may hold '-': steps.restore-backup.ok): its
 * offset and length, then the token after it in p->cur. 0 or -1. */
int rb__expr_lex_member(parser *p, size_t *off, size_t *len);
/* How a token reads in "expected X but found Y" (a literal or buf). */
const char *rb__expr_tok_desc(const parser *p, const tok *t, char *buf, size_t n);

/* ---------------------------------------------------------------- between the files */

/* expr_eval.c: evaluates one node against ctx (borrowed; NULL when the
 * parser folds a constant node). A new reference, or NULL with err set. */
json_t *rb__expr_eval_node(const node *n, const json_t *ctx, char *err, size_t errlen);
/* rb__expr_eval_node, and in miss the first key a path looked for in an
 * object that has no such key ("inventory.hosts has no \"x\""), if any. */
json_t *rb__expr_eval_miss(const node *n, const json_t *ctx, char *err, size_t errlen, char *miss,
                           size_t misslen);

/* expr_func.c: the text of v as templates, string() and join() print it: strings as
 * they are, numbers as JSON, booleans true/false, null "", arrays and
 * objects compact JSON. Returns a pointer into v, into buf (>= 40 bytes)
 * or to a malloc'd *heap the caller frees; *len is the length (a string may
 * hold NUL bytes). NULL only when memory ran out. */
const char *rb__expr_text(const json_t *v, char *buf, size_t buflen, size_t *len, char **heap);
/* expr_func.c: "null", "boolean", "number", "string", "list" or "object". */
const char *rb__expr_type(const json_t *v);
/* expr_eval.c: needle in hay (element of a list, substring of a string, key of an
 * object; nothing is in null): 1, 0, or -1 with err ("<what>: …"). */
int rb__expr_contains(const json_t *hay, const json_t *needle, const char *what, char *err,
                      size_t errlen);
/* expr_parse.c: compiles the expression of one {{ }} whose text starts at src + start
 * and ends at the "}}" token; *end is set past the "}}". Offsets (in the
 * tree and in *err) are into src, the whole template. */
rb_expr_t *rb__expr_compile_tmpl(const char *src, size_t len, size_t start, size_t *end,
                                 rb_expr_error_t *err);

#endif
