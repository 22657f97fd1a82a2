/*
 * text.c — one-line values, the cut marker and mrkdwn/HTML escaping (see
 * text.h). Owns no state. Must never allocate more than the result, or
 * split a UTF-8 sequence when cutting.
 */
#include "base/text.h"

#include <stdlib.h>
#include <string.h>

size_t rb_text_break_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0)
        return 0;
    if (s[0] < 0x20 || s[0] == 0x7f)
        return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] >= 0x80 && s[1] <= 0x9F)
        return 2; /* C1 controls, U+0085 among them */
    if (n >= 2 && s[0] == 0xD8 && s[1] == 0x9C)
        return 2; /* U+061C ARABIC LETTER MARK */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] == 0x8E || s[2] == 0x8F || (s[2] >= 0xA8 && s[2] <= 0xAE)))
        return 3; /* U+200E/F, U+2028, U+2029, U+202A–U+202E */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9)
        return 3; /* U+2066–U+2069 */
    return 0;
}

char *rb_text_one_line(const char *s, size_t len, size_t max, size_t *outlen)
{
    size_t cutlen = sizeof(RB_TEXT_CUT) - 1;
    char *o = malloc(len + cutlen + 1); /* a line break becomes one byte: never longer */
    if (!o)
        return NULL;
    size_t i = 0, w = 0, keep = 0; /* keep: the last boundary with room for the marker */
    while (i < len) {
        size_t b = rb_text_break_len(s + i, len - i), step = b ? b : 1;
        if (!b) /* a whole UTF-8 character */
            while (i + step < len && ((unsigned char)s[i + step] & 0xC0) == 0x80)
                step++;
        if (b)
            o[w++] = ' ';
        else
            memcpy(o + w, s + i, step), w += step;
        i += step;
        if (w + cutlen <= max)
            keep = w;
    }
    if (w > max) {
        w = max >= cutlen ? keep : 0;
        if (max >= cutlen)
            memcpy(o + w, RB_TEXT_CUT, cutlen), w += cutlen;
    }
    o[w] = '\0';
    if (outlen)
        *outlen = w;
    return o;
}

const char *rb_text_entity(char c, int html)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return html ? "&quot;" : NULL;
    case '\'': return html ? "&#39;" : NULL;
    default: return NULL;
    }
}

char *rb_text_escape(const char *s, size_t len, int html, size_t *outlen)
{
    char *o = malloc(len * 6 + 1); /* "&quot;" is the longest */
    if (!o)
        return NULL;
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        const char *e = rb_text_entity(s[i], html);
        if (e) {
            memcpy(o + w, e, strlen(e));
            w += strlen(e);
        } else {
            o[w++] = s[i];
        }
    }
    o[w] = '\0';
    if (outlen)
        *outlen = w;
    return o;
}
