/*
 * secret.c — masks secret values out of everything a run writes down (see
 * secret.h). Owns the list of secret values of one run, and the rule on
 * what may be one (R-secret-min-length). Longest secrets are replaced
 * first, so that a secret containing another is masked whole. The password
 * of a URL's userinfo (scheme://user:PASSWORD@host) is masked too, in every
 * string, whether or not the run has secrets: it is a credential wherever
 * it was written.
 *
 * Must never: change a JSON key, number, boolean or the shape of a value
 * (masking works on the string values of the tree, not on serialised
 * text), or keep a value too short to be masked safely.
 */
#define _GNU_SOURCE /* memmem */
#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "runbook/runbook.h" /* RB_E* */

struct rb_secrets {
    char **v;
    size_t *len;
    size_t n;
};

rb_secrets_t *rb_secrets_new(void)
{
    return calloc(1, sizeof(rb_secrets_t));
}

void rb_secrets_free(rb_secrets_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    free(s->len);
    free(s);
}

static void add_form(rb_secrets_t *s, const char *v, size_t len);

void rb_secrets_inherit(rb_secrets_t *s, const rb_secrets_t *from)
{
    for (size_t i = 0; from && i < from->n; i++)
        add_form(s, from->v[i], from->len[i]);
}

int rb_secrets_any(const rb_secrets_t *s)
{
    return s && s->n > 0;
}

/* Remembers one form of a secret (copied), longest first. */
static void add_form(rb_secrets_t *s, const char *v, size_t len)
{
    if (!s || !v || !len)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] == len && !memcmp(s->v[i], v, len))
            return;
    char **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
    if (!nv)
        return;
    s->v = nv;
    size_t *nl = realloc(s->len, (s->n + 1) * sizeof(*nl));
    if (!nl)
        return;
    s->len = nl;
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, v, len);
    copy[len] = 0;
    /* keep the list longest first */
    size_t at = s->n;
    while (at > 0 && s->len[at - 1] < len) {
        s->v[at] = s->v[at - 1];
        s->len[at] = s->len[at - 1];
        at--;
    }
    s->v[at] = copy;
    s->len[at] = len;
    s->n++;
}

/*
 * A secret as it is and in every form a message writer may turn it into
 * before it reaches a result (base/text.h): one line (line breaks and
 * controls as spaces), escaped for Slack mrkdwn or HTML, and as a JSON
 * string's inside (a list or map value printed as JSON text), each of
 * those escaped too. Masking looks for each form, so a secret that went
 * through a template is masked as surely as one that did not.
 */
void rb_secrets_add(rb_secrets_t *s, const char *v, size_t len)
{
    if (!s || !v || !len)
        return;
    char *base[3] = {NULL, NULL, NULL};
    size_t blen[3] = {len, 0, 0};
    base[1] = rb_text_one_line(v, len, (size_t)-1, &blen[1]);
    json_t *js = json_stringn(v, len);
    char *dump = js ? json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(js);
    if (dump && strlen(dump) >= 2) {
        blen[2] = strlen(dump) - 2; /* without the quotes */
        base[2] = strndup(dump + 1, blen[2]);
    }
    free(dump);
    for (int b = 0; b < 3; b++) {
        const char *f = b ? base[b] : v;
        if (!f)
            continue;
        add_form(s, f, blen[b]);
        for (int html = 0; html < 2; html++) {
            size_t el;
            char *e = rb_text_escape(f, blen[b], html, &el);
            add_form(s, e, el);
            free(e);
        }
    }
    free(base[1]);
    free(base[2]);
}

/* Characters (UTF-8 code points) in v[0..len). */
static size_t utf8_chars(const char *v, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)v[i] & 0xC0) != 0x80;
    return n;
}

/* Adds one secret, refusing a short one (R-secret-min-length). */
static int add_checked(rb_secrets_t *s, const char *what, const char *name, const json_t *v,
                       char *err, size_t errlen)
{
    char *txt = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    const char *val = json_is_string(v) ? json_string_value(v) : txt;
    size_t len = json_is_string(v) ? json_string_length(v) : txt ? strlen(txt) : 0;
    int rc = 0;
    if (!val) {
        rc = RB_ENOMEM;
    } else if (len > 0 && utf8_chars(val, len) < RB_SECRET_MIN_LEN) {
        snprintf(err, errlen,
                 "%s %s is secret but its value is shorter than %d characters: a "
                 "value that short cannot be masked without masking other text; "
                 "give a longer one (or none)",
                 what, name, RB_SECRET_MIN_LEN);
        rc = RB_EINVAL;
    } else {
        rb_secrets_add(s, val, len);
    }
    free(txt);
    return rc;
}

