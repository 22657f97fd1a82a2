/*
 * config_runs.c — the keys of the server config that reach the runs the
 * server starts (docs/server.md, "What runs are given"):
 *
 *   params:        values for the runbooks' parameters, so that a run an
 *                  alert starts has its channels' routing keys, SMTP
 *                  passwords and webhook URLs: a plain value, {env: VAR}
 *                  (read from the server's environment now; a secret) or
 *                  {secret: VALUE} (written in the file; a secret). Every
 *                  secret is masked in every run the server starts.
 *   external_url:  the server's address as people reach it, for the report
 *                  link {{ run.report_url }} (docs/notifications.md).
 *
 * Owns: c->params, c->param_secrets, c->external_url (freed with the
 * config). Must never: print a secret's value in a diagnostic, or read the
 * environment for a name the file does not give.
 */
#define _GNU_SOURCE
#include "config.h"

#include "load/doc.h"
#include "run/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A diagnostic at at; 1 (the "refused" flag). */
#define bad_at(d, file, at, ...) (rb_diag_add((d), RB_DIAG_ERROR, (file), (at), __VA_ARGS__), 1)

/* One secret: at least RB_SECRET_MIN_LEN characters, or it could not be
 * masked without masking other text (R-secret-min-length). */
static int add_secret(rb_srv_config_t *c, rb_diags_t *d, const char *file, rb_mark_t at,
                      const char *name, const char *val)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)val; *p; p++)
        chars += (*p & 0xc0) != 0x80;
    if (chars < RB_SECRET_MIN_LEN)
        return bad_at(d, file, at,
                      "params: %s: a secret shorter than %d characters cannot be masked "
                      "without masking other text",
                      name, RB_SECRET_MIN_LEN);
    json_array_append_new(c->param_secrets, json_string(val));
    return 0;
}

/* params: {NAME: value | {env: VAR} | {secret: VALUE}}. */
static int get_params(rb_srv_config_t *c, const rb_doc_t *doc, const json_t *root,
                      const char *file, rb_diags_t *d)
{
    const json_t *p = json_object_get(root, "params");
    int bad = 0;
    if (!p)
        return 0;
    if (!json_is_object(p))
        return bad_at(d, file, rb_doc_val_mark(doc, root, "params"),
                      "params: must be a mapping of parameter names to values");
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)p, name, v) {
        rb_mark_t at = rb_doc_val_mark(doc, p, name);
        if (!json_is_object(v)) {
            json_object_set(c->params, name, (json_t *)v); /* a plain value */
            continue;
        }
        const json_t *env = json_object_get(v, "env"), *sec = json_object_get(v, "secret");
        if (json_object_size(v) != 1 || (!env && !sec)) {
            bad |= bad_at(d, file, at,
                          "params: %s: a value that is a mapping is {env: VARIABLE} or "
                          "{secret: VALUE}",
                          name);
            continue;
        }
        const char *val = NULL;
        if (env) {
            const char *var = json_string_value(env);
            val = var && *var ? getenv(var) : NULL;
            if (!var || !*var) {
                bad |= bad_at(d, file, rb_doc_val_mark(doc, v, "env"),
                              "params: %s: env must be an environment variable's name", name);
                continue;
            }
            if (!val) {
                bad |= bad_at(d, file, rb_doc_val_mark(doc, v, "env"),
                              "params: %s: the variable %s is not set in the server's "
                              "environment",
                              name, var);
                continue;
            }
        } else if (!json_is_string(sec)) {
            bad |= bad_at(d, file, rb_doc_val_mark(doc, v, "secret"),
                          "params: %s: secret must be a string", name);
            continue;
        } else {
            val = json_string_value(sec);
        }
        json_t *jv = json_string(val);
        if (!jv) {
            bad |= bad_at(d, file, at, "params: %s: the value is not valid UTF-8", name);
            continue;
        }
        if (add_secret(c, d, file, at, name, val)) {
            json_decref(jv);
            bad = 1;
            continue;
        }
        json_object_set_new(c->params, name, jv);
    }
    return bad;
}

/* external_url: http(s)://host[:port][/prefix], without a trailing '/'. */
static int get_external_url(rb_srv_config_t *c, const rb_doc_t *doc, const json_t *root,
                            const char *file, rb_diags_t *d)
{
    const json_t *u = json_object_get(root, "external_url");
    if (!u)
        return 0;
    const char *s = json_string_value(u);
    char why[200];
    if (!s || rb_srv_external_url_check(s, why, sizeof why) < 0)
        return bad_at(d, file, rb_doc_val_mark(doc, root, "external_url"), "external_url: %s",
                      s ? why : "must be a string (https://runbook.example.com)");
    if (rb_srv_config_set(&c->external_url, s) < 0)
        return 1;
    size_t n = strlen(c->external_url);
    while (n > 8 && c->external_url[n - 1] == '/') /* the link adds its own */
        c->external_url[--n] = 0;
    return 0;
}

int rb_srv_external_url_check(const char *s, char *why, size_t whylen)
{
    const char *rest = !strncmp(s, "https://", 8) ? s + 8 : !strncmp(s, "http://", 7) ? s + 7 : NULL;
    if (!rest || !*rest || *rest == '/') {
        snprintf(why, whylen, "must be an http:// or https:// URL with a host "
                              "(https://runbook.example.com)");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' || *p == '"' || *p == '<' ||
            *p == '>' || *p == '\\') {
            snprintf(why, whylen, "must be a URL without spaces, control characters, a query "
                                  "or a fragment");
            return -1;
        }
    return 0;
}

int rb__srv_config_runs(rb_srv_config_t *c, const rb_doc_t *doc, const json_t *root,
                        const char *file, rb_diags_t *d)
{
    int bad = get_params(c, doc, root, file, d);
    bad |= get_external_url(c, doc, root, file, d);
    return bad;
}
