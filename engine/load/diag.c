/*
 * diag.c — collects and prints diagnostics (see diag.h). Owns the list of
 * diagnostics of one validation; prints nothing unless asked.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RB_DIAG_CAP 100

typedef struct rb_diag {
    rb_diag_level_t level;
    char *file;
    rb_mark_t at;
    char *msg;
    size_t order;
    size_t file_rank; /* order of the file's first diagnostic */
} rb_diag_t;

struct rb_diags {
    rb_diag_t *v;
    size_t n, cap;
    size_t errors, warnings, dropped;
};

rb_diags_t *rb_diags_new(void)
{
    return calloc(1, sizeof(rb_diags_t));
}

void rb_diags_free(rb_diags_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    free(d);
}

void rb_diag_add(rb_diags_t *d, rb_diag_level_t level, const char *file, rb_mark_t at,
                 const char *fmt, ...)
{
    if (level == RB_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
    size_t same_file = 0, rank = d->n;
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].file, file) == 0) {
            if (!same_file)
                rank = d->v[i].file_rank;
            same_file++;
        }
    }
    if (same_file >= RB_DIAG_CAP) {
        d->dropped++;
        return;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        rb_diag_t *nv = realloc(d->v, nc * sizeof(*nv));
        if (!nv)
            return;
        d->v = nv;
        d->cap = nc;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;
    rb_diag_t *x = &d->v[d->n];
    x->level = level;
    x->file = strdup(file);
    x->at = at;
    x->msg = msg;
    x->order = d->n;
    x->file_rank = rank;
    d->n++;
}

size_t rb_diags_errors(const rb_diags_t *d) { return d->errors; }
size_t rb_diags_warnings(const rb_diags_t *d) { return d->warnings; }

static int cmp_diag(const void *a, const void *b)
{
    const rb_diag_t *x = a, *y = b;
    if (x->file_rank != y->file_rank) /* files keep the order they came in */
        return x->file_rank < y->file_rank ? -1 : 1;
    if (x->at.line != y->at.line)
        return x->at.line < y->at.line ? -1 : 1;
    if (x->at.col != y->at.col)
        return x->at.col < y->at.col ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

static rb_diag_t *sorted(const rb_diags_t *d)
{
    rb_diag_t *s = malloc((d->n ? d->n : 1) * sizeof(*s));
    if (!s)
        return NULL;
    if (d->n)
        memcpy(s, d->v, d->n * sizeof(*s));
    qsort(s, d->n, sizeof(*s), cmp_diag);
    return s;
}

void rb_diags_print(const rb_diags_t *d, FILE *f, int color)
{
    rb_diag_t *s = sorted(d);
    if (!s)
        return;
    for (size_t i = 0; i < d->n; i++) {
        const rb_diag_t *x = &s[i];
        const char *lv = x->level == RB_DIAG_ERROR ? "error" : "warning";
        const char *c0 = "", *c1 = "", *b0 = "", *b1 = "";
        if (color) {
            c0 = x->level == RB_DIAG_ERROR ? "\033[1;31m" : "\033[1;35m";
            c1 = "\033[0m";
            b0 = "\033[1m";
            b1 = "\033[0m";
        }
        fprintf(f, "%s%s:%u:%u:%s %s%s:%s %s\n", b0, x->file, x->at.line ? x->at.line : 1,
                x->at.col ? x->at.col : 1, b1, c0, lv, c1, x->msg);
    }
    if (d->dropped)
        fprintf(f, "(%zu more diagnostics not shown)\n", d->dropped);
    free(s);
}

size_t rb_diags_count(const rb_diags_t *d)
{
    return d ? d->n : 0;
}

void rb_diags_get(const rb_diags_t *d, size_t i, rb_diag_level_t *level, const char **file,
                  rb_mark_t *at, const char **msg)
{
    const rb_diag_t *x = &d->v[i];
    *level = x->level;
    *file = x->file;
    *at = x->at;
    *msg = x->msg;
}

json_t *rb_diags_json(const rb_diags_t *d)
{
    json_t *a = json_array();
    rb_diag_t *s = sorted(d);
    if (!a || !s) {
        free(s);
        return a;
    }
    for (size_t i = 0; i < d->n; i++) {
        const rb_diag_t *x = &s[i];
        json_array_append_new(a, json_pack("{s:s,s:i,s:i,s:s,s:s}", "file", x->file, "line",
                                           (int)(x->at.line ? x->at.line : 1), "col",
                                           (int)(x->at.col ? x->at.col : 1), "level",
                                           x->level == RB_DIAG_ERROR ? "error" : "warning",
                                           "message", x->msg));
    }
    free(s);
    return a;
}
