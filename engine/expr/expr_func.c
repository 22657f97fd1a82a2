/*
 * expr_func.c — the built-in functions of the expression language
 * (len contains startsWith endsWith matches int float string default lower
 * upper join split now duration shell_quote) and the value-to-text rule
 * that templates, string(), join() and '+' share.
 *
 * Owns: the function table and the compiled regexes of literal patterns
 * (built by prepare at compile time, released with the expression).
 *
 * Every function takes borrowed arguments and returns a new reference or
 * NULL with a message "<name>: …". A function never keeps state between
 * calls and never touches anything but its arguments (now() reads the
 * calling thread's clock, rb_expr_set_clock), so evaluation stays thread-safe. Predicates (contains, startsWith,
 * endsWith, matches) answer false for a null subject, because a missing
 * path is null; transformations (lower, split, …) refuse null, so a missing
 * value is an error the operator sees rather than a silent "".
 */
#define _GNU_SOURCE /* memmem */
#include "expr_int.h"

#include "host/action_host.h" /* rb__edit_distance */

#include <runbook/runbook.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *ferr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *ferr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /* cut short by a small buffer: never in the middle of a character,
         * so the message stays valid UTF-8 for the journal */
        if (n >= (int)errlen) {
            size_t k = errlen - 1;
            while (k && ((unsigned char)err[k] & 0xC0) == 0x80)
                k--;
            err[k] = '\0';
        }
    }
    return NULL;
}

static json_t *oom(char *err, size_t errlen) { return ferr(err, errlen, "out of memory"); }

/* How much of the string v to quote in an error: all of it without its
 * trailing whitespace (a script's reason ends with a newline), at most
 * RB__QUOTE_MAX bytes, cut on a UTF-8 character boundary; *cut says
 * whether it was cut. The reason a value could not be converted is often
 * the only word on why a probe could not run: it is shown, not clipped. */
#define RB__QUOTE_MAX 400
static int quote_len(const json_t *v, int *cut)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    const char *nul = memchr(s, '\0', n);
    if (nul)
        n = (size_t)(nul - s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *cut = n > RB__QUOTE_MAX;
    if (*cut) {
        n = RB__QUOTE_MAX;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return (int)n;
}

const char *rb__expr_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return "null";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "list";
    case JSON_OBJECT: return "object";
    }
    return "value";
}

/* Shortest text that reads back as the same double, always with a '.' or
 * an exponent so that it still reads as a real (as jansson prints it). */
static size_t fmt_real(double d, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%.15g", d);
    if (strtod(buf, NULL) != d)
        len = snprintf(buf, n, "%.17g", d);
    if (len > 0 && (size_t)len + 2 < n && !strpbrk(buf, ".eEn")) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    return len > 0 ? (size_t)len : 0;
}

const char *rb__expr_text(const json_t *v, char *buf, size_t buflen, size_t *len, char **heap)
{
    *heap = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return json_string_value(v);
    case JSON_INTEGER: {
        int k = snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *len = k > 0 ? (size_t)k : 0;
        return buf;
    }
    case JSON_REAL: *len = fmt_real(json_real_value(v), buf, buflen); return buf;
    case JSON_TRUE: *len = 4; return "true";
    case JSON_FALSE: *len = 5; return "false";
    case JSON_NULL: *len = 0; return "";
    default:
        /* 15 digits: 0.1 prints as 0.1 inside a list, not 0.10000000000000001 */
        *heap = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        *len = *heap ? strlen(*heap) : 0;
        return *heap;
    }
}

/* ---------------------------------------------------------------- strings */

static json_t *f_len(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    const json_t *v = a[0];
    switch (json_typeof(v)) {
    case JSON_NULL: return json_integer(0);
    case JSON_ARRAY: return json_integer((json_int_t)json_array_size(v));
    case JSON_OBJECT: return json_integer((json_int_t)json_object_size(v));
    case JSON_STRING: {
        /* characters, not bytes: count the bytes that start a UTF-8 sequence */
        const unsigned char *s = (const unsigned char *)json_string_value(v);
        size_t k = 0, l = json_string_length(v);
        for (size_t i = 0; i < l; i++)
            k += (s[i] & 0xC0) != 0x80;
        return json_integer((json_int_t)k);
    }
    default: return ferr(err, errlen, "len: expected a string, list or object, got %s", rb__expr_type(v));
    }
}

