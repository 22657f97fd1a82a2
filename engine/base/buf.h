/*
 * buf.h — a growable text buffer for lines built on a hot path (a log
 * line, a metric's label set): it starts in the caller's memory (usually
 * the stack) and moves to the heap only when it outgrows it, so building a
 * short line costs no allocation. open_memstream, which it replaces there,
 * allocates and clears 8 KiB per stream.
 *
 * Touches only its argument (any thread, one buffer per thread). Internal
 * to the engine.
 */
#ifndef RB_BASE_BUF_H
#define RB_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *p;      /* the text, always NUL-ended */
    size_t len;   /* bytes in p, the NUL not counted */
    size_t cap;   /* bytes p can hold, the NUL counted */
    char *first;  /* the caller's memory p started in */
    int oom;      /* an append failed for want of memory: the text is cut */
} rb_buf_t;

/* A buffer that starts in mem[0..cap) (cap >= 1). */
void rb_buf_init(rb_buf_t *b, char *mem, size_t cap);
void rb_buf_add(rb_buf_t *b, const char *s, size_t n);
void rb_buf_adds(rb_buf_t *b, const char *s);
void rb_buf_addc(rb_buf_t *b, char c);
void rb_buf_printf(rb_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees what the buffer took from the heap (the caller's memory stays). */
void rb_buf_free(rb_buf_t *b);

#endif
