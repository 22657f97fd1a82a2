/*
 * hook_generic.c — POST /hooks/generic/RUNBOOK: a webhook for sources that
 * are not Alertmanager (Grafana, CI, a script). The body is a JSON object,
 * the run's params. When the config gives the hook a secret
 * (generic_hooks: {RUNBOOK: {secret_env: VAR, replay_window: 5m}}), the
 * request must carry
 *
 *     X-Runbook-Timestamp: UNIX-SECONDS
 *     X-Runbook-Signature: sha256=HEX
 *
 * with HEX the HMAC-SHA256 (OpenSSL) under the secret of the timestamp,
 * a ".", and the raw body as received; it is compared in constant time.
 * A timestamp outside the replay window is stale; a signature already
 * taken within the window is a replay. Every refusal is answered before
 * anything starts and counted (hook_rejections, by reason).
 *
 * Owns: the signatures taken within the window (memory; a restart
 * forgets them, the window still bounds a replay). Must never: start a
 * run for a refused request; log or return a secret; compare MACs with
 * memcmp.
 */
#define _GNU_SOURCE
#include "api.h"

#include "hook_parse.h"
#include "log.h"

#include <runbook/runbook.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREFIX "/hooks/generic/"
#define RB_GH_MAX_SEEN 100000 /* signatures remembered at most (then: 503) */

/* Signatures taken: hex → their timestamp; one table for every hook. */
static json_t *seen;

static void refuse(rb_srv_t *s, rb_http_req_t *r, int status, const char *reason,
                   const char *why)
{
    const char *const labels[] = {"endpoint", "generic", "reason", reason, NULL};
    rb__srv_count(s, "hook_rejections", labels, 1);
    rb_http_req_log(r, "refused", reason);
    rb_http_reply_error(r, status, why);
}

/* Forgets the signatures whose timestamp left every window. */
static void forget_old(int64_t now, int64_t window_s)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(seen, tmp, k, v)
        if (json_integer_value(v) < now - window_s)
            json_object_del(seen, k);
}

int rb__hook_sig_check(const char *secret, const char *ts, size_t tl, const char *sig, size_t sl,
                       const char *body, size_t bl, int64_t now, int64_t window_s, char want[65],
                       int64_t *t_out)
{
    *t_out = -1;
    want[0] = '\0'; /* a string on every path, empty until a MAC is made */
    if (!sig || !ts)
        return RB_HOOK_SIG_MISSING;
    char tsbuf[24];
    char *end;
    long long t = -1;
    if (tl > 0 && tl < sizeof tsbuf) {
        memcpy(tsbuf, ts, tl);
        tsbuf[tl] = '\0';
        t = strtoll(tsbuf, &end, 10);
        if (*end || t < 0)
            t = -1;
    }
    if (t < 0 || sl != 7 + 64 || memcmp(sig, "sha256=", 7) != 0)
        return RB_HOOK_SIG_MALFORMED;
    /* what is signed: TIMESTAMP "." BODY */
    unsigned char *msg = malloc(tl + 1 + bl + 1);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (!msg)
        return RB_HOOK_SIG_NOMEM;
    memcpy(msg, ts, tl);
    msg[tl] = '.';
    if (bl)
        memcpy(msg + tl + 1, body, bl);
    int ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, tl + 1 + bl, mac, &ml) != NULL;
    free(msg);
    char got[65];
    memset(want, 0, 65);
    for (unsigned i = 0; ok && i < ml && i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", mac[i]);
    for (size_t i = 0; i < 64; i++) /* hex digits either case */
        got[i] = (char)(sig[7 + i] >= 'A' && sig[7 + i] <= 'F' ? sig[7 + i] + 32 : sig[7 + i]);
    got[64] = want[64] = '\0';
    if (!ok || ml != 32 || CRYPTO_memcmp(want, got, 64) != 0)
        return RB_HOOK_SIG_BAD;
    *t_out = t;
    if (t < now - window_s || t > now + window_s)
        return RB_HOOK_SIG_STALE;
    return RB_HOOK_SIG_OK;
}

json_t *rb__hook_generic_params(const char *body, size_t len)
{
    json_error_t e;
    json_t *params = len ? json_loadb(body, len, 0, &e) : json_object();
    if (json_is_object(params))
        return params;
    json_decref(params);
    return NULL;
}

