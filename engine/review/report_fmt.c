/*
 * report_fmt.c — the words and numbers every report writer shares (text,
 * Markdown, HTML): durations, times of day, offsets from the run's start,
 * and text from the journal with its control characters made visible. One
 * formatter, so that the four formats give the same numbers and the same
 * characters for the same run.
 *
 * Owns nothing; never escapes for a format (each writer does its own).
 */
#include "review_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *rv_fmt_dur(json_int_t ms, char *buf, size_t len)
{
    return rb_duration_format((uint64_t)(ms > 0 ? ms : 0), buf, len);
}

const char *rv_fmt_offset(json_int_t ms, char *buf, size_t len)
{
    char d[32];
    snprintf(buf, len, "+%s", rv_fmt_dur(ms, d, sizeof d));
    return buf;
}

const char *rv_fmt_time(json_int_t epoch_ms, char *buf, size_t len)
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    if (epoch_ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "unknown");
    return buf;
}

size_t rv_jstrn(const json_t *o, const char *k, const char **s)
{
    const json_t *v = json_object_get(o, k);
    *s = json_string_value(v);
    return *s ? json_string_length(v) : 0;
}

void rv_put_visible(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; s && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : c, f);
    }
}
