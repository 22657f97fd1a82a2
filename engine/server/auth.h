/*
 * auth.h — who may call the server: bearer tokens (or, from a browser,
 * HTTP Basic credentials whose password is a token) from the tokens file
 * (one `NAME ROLE SECRET` a line) and from environment variables the
 * config names (env_tokens), each with a role, compared in constant
 * time. A route says which roles it admits (a bit set); auth says 401 (no
 * token, or one that is nobody's) or 403 (a token whose role the route
 * does not admit), and names the token so the journal records who.
 *
 * Owns: the tokens (their secrets are wiped when freed). Must never: log
 * or return a secret; compare secrets with strcmp/memcmp; accept a tokens
 * file that others than its owner may read. Loop thread (no locking).
 */
#ifndef RB_SRV_AUTH_H
#define RB_SRV_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include "load/diag.h"

/* Roles, as bits: a route admits a set of them. */
#define RB_ROLE_HOOK     0x1u /* webhooks only */
#define RB_ROLE_OPERATOR 0x2u /* start, approve, deny, cancel; and read */
#define RB_ROLE_VIEWER   0x4u /* read */
#define RB_ROLE_OPEN     0x0u /* no token wanted (/healthz) */

typedef struct rb_auth rb_auth_t;

/* Reads the tokens file at path (NULL: no tokens; every request that
 * wants one is answered 401). Refuses a file readable or writable by group
 * or others, a line that is not NAME ROLE SECRET, an unknown role, a
 * secret shorter than 16 characters, and a name or secret used twice —
 * each as path:line:col in d. Returns 0 or RB_EINVAL / RB_EIO. */
int rb_auth_load(const char *path, rb_diags_t *d, rb_auth_t **out);
void rb_auth_free(rb_auth_t *a);

/* Adds the config's env_tokens ({NAME: {role, secret_env, line, col}}):
 * each secret is read from the server's environment variable secret_env. A
 * variable that is missing or empty, a secret shorter than 16 characters,
 * a name or a secret another token has: said at file:line:col (where the
 * config names the variable). Returns 0, RB_EINVAL or RB_ENOMEM. */
int rb_auth_add_env(rb_auth_t *a, const json_t *tokens, const char *file, rb_diags_t *d);

/* Number of tokens. */
size_t rb_auth_count(const rb_auth_t *a);

/* Checks an Authorization header value (NULL: none) against the roles a
 * route admits: "Bearer SECRET", and when basic is set also "Basic
 * BASE64(ANY-USER:SECRET)" (what a browser sends; the caller allows it for
 * GET and HEAD only, so that credentials a browser keeps cannot be sent by
 * another site's form to what writes). Returns 200 (allowed; *who is the
 * token's name, valid while a lives), 401 or 403. A route admitting
 * RB_ROLE_OPEN is allowed with *who "anonymous". */
int rb_auth_check(const rb_auth_t *a, const char *header, size_t header_len, unsigned roles,
                  int basic, const char **who);

/* "hook", "operator", "viewer" → the bit; 0 for anything else. */
unsigned rb_auth_role(const char *name);

#endif