static json_t *f_contains(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    int r = rb__expr_contains(a[0], a[1], "contains", err, errlen);
    return r < 0 ? NULL : json_boolean(r);
}

/* The subject and affix of startsWith/endsWith: 1 go on, 0 false, -1 error. */
static int affix_args(json_t *const *a, const char *fn, char *err, size_t errlen)
{
    if (json_is_null(a[0]))
        return 0;
    if (!json_is_string(a[0]) || !json_is_string(a[1])) {
        ferr(err, errlen, "%s: expected two strings, got %s and %s", fn, rb__expr_type(a[0]), rb__expr_type(a[1]));
        return -1;
    }
    return json_string_length(a[1]) <= json_string_length(a[0]);
}

static json_t *f_starts(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    int r = affix_args(a, "startsWith", err, errlen);
    if (r <= 0)
        return r < 0 ? NULL : json_false();
    return json_boolean(!memcmp(json_string_value(a[0]), json_string_value(a[1]), json_string_length(a[1])));
}

static json_t *f_ends(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    int r = affix_args(a, "endsWith", err, errlen);
    if (r <= 0)
        return r < 0 ? NULL : json_false();
    size_t l = json_string_length(a[0]), k = json_string_length(a[1]);
    return json_boolean(!memcmp(json_string_value(a[0]) + l - k, json_string_value(a[1]), k));
}

static json_t *f_case(json_t *const *a, const char *fn, int upper, char *err, size_t errlen)
{
    if (!json_is_string(a[0]))
        return ferr(err, errlen, "%s: expected a string, got %s", fn, rb__expr_type(a[0]));
    size_t l = json_string_length(a[0]);
    char *b = malloc(l + 1);
    if (!b)
        return oom(err, errlen);
    const char *s = json_string_value(a[0]);
    /* ASCII only: bytes >= 0x80 are parts of UTF-8 sequences and stay */
    for (size_t i = 0; i < l; i++) {
        char c = s[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        b[i] = c;
    }
    json_t *r = json_stringn_nocheck(b, l);
    free(b);
    return r ? r : oom(err, errlen);
}

static json_t *f_lower(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    return f_case(a, "lower", 0, err, errlen);
}

static json_t *f_upper(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    return f_case(a, "upper", 1, err, errlen);
}

static json_t *f_string(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    if (json_is_string(a[0]))
        return json_incref(a[0]);
    char buf[48], *heap;
    size_t l;
    const char *t = rb__expr_text(a[0], buf, sizeof(buf), &l, &heap);
    json_t *r = t ? json_stringn(t, l) : NULL;
    free(heap);
    return r ? r : oom(err, errlen);
}

static json_t *f_join(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    if (!json_is_array(a[0]) || !json_is_string(a[1]))
        return ferr(err, errlen, "join: expected a list and a string, got %s and %s", rb__expr_type(a[0]),
                    rb__expr_type(a[1]));
    size_t cap = 64, len = 0, sl = json_string_length(a[1]);
    char *out = malloc(cap);
    if (!out)
        return oom(err, errlen);
    for (size_t i = 0; i < json_array_size(a[0]); i++) {
        char buf[48], *heap;
        size_t l;
        const char *t = rb__expr_text(json_array_get(a[0], i), buf, sizeof(buf), &l, &heap);
        size_t need = len + l + (i ? sl : 0);
        if (!t || need < len) {
            free(out);
            return oom(err, errlen);
        }
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *o = realloc(out, cap);
            if (!o) {
                free(heap);
                free(out);
                return oom(err, errlen);
            }
            out = o;
        }
        if (i) {
            memcpy(out + len, json_string_value(a[1]), sl);
            len += sl;
        }
        memcpy(out + len, t, l);
        len += l;
        free(heap);
    }
    json_t *r = json_stringn(out, len);
    free(out);
    return r ? r : oom(err, errlen);
}

