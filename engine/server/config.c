/*
 * config.c — `runbook serve --config FILE` and the defaults (config.h).
 * The file is YAML read by the runbook loader (load/doc.h), so a problem
 * is said as file:line:col like a runbook's; every key is checked, and an
 * unknown one is an error.
 *
 * Owns: the config struct's strings. Must never: read the tokens file's
 * secrets, touch the network or the journal.
 */
#define _GNU_SOURCE
#include "config.h"

#include "auth.h"
#include "load/doc.h"

#include <runbook/action.h>
#include <runbook/runbook.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rb_srv_config_t *rb_srv_config_new(void)
{
    rb_srv_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->host = strdup(RB_SRV_DEFAULT_HOST);
    c->port = RB_SRV_DEFAULT_PORT;
    c->db = strdup("runbook.db");
    c->dir = strdup("runbooks");
    c->body_max = 1u << 20;
    c->header_max = 16384;
    c->request_ms = 10000;
    c->active_runs = 1000;
    c->grace_ms = 30000;
    c->sign_interval_ms = 5 * 60 * 1000;
    c->env = json_object();
    c->secret_env = json_object();
    c->generic_hooks = json_object();
    c->env_tokens = json_object();
    c->marks = json_object();
    c->params = json_object();
    c->param_secrets = json_array();
    if (!c->host || !c->db || !c->dir || !c->env || !c->secret_env || !c->generic_hooks ||
        !c->env_tokens || !c->marks || !c->params || !c->param_secrets) {
        rb_srv_config_free(c);
        return NULL;
    }
    return c;
}

void rb_srv_config_free(rb_srv_config_t *c)
{
    if (!c)
        return;
    free(c->file);
    free(c->host);
    free(c->db);
    free(c->dir);
    free(c->plugins);
    free(c->inventory);
    free(c->tokens);
    json_decref(c->env);
    json_decref(c->secret_env);
    json_decref(c->generic_hooks); /* secrets: strings jansson frees */
    json_decref(c->env_tokens);
    json_decref(c->marks);
    free(c->signing_key);
    free(c->tls_cert);
    free(c->tls_key);
    json_decref(c->params);
    json_decref(c->param_secrets);
    free(c->external_url);
    free(c);
}

int rb_srv_config_set(char **field, const char *value)
{
    char *v = value ? strdup(value) : NULL;
    if (value && !v)
        return RB_ENOMEM;
    free(*field);
    *field = v;
    return 0;
}

int rb_srv_config_listen(rb_srv_config_t *c, const char *addr, char *why, size_t whylen)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1]) {
        snprintf(why, whylen, "wants ADDRESS:PORT (e.g. 127.0.0.1:9095), got \"%s\"", addr);
        return RB_EINVAL;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (*end || errno || port < 0 || port > 65535) {
        snprintf(why, whylen, "\"%s\" is not a port (0 to 65535)", colon + 1);
        return RB_EINVAL;
    }
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (h[0] == '[') { /* [::1]:9095 */
        if (hl < 2 || h[hl - 1] != ']') {
            snprintf(why, whylen, "an IPv6 address goes in brackets: [::1]:9095");
            return RB_EINVAL;
        }
        h++;
        hl -= 2;
    }
    char *host = strndup(h, hl);
    if (!host)
        return RB_ENOMEM;
    free(c->host);
    c->host = host;
    c->port = (int)port;
    return 0;
}

/* ---- the file ---- */

typedef struct {
    rb_doc_t *doc;
    rb_diags_t *d;
    const char *file;
    int bad;
} ld_t;

static void err_at(ld_t *l, const json_t *obj, const char *key, const char *msg, const char *more)
{
    rb_diag_add(l->d, RB_DIAG_ERROR, l->file, rb_doc_val_mark(l->doc, obj, key), "%s: %s%s",
                key, msg, more);
    l->bad = 1;
}

static int get_string(ld_t *l, const json_t *obj, const char *key, char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || !*json_string_value(v)) {
        err_at(l, obj, key, "must be a non-empty string", "");
        return -1;
    }
    return rb_srv_config_set(out, json_string_value(v));
}

/* A path key: get_string, and where the file says it (c->marks[name]). */
static void get_path(ld_t *l, rb_srv_config_t *c, const json_t *obj, const char *key,
                     const char *name, char **out)
{
    if (get_string(l, obj, key, out) != 0 || !json_object_get(obj, key))
        return;
    rb_mark_t m = rb_doc_val_mark(l->doc, obj, key);
    json_object_set_new(c->marks, name,
                        json_pack("{s:s,s:i,s:i}", "value", *out, "line", (int)m.line, "col",
                                  (int)m.col));
}