int rb_secrets_collect(rb_secrets_t *s, const rb_runbook_t *rb, const json_t *params,
                       const json_t *env, const json_t *secret_env, char *err, size_t errlen)
{
    int rc = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        if (rc == 0 && json_is_true(json_object_get(secret_env, k)) && json_is_string(v)) {
            char name[300];
            snprintf(name, sizeof(name), "$%s (--secret-env)", k);
            rc = add_checked(s, "environment variable", name, v, err, errlen);
        }
    }
    for (size_t i = 0; rc == 0 && i < rb_runbook_nparams(rb); i++) {
        const rb_param_t *p = rb_runbook_param(rb, i);
        const json_t *val = json_object_get(params, p->name);
        if (p->secret && val && !json_is_null(val)) {
            char name[300];
            snprintf(name, sizeof(name), "\"%s\"", p->name);
            rc = add_checked(s, "parameter", name, val, err, errlen);
        }
    }
    return rc;
}

/* Masks str[0..len) into a new buffer; NULL when nothing matched. */
static char *mask_bytes(const rb_secrets_t *s, const char *str, size_t len, size_t *outlen)
{
    char *cur = NULL;
    const char *src = str;
    size_t srclen = len;
    for (size_t k = 0; k < s->n; k++) {
        if (!memmem(src, srclen, s->v[k], s->len[k]))
            continue;
        size_t cap = srclen + 1 + (srclen / s->len[k] + 1) * sizeof(RB_SECRET_MASK), o = 0;
        char *out = malloc(cap);
        if (!out)
            break;
        const char *p = src, *end = src + srclen;
        while (p < end) {
            const char *hit = memmem(p, (size_t)(end - p), s->v[k], s->len[k]);
            if (!hit) {
                memcpy(out + o, p, (size_t)(end - p));
                o += (size_t)(end - p);
                break;
            }
            memcpy(out + o, p, (size_t)(hit - p));
            o += (size_t)(hit - p);
            memcpy(out + o, RB_SECRET_MASK, sizeof(RB_SECRET_MASK) - 1);
            o += sizeof(RB_SECRET_MASK) - 1;
            p = hit + s->len[k];
        }
        out[o] = 0;
        free(cur);
        cur = out;
        src = cur;
        srclen = o;
    }
    if (cur)
        *outlen = srclen;
    return cur;
}

/* Ends a masked copy: out (o bytes written; NULL when nothing was masked)
 * gets str[from..len) and a NUL. Returns out. */
static char *copy_rest(char *out, size_t o, const char *str, size_t from, size_t len, size_t *outlen)
{
    if (!out)
        return NULL;
    memcpy(out + o, str + from, len - from);
    o += len - from;
    out[o] = 0;
    *outlen = o;
    return out;
}

/* The beginning of a secret that a cut left just before RB_TEXT_CUT (a
 * value cut short by rb_text_one_line) replaced by RB_SECRET_MASK, into a
 * new buffer; NULL when there was none. The longest beginning of any form
 * wins; even one character of a secret is not left in clear. */
static char *mask_cut(const rb_secrets_t *s, const char *str, size_t len, size_t *outlen)
{
    const size_t cl = sizeof(RB_TEXT_CUT) - 1, ml = sizeof(RB_SECRET_MASK) - 1;
    char *out = NULL;
    size_t o = 0, from = 0;
    const char *end = str + len;
    for (const char *p = str; p < end && (p = memmem(p, (size_t)(end - p), RB_TEXT_CUT, cl)); p += cl) {
        size_t at = (size_t)(p - str), best = 0;
        for (size_t k = 0; k < s->n; k++)
            for (size_t l = s->len[k] - 1; l > best; l--)
                if (l <= at - from && !memcmp(p - l, s->v[k], l)) {
                    best = l;
                    break;
                }
        if (!best)
            continue;
        if (!out && !(out = malloc(len + (len / cl + 1) * ml + 1)))
            return NULL;
        memcpy(out + o, str + from, at - best - from);
        o += at - best - from;
        memcpy(out + o, RB_SECRET_MASK, ml);
        o += ml;
        from = at;
    }
    return copy_rest(out, o, str, from, len, outlen);
}

/* 1 for a character of a URL scheme after its first letter (RFC 3986). */
static int scheme_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '-' || c == '.';
}

/* The password of every URL's userinfo in str[0..len) (scheme://user:PASSWORD@host)
 * replaced by RB_SECRET_MASK, into a new buffer; NULL when there was none.
 * The authority ends where a URL's does ('/', '?', '#') or where text
 * around a URL would (white space, quotes, angle brackets); the password
 * runs from the first ':' to the last '@' in it, so a password holding an
 * unencoded '@' is masked whole. */
