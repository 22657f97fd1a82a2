/*
 * util.c — small shared helpers with no better home: error text and
 * durations. Owns no state.
 */
#include <runbook/action.h>
#include <runbook/runbook.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *rb_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case RB_EINVAL: return "invalid input";
    case RB_ENOMEM: return "out of memory";
    case RB_EIO: return "I/O error";
    case RB_ENOTFOUND: return "not found";
    case RB_EJOURNAL: return "journal error";
    case RB_EABI: return "action module ABI mismatch";
    case RB_ECANCELED: return "cancelled";
    case RB_ETOOBIG: return "input too large";
    case RB_EEXPR: return "expression evaluation failed";
    case RB_EBUSY: return "another run holds the concurrency key";
    case RB_EFENCED: return "another engine took the run over";
    default:
        if (err < 0 && err > -4096)
            return strerror(-err);
        return "unknown error";
    }
}

int rb_duration_parse(const char *s, uint64_t *out_ms)
{
    if (!s || !*s)
        return RB_EINVAL;
    uint64_t total = 0;
    const char *p = s;
    int bare = 1, big = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return RB_EINVAL;
        uint64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > UINT64_MAX / 10 / 86400000ull)
                big = 1; /* read on: the text may still be no duration at all */
            else
                n = n * 10 + (uint64_t)(*p - '0');
            p++;
        }
        uint64_t unit;
        if (p[0] == 'm' && p[1] == 's') { unit = 1; p += 2; }
        else if (*p == 's') { unit = 1000; p++; }
        else if (*p == 'm') { unit = 60000; p++; }
        else if (*p == 'h') { unit = 3600000; p++; }
        else if (*p == 'd') { unit = 86400000; p++; }
        else if (*p == '\0' && bare && p != s) { unit = 1000; }
        else return RB_EINVAL;
        bare = 0;
        total += n * unit;
        if (total > 366ull * 86400000ull) {
            big = 1; /* over a year is a typo, not a timeout */
            total = 0;
        }
    }
    if (big)
        return RB_ETOOBIG;
    *out_ms = total;
    return 0;
}

char *rb_duration_format(uint64_t ms, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (ms < 1000) {
        snprintf(buf, len, "%llums", (unsigned long long)ms);
        return buf;
    }
    if (ms < 60000 && ms % 1000) {
        /* as precise as the value: 1.5s, 1.25s, 1.001s */
        snprintf(buf, len, "%llu.%03llus", (unsigned long long)(ms / 1000),
                 (unsigned long long)(ms % 1000));
        for (char *e = buf + strlen(buf) - 2; *e == '0'; e--)
            memmove(e, e + 1, strlen(e));
        return buf;
    }
    uint64_t s = ms / 1000, h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
    size_t o = 0;
    buf[0] = '\0';
    if (h && o < len) o += (size_t)snprintf(buf + o, len - o, "%lluh", (unsigned long long)h);
    if (m && o < len) o += (size_t)snprintf(buf + o, len - o, "%llum", (unsigned long long)m);
    if ((sec || (!h && !m)) && o < len) snprintf(buf + o, len - o, "%llus", (unsigned long long)sec);
    return buf;
}

char *rb_duration_human(uint64_t ms, char *buf, size_t len)
{
    unsigned long long s = ms / 1000, m = s / 60, h = m / 60, d = h / 24;
    if (ms < 1000)
        snprintf(buf, len, "%llu ms", (unsigned long long)ms);
    else if (ms < 60000 && ms % 1000 >= 100) /* a tenth, cut (59.97 s is not 60.0 s) */
        snprintf(buf, len, "%llu.%llu s", s, (unsigned long long)(ms % 1000 / 100));
    else if (ms < 60000)
        snprintf(buf, len, "%llu s", s);
    else if (h == 0)
        snprintf(buf, len, "%llu min %02llu s", m, s % 60);
    else if (d == 0)
        snprintf(buf, len, "%llu h %02llu min", h, m % 60);
    else
        snprintf(buf, len, "%llu d %02llu h", d, h % 24);
    return buf;
}

int rb_duration_value(const json_t *v, uint64_t *out_ms)
{
    if (json_is_string(v)) /* "5s\0…" is no duration: never read up to a NUL */
        return strlen(json_string_value(v)) == json_string_length(v)
                   ? rb_duration_parse(json_string_value(v), out_ms)
                   : RB_EINVAL;
    double secs = json_is_integer(v) ? (double)json_integer_value(v)
                  : json_is_real(v)  ? json_real_value(v)
                                     : -1.0;
    if (secs < 0)
        return RB_EINVAL;
    if (secs > 366.0 * 86400)
        return RB_ETOOBIG;
    *out_ms = (uint64_t)(secs * 1000.0);
    return 0;
}
