/*
 * secret.h — values that must never be written down: secret parameters and
 * secret environment variables. Whatever string a secret was interpolated
 * into is masked (the secret's bytes become "***") before it reaches the
 * journal, the terminal or a report; the actions themselves get the real
 * value.
 */
#ifndef RB_SECRET_H
#define RB_SECRET_H

#include <jansson.h>
#include <stddef.h>

typedef struct rb_secrets rb_secrets_t;

#define RB_SECRET_MASK "***"

rb_secrets_t *rb_secrets_new(void);
void rb_secrets_free(rb_secrets_t *s);

/* Remembers a secret value (copied). Empty values are ignored. */
void rb_secrets_add(rb_secrets_t *s, const char *v, size_t len);

/* Adds every secret of from (a parent run's) to s. */
void rb_secrets_inherit(rb_secrets_t *s, const rb_secrets_t *from);

/* 1 when there is anything to mask. */
int rb_secrets_any(const rb_secrets_t *s);

/* A copy of v with every occurrence of every secret inside its strings
 * (object keys too) replaced by RB_SECRET_MASK; v itself (increfed) when
 * nothing needed masking. Returns a new reference. */
json_t *rb_secrets_mask(const rb_secrets_t *s, const json_t *v);

/* The same for one C string: a malloc'd copy. */
char *rb_secrets_mask_str(const rb_secrets_t *s, const char *str);

#endif
