/*
 * server_check.h — the check `runbook serve` makes of its config before it
 * starts, shared with `runbook validate --config` (config_check.c): what
 * passes here is what serve then takes, so validate says every refusal
 * serve would make, at the config's file:line:col.
 *
 * Must never: create or change a file. Any thread; not shared.
 */
#ifndef RB_SRV_CHECK_H
#define RB_SRV_CHECK_H

#include "auth.h"
#include "config.h"
#include "load/diag.h"
#include "journal/journal.h"
#include "tls.h"

#include <jansson.h>

/* What the check read, for the server to keep. */
typedef struct rb_srv_checked {
    rb_auth_t *auth;   /* the tokens (file and env_tokens) */
    json_t *inventory; /* the inventory, or NULL */
    rb_tls_t *tls;     /* the TLS context, or NULL (plain HTTP) */
    rb_journal_key_t *sign_key; /* signing_key's private key, or NULL */
} rb_srv_checked_t;

/* Checks the tokens, folders, journal's place, inventory and TLS files of
 * c; problems go to d. Returns 0 (and, when out is given, what was read:
 * free it with rb_srv_checked_free), RB_EINVAL (see d) or RB_ENOMEM. */
int rb_srv_config_check(const rb_srv_config_t *c, rb_diags_t *d, rb_srv_checked_t *out);
void rb_srv_checked_free(rb_srv_checked_t *k);

#endif