static json_t *f_split(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    if (!json_is_string(a[0]) || !json_is_string(a[1]))
        return ferr(err, errlen, "split: expected two strings, got %s and %s", rb__expr_type(a[0]),
                    rb__expr_type(a[1]));
    const char *s = json_string_value(a[0]), *sep = json_string_value(a[1]);
    size_t l = json_string_length(a[0]), sl = json_string_length(a[1]);
    if (!sl)
        return ferr(err, errlen, "split: the separator is empty");
    json_t *r = json_array();
    if (!r)
        return oom(err, errlen);
    const char *p = s, *end = s + l;
    for (;;) {
        const char *m = memmem(p, (size_t)(end - p), sep, sl);
        const char *stop = m ? m : end;
        /* a valid UTF-8 separator only matches on character boundaries */
        if (json_array_append_new(r, json_stringn(p, (size_t)(stop - p)))) {
            json_decref(r);
            return oom(err, errlen);
        }
        if (!m)
            break;
        p = m + sl;
    }
    return r;
}

static json_t *f_shell_quote(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    char buf[48], *heap;
    size_t l;
    const char *t = rb__expr_text(a[0], buf, sizeof(buf), &l, &heap);
    if (!t)
        return oom(err, errlen);
    if (memchr(t, '\0', l)) {
        free(heap);
        return ferr(err, errlen, "shell_quote: value contains a NUL byte");
    }
    char *q = rb_shell_quote(t, l);
    free(heap);
    if (!q)
        return oom(err, errlen);
    json_t *r = json_string(q);
    free(q);
    return r ? r : oom(err, errlen);
}

/* ---------------------------------------------------------------- regex */

/* glibc's regcomp expands a{n,m} by copying the atom n times and a+ as
 * "a a*", so nested counted repetitions such as ((a{255}){255}){255}, or
 * stacked ones such as a+++++…, ask for millions of states; back-references
 * make matching exponential. Estimate the expanded size and refuse what
 * would be huge: a runbook pattern never needs it, and matching time grows
 * with it too. */
static const char *regex_refuse(const char *re)
{
    enum { LIMIT = 1000, DEPTH = 64 };
    double cur[DEPTH + 1], last = 0;
    int d = 0, quant = 0, was_quant;
    cur[0] = 0;
    for (const char *s = re; *s; s++) {
        was_quant = quant;
        quant = 0;
        switch (*s) {
        case '\\':
            if (s[1] >= '1' && s[1] <= '9')
                return "back-references are not supported";
            if (s[1])
                s++;
            last = 1;
            cur[d] += 1;
            break;
        case '[': {
            const char *j = s + 1;
            if (*j == '^')
                j++;
            if (*j == ']')
                j++;
            while (*j && *j != ']') {
                if (*j == '[' && (j[1] == ':' || j[1] == '.' || j[1] == '=')) {
                    char kind = j[1];
                    for (j += 2; *j && !(j[0] == kind && j[1] == ']'); j++)
                        ;
                    if (*j)
                        j++;
                }
                if (*j)
                    j++;
            }
            if (!*j)
                return NULL; /* unterminated: regcomp says so */
            s = j;
            last = 1;
            cur[d] += 1;
            break;
        }
        case '(':
            if (d == DEPTH)
                return "too deeply nested";
            cur[++d] = 0;
            last = 0;
            break;
        case ')':
            if (d > 0) {
                last = cur[d--];
                cur[d] += last;
            }
            break;
        case '{': {
            char *e;
            unsigned long m = strtoul(s + 1, &e, 10), hi = m;
            if (e == s + 1) {
                last = 1;
                cur[d] += 1;
                break;
            }
            if (*e == ',') {
                char *e2;
                hi = strtoul(e + 1, &e2, 10);
                if (e2 == e + 1)
                    hi = m + 1;
                e = e2;
            }
            if (*e != '}')
                return NULL;
            if (was_quant)
                return "stacks repetitions (such as a** or a*?)";
            quant = 1;
            double b = hi > 100000 ? 100000.0 : (double)hi;
            cur[d] += last * (b - 1 > 0 ? b - 1 : 0);
            last *= b;
            s = e;
            break;
        }
        case '+':
        case '*':
        case '?':
            /* stacked quantifiers are undefined in POSIX EREs (a*? is not
             * lazy here) and make glibc's closure computation explode */
            if (was_quant)
                return "stacks repetitions (such as a** or a*?)";
            quant = 1;
            if (*s == '+') {
                cur[d] += last;
                last *= 2;
            }
            break;
        case '|': case '^': case '$': break;
        default:
            last = 1;
            cur[d] += 1;
        }
        if (cur[d] > LIMIT)
            return "too large once its repetitions are expanded";
    }
    return NULL;
}

