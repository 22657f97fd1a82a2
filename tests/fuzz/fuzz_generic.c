/*
 * fuzz_generic.c — libFuzzer target for the generic webhook's parsing
 * (engine/server/hook_parse.h: rb__hook_sig_check and
 * rb__hook_generic_params, what POST /hooks/generic/RUNBOOK does with a
 * request before a run starts; engine/load/param.h: rb__param_value, what
 * makes the body's values the runbook's declared parameter types).
 *
 * The input is three parts separated by the first two newlines:
 * X-Runbook-Timestamp, X-Runbook-Signature and the body. When the first
 * byte is 'S' the target signs the body itself with the hook's secret
 * (the rest of the first line is the timestamp), so that the paths after a
 * good signature are reached too. The clock is fixed at 1700000000 and the
 * window is 300 s. A body taken as params is then made each type a
 * parameter can have. Besides the sanitizers it checks: a signature the
 * target made is accepted within the window and refused outside it, a
 * changed body or a wrong signature is never OK, params are an object.
 *
 * Owns nothing. Built with -DRB_FUZZ=ON (clang); run by tests/fuzz/run.sh.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include "load/param.h"
#include "server/hook_parse.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define SECRET "s3cret"
#define NOW 1700000000
#define WINDOW 300

static const uint8_t *part(const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *s = *p;
    const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
    *len = (size_t)((nl ? nl : end) - s);
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    int sign = size > 0 && data[0] == 'S';
    if (sign)
        p++;
    size_t tl, sl, bl;
    const char *ts = (const char *)part(&p, end, &tl);
    const char *sig = (const char *)part(&p, end, &sl);
    const char *body = (const char *)p;
    bl = (size_t)(end - p);

    char mine[7 + 64 + 1];
    if (sign) {
        /* the signature a sender with the secret would send */
        unsigned char *msg = malloc(tl + 1 + bl + 1), mac[EVP_MAX_MD_SIZE];
        unsigned int ml = 0;
        memcpy(msg, ts, tl);
        msg[tl] = '.';
        memcpy(msg + tl + 1, body, bl);
        if (!HMAC(EVP_sha256(), SECRET, 6, msg, tl + 1 + bl, mac, &ml) || ml != 32)
            abort();
        free(msg);
        memcpy(mine, "sha256=", 7);
        for (int i = 0; i < 32; i++)
            snprintf(mine + 7 + 2 * i, 3, "%02X", mac[i]); /* either case is taken */
        sig = mine;
        sl = 7 + 64;
    }
    char want[65];
    memset(want, 'x', sizeof want); /* no NUL unless the function writes one */
    int64_t t;
    int rc = rb__hook_sig_check(SECRET, ts, tl, sig, sl, body, bl, NOW, WINDOW, want, &t);
    if (rc < RB_HOOK_SIG_OK || rc > RB_HOOK_SIG_NOMEM || strlen(want) > 64)
        abort();
    if (sign) {
        /* a well-formed timestamp signed right: OK exactly within the window */
        if (rc != RB_HOOK_SIG_MALFORMED &&
            rc != (t >= NOW - WINDOW && t <= NOW + WINDOW ? RB_HOOK_SIG_OK : RB_HOOK_SIG_STALE))
            abort();
    } else if (rc == RB_HOOK_SIG_OK && bl > 0) {
        /* the same signature over another body must not hold */
        char *other = malloc(bl);
        memcpy(other, body, bl);
        other[0] ^= 1;
        if (rb__hook_sig_check(SECRET, ts, tl, sig, sl, other, bl, NOW, WINDOW, want, &t) ==
            RB_HOOK_SIG_OK)
            abort();
        free(other);
    }
    rb__hook_sig_check(SECRET, NULL, 0, sig, sl, body, bl, NOW, WINDOW, want, &t);

    json_t *params = rb__hook_generic_params(body, bl);
    if (!params)
        return 0;
    if (!json_is_object(params))
        abort();
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        for (int ty = RB_PTYPE_STRING; ty <= RB_PTYPE_DURATION; ty++) {
            char err[200] = "";
            json_t *x = rb__param_value((rb_ptype_t)ty, v, err, sizeof err);
            if (!x && !err[0])
                abort();
            if (x)
                rb__param_empty(x);
            json_decref(x);
        }
    }
    json_decref(params);
    return 0;
}
