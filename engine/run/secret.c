/*
 * secret.c — masks secret values out of everything a run writes down (see
 * secret.h). Owns the list of secret values of one run. Longest secrets
 * are replaced first, so that a secret containing another is masked whole.
 */
#define _GNU_SOURCE /* memmem */
#include "secret.h"

#include <stdlib.h>
#include <string.h>

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

void rb_secrets_inherit(rb_secrets_t *s, const rb_secrets_t *from)
{
    for (size_t i = 0; from && i < from->n; i++)
        rb_secrets_add(s, from->v[i], from->len[i]);
}

int rb_secrets_any(const rb_secrets_t *s)
{
    return s && s->n > 0;
}

void rb_secrets_add(rb_secrets_t *s, const char *v, size_t len)
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

json_t *rb_secrets_mask(const rb_secrets_t *s, const json_t *v)
{
    if (!rb_secrets_any(s) || !v)
        return json_incref((json_t *)v);
    if (json_is_string(v)) {
        size_t ol;
        char *m = mask_bytes(s, json_string_value(v), json_string_length(v), &ol);
        if (!m)
            return json_incref((json_t *)v);
        json_t *r = json_stringn(m, ol);
        free(m);
        return r ? r : json_string(RB_SECRET_MASK);
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, rb_secrets_mask(s, x));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            size_t ol;
            char *mk = mask_bytes(s, k, strlen(k), &ol);
            json_object_set_new(o, mk ? mk : k, rb_secrets_mask(s, x));
            free(mk);
        }
        return o;
    }
    return json_incref((json_t *)v);
}

char *rb_secrets_mask_str(const rb_secrets_t *s, const char *str)
{
    if (!str)
        return NULL;
    size_t ol;
    char *m = rb_secrets_any(s) ? mask_bytes(s, str, strlen(str), &ol) : NULL;
    return m ? m : strdup(str);
}