static char *mask_url_passwords(const char *str, size_t len, size_t *outlen)
{
    char *out = NULL;
    size_t o = 0, from = 0; /* written; copied from str up to here */
    const char *end = str + len;
    for (const char *p = str; p + 3 <= end && (p = memmem(p, (size_t)(end - p), "://", 3)); p += 3) {
        const char *sch = p;
        while (sch > str && scheme_char((unsigned char)sch[-1]))
            sch--;
        while (sch < p && !((*sch >= 'a' && *sch <= 'z') || (*sch >= 'A' && *sch <= 'Z')))
            sch++; /* a scheme starts with a letter */
        if (sch == p)
            continue;
        const char *a = p + 3, *e = a, *at = NULL, *colon = NULL;
        for (; e < end && !strchr("/?#\"'<> \t\r\n", *e); e++) {
            if (*e == '@')
                at = e;
            else if (*e == ':' && !colon && !at)
                colon = e;
        }
        if (!at || !colon || colon + 1 == at ||
            ((size_t)(at - colon - 1) == sizeof(RB_SECRET_MASK) - 1 &&
             !memcmp(colon + 1, RB_SECRET_MASK, sizeof(RB_SECRET_MASK) - 1)))
            continue;
        /* each mask replaces at least one byte, and a URL takes at least
         * six ("a://:x@"): the text grows by less than half */
        if (!out && !(out = malloc(len + len / 2 + sizeof(RB_SECRET_MASK))))
            return NULL;
        size_t k = (size_t)(colon + 1 - (str + from));
        memcpy(out + o, str + from, k);
        o += k;
        memcpy(out + o, RB_SECRET_MASK, sizeof(RB_SECRET_MASK) - 1);
        o += sizeof(RB_SECRET_MASK) - 1;
        from = (size_t)(at - str);
        p = at - 2; /* the loop adds 3: go on after the '@' */
    }
    return copy_rest(out, o, str, from, len, outlen);
}

/* str[0..len) with its secrets and URL passwords masked, into a new buffer;
 * NULL when nothing needed masking. */
static char *mask_all(const rb_secrets_t *s, const char *str, size_t len, size_t *outlen)
{
    size_t l1 = len, l2, lc;
    char *m1 = rb_secrets_any(s) ? mask_bytes(s, str, len, &l1) : NULL;
    char *mc = rb_secrets_any(s) ? mask_cut(s, m1 ? m1 : str, l1, &lc) : NULL;
    if (mc) {
        free(m1);
        m1 = mc;
        l1 = lc;
    }
    char *m2 = mask_url_passwords(m1 ? m1 : str, l1, &l2);
    if (!m2) {
        *outlen = l1;
        return m1;
    }
    free(m1);
    *outlen = l2;
    return m2;
}

json_t *rb_secrets_mask(const rb_secrets_t *s, const json_t *v)
{
    if (!v)
        return NULL;
    if (json_is_string(v)) {
        size_t ol;
        char *m = mask_all(s, json_string_value(v), json_string_length(v), &ol);
        if (!m)
            return json_incref((json_t *)v);
        json_t *r = json_stringn(m, ol);
        free(m);
        return r ? r : json_string(RB_SECRET_MASK);
    }
    /* Structure is kept as it is: keys, numbers, booleans and null are
     * never touched, and a container is copied only when one of its
     * strings needed masking. */
    if (json_is_array(v)) {
        json_t *a = NULL;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            json_t *m = rb_secrets_mask(s, x);
            if (!a && m != x) {
                a = json_array();
                for (size_t k = 0; a && k < i; k++)
                    json_array_append(a, json_array_get(v, k));
            }
            if (a)
                json_array_append(a, m);
            json_decref(m);
        }
        return a ? a : json_incref((json_t *)v);
    }
    if (json_is_object(v)) {
        json_t *o = NULL;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            json_t *m = rb_secrets_mask(s, x);
            if (!o && m != x)
                o = json_copy((json_t *)v); /* shallow: the values are shared */
            if (o && m != x)
                json_object_set(o, k, m);
            json_decref(m);
        }
        return o ? o : json_incref((json_t *)v);
    }
    return json_incref((json_t *)v);
}

json_t *rb_secrets_mask_params(const rb_secrets_t *s, const rb_runbook_t *rb, const json_t *params)
{
    json_t *m = rb_secrets_mask(s, params);
    for (size_t i = 0; json_is_object(m) && i < rb_runbook_nparams(rb); i++) {
        const rb_param_t *p = rb_runbook_param(rb, i);
        const json_t *v = json_object_get(m, p->name);
        if (!p->secret || !v || json_is_null(v) || json_is_string(v))
            continue;      /* strings: masked above, where the secret is */
        if (m == params) { /* shared: copy before changing */
            json_decref(m);
            m = json_copy((json_t *)params);
        }
        if (m)
            json_object_set_new(m, p->name, json_string(RB_SECRET_MASK));
    }
    return m;
}

char *rb_secrets_mask_str(const rb_secrets_t *s, const char *str)
{
    if (!str)
        return NULL;
    size_t ol;
    char *m = mask_all(s, str, strlen(str), &ol);
    return m ? m : strdup(str);
}
