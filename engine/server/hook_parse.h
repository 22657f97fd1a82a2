/*
 * hook_parse.h — the webhooks' parsing, apart from the server: what a
 * request's body and signature headers are taken to say, before anything
 * is claimed, journaled or started. Pure functions of their arguments (no
 * server, loop, journal or clock of their own), so that the handlers
 * (hook_alertmanager.c, hook_generic.c) and the fuzz targets of tests/fuzz
 * call the same code. Any thread.
 */
#ifndef RB_HOOK_PARSE_H
#define RB_HOOK_PARSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* hook_alertmanager.c: an Alertmanager webhook body (version "4"; every
 * alert with status firing|resolved, a fingerprint of 1 to 512 bytes, a
 * startsAt that is an RFC 3339 time, labels an object of strings), checked
 * whole (the handler checks the Content-Type before). The document
 * (new reference), or NULL with *status 400 (not JSON, not a webhook) or
 * 422 (an alert is wrong) and why. */
json_t *rb__hook_am_parse(const char *body, size_t len, int *status, char *why, size_t whylen);

/* hook_generic.c: the generic hook's body, the run's params: an object
 * (an empty body is {}). New reference, or NULL when it is not one. */
json_t *rb__hook_generic_params(const char *body, size_t len);

/* What the signature check of a generic hook decided. */
enum {
    RB_HOOK_SIG_OK = 0,
    RB_HOOK_SIG_MISSING,   /* a header is absent */
    RB_HOOK_SIG_MALFORMED, /* not UNIX seconds / not sha256= and 64 hex digits */
    RB_HOOK_SIG_BAD,       /* the MAC does not match */
    RB_HOOK_SIG_STALE,     /* the timestamp is outside now ± window_s */
    RB_HOOK_SIG_NOMEM,
};

/* hook_generic.c: checks X-Runbook-Timestamp ts (tl bytes) and
 * X-Runbook-Signature sig (sl bytes; either NULL when absent) of a request
 * with body against secret (NUL-terminated): the HMAC-SHA256 of
 * TIMESTAMP "." BODY, compared in constant time. want gets the expected
 * MAC's hex (the key of the replay table; empty when the headers are missing
 * or malformed, so no MAC was made) and *t the timestamp (-1 when
 * it is not one). Returns an RB_HOOK_SIG_* value. */
int rb__hook_sig_check(const char *secret, const char *ts, size_t tl, const char *sig, size_t sl,
                       const char *body, size_t bl, int64_t now, int64_t window_s, char want[65],
                       int64_t *t);

#endif