int rb_srv_config_where(const rb_srv_config_t *c, const char *key, const char *value,
                        const char **file, rb_mark_t *at)
{
    const json_t *m = json_object_get(c->marks, key);
    const char *v = json_string_value(json_object_get(m, "value"));
    if (!c->file || !v || !value || strcmp(v, value))
        return 0;
    *file = c->file;
    *at = (rb_mark_t){(uint32_t)json_integer_value(json_object_get(m, "line")),
                      (uint32_t)json_integer_value(json_object_get(m, "col")), 0};
    return 1;
}

/* A size: a whole number of bytes, or a number with KiB/MiB (1024s) or
 * KB/MB (1000s). */
static int parse_size(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(json_string_value(v), &end, 10);
    if (errno || end == json_string_value(v) || n == 0)
        return -1;
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"", 1}, {"B", 1}, {"KB", 1000}, {"MB", 1000000}, {"KiB", 1024}, {"MiB", 1048576},
    };
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(end, units[i].unit) && n <= UINT64_MAX / units[i].mul) {
            *out = n * units[i].mul;
            return 0;
        }
    return -1;
}

static void get_size(ld_t *l, const json_t *obj, const char *key, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    uint64_t n;
    if (!v)
        return;
    if (parse_size(v, &n) < 0) {
        err_at(l, obj, key, "must be a size in bytes (a number, or with KiB, MiB, KB, MB)",
               "");
        return;
    }
    if (n > max || n < min) {
        char lim[60];
        snprintf(lim, sizeof lim, " (%llu to %llu bytes)", (unsigned long long)min,
                 (unsigned long long)max);
        err_at(l, obj, key, n > max ? "too large" : "too small: no request would fit", lim);
        return;
    }
    *out = n;
}

static void get_duration_min(ld_t *l, const json_t *obj, const char *key, uint64_t min_ms,
                             uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    uint64_t ms;
    if (!v)
        return;
    if (rb_duration_value(v, &ms) < 0 || ms == 0) {
        err_at(l, obj, key, "must be a duration above zero (30s, 5m, 1h)", "");
        return;
    }
    if (ms < min_ms) {
        char lim[60], d[32];
        rb_duration_format(min_ms, d, sizeof d);
        snprintf(lim, sizeof lim, " (at least %s)", d);
        err_at(l, obj, key, "too short", lim);
        return;
    }
    *out = ms;
}

static void get_duration(ld_t *l, const json_t *obj, const char *key, uint64_t *out)
{
    get_duration_min(l, obj, key, 1, out);
}

static void get_count(ld_t *l, const json_t *obj, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return;
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        err_at(l, obj, key, "must be a whole number above zero", "");
        return;
    }
    *out = (uint64_t)json_integer_value(v);
}

/* env / secret_env: a list of variable names, read from the server's own
 * environment now. */
static void get_env(ld_t *l, const json_t *obj, const char *key, rb_srv_config_t *c, int secret)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return;
    if (!json_is_array(v)) {
        err_at(l, obj, key, "must be a list of environment variable names", "");
        return;
    }
    size_t i;
    const json_t *n;
    json_array_foreach(v, i, n) {
        const char *name = json_string_value(n);
        rb_mark_t at = rb_doc_item_mark(l->doc, v, i);
        const char *val = name && *name ? getenv(name) : NULL;
        json_t *jv = val ? json_string(val) : NULL;
        if (!name || !*name) {
            rb_diag_add(l->d, RB_DIAG_ERROR, l->file, at, "%s: an item must be a variable name",
                        key);
        } else if (!val) {
            rb_diag_add(l->d, RB_DIAG_ERROR, l->file, at,
                        "%s: the variable %s is not set in the server's environment", key, name);
        } else if (!jv) {
            rb_diag_add(l->d, RB_DIAG_ERROR, l->file, at, "%s: $%s is not valid UTF-8", key, name);
        } else {
            json_object_set_new(c->env, name, jv);
            if (secret)
                json_object_set_new(c->secret_env, name, json_true());
            continue;
        }
        l->bad = 1;
    }
}

static int known(const char *key, const char *const *keys)
{
    for (; *keys; keys++)
        if (!strcmp(key, *keys))
            return 1;
    return 0;
}

static void unknown_keys(ld_t *l, const json_t *obj, const char *const *keys, const char *where)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (known(k, keys))
            continue;
        rb_diag_add(l->d, RB_DIAG_ERROR, l->file, rb_doc_key_mark(l->doc, obj, k),
                    "unknown key \"%s\"%s (see docs/server.md)", k, where);
        l->bad = 1;
    }
}

