/*
 * journal_key.c — the Ed25519 keys of signed checkpoints (OpenSSL
 * libcrypto, EVP_PKEY_ED25519): making a key pair as two PEM files,
 * loading a private key (refused when others may read it) or a public
 * key, a key's id, signing and checking a signed head's bytes.
 *
 * Owns: the key files it creates and the EVP_PKEYs it loads. Must never:
 * touch SQLite (journal_seal.c stores and reads the signatures), overwrite
 * a file, create the private key readable by anyone but its owner even for
 * a moment, or print a private key.
 * Loading: any thread. A loaded key is immutable and may be shared by
 * threads (each sign or check makes its own EVP_MD_CTX).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_int.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rb_journal_key {
    EVP_PKEY *pkey;
    int priv;                          /* it can sign */
    unsigned char id[RB__J_HASH_LEN];  /* SHA-256 of the raw public key */
    char id_hex[2 * RB__J_HASH_LEN + 1];
};

static void ssl_reason(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    snprintf(err, errlen, "%s%s%s", what, *buf ? ": " : "", buf);
}

/* Wraps pkey (taken) into a key with its id. */
static int key_wrap(EVP_PKEY *pkey, int priv, rb_journal_key_t **out, char *err, size_t errlen,
                    const char *path)
{
    unsigned char raw[32];
    size_t n = sizeof raw;
    rb_journal_key_t *k = NULL;
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
        snprintf(err, errlen, "%s: not an Ed25519 key (make one with `runbook audit key init`)",
                 path);
        EVP_PKEY_free(pkey);
        return RB_EINVAL;
    }
    if (!EVP_PKEY_get_raw_public_key(pkey, raw, &n) || n != sizeof raw ||
        !(k = calloc(1, sizeof *k)) || rb__j_sha256(raw, n, k->id) != 0) {
        free(k);
        EVP_PKEY_free(pkey);
        snprintf(err, errlen, "%s: cannot read the key's public part", path);
        return RB_ENOMEM;
    }
    k->pkey = pkey;
    k->priv = priv;
    rb__hex(k->id, RB__J_HASH_LEN, k->id_hex);
    *out = k;
    return 0;
}

void rb_journal_key_free(rb_journal_key_t *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *rb_journal_key_id(const rb_journal_key_t *k)
{
    return k->id_hex;
}

const unsigned char *rb__key_raw_id(const rb_journal_key_t *k)
{
    return k->id;
}

int rb__key_is_private(const rb_journal_key_t *k)
{
    return k && k->priv;
}

/* ---- files ---------------------------------------------------------------------- */

/* Writes the PEM of pkey to path, created (never replaced) with mode. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, int priv, char *err,
                     size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == EEXIST ? "already exists; a key is never overwritten (move it away"
                                   " first, or choose another --out)"
                                 : strerror(errno));
        return RB_EINVAL;
    }
    /* the umask may have taken bits away; it never adds any */
    if (fchmod(fd, mode) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return RB_EIO;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return RB_EIO;
    }
    int ok = priv ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_PUBKEY(f, pkey);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        unlink(path);
        ssl_reason(err, errlen, path);
        return RB_EIO;
    }
    return 0;
}

int rb_journal_key_generate(const char *prefix, char key_id[65], char *err, size_t errlen)
{
    size_t n = strlen(prefix) + 5;
    char *kpath = malloc(n), *ppath = malloc(n);
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    rb_journal_key_t *k = NULL;
    int ret = RB_ENOMEM;
    if (!kpath || !ppath)
        goto out;
    snprintf(kpath, n, "%s.key", prefix);
    snprintf(ppath, n, "%s.pub", prefix);
    struct stat st;
    const char *there = lstat(kpath, &st) == 0 ? kpath : lstat(ppath, &st) == 0 ? ppath : NULL;
    if (there) {
        snprintf(err, errlen, "%s: already exists; a key is never overwritten (move it away"
                              " first, or choose another --out)", there);
        ret = RB_EINVAL;
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0) {
        ssl_reason(err, errlen, "making an Ed25519 key");
        ret = RB_EIO;
        goto out;
    }
    if ((ret = write_pem(kpath, 0600, pkey, 1, err, errlen)) != 0)
        goto out;
    if ((ret = write_pem(ppath, 0644, pkey, 0, err, errlen)) != 0) {
        unlink(kpath);
        goto out;
    }
    if (key_id) {
        EVP_PKEY_up_ref(pkey);
        if (key_wrap(pkey, 1, &k, err, errlen, kpath) == 0)
            memcpy(key_id, k->id_hex, sizeof k->id_hex);
    }
    ret = 0;
out:
    rb_journal_key_free(k);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    free(kpath);
    free(ppath);
    return ret;
}

static int load(const char *path, int priv, rb_journal_key_t **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return RB_EINVAL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return RB_EINVAL;
    }
    if (priv && (st.st_mode & 077)) {
        snprintf(err, errlen, "%s: the private key can be %s by others than its owner (mode"
                              " %04o): refused; chmod 600 %s, and make a new key if others"
                              " may have read it", path,
                 st.st_mode & 044 ? "read" : "changed", (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return RB_EINVAL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return RB_EIO;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    int is_priv = pkey != NULL;
    if (!pkey && !priv) {
        ERR_clear_error();
        rewind(f);
        pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    if (!pkey) {
        ERR_clear_error();
        snprintf(err, errlen, "%s: not a PEM %s key (make one with `runbook audit key init`)",
                 path, priv ? "private" : "public");
        return RB_EINVAL;
    }
    return key_wrap(pkey, is_priv, out, err, errlen, path);
}

int rb_journal_key_load_private(const char *path, rb_journal_key_t **out, char *err,
                                size_t errlen)
{
    return load(path, 1, out, err, errlen);
}

int rb_journal_key_load_public(const char *path, rb_journal_key_t **out, char *err,
                               size_t errlen)
{
    return load(path, 0, out, err, errlen);
}

/* ---- signing ------------------------------------------------------------------- */

int rb__key_sign(const rb_journal_key_t *k, const unsigned char *msg, size_t n,
                 unsigned char sig[RB__J_SIG_LEN])
{
    if (!k->priv)
        return RB_EINVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = RB__J_SIG_LEN;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &len, msg, n) == 1 && len == RB__J_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        ERR_clear_error();
    return ok ? 0 : RB_EJOURNAL;
}

int rb__key_check(const rb_journal_key_t *k, const unsigned char *msg, size_t n,
                  const void *sig, size_t siglen)
{
    if (siglen != RB__J_SIG_LEN)
        return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, msg, n) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}