/* Compiles pattern into a new regex_t, or returns NULL with msg. */
static regex_t *regex_new(const json_t *pat, char *msg, size_t msglen)
{
    const char *re = json_string_value(pat);
    if (memchr(re, '\0', json_string_length(pat))) {
        snprintf(msg, msglen, "matches: the pattern contains a NUL byte");
        return NULL;
    }
    const char *why = regex_refuse(re);
    if (why) {
        snprintf(msg, msglen, "matches: the regular expression %s", why);
        return NULL;
    }
    regex_t *rx = malloc(sizeof(*rx));
    if (!rx) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    int rc = regcomp(rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char e[120];
        regerror(rc, rx, e, sizeof(e));
        snprintf(msg, msglen, "matches: invalid regular expression: %s", e);
        free(rx);
        return NULL;
    }
    return rx;
}

static void regex_release(void *aux)
{
    regfree(aux);
    free(aux);
}

/* A literal pattern is compiled once, here, and a bad one is a load error. */
static int prep_matches(json_t *const *lits, int n, void **aux, int *bad, char *msg, size_t msglen)
{
    if (!lits[1])
        return 0;
    *bad = 1;
    if (!json_is_string(lits[1])) {
        snprintf(msg, msglen, "matches: the pattern must be a string, got %s", rb__expr_type(lits[1]));
        return -1;
    }
    return (*aux = regex_new(lits[1], msg, msglen)) ? 0 : -1;
}

static json_t *f_matches(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    if (json_is_null(a[0]))
        return json_false();
    if (!json_is_string(a[0]))
        return ferr(err, errlen, "matches: expected a string, got %s", rb__expr_type(a[0]));
    regex_t *rx = aux;
    if (!rx) {
        if (!json_is_string(a[1]))
            return ferr(err, errlen, "matches: the pattern must be a string, got %s", rb__expr_type(a[1]));
        if (!(rx = regex_new(a[1], err, errlen)))
            return NULL;
    }
    int rc = regexec(rx, json_string_value(a[0]), 0, NULL, 0);
    if (rx != aux)
        regex_release(rx);
    return json_boolean(rc == 0);
}

/* ---------------------------------------------------------------- numbers */

/* Parses s (surrounding whitespace allowed: command output ends in "\n")
 * as a decimal integer or real. 0 ok, -1 not a number. */
static int parse_number(const char *s, size_t l, json_int_t *iv, double *dv, int *is_int)
{
    while (l && isspace((unsigned char)*s))
        s++, l--;
    while (l && isspace((unsigned char)s[l - 1]))
        l--;
    if (!l || l > 64)
        return -1;
    char tmp[72];
    memcpy(tmp, s, l);
    tmp[l] = '\0';
    /* only decimal notation: strtod would also take "inf", "nan" and hex */
    for (size_t i = 0; i < l; i++)
        if (!tmp[i] || !strchr("0123456789+-.eE", tmp[i]))
            return -1;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (!*end && errno == 0) {
        *iv = v;
        *is_int = 1;
        return 0;
    }
    errno = 0;
    double d = strtod(tmp, &end);
    if (*end || end == tmp || !isfinite(d))
        return -1;
    *dv = d;
    *is_int = 0;
    return 0;
}

static json_t *to_number(const json_t *v, int want_int, char *err, size_t errlen)
{
    const char *fn = want_int ? "int" : "float";
    json_int_t iv = 0;
    double dv = 0;
    int is_int;
    switch (json_typeof(v)) {
    case JSON_INTEGER: iv = json_integer_value(v); is_int = 1; break;
    case JSON_REAL: dv = json_real_value(v); is_int = 0; break;
    case JSON_TRUE: iv = 1; is_int = 1; break;
    case JSON_FALSE: iv = 0; is_int = 1; break;
    case JSON_STRING:
        if (parse_number(json_string_value(v), json_string_length(v), &iv, &dv, &is_int) < 0) {
            int cut, n = quote_len(v, &cut);
            return ferr(err, errlen, "%s: cannot convert \"%.*s%s\" to a number", fn, n,
                        json_string_value(v), cut ? "…" : "");
        }
        break;
    default: return ferr(err, errlen, "%s: cannot convert %s to a number", fn, rb__expr_type(v));
    }
    json_t *r;
    if (want_int && !is_int) {
        /* toward zero, as C and most languages truncate */
        if (!(dv >= -9223372036854775808.0 && dv < 9223372036854775808.0))
            return ferr(err, errlen, "int: %g is out of range", dv);
        r = json_integer((json_int_t)trunc(dv));
    } else if (want_int) {
        r = json_integer(iv);
    } else {
        r = json_real(is_int ? (double)iv : dv);
    }
    return r ? r : oom(err, errlen);
}

