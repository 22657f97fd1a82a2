/*
 * template.c — "text {{ expr }} text" templates and quoting for /bin/sh.
 *
 * Owns: a compiled template (rb_tmpl_t): a copy of its source, its literal
 * and expression parts, and for each {{ }} the shell context it sits in.
 *
 * Security: with RB_TMPL_SHELL_QUOTE a value — often an alert label, i.e.
 * text from outside — must never become shell syntax. Each value is single-
 * quoted by rb_shell_quote. Quoting alone is not enough when the author put
 * the {{ }} inside quotes ("echo '{{ x }}'" would leave x unquoted between
 * two empty strings), so at compile time the literal text is scanned like a
 * POSIX shell reads it, and a value inside '…' or "…" is emitted as
 * close-quote, quoted value, reopen-quote. Places where no quoting can make
 * a value inert (after a backslash or '$', inside `…`, ${…}, $((…)), a
 * comment or a here-document) are refused, and so is everything after
 * syntax the scanner cannot follow. The scanner must only ever err on the
 * side of refusing.
 */
#define _GNU_SOURCE /* memmem */
#include "expr_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEMPLATE (1u << 20)
#define MAX_PARTS    4096 /* {{ }} in one template */

enum { SH_TOP, SH_SQ, SH_DQ, SH_BAD };

typedef struct part {
    size_t off, len;  /* the literal text, or the whole "{{ … }}" */
    rb_expr_t *e;     /* NULL for literal text */
    int sh;           /* SH_*: how to quote this value for the shell */
    const char *why;  /* SH_BAD: why it cannot be quoted */
} part;

struct rb_tmpl {
    char *src;
    size_t len;
    part *parts;
    size_t n;
    int nexpr;
    int single; /* exactly one {{ }} and nothing around it */
};

