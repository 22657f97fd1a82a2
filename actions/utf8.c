/*
 * utf8.c — the one UTF-8 sanitiser of the built-in actions: bytes in,
 * a well-formed JSON string out (utf8.h). Used by exec (stdout, stderr,
 * error messages) and by http/notify (bodies and header values).
 *
 * Owns: nothing past a call. Must never: emit ill-formed UTF-8 (overlongs,
 * surrogates, code points past U+10FFFF all become U+FFFD), read past len,
 * or fail on any input but an allocation.
 */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/*
 * Length of the well-formed UTF-8 sequence at p (1..4), or 0. When 0, *bad
 * is the length of the maximal ill-formed subpart (replaced by one U+FFFD,
 * as Unicode recommends) and *cut says the sequence was cut by the end of
 * the buffer rather than by a wrong byte.
 */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad, int *cut)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c == 0xE0)
        need = 2, lo = 0xA0; /* no overlongs */
    else if (c == 0xED)
        need = 2, hi = 0x9F; /* no surrogates */
    else if (c >= 0xE1 && c <= 0xEF)
        need = 2;
    else if (c == 0xF0)
        need = 3, lo = 0x90;
    else if (c == 0xF4)
        need = 3, hi = 0x8F; /* nothing past U+10FFFF */
    else if (c >= 0xF1 && c <= 0xF3)
        need = 3;
    else {
        *bad = 1;
        *cut = 0;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *bad = i;
            *cut = i >= n;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

json_t *rb__utf8_json(const char *buf, size_t len, int truncated)
{
    const unsigned char *p = (const unsigned char *)buf;
    char *o = malloc(len * 3 + 1); /* each byte at worst one U+FFFD */
    size_t olen = 0;
    if (!o)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t bad = 0;
        int cut = 0;
        size_t k = utf8_seq(p + i, len - i, &bad, &cut);
        if (k) {
            memcpy(o + olen, p + i, k);
            olen += k;
            i += k;
            continue;
        }
        if (cut && truncated)
            break;
        memcpy(o + olen, "\xEF\xBF\xBD", 3);
        olen += 3;
        i += bad;
    }
    json_t *s = json_stringn(o, olen);
    free(o);
    return s;
}