static json_t *f_int(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    return to_number(a[0], 1, err, errlen);
}

static json_t *f_float(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    return to_number(a[0], 0, err, errlen);
}

static _Thread_local rb_expr_clock_fn clock_fn;
static _Thread_local void *clock_arg;

void rb_expr_set_clock(rb_expr_clock_fn fn, void *arg)
{
    clock_fn = fn;
    clock_arg = arg;
}

rb_expr_clock_fn rb_expr_get_clock(void **arg)
{
    if (arg)
        *arg = clock_arg;
    return clock_fn;
}

double rb_expr_system_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* now(): the thread's clock (rb_expr_set_clock), else the system's. */
static json_t *f_now(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    json_t *r = json_real(clock_fn ? clock_fn(clock_arg) : rb_expr_system_now());
    return r ? r : oom(err, errlen);
}

/* duration("5m") is 300: whole seconds as an integer, else a real
 * (duration("250ms") is 0.25). A number is already seconds. */
static json_t *f_duration(json_t *const *a, int n, void *aux, char *err, size_t errlen)
{
    if (json_is_number(a[0]))
        return json_incref(a[0]);
    if (!json_is_string(a[0]))
        return ferr(err, errlen, "duration: expected a string such as \"5m\", got %s", rb__expr_type(a[0]));
    uint64_t ms;
    if (memchr(json_string_value(a[0]), '\0', json_string_length(a[0])) ||
        rb_duration_parse(json_string_value(a[0]), &ms) < 0) {
        int cut, len = quote_len(a[0], &cut);
        return ferr(err, errlen, "duration: invalid duration \"%.*s%s\" (use e.g. 30s, 5m, 1h30m, 250ms)",
                    len, json_string_value(a[0]), cut ? "…" : "");
    }
    json_t *r = ms % 1000 ? json_real((double)ms / 1000.0) : json_integer((json_int_t)(ms / 1000));
    return r ? r : oom(err, errlen);
}

/* ---------------------------------------------------------------- table */

static const rb__func_t funcs[] = {
    {"len", 1, 1, 1, f_len, NULL, NULL},
    {"contains", 2, 2, 1, f_contains, NULL, NULL},
    {"startsWith", 2, 2, 1, f_starts, NULL, NULL},
    {"endsWith", 2, 2, 1, f_ends, NULL, NULL},
    {"matches", 2, 2, 1, f_matches, prep_matches, regex_release},
    {"int", 1, 1, 1, f_int, NULL, NULL},
    {"float", 1, 1, 1, f_float, NULL, NULL},
    {"string", 1, 1, 1, f_string, NULL, NULL},
    {"default", 2, 2, 1, NULL, NULL, NULL}, /* lazy: evaluated in expr_eval.c */
    {"lower", 1, 1, 1, f_lower, NULL, NULL},
    {"upper", 1, 1, 1, f_upper, NULL, NULL},
    {"join", 2, 2, 1, f_join, NULL, NULL},
    {"split", 2, 2, 1, f_split, NULL, NULL},
    {"now", 0, 0, 0, f_now, NULL, NULL},
    {"duration", 1, 1, 1, f_duration, NULL, NULL},
    {"shell_quote", 1, 1, 1, f_shell_quote, NULL, NULL},
};

const rb__func_t *rb__func_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strlen(funcs[i].name) == len && !memcmp(funcs[i].name, name, len))
            return &funcs[i];
    return NULL;
}

const char *rb__func_suggest(const char *name)
{
    const char *best = NULL;
    int best_d = 3;
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
        int d = rb__edit_distance(name, funcs[i].name);
        if (d < best_d && d < (int)strlen(name)) {
            best_d = d;
            best = funcs[i].name;
        }
    }
    return best;
}