/* metrics: {open: bool} */
static void get_metrics(ld_t *l, const json_t *root, rb_srv_config_t *c)
{
    static const char *const keys[] = {"open", NULL};
    const json_t *m = json_object_get(root, "metrics");
    if (!m)
        return;
    if (!json_is_object(m)) {
        err_at(l, root, "metrics", "must be a mapping (open: true|false)", "");
        return;
    }
    unknown_keys(l, m, keys, " in metrics");
    const json_t *o = json_object_get(m, "open");
    if (o && !json_is_boolean(o))
        err_at(l, m, "open", "must be true or false", "");
    else if (o)
        c->metrics_open = json_is_true(o);
}

/* generic_hooks: {RUNBOOK: {secret_env: VAR, replay_window: 5m}}; the
 * secret is read from the server's environment now (never from the file). */
static void get_hooks(ld_t *l, const json_t *root, rb_srv_config_t *c)
{
    static const char *const keys[] = {"secret_env", "replay_window", NULL};
    const json_t *h = json_object_get(root, "generic_hooks");
    if (!h)
        return;
    if (!json_is_object(h)) {
        err_at(l, root, "generic_hooks", "must be a mapping of runbook names", "");
        return;
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)h, name, v) {
        if (!json_is_object(v)) {
            err_at(l, h, name, "must be a mapping (secret_env, replay_window)", "");
            continue;
        }
        unknown_keys(l, v, keys, " in a generic hook");
        uint64_t window = 300000;
        get_duration(l, v, "replay_window", &window);
        json_t *e = json_pack("{s:I}", "window_ms", (json_int_t)window);
        const json_t *se = json_object_get(v, "secret_env");
        if (se) {
            const char *var = json_string_value(se);
            const char *val = var && *var ? getenv(var) : NULL;
            if (!var || !*var)
                err_at(l, v, "secret_env", "must be an environment variable's name", "");
            else if (!val || strlen(val) < 16)
                err_at(l, v, "secret_env", "", val ? ": the secret is shorter than 16 characters"
                                                   : ": the variable is not set in the server's "
                                                     "environment");
            else
                json_object_set_new(e, "secret", json_stringn(val, strlen(val)));
        }
        json_object_set_new(c->generic_hooks, name, e);
    }
}

/* tls: {cert: FILE, key: FILE} — both, PEM; the files are read (and the
 * key's mode checked) by config_check.c. */
static void get_tls(ld_t *l, const json_t *root, rb_srv_config_t *c)
{
    static const char *const keys[] = {"cert", "key", NULL};
    const json_t *t = json_object_get(root, "tls");
    if (!t)
        return;
    if (!json_is_object(t)) {
        err_at(l, root, "tls", "must be a mapping (cert: FILE, key: FILE)", "");
        return;
    }
    unknown_keys(l, t, keys, " in tls");
    get_path(l, c, t, "cert", "tls.cert", &c->tls_cert);
    get_path(l, c, t, "key", "tls.key", &c->tls_key);
    if (!json_object_get(t, "cert") != !json_object_get(t, "key")) {
        rb_diag_add(l->d, RB_DIAG_ERROR, l->file, rb_doc_key_mark(l->doc, root, "tls"),
                    "tls: wants both cert and key (PEM files)");
        l->bad = 1;
    }
}

/* env_tokens: {NAME: {role: ROLE, secret_env: VAR}} — tokens whose secret
 * is the server's environment variable VAR (never in a file, never on the
 * command line). The variable is read by auth.c. */
static void get_env_tokens(ld_t *l, const json_t *root, rb_srv_config_t *c)
{
    static const char *const keys[] = {"role", "secret_env", NULL};
    const json_t *t = json_object_get(root, "env_tokens");
    if (!t)
        return;
    if (!json_is_object(t)) {
        err_at(l, root, "env_tokens", "must be a mapping of token names "
                                      "({NAME: {role: ROLE, secret_env: VAR}})", "");
        return;
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)t, name, v) {
        if (!json_is_object(v)) {
            err_at(l, t, name, "must be a mapping (role, secret_env)", "");
            continue;
        }
        unknown_keys(l, v, keys, " in a token");
        const char *role = json_string_value(json_object_get(v, "role"));
        const char *var = json_string_value(json_object_get(v, "secret_env"));
        int bad = 0;
        if (!role || !rb_auth_role(role)) {
            rb_diag_add(l->d, RB_DIAG_ERROR, l->file,
                        json_object_get(v, "role") ? rb_doc_val_mark(l->doc, v, "role")
                                                   : rb_doc_key_mark(l->doc, t, name),
                        "token %s: role must be hook, operator or viewer", name);
            bad = 1;
        }
        if (!var || !*var) {
            rb_diag_add(l->d, RB_DIAG_ERROR, l->file,
                        json_object_get(v, "secret_env") ? rb_doc_val_mark(l->doc, v, "secret_env")
                                                         : rb_doc_key_mark(l->doc, t, name),
                        "token %s: secret_env must name the environment variable that holds "
                        "its secret", name);
            bad = 1;
        }
        if (bad) {
            l->bad = 1;
            continue;
        }
        rb_mark_t m = rb_doc_val_mark(l->doc, v, "secret_env");
        json_object_set_new(c->env_tokens, name,
                            json_pack("{s:s,s:s,s:i,s:i}", "role", role, "secret_env", var,
                                      "line", (int)m.line, "col", (int)m.col));
    }
}

