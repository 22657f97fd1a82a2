/*
 * tls.h — the server's TLS: an OpenSSL server context from the config's
 * `tls: {cert, key}` (PEM files: the certificate, with its chain after it,
 * and the private key), handed to h2o's accept context so that every
 * connection is TLS. The key file is refused when others than its owner
 * may read or write it, like the tokens file.
 *
 * Owns: the SSL_CTX it makes (rb_tls_free). Must never: log the key or a
 * part of it; accept a key that does not match the certificate.
 * Any thread at start; the context is then the loop's.
 */
#ifndef RB_SRV_TLS_H
#define RB_SRV_TLS_H

#include <stddef.h>

typedef struct ssl_ctx_st rb_tls_t; /* OpenSSL's SSL_CTX */

/* Which of the two files a problem is in. */
typedef enum { RB_TLS_CERT = 1, RB_TLS_KEY = 2 } rb_tls_which_t;

/* Reads cert and key into a server context (TLS 1.2 at least). 0, or a
 * negative code with why in err and *which the file at fault. */
int rb_tls_new(const char *cert, const char *key, rb_tls_t **out, rb_tls_which_t *which,
               char *err, size_t errlen);
void rb_tls_free(rb_tls_t *t);

#endif
