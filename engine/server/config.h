/*
 * config.h — what `runbook serve` is told: the config file (YAML, read by
 * the runbook loader so that every problem is reported as file:line:col)
 * with the command line's flags on top, and the defaults for what neither
 * says (docs/server.md, "Configuration").
 *
 * Owns: the rb_srv_config_t and its strings. Must never: read a token's
 * secret (auth.c reads the tokens file), open the journal or listen.
 * Any thread; not shared.
 */
#ifndef RB_SRV_CONFIG_H
#define RB_SRV_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "load/diag.h"

#define RB_SRV_DEFAULT_HOST "127.0.0.1"
#define RB_SRV_DEFAULT_PORT 9095

typedef struct rb_srv_config {
    char *file;          /* the config file read, or NULL */
    char *host;          /* listen address (an IP literal or "localhost") */
    int port;            /* 0: the OS picks one (it is logged) */
    char *db;            /* journal file */
    char *dir;           /* runbooks folder */
    char *plugins;       /* action modules folder, or NULL */
    char *inventory;     /* the hosts remote steps use (docs/remote.md), or NULL */
    char *tokens;        /* tokens file, or NULL: no token works, only /healthz answers */
    int log_json;        /* --log-format json */
    uint64_t body_max;     /* bytes of a request body (413 above) */
    uint64_t header_max;   /* bytes of a request's headers (431 above) */
    uint64_t request_ms;   /* a request must arrive whole within this (slow clients) */
    uint64_t active_runs;  /* runs at once; an alert beyond it is answered 503 */
    uint64_t grace_ms;     /* SIGTERM: how long running steps may finish */
    json_t *env;           /* names runbooks may read as env.NAME → values */
    json_t *secret_env;    /* names of env that are secrets: {NAME: true} */
    int metrics_open;      /* metrics: {open: true}: /metrics wants no token */
    /* generic_hooks: runbook name → {secret (read from secret_env's
     * variable; absent: no signature wanted), window_ms (the replay
     * window)}. A runbook not named here has a generic hook without a
     * signature check. */
    json_t *generic_hooks;
    /* env_tokens: token name → {role, secret_env (the variable's name),
     * line, col (where the config names it)}; auth.c reads the secrets. */
    json_t *env_tokens;
    char *signing_key;     /* signing_key: the Ed25519 private key (PEM) that signs the
                            * journal's head (docs/journal.md), or NULL: none;
                            * $RUNBOOK_SIGNING_KEY when the file names none */
    uint64_t sign_interval_ms; /* sign_interval: how often the head is signed (5m) */
    char *tls_cert;        /* tls: {cert, key}: PEM files; both or neither */
    char *tls_key;
    /* Where the config file set each path key (database, runbooks,
     * plugins, inventory, tokens, tls.cert, tls.key): key → {value, line,
     * col}, so that a later check says file:line:col of what the file
     * named (a flag that replaced it has no position). */
    json_t *marks;
    /* config_runs.c: what the runs the server starts are given */
    json_t *params;        /* params: name → value, for runbooks that declare the name */
    json_t *param_secrets; /* the secret values among them, masked in every run */
    char *external_url;    /* external_url: for {{ run.report_url }}, or NULL */
} rb_srv_config_t;

/* The defaults (docs/server.md). Returns NULL when out of memory. */
rb_srv_config_t *rb_srv_config_new(void);
void rb_srv_config_free(rb_srv_config_t *c);

/* Reads the config file at path into c (keys it sets replace the
 * defaults). Problems go to d as file:line:col; returns 0 or RB_EINVAL
 * (see d) or another negative code. Unknown keys are errors: a typo must
 * not silently fall back to a default. */
int rb_srv_config_load(rb_srv_config_t *c, const char *path, rb_diags_t *d);

/* "HOST:PORT" or "[V6]:PORT" into c. 0, or RB_EINVAL with why. */
int rb_srv_config_listen(rb_srv_config_t *c, const char *addr, char *why, size_t whylen);

/* Where the config file named value for key: 1 with its file and mark, or
 * 0 (a default, or a flag replaced it). */
int rb_srv_config_where(const rb_srv_config_t *c, const char *key, const char *value,
                        const char **file, rb_mark_t *at);

/* The least a limit may be: a smaller one would refuse every request. */
#define RB_SRV_MIN_HEADER_SIZE 1024u
#define RB_SRV_MIN_BODY_SIZE 1024u
#define RB_SRV_MIN_REQUEST_MS 1000u
/* config_runs.c: reads params: and external_url: of the file's root
 * into c; problems go to d. Returns 1 when one was refused, else 0. */
struct rb_doc;
int rb__srv_config_runs(rb_srv_config_t *c, const struct rb_doc *doc, const json_t *root,
                        const char *file, rb_diags_t *d);

/* 0 when s may be an external_url (http:// or https://, a host, no query,
 * fragment, space or control character), else -1 with why. */
int rb_srv_external_url_check(const char *s, char *why, size_t whylen);

/* Sets a string field (strdup). */
int rb_srv_config_set(char **field, const char *value);

#endif