/* 0 when the request's signature holds; else a refusal was sent. */
static int check_signature(rb_srv_t *s, rb_http_req_t *r, const json_t *hook)
{
    const char *secret = json_string_value(json_object_get(hook, "secret"));
    if (!secret)
        return 0; /* no secret configured: no signature wanted */
    int64_t window_s = json_integer_value(json_object_get(hook, "window_ms")) / 1000;
    if (window_s < 1)
        window_s = 1;
    size_t sl = 0, tl = 0, bl = 0;
    const char *sig = rb_http_req_header(r, "x-runbook-signature", &sl);
    const char *ts = rb_http_req_header(r, "x-runbook-timestamp", &tl);
    const char *body = rb_http_req_body(r, &bl);
    int64_t now = (int64_t)time(NULL);
    char want[65];
    int64_t t;
    switch (rb__hook_sig_check(secret, ts, tl, sig, sl, body, bl, now, window_s, want, &t)) {
    case RB_HOOK_SIG_OK:
        break;
    case RB_HOOK_SIG_MISSING:
        refuse(s, r, 401, "signature_missing",
               "this hook wants X-Runbook-Timestamp and X-Runbook-Signature: sha256=HEX");
        return -1;
    case RB_HOOK_SIG_MALFORMED:
        refuse(s, r, 401, "signature_malformed",
               "X-Runbook-Timestamp must be UNIX seconds and X-Runbook-Signature sha256= and 64 "
               "hex digits");
        return -1;
    case RB_HOOK_SIG_BAD:
        refuse(s, r, 401, "signature_bad", "the signature does not match this hook's secret");
        return -1;
    case RB_HOOK_SIG_STALE:
        refuse(s, r, 401, "signature_stale",
               "the timestamp is outside the replay window (is the sender's clock right?)");
        return -1;
    default:
        refuse(s, r, 500, "error", "out of memory");
        return -1;
    }
    if (!seen && !(seen = json_object())) {
        refuse(s, r, 500, "error", "out of memory");
        return -1;
    }
    forget_old(now, window_s);
    if (json_object_get(seen, want)) {
        refuse(s, r, 409, "signature_replayed", "this signed request was taken already");
        return -1;
    }
    if (json_object_size(seen) >= RB_GH_MAX_SEEN) {
        refuse(s, r, 503, "busy", "too many signed requests within the window; retry later");
        return -1;
    }
    json_object_set_new(seen, want, json_integer(t));
    return 0;
}

void rb__hook_generic(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    const char *name = rb_http_req_path(r) + strlen(PREFIX);
    rb_book_t *k = *name && !strchr(name, '/') ? rb__books_find(s->books, name) : NULL;
    if (!k) {
        refuse(s, r, 404, "unknown_runbook", "no runbook of that name is in force");
        return;
    }
    if (check_signature(s, r, json_object_get(s->cfg->generic_hooks, name)) < 0)
        return;
    size_t bl;
    const char *b = rb_http_req_body(r, &bl);
    json_t *params = rb__hook_generic_params(b, bl);
    if (!params) {
        refuse(s, r, 400, "bad_body", "the body must be a JSON object (the run's params)");
        return;
    }
    char err[512] = "";
    int64_t id = 0;
    int rc;
    if (s->journal_failed) {
        refuse(s, r, 503, "journal", "the journal failed: no run starts");
    } else if (rb__runs_active(s) >= s->cfg->active_runs) {
        refuse(s, r, 503, "active_runs", "the server runs as many runs as its limit allows");
    } else if ((rc = rb__runs_start(s, k, NULL, params, "webhook", NULL, &id, err,
                                    sizeof err)) < 0) {
        refuse(s, r, rc == RB_EBUSY ? 409 : rc == RB_EINVAL ? 400 : 503,
               rc == RB_EBUSY ? "busy" : rc == RB_EINVAL ? "bad_params" : "error", err);
    } else {
        char sid[32];
        snprintf(sid, sizeof sid, "%lld", (long long)id);
        rb_http_req_log(r, "run", sid);
        rb__api_reply_durable(s, r, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "runbook",
                                                   name));
    }
    json_decref(params);
}

void rb__hook_generic_free(void)
{
    json_decref(seen);
    seen = NULL;
}
