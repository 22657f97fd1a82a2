/*
 * secret.h — values that must never be written down: secret parameters and
 * secret environment variables. Whatever string a secret was interpolated
 * into is masked (the secret's bytes become "***") before it reaches the
 * journal, the terminal or a report; the actions themselves get the real
 * value. The password in a URL (https://user:PASSWORD@host/) is masked the
 * same way.
 */
#ifndef RB_SECRET_H
#define RB_SECRET_H

#include <jansson.h>
#include <stddef.h>

#include "load/runbook.h"

typedef struct rb_secrets rb_secrets_t;

#define RB_SECRET_MASK "***"

/* The shortest secret accepted, in characters (R-secret-min-length): a
 * shorter one would be found inside unrelated text ("e" in every word), so
 * masking it would hide nothing and corrupt everything. */
#define RB_SECRET_MIN_LEN 4

rb_secrets_t *rb_secrets_new(void);
void rb_secrets_free(rb_secrets_t *s);

/* Remembers a secret value (copied), with every form a message writer may
 * turn it into (base/text.h: one line, Slack/HTML-escaped, JSON text), so
 * each is masked too. Empty values are ignored. */
void rb_secrets_add(rb_secrets_t *s, const char *v, size_t len);

/* Collects the secrets of a run that is starting: every parameter of rb
 * declared `secret: true` that has a value in params (a string as it is,
 * another value by its JSON text), and every variable of env named in
 * secret_env ({NAME: true}). All borrowed; env and secret_env may be NULL.
 * Returns 0, or RB_EINVAL with err naming the first parameter or variable
 * whose value is non-empty and shorter than RB_SECRET_MIN_LEN characters
 * (nothing should run then: exit 2). Loop thread. */
int rb_secrets_collect(rb_secrets_t *s, const rb_runbook_t *rb, const json_t *params,
                       const json_t *env, const json_t *secret_env, char *err, size_t errlen);

/* Adds every secret of from (a parent run's) to s. */
void rb_secrets_inherit(rb_secrets_t *s, const rb_secrets_t *from);

/* 1 when there is anything to mask. */
int rb_secrets_any(const rb_secrets_t *s);

/* v with every occurrence of every secret inside its string values, and
 * the password of every URL's userinfo (scheme://user:PASSWORD@host),
 * replaced by RB_SECRET_MASK (R-secret-mask); so is the beginning of a
 * secret that a cut left just before RB_TEXT_CUT. s may be NULL or empty. Object keys, numbers,
 * booleans, null and the shape of v are never changed. Returns a new
 * reference: v itself (increfed) when nothing needed masking, else a copy
 * that shares every part that did not change. v is borrowed. */
json_t *rb_secrets_mask(const rb_secrets_t *s, const json_t *v);

/* The parameters of a run of rb as they may be written down: each one
 * declared `secret: true` that has a value other than null or "" is
 * RB_SECRET_MASK whole, whatever its type (a number is not a string, so
 * rb_secrets_mask would keep it), and the rest as rb_secrets_mask leaves
 * it. Returns a new reference; params is borrowed. */
json_t *rb_secrets_mask_params(const rb_secrets_t *s, const rb_runbook_t *rb,
                               const json_t *params);

/* The same for one C string: a malloc'd copy. */
char *rb_secrets_mask_str(const rb_secrets_t *s, const char *str);

#endif