int rb_srv_config_load(rb_srv_config_t *c, const char *path, rb_diags_t *d)
{
    static const char *const top[] = {"listen", "database", "runbooks", "plugins", "inventory", "tokens",
                                      "log_format", "limits", "shutdown_grace", "env",
                                      "secret_env", "metrics", "generic_hooks", "tls", "env_tokens",
                                      "params", "external_url", "signing_key", "sign_interval",
                                      NULL};
    static const char *const lim[] = {"body_size", "header_size", "request_time", "active_runs",
                                      NULL};
    ld_t l = {.d = d, .file = path};
    int rc = rb_doc_load_file_as(path, NULL, d, &l.doc); /* empty: every default */
    if (rc < 0)
        return rc;
    rb_srv_config_set(&c->file, path);
    const json_t *root = rb_doc_root(l.doc);
    if (json_is_null(root)) {
        rb_doc_free(l.doc);
        return 0; /* an empty file: every default */
    }
    if (!json_is_object(root)) {
        rb_diag_add(d, RB_DIAG_ERROR, path, rb_doc_root_mark(l.doc),
                    "a server config is a mapping of keys (listen, database, runbooks, …)");
        rb_doc_free(l.doc);
        return RB_EINVAL;
    }
    unknown_keys(&l, root, top, "");
    const json_t *listen = json_object_get(root, "listen");
    if (listen) {
        char why[200];
        if (!json_is_string(listen))
            err_at(&l, root, "listen", "must be ADDRESS:PORT", "");
        else if (rb_srv_config_listen(c, json_string_value(listen), why, sizeof why) < 0)
            err_at(&l, root, "listen", "", why);
    }
    get_path(&l, c, root, "database", "database", &c->db);
    get_path(&l, c, root, "runbooks", "runbooks", &c->dir);
    get_path(&l, c, root, "plugins", "plugins", &c->plugins);
    get_path(&l, c, root, "inventory", "inventory", &c->inventory);
    get_path(&l, c, root, "tokens", "tokens", &c->tokens);
    get_path(&l, c, root, "signing_key", "signing_key", &c->signing_key);
    get_duration_min(&l, root, "sign_interval", 1000, &c->sign_interval_ms);
    get_tls(&l, root, c);
    get_env_tokens(&l, root, c);
    const json_t *lf = json_object_get(root, "log_format");
    if (lf) {
        const char *s = json_string_value(lf);
        if (s && !strcmp(s, "json"))
            c->log_json = 1;
        else if (s && !strcmp(s, "logfmt"))
            c->log_json = 0;
        else
            err_at(&l, root, "log_format", "must be logfmt or json", "");
    }
    get_duration(&l, root, "shutdown_grace", &c->grace_ms);
    get_env(&l, root, "env", c, 0);
    get_env(&l, root, "secret_env", c, 1);
    get_metrics(&l, root, c);
    get_hooks(&l, root, c);
    l.bad |= rb__srv_config_runs(c, l.doc, root, path, d);
    const json_t *limits = json_object_get(root, "limits");
    if (limits && !json_is_object(limits)) {
        err_at(&l, root, "limits", "must be a mapping (body_size, header_size, request_time, "
                                   "active_runs)", "");
    } else if (limits) {
        unknown_keys(&l, limits, lim, " in limits");
        get_size(&l, limits, "body_size", RB_SRV_MIN_BODY_SIZE, 1u << 30, &c->body_max);
        /* h2o reads a request head of at most H2O_MAX_REQLEN bytes and
         * 100 headers itself; the configured limit is checked under it. */
        get_size(&l, limits, "header_size", RB_SRV_MIN_HEADER_SIZE, 256u << 10, &c->header_max);
        get_duration_min(&l, limits, "request_time", RB_SRV_MIN_REQUEST_MS, &c->request_ms);
        get_count(&l, limits, "active_runs", &c->active_runs);
    }
    rb_doc_free(l.doc);
    return l.bad ? RB_EINVAL : 0;
}
