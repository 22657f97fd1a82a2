/*
 * tls.c — the server's TLS context (tls.h), from PEM files with OpenSSL.
 *
 * Owns: the SSL_CTX until rb_tls_free. Must never: print key material;
 * read a key file others may read.
 */
#define _GNU_SOURCE
#include "tls.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* OpenSSL's newest error, as one line. */
static void ssl_why(const char *what, char *err, size_t errlen)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(err, errlen, "%s: %s", what, reason ? reason : e ? buf : "unknown error");
    ERR_clear_error();
}

/* The file exists, is a regular file and (the key) is its owner's alone. */
static int check_file(const char *path, int private, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return RB_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        return RB_EINVAL;
    }
    if (private && (st.st_mode & 077)) {
        snprintf(err, errlen,
                 "the key file %s may be read or written by others than its owner (mode "
                 "%04o): chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        return RB_EINVAL;
    }
    return 0;
}

int rb_tls_new(const char *cert, const char *key, rb_tls_t **out, rb_tls_which_t *which,
               char *err, size_t errlen)
{
    *out = NULL;
    *which = RB_TLS_CERT;
    int rc = check_file(cert, 0, err, errlen);
    if (rc < 0)
        return rc;
    *which = RB_TLS_KEY;
    if ((rc = check_file(key, 1, err, errlen)) < 0)
        return rc;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_why("no TLS context", err, errlen);
        return RB_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    char what[600];
    *which = RB_TLS_CERT;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(what, sizeof what, "%s is not a PEM certificate", cert);
        ssl_why(what, err, errlen);
        SSL_CTX_free(ctx);
        return RB_EINVAL;
    }
    *which = RB_TLS_KEY;
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        int mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        snprintf(what, sizeof what,
                 mismatch ? "the key %s is not the certificate's" : "%s is not a PEM private key",
                 key);
        ssl_why(what, err, errlen);
        SSL_CTX_free(ctx);
        return RB_EINVAL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof what, "the key %s is not the certificate's", key);
        ssl_why(what, err, errlen);
        SSL_CTX_free(ctx);
        return RB_EINVAL;
    }
    *out = ctx;
    return 0;
}

void rb_tls_free(rb_tls_t *t)
{
    SSL_CTX_free(t);
}
