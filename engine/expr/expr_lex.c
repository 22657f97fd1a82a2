/*
 * expr_lex.c — the lexer of the expression language (DESIGN §3): turns
 * source bytes into tokens for the parser in expr_parse.c, decoding string
 * literals (escapes, \uXXXX and surrogate pairs) and number literals.
 *
 * Owns: nothing past a call. The token and the parser state it fills are
 * the parser's (expr_int.h); decoded string bytes go to its sbuf.
 *
 * Must never: read past p->len (the source need not be NUL-terminated, and
 * a template's expression ends at "}}"), or accept a literal it cannot
 * represent exactly: an out-of-range number or a lone surrogate is a
 * compile error with the offset of the literal, not a value.
 */
#include "expr_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rb__expr_perr(parser *p, size_t off, const char *fmt, ...)
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

static int is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_ident_char(int c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

/* How a token reads in "expected X but found Y". */
const char *rb__expr_tok_desc(const parser *p, const tok *t, char *buf, size_t n)
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
            rb__expr_perr(p, open, "unterminated string");
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
                return rb__expr_oom(p), -1;
            i = j;
            continue;
        }
        size_t esc = i;
        if (i + 1 >= p->len) {
            rb__expr_perr(p, open, "unterminated string");
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
                rb__expr_perr(p, esc, "invalid \\u escape: expected 4 hex digits");
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
                    rb__expr_perr(p, esc, "invalid \\u escape: lone surrogate");
                    return -1;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                rb__expr_perr(p, esc, "invalid \\u escape: lone surrogate");
                return -1;
            }
            k = utf8_encode(cp, o);
            break;
        }
        default:
            if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7F)
                rb__expr_perr(p, esc, "unknown escape '\\%c' in string", e);
            else
                rb__expr_perr(p, esc, "unknown escape in string");
            return -1;
        }
        if (sbuf_put(p, &n, o, k) < 0)
            return rb__expr_oom(p), -1;
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
        rb__expr_perr(p, b, "number literal too long");
        return -1;
    }
    char tmp[72];
    memcpy(tmp, s + b, i - b);
    tmp[i - b] = '\0';
    if (real) {
        double d = strtod(tmp, NULL);
        if (!isfinite(d)) {
            rb__expr_perr(p, b, "number literal out of range");
            return -1;
        }
        p->cur.kind = T_REAL;
        p->cur.dval = d;
    } else {
        json_int_t v = 0;
        for (size_t k = b; k < i; k++) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[k] - '0', &v)) {
                rb__expr_perr(p, b, "integer literal out of range");
                return -1;
            }
        }
        p->cur.kind = T_INT;
        p->cur.ival = v;
    }
    p->pos = i;
    return 0;
}

int rb__expr_lex(parser *p)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i - p->start > RB_EXPR_MAX_LEN) {
        rb__expr_perr(p, i, "expression longer than %d bytes", RB_EXPR_MAX_LEN);
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
    char c = s[i], d = i + 1 < p->len ? s[i + 1] : '\0'; // NOLINT(bugprone-narrowing-conversions): a char or '\0'
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
            rb__expr_perr(p, i, "unexpected character '=' (did you mean '=='?)");
            return -1;
        }
        k = T_EQ; w = 2;
        break;
    case '&':
        if (d != '&') {
            rb__expr_perr(p, i, "unexpected character '&' (did you mean '&&'?)");
            return -1;
        }
        k = T_AND; w = 2;
        break;
    case '|':
        if (d != '|') {
            rb__expr_perr(p, i, "unexpected character '|' (did you mean '||'?)");
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
        rb__expr_perr(p, i, "unexpected character '%c'", c);
    else
        rb__expr_perr(p, i, "unexpected byte 0x%02x", (unsigned char)c);
    return -1;
}

/* A member name after '.': an identifier that may also hold '-' between
 * word characters (steps.restore-backup.ok), so step names read as written.
 * A '-' not followed by a word character ends the name (a.b - 1). */
int rb__expr_lex_member(parser *p, size_t *off, size_t *len)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i >= p->len || !is_ident_start((unsigned char)s[i])) {
        p->pos = i;
        if (rb__expr_lex(p) < 0)
            return -1;
        char b[64];
        rb__expr_perr(p, p->cur.off, "expected a name after '.' but found %s",
                      rb__expr_tok_desc(p, &p->cur, b, sizeof(b)));
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
    return rb__expr_lex(p);
}