/* ---------------------------------------------------------------- quoting */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int put(buf *b, const char *s, size_t n)
{
    if (!n)
        return 0;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* '…' with every ' written as '\'' (close, escaped quote, reopen): inside
 * single quotes sh gives no character a meaning, so nothing can escape. */
static int quote_into(buf *b, const char *s, size_t n)
{
    if (put(b, "'", 1) < 0)
        return -1;
    for (;;) {
        const char *q = memchr(s, '\'', n);
        size_t k = q ? (size_t)(q - s) : n;
        if (put(b, s, k) < 0)
            return -1;
        if (!q)
            break;
        if (put(b, "'\\''", 4) < 0)
            return -1;
        s += k + 1;
        n -= k + 1;
    }
    return put(b, "'", 1);
}

char *rb_shell_quote(const char *s, size_t len)
{
    if (!s)
        len = 0;
    if (len && memchr(s, '\0', len))
        return NULL;
    buf b = {0};
    if (quote_into(&b, s ? s : "", len) < 0 || put(&b, "", 1) < 0) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---------------------------------------------------------------- shell scan */

enum { F_CMD, F_SQ, F_DQ, F_BQ, F_PARAM, F_ARITH, F_COMMENT };
#define SH_FRAMES 32
#define SH_HEREDOCS 4
#define SH_DELIM 64

/* How sh reads the literal text so far: a stack of nested contexts plus the
 * few one-character lookbehinds that matter to the next {{ }}. */
typedef struct shscan {
    unsigned char fr[SH_FRAMES];
    int parens[SH_FRAMES];            /* F_ARITH: open parentheses inside */
    unsigned char ends_word[SH_FRAMES]; /* its closing ')' ends the word: ( … ), (( … )) */
    int nfr;
    int esc, dollar, word_start;
    char prev; /* the previous character of unquoted text */
    int dup;   /* after >& or <&: 1 before its target word, 2 inside it */
    int hd_word, hd_dash, hd_q, hd_esc, hd_quoted; /* reading a here-document delimiter */
    char hd[SH_HEREDOCS][SH_DELIM];
    size_t hdlen[SH_HEREDOCS];
    int hdtabs[SH_HEREDOCS], hdraw[SH_HEREDOCS], nhd;
    int in_body, line_over;
    char line[SH_DELIM + 8];
    size_t linelen, trail_bs; /* trail_bs: backslashes ending the line so far */
    const char *poison; /* set: nothing after this point can be trusted */
} shscan;

static void sh_push(shscan *t, int f)
{
    if (t->nfr == SH_FRAMES) {
        t->poison = "after nesting deeper than 32 levels";
        return;
    }
    t->parens[t->nfr] = 0;
    t->ends_word[t->nfr] = 0;
    t->fr[t->nfr++] = (unsigned char)f;
}

static void sh_pop(shscan *t)
{
    if (t->nfr > 1)
        t->nfr--;
    t->word_start = 0;
}

static void sh_newline(shscan *t)
{
    t->word_start = 1;
    if (t->nhd) {
        t->in_body = 1;
        t->linelen = t->trail_bs = 0;
        t->line_over = 0;
    }
}

static void sh_body(shscan *t, char c)
{
    if (c != '\n') {
        t->trail_bs = c == '\\' ? t->trail_bs + 1 : 0;
        if (t->linelen < sizeof(t->line))
            t->line[t->linelen++] = c;
        else
            t->line_over = 1;
        return;
    }
    if (!t->hdraw[0] && t->trail_bs % 2) {
        /* unquoted delimiter: backslash-newline joins lines, and the
         * delimiter is looked for in the joined line */
        if (t->linelen && !t->line_over)
            t->linelen--;
        t->trail_bs = 0;
        return;
    }
    t->trail_bs = 0;
    const char *l = t->line;
    size_t n = t->linelen;
    if (t->hdtabs[0])
        while (n && *l == '\t')
            l++, n--;
    if (!t->line_over && n == t->hdlen[0] && !memcmp(l, t->hd[0], n)) {
        t->nhd--;
        memmove(t->hd[0], t->hd[1], sizeof(t->hd[0]) * (size_t)t->nhd);
        memmove(t->hdlen, t->hdlen + 1, sizeof(t->hdlen[0]) * (size_t)t->nhd);
        memmove(t->hdtabs, t->hdtabs + 1, sizeof(t->hdtabs[0]) * (size_t)t->nhd);
        memmove(t->hdraw, t->hdraw + 1, sizeof(t->hdraw[0]) * (size_t)t->nhd);
        if (!t->nhd) {
            t->in_body = 0;
            t->word_start = 1;
        }
    }
    t->linelen = 0;
    t->line_over = 0;
}

/* Reads one character of a here-document delimiter. 1: consumed; 0: the
 * delimiter ended and c is ordinary text again. */
static int sh_hd_word(shscan *t, char c)
{
    if (t->hd_word == 1) {
        if (c == ' ' || c == '\t')
            return 1;
        t->hd_word = 2;
    }
    int k = t->nhd;
    if (t->hd_q) {
        if (c == t->hd_q)
            t->hd_q = 0;
        else
            goto add;
        return 1;
    }
    if (t->hd_esc) {
        t->hd_esc = 0;
        goto add;
    }
    if (c == '\'' || c == '"') {
        t->hd_q = c; // NOLINT(bugprone-signed-char-misuse,cert-str34-c): a quote, ASCII, compared with char c only
        t->hd_quoted = 1;
        return 1;
    }
    if (c == '\\') {
        t->hd_esc = 1;
        t->hd_quoted = 1;
        return 1;
    }
    if (c && strchr(" \t\n;&|<>()", c)) {
        if (!t->hdlen[k])
            t->poison = "after a here-document without a delimiter";
        t->hd_word = 0;
        t->hdtabs[k] = t->hd_dash;
        t->hdraw[k] = t->hd_quoted; /* a quoted delimiter: the body is raw text */
        t->nhd++;
        return 0;
    }
add:
    if (t->hdlen[k] + 1 >= SH_DELIM) {
        t->poison = "after a long here-document delimiter";
        return 1;
    }
    t->hd[k][t->hdlen[k]++] = c;
    return 1;
}

/* Index of the character that sh reads after s[i]. A backslash-newline
 * is deleted before anything else is read (outside '…', comments and raw
 * here-documents, where nothing looks ahead), so lookaheads skip it. */
static size_t sh_next(const char *s, size_t n, size_t i)
{
    i++;
    while (i + 1 < n && s[i] == '\\' && s[i + 1] == '\n')
        i += 2;
    return i;
}

/* A '$' at s[i] in unquoted text or in "…": returns the index of the last
 * character it consumed. */
static size_t sh_dollar(shscan *t, const char *s, size_t n, size_t i, int in_dq)
{
    size_t j1 = sh_next(s, n, i);
    if (j1 >= n) {
        t->dollar = 1; /* a {{ }} follows right after the '$' */
        return i;
    }
    char c1 = s[j1];
    /* $$ $# $? $! $@ $* $- $0…$9: the character is part of the parameter
     * ("$$(" is the PID then '(', not a command substitution) */
    size_t j2 = sh_next(s, n, j1);
    if (c1 == '$' && j2 >= n) {
        t->dollar = 1; /* "$$" + quoted value could read as $'…' to some bash */
        return j1;
    }
    if (c1 == '$' && s[j2] && strchr("({['", s[j2])) {
        /* bash's lexer reads the second '$' of "$$(" as starting $( … )
         * while its expansion reads $$ then '(': the shells disagree */
        t->poison = "after '$$' followed by a bracket or quote";
        return j1;
    }
    if (c1 && strchr("$#?!@*-0123456789", c1))
        return j1;
    if (c1 == '(' && j2 < n && s[j2] == '(') {
        sh_push(t, F_ARITH);
        return j2;
    }
    if (c1 == '(') {
        sh_push(t, F_CMD); /* its ')' does not end the word: "$(a)#x" */
        t->word_start = 1;
        return j1;
    }
    if (c1 == '{') {
        sh_push(t, F_PARAM);
        return j1;
    }
    if (c1 == '\'' && !in_dq)
        t->poison = "after $'…' quoting";
    if (c1 == '[')
        t->poison = "after $[ … ] (bash arithmetic)";
    return i;
}

/* Whether the word "case" starts at s[i] (a case pattern ends in ')'). */
static int sh_case(const char *s, size_t n, size_t i)
{
    for (const char *w = "case"; *w; w++, i = sh_next(s, n, i))
        if (i >= n || s[i] != *w)
            return 0;
    return i < n && s[i] && strchr(" \t\n", s[i]);
}

static void sh_feed(shscan *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !t->poison; i++) {
        char c = s[i];
        if (t->in_body) {
            sh_body(t, c);
            continue;
        }
        int f = t->fr[t->nfr - 1];
        if (c == '\\' && i + 1 < n && s[i + 1] == '\n' && !t->esc && !t->hd_esc && f != F_SQ &&
            f != F_COMMENT && !(t->hd_word && t->hd_q == '\'')) {
            i++; /* a line continuation changes nothing, not even word_start */
            continue;
        }
        size_t j1 = sh_next(s, n, i), j2 = j1 < n ? sh_next(s, n, j1) : n;
        char c1 = j1 < n ? s[j1] : '\0'; // NOLINT(bugprone-narrowing-conversions): a char or '\0'
        t->dollar = 0;
        if (t->hd_word && sh_hd_word(t, c))
            continue;
        switch (f) {
        case F_CMD:
            if (t->esc) {
                t->esc = 0;
                t->word_start = 0;
                break;
            }
            if (t->dup) {
                if (c == ' ' || c == '\t')
                    t->dup = t->dup == 1;
                else
                    t->dup = c && strchr(";&|<>()\n", c) ? 0 : 2;
            }
            switch (c) {
            case '\\': t->esc = 1; break;
            case '\'': sh_push(t, F_SQ); break;
            case '"': sh_push(t, F_DQ); break;
            case '`': sh_push(t, F_BQ); break;
            case '$':
                t->word_start = 0; /* "$(" sets it again: a command starts there */
                i = sh_dollar(t, s, n, i, 0);
                break;
            case '#':
                if (t->word_start)
                    sh_push(t, F_COMMENT);
                break;
            case '(':
                /* after a subshell's ')' a new word starts ("(a)#x" has a
                 * comment); bash's <( … ) and >( … ) are words like $( … ) */
                if (c1 == '(') {
                    /* bash reads ((…)) as arithmetic, where quotes do not protect */
                    sh_push(t, F_ARITH);
                    i = j1;
                } else {
                    sh_push(t, F_CMD);
                    t->word_start = 1;
                }
                t->ends_word[t->nfr - 1] = t->prev != '<' && t->prev != '>';
                break;
            case ')': {
                int word = t->nfr == 1 || t->ends_word[t->nfr - 1];
                sh_pop(t);
                t->word_start = word;
                break;
            }
            case '<':
                if (c1 == '<') {
                    if (j2 < n && s[j2] == '<') {
                        t->poison = "after a here-string (<<<)";
                        break;
                    }
                    if (t->nhd == SH_HEREDOCS) {
                        t->poison = "after too many here-documents on one line";
                        break;
                    }
                    t->hd_dash = j2 < n && s[j2] == '-';
                    i = t->hd_dash ? j2 : j1;
                    t->hd_word = 1;
                    t->hdlen[t->nhd] = 0;
                    t->hd_q = t->hd_esc = t->hd_quoted = 0;
                }
                t->word_start = 1;
                break;
            case '\n': sh_newline(t); break;
            case '&':
                /* bash parses the target of >& and <& again when it is not
                 * a number: even a quoted $( ) there runs */
                if (t->prev == '>' || t->prev == '<')
                    t->dup = 1;
                t->word_start = 1;
                break;
            case ' ': case '\t': case ';': case '|': case '>': t->word_start = 1; break;
            default:
                /* case patterns end in ')', which would close $( ) early */
                if (t->word_start && t->nfr > 1 && sh_case(s, n, i))
                    t->poison = "after 'case' inside ( … )";
                t->word_start = 0;
            }
            t->prev = c;
            break;
        case F_SQ:
            if (c == '\'')
                sh_pop(t);
            break;
        case F_DQ:
            if (t->esc) {
                t->esc = 0;
                break;
            }
            switch (c) {
            case '\\': t->esc = 1; break;
            case '"': sh_pop(t); break;
            case '`': sh_push(t, F_BQ); break;
            case '$': i = sh_dollar(t, s, n, i, 1); break;
            }
            break;
        case F_BQ:
            if (t->esc)
                t->esc = 0;
            else if (c == '\\')
                t->esc = 1;
            else if (c == '`')
                sh_pop(t);
            break;
        case F_PARAM:
            if (c == '}')
                sh_pop(t);
            else if (c == '$' && c1 == '{') {
                sh_push(t, F_PARAM);
                i = j1;
            } else if ((c && strchr("'\"`\\", c)) || (c == '$' && c1 == '('))
                t->poison = "after quoting inside ${ … }";
            break;
        case F_ARITH:
            if (c == '(')
                t->parens[t->nfr - 1]++;
            else if (c == ')') {
                if (t->parens[t->nfr - 1] > 0)
                    t->parens[t->nfr - 1]--;
                else if (c1 == ')') {
                    int word = t->ends_word[t->nfr - 1];
                    sh_pop(t);
                    t->word_start = word;
                    i = j1;
                } else
                    t->poison = "after an unbalanced $(( … ))";
            } else if ((c && strchr("'\"`\\", c)) || (c == '$' && c1 == '('))
                t->poison = "after quoting inside (( … ))";
            break;
        case F_COMMENT:
            if (c == '\n') {
                sh_pop(t);
                sh_newline(t);
            }
            break;
        }
    }
}

/* A {{ }} at the current point: its SH_* context, or SH_BAD with *why. */
static int sh_hole(shscan *t, const char **why)
{
    int ctx = SH_BAD, f = t->fr[t->nfr - 1];
    if (t->poison)
        *why = t->poison;
    else if (t->in_body)
        *why = "inside a here-document (pass the value as an argument instead)";
    else if (t->hd_word)
        *why = "as a here-document delimiter";
    else if (t->dup)
        *why = "as the target of >& or <& (bash would run it)";
    else if ((f == F_CMD || f == F_DQ) && t->esc)
        *why = "right after a backslash";
    else if ((f == F_CMD || f == F_DQ) && t->dollar)
        *why = "right after '$'";
    else if (f == F_CMD)
        ctx = SH_TOP;
    else if (f == F_SQ)
        ctx = SH_SQ;
    else if (f == F_DQ)
        ctx = SH_DQ;
    else if (f == F_BQ)
        *why = "inside `…` (use $( … ) instead)";
    else if (f == F_PARAM)
        *why = "inside ${ … }";
    else if (f == F_ARITH)
        *why = "inside $(( … )) or (( … ))";
    else
        *why = "inside a comment";
    t->esc = t->dollar = t->word_start = 0;
    t->prev = 'x'; /* the value is a word part */
    return ctx;
}

/* ---------------------------------------------------------------- compile */

/* Offset of the first byte that is not valid UTF-8, or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        // cppcheck-suppress nullPointerRedundantCheck -- s is NULL only with len 0 (rb_tmpl_compile)
        unsigned c = s[i];
        size_t k;
        unsigned min;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { k = 1; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; min = 0x10000; }
        else return i;
        if (len - i <= k)
            return i;
        unsigned cp = c & (0x3Fu >> k);
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += k + 1;
    }
    return len;
}

void rb_tmpl_free(rb_tmpl_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        rb_expr_free(t->parts[i].e);
    free(t->parts);
    free(t->src);
    free(t);
}

static int add_part(rb_tmpl_t *t, size_t *cap, part p)
{
    if (t->n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        part *np = realloc(t->parts, c * sizeof(*np));
        if (!np)
            return -1;
        t->parts = np;
        *cap = c;
    }
    t->parts[t->n++] = p;
    return 0;
}

rb_tmpl_t *rb_tmpl_compile(const char *src, size_t len, rb_expr_error_t *err)
{
    rb_expr_error_t dummy;
    if (!err)
        err = &dummy;
    err->offset = 0;
    err->msg[0] = '\0';
    if (!src)
        len = 0;
    if (len > MAX_TEMPLATE) {
        err->offset = MAX_TEMPLATE;
        snprintf(err->msg, sizeof(err->msg), "template longer than %u bytes", MAX_TEMPLATE);
        return NULL;
    }
    size_t bad = utf8_check((const unsigned char *)src, len);
    if (bad < len) {
        err->offset = bad;
        snprintf(err->msg, sizeof(err->msg), "invalid UTF-8");
        return NULL;
    }
    rb_tmpl_t *t = calloc(1, sizeof(*t));
    if (!t || !(t->src = malloc(len + 1)))
        goto nomem;
    if (len)
        memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->len = len;
    size_t cap = 0, i = 0;
    while (i < len) {
        const char *o = memmem(t->src + i, len - i, "{{", 2);
        size_t k = o ? (size_t)(o - t->src) : len;
        if (o && t->nexpr == MAX_PARTS) {
            err->offset = k;
            snprintf(err->msg, sizeof(err->msg), "more than %d '{{ }}' in one template", MAX_PARTS);
            rb_tmpl_free(t);
            return NULL;
        }
        if (k > i && add_part(t, &cap, (part){.off = i, .len = k - i}) < 0)
            goto nomem;
        if (!o)
            break;
        size_t end = 0;
        rb_expr_t *e = rb__expr_compile_tmpl(t->src, len, k + 2, &end, err);
        if (!e) {
            rb_tmpl_free(t);
            return NULL;
        }
        if (add_part(t, &cap, (part){.off = k, .len = end - k, .e = e}) < 0) {
            rb_expr_free(e);
            goto nomem;
        }
        t->nexpr++;
        i = end;
    }
    t->single = t->n == 1 && t->nexpr == 1;
    if (t->nexpr) {
        shscan sc = {.nfr = 1, .word_start = 1};
        for (size_t j = 0; j < t->n; j++) {
            if (t->parts[j].e)
                t->parts[j].sh = sh_hole(&sc, &t->parts[j].why);
            else
                sh_feed(&sc, t->src + t->parts[j].off, t->parts[j].len);
        }
    }
    return t;
nomem:
    rb_tmpl_free(t);
    err->offset = 0;
    snprintf(err->msg, sizeof(err->msg), "out of memory");
    return NULL;
}

int rb_tmpl_is_literal(const rb_tmpl_t *t) { return !t || t->nexpr == 0; }

int rb_tmpl_shell_check(const rb_tmpl_t *t, rb_expr_error_t *err)
{
    for (size_t i = 0; t && i < t->n; i++) {
        if (t->parts[i].e && t->parts[i].sh == SH_BAD) {
            if (err) {
                err->offset = t->parts[i].off;
                snprintf(err->msg, sizeof(err->msg), "a {{ }} %s cannot be quoted safely for the shell",
                         t->parts[i].why);
            }
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- render */

static void rerr(const rb_tmpl_t *t, const part *p, const char *msg, char *err, size_t errlen)
{
    if (!err || !errlen)
        return;
    int n = (int)(p->len < 60 ? p->len : 60);
    snprintf(err, errlen, "%.*s%s: %s", n, t->src + p->off, p->len > 60 ? "…" : "", msg);
}

int rb_tmpl_missing(const rb_tmpl_t *t, const json_t *ctx, char *out, size_t len)
{
    if (!t || !t->single || !len)
        return 0;
    char msg[200], miss[200];
    json_t *v = rb__expr_eval_miss(t->parts[0].e->root, ctx, msg, sizeof msg, miss, sizeof miss);
    int said = json_is_null(v) && miss[0]; /* json_is_null is false for NULL */
    if (said) {
        int shown = t->parts[0].len < 80 ? (int)t->parts[0].len : 80;
        snprintf(out, len, "%.*s gave nothing: %s", shown, t->src + t->parts[0].off, miss);
    }
    json_decref(v);
    return said;
}

json_t *rb_tmpl_render(const rb_tmpl_t *t, const json_t *ctx, int flags, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!t) {
        if (err && errlen)
            snprintf(err, errlen, "no template");
        return NULL;
    }
    int shell = flags & RB_TMPL_SHELL_QUOTE;
    if (t->single && !(flags & (RB_TMPL_STRING | RB_TMPL_SHELL_QUOTE))) {
        char msg[200];
        json_t *v = rb_expr_eval(t->parts[0].e, ctx, msg, sizeof(msg));
        if (!v)
            rerr(t, &t->parts[0], msg, err, errlen);
        return v;
    }
    if (shell) {
        rb_expr_error_t e;
        if (rb_tmpl_shell_check(t, &e) < 0) {
            if (err && errlen)
                snprintf(err, errlen, "%s", e.msg);
            return NULL;
        }
    }
    buf b = {0};
    for (size_t i = 0; i < t->n; i++) {
        const part *p = &t->parts[i];
        if (!p->e) {
            if (put(&b, t->src + p->off, p->len) < 0)
                goto nomem;
            continue;
        }
        char msg[200], nb[48], *heap;
        json_t *v = rb_expr_eval(p->e, ctx, msg, sizeof(msg));
        if (!v) {
            rerr(t, p, msg, err, errlen);
            free(b.p);
            return NULL;
        }
        size_t l;
        const char *s = rb__expr_text(v, nb, sizeof(nb), &l, &heap);
        int rc = s ? 0 : -1;
        if (rc == 0 && shell && memchr(s, '\0', l)) {
            /* argv strings end at a NUL: the value could not reach the command intact */
            rerr(t, p, "value contains a NUL byte", err, errlen);
            free(heap);
            json_decref(v);
            free(b.p);
            return NULL;
        }
        if (rc == 0 && !shell)
            rc = put(&b, s, l);
        else if (rc == 0) {
            /* inside '…' or "…": close the quote, add the quoted value, reopen */
            const char *q = p->sh == SH_SQ ? "'" : p->sh == SH_DQ ? "\"" : "";
            rc = put(&b, q, strlen(q)) < 0 || quote_into(&b, s, l) < 0 || put(&b, q, strlen(q)) < 0 ? -1 : 0;
        }
        free(heap);
        json_decref(v);
        if (rc < 0)
            goto nomem;
    }
    json_t *r = json_stringn(b.p ? b.p : "", b.len);
    free(b.p);
    if (!r && err && errlen)
        snprintf(err, errlen, "out of memory");
    return r;
nomem:
    free(b.p);
    if (err && errlen)
        snprintf(err, errlen, "out of memory");
    return NULL;
}

void rb_tmpl_refs(const rb_tmpl_t *t, rb_expr_ref_cb cb, void *arg)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->parts[i].e)
            rb_expr_refs(t->parts[i].e, cb, arg);
}
