/*
 * buf.c — the growable text buffer of buf.h. Owns the heap copy of a
 * buffer that outgrew its first memory, never the first memory itself.
 */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rb_buf_init(rb_buf_t *b, char *mem, size_t cap)
{
    b->p = b->first = mem;
    b->cap = cap;
    b->len = 0;
    b->oom = 0;
    b->p[0] = '\0';
}

/* Room for n more bytes and the NUL; 0 when there is none. */
static int room(rb_buf_t *b, size_t n)
{
    if (b->oom)
        return 0;
    if (b->len + n < b->cap)
        return 1;
    size_t cap = b->cap * 2;
    while (cap <= b->len + n)
        cap *= 2;
    char *p = b->p == b->first ? malloc(cap) : realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    if (b->p == b->first)
        memcpy(p, b->p, b->len + 1);
    b->p = p;
    b->cap = cap;
    return 1;
}

void rb_buf_add(rb_buf_t *b, const char *s, size_t n)
{
    if (!room(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void rb_buf_adds(rb_buf_t *b, const char *s)
{
    rb_buf_add(b, s, strlen(s));
}

void rb_buf_addc(rb_buf_t *b, char c)
{
    rb_buf_add(b, &c, 1);
}

void rb_buf_printf(rb_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = b->oom ? -1 : vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < b->cap - b->len) {
        b->len += (size_t)n;
        return;
    }
    if (!room(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rb_buf_free(rb_buf_t *b)
{
    if (b->p != b->first)
        free(b->p);
    b->p = b->first;
    b->len = 0;
    b->cap = 0;
}
