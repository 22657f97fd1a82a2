/*
 * log.c — one line per event on stderr, logfmt or JSON (log.h; in JSON,
 * counts, ids, ports, HTTP codes and milliseconds are numbers). A value
 * is quoted in logfmt when it holds a space, a quote, '=' or a control
 * character, with Go's escapes (\" \\ \n \t \xNN), so a label that tries
 * to forge a second line or a field stays one value.
 *
 * Owns: nothing but the format flag. Must never: write a line in pieces.
 */
#define _GNU_SOURCE
#include "log.h"

#include "base/buf.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_json;

void rb_slog_format(int json)
{
    log_json = json;
}

/* The keys whose values are counts, ids, ports, codes and times: written as
 * JSON numbers (when the value is one), so that a log query can compare
 * them. Everything else is a string, whatever it looks like (a label). */
static const char *const numeric[] = {
    "active_runs", "alerts", "changed", "configured", "connections", "in_force",
    "interrupted_runs", "invalid", "left_in_flight", "loaded", "ms", "open_files",
    "parent_run", "port", "run", "runs", "status", "tokens", NULL,
};

static json_t *json_value(const char *k, const char *v)
{
    for (const char *const *n = numeric; *n; n++) {
        if (strcmp(k, *n))
            continue;
        const char *p = v + (*v == '-');
        size_t ints = strspn(p, "0123456789");
        if (!ints || ints > 15)
            break;
        if (!p[ints])
            return json_integer(strtoll(v, NULL, 10));
        if (p[ints] == '.' && p[ints + 1] && !p[ints + 1 + strspn(p + ints + 1, "0123456789")])
            return json_real(strtod(v, NULL));
        break;
    }
    return json_string(v);
}

static void now_utc(char *buf, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static void put_logfmt(rb_buf_t *m, const char *k, const char *v)
{
    int quote = !*v;
    for (const unsigned char *p = (const unsigned char *)v; *p && !quote; p++)
        quote = *p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f;
    rb_buf_addc(m, ' ');
    rb_buf_adds(m, k);
    rb_buf_addc(m, '=');
    if (!quote) {
        rb_buf_adds(m, v);
        return;
    }
    rb_buf_addc(m, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            rb_buf_addc(m, '\\');
            rb_buf_addc(m, (char)*p);
        } else if (*p == '\n') {
            rb_buf_adds(m, "\\n");
        } else if (*p == '\t') {
            rb_buf_adds(m, "\\t");
        } else if (*p < ' ' || *p == 0x7f) {
            rb_buf_printf(m, "\\x%02x", *p);
        } else {
            rb_buf_addc(m, (char)*p);
        }
    }
    rb_buf_addc(m, '"');
}

void rb_slog(const char *level, const char *event, ...)
{
    char ts[40];
    now_utc(ts, sizeof ts);
    char mem[1024];
    rb_buf_t b;
    rb_buf_init(&b, mem, sizeof mem);
    va_list ap;
    va_start(ap, event);
    if (log_json) {
        json_t *o = json_object();
        json_object_set_new(o, "ts", json_string(ts));
        json_object_set_new(o, "level", json_string(level));
        json_object_set_new(o, "event", json_string(event));
        for (const char *k; (k = va_arg(ap, const char *));) {
            const char *v = va_arg(ap, const char *);
            json_t *js = v ? json_value(k, v) : NULL;
            if (v && !js) /* not UTF-8: said so, never dropped silently */
                js = json_string("(not UTF-8)");
            if (js)
                json_object_set_new(o, k, js);
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (s) {
            rb_buf_adds(&b, s);
            rb_buf_addc(&b, '\n');
        }
        free(s);
    } else {
        rb_buf_adds(&b, "ts=");
        rb_buf_adds(&b, ts);
        rb_buf_adds(&b, " level=");
        rb_buf_adds(&b, level);
        rb_buf_adds(&b, " event=");
        rb_buf_adds(&b, event);
        for (const char *k; (k = va_arg(ap, const char *));) {
            const char *v = va_arg(ap, const char *);
            if (v)
                put_logfmt(&b, k, v);
        }
        rb_buf_addc(&b, '\n');
    }
    va_end(ap);
    if (b.len && !b.oom) {
        ssize_t w = write(2, b.p, b.len);
        (void)w;
    }
    rb_buf_free(&b);
}
