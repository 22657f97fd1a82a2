/*
 * config_check.c — what `runbook serve` refuses before it starts, checked
 * by the same code for `runbook validate --config`: the tokens (the file's
 * mode and lines, the env_tokens' variables), the runbooks and plugins
 * folders, the journal's folder, the inventory, the TLS certificate and
 * key, the journal's signing key. A problem in a file named by the config is said at the config's
 * file:line:col of that key (a flag's value has no position: the path
 * alone); a problem inside a named file (a token line, an inventory key)
 * at that file's own line:col.
 *
 * Owns: what it reads until handed over in rb_srv_checked_t. Must never:
 * create, open for writing or change anything (validate runs it on a live
 * server's files); print a secret.
 */
#define _GNU_SOURCE
#include "config.h"

#include "auth.h"
#include "load/inventory.h"
#include "server_check.h"
#include "journal/journal.h"
#include "tls.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A problem with the value of key (a path): at the config's position of
 * it, or the path itself when a flag or a default gave it. */
static void __attribute__((format(printf, 4, 5)))
say(const rb_srv_config_t *c, rb_diags_t *d, const char *key, const char *fmt, ...)
{
    const char *value = !strcmp(key, "database")    ? c->db
                        : !strcmp(key, "runbooks")  ? c->dir
                        : !strcmp(key, "plugins")   ? c->plugins
                        : !strcmp(key, "inventory") ? c->inventory
                        : !strcmp(key, "tokens")    ? c->tokens
                        : !strcmp(key, "tls.cert")  ? c->tls_cert
                        : !strcmp(key, "signing_key") ? c->signing_key
                                                    : c->tls_key;
    const char *file = value;
    rb_mark_t at = {0};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rb_srv_config_where(c, key, value, &file, &at))
        rb_diag_add(d, RB_DIAG_ERROR, file, at, "%s: %s", key, msg);
    else
        rb_diag_add(d, RB_DIAG_ERROR, file ? file : key, at, "%s", msg);
}

/* Moves the diagnostics of the file named by key into d: one about the
 * file as a whole (no line: cannot be read, its mode) is said at the
 * config's key; one at a line of the file stays there. Frees td. */
static void take(const rb_srv_config_t *c, rb_diags_t *d, const char *key, rb_diags_t *td)
{
    for (size_t i = 0; i < rb_diags_count(td); i++) {
        rb_diag_level_t lv;
        const char *file, *msg;
        rb_mark_t at;
        rb_diags_get(td, i, &lv, &file, &at, &msg);
        if (lv == RB_DIAG_ERROR && !at.line)
            say(c, d, key, "%s", msg);
        else
            rb_diag_add(d, lv, file, at, "%s", msg);
    }
    rb_diags_free(td);
}

static void check_folder(const rb_srv_config_t *c, rb_diags_t *d, const char *key,
                         const char *path, const char *what)
{
    struct stat st;
    if (!path)
        return;
    if (stat(path, &st) != 0)
        say(c, d, key, "%s: no such folder (%s): %s", path, what, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        say(c, d, key, "%s is not a folder (%s)", path, what);
}

/* The journal: an existing one is a regular file the server may write; a
 * new one can be made in its folder. A PostgreSQL URL is not checked here. */
static void check_database(const rb_srv_config_t *c, rb_diags_t *d)
{
    struct stat st;
    if (rb_journal_is_url(c->db))
        return; /* PostgreSQL: reached when the server opens it (never shown: a password) */
    if (stat(c->db, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            say(c, d, "database", "%s is not a regular file", c->db);
        else if (access(c->db, R_OK | W_OK) != 0)
            say(c, d, "database", "%s cannot be written: %s", c->db, strerror(errno));
        return;
    }
    char *copy = strdup(c->db);
    if (!copy)
        return;
    const char *dir = dirname(copy);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        say(c, d, "database", "the journal's folder %s does not exist", dir);
    else if (access(dir, W_OK | X_OK) != 0)
        say(c, d, "database", "the journal cannot be made in %s: %s", dir, strerror(errno));
    free(copy);
}

static void check_tls(const rb_srv_config_t *c, rb_diags_t *d, rb_srv_checked_t *out)
{
    if (!c->tls_cert || !c->tls_key)
        return;
    rb_tls_t *t = NULL;
    rb_tls_which_t which;
    char err[1024];
    if (rb_tls_new(c->tls_cert, c->tls_key, &t, &which, err, sizeof err) < 0) {
        say(c, d, which == RB_TLS_KEY ? "tls.key" : "tls.cert", "%s", err);
        return;
    }
    if (out)
        out->tls = t;
    else
        rb_tls_free(t);
}

/* The signing key: a private Ed25519 key only its owner may read. */
static void check_signing_key(const rb_srv_config_t *c, rb_diags_t *d, rb_srv_checked_t *out)
{
    rb_journal_key_t *k = NULL;
    char err[1024];
    if (!c->signing_key)
        return;
    if (rb_journal_key_load_private(c->signing_key, &k, err, sizeof err) < 0) {
        say(c, d, "signing_key", "%s", err);
        return;
    }
    if (out)
        out->sign_key = k;
    else
        rb_journal_key_free(k);
}

int rb_srv_config_check(const rb_srv_config_t *c, rb_diags_t *d, rb_srv_checked_t *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    size_t before = rb_diags_errors(d);
    rb_auth_t *auth = NULL;
    rb_diags_t *td = rb_diags_new();
    if (!td)
        return RB_ENOMEM;
    rb_auth_load(c->tokens, td, &auth);
    take(c, d, "tokens", td);
    if (!auth) /* the file is refused: env_tokens are still checked, on their own */
        rb_auth_load(NULL, NULL, &auth);
    if (!auth || rb_auth_add_env(auth, c->env_tokens, c->file, d) == RB_ENOMEM) {
        rb_auth_free(auth);
        return RB_ENOMEM;
    }
    check_folder(c, d, "runbooks", c->dir, "the runbooks");
    check_folder(c, d, "plugins", c->plugins, "the action modules");
    check_database(c, d);
    json_t *inv = NULL;
    if (c->inventory && (td = rb_diags_new())) {
        rb_inventory_load(c->inventory, td, &inv);
        take(c, d, "inventory", td);
    }
    check_tls(c, d, out);
    check_signing_key(c, d, out);
    int bad = rb_diags_errors(d) > before;
    if (out && !bad) {
        out->auth = auth;
        out->inventory = inv;
    } else {
        rb_auth_free(auth);
        json_decref(inv);
        if (out) {
            rb_tls_free(out->tls);
            out->tls = NULL;
            rb_journal_key_free(out->sign_key);
            out->sign_key = NULL;
        }
    }
    return bad ? RB_EINVAL : 0;
}

void rb_srv_checked_free(rb_srv_checked_t *k)
{
    rb_auth_free(k->auth);
    json_decref(k->inventory);
    rb_tls_free(k->tls);
    rb_journal_key_free(k->sign_key);
    memset(k, 0, sizeof *k);
}
