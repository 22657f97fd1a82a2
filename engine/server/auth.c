/*
 * auth.c — bearer tokens (auth.h), also as the password of HTTP Basic
 * credentials where the caller allows them (a browser's read-only GETs).
 * Every token is checked on every
 * request with CRYPTO_memcmp over a fixed length (the SHA-256 of the
 * secret), so the time taken says nothing of how much of a guess was
 * right, nor of its length.
 *
 * Owns: the token table. Must never: print a secret, let a file others
 * can read hold them.
 */
#define _GNU_SOURCE
#include "auth.h"

#include <runbook/runbook.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RB_AUTH_MIN_SECRET 16
#define RB_AUTH_MAX_FILE (1u << 20)

typedef struct {
    char *name;
    unsigned role;
    unsigned char digest[32]; /* SHA-256 of the secret */
} token_t;

struct rb_auth {
    token_t *t;
    size_t n;
};

unsigned rb_auth_role(const char *name)
{
    if (!strcmp(name, "hook"))
        return RB_ROLE_HOOK;
    if (!strcmp(name, "operator"))
        return RB_ROLE_OPERATOR;
    if (!strcmp(name, "viewer"))
        return RB_ROLE_VIEWER;
    return 0;
}

static int sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

void rb_auth_free(rb_auth_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->t[i].name);
        OPENSSL_cleanse(a->t[i].digest, sizeof a->t[i].digest);
    }
    free(a->t);
    free(a);
}

size_t rb_auth_count(const rb_auth_t *a)
{
    return a ? a->n : 0;
}

/* The fields of one line: up to 4 (a 4th is an error), with the column
 * each starts at. */
static size_t split(char *line, char *f[4], unsigned col[4])
{
    size_t n = 0;
    char *p = line;
    while (*p && n < 4) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        f[n] = p;
        col[n] = (unsigned)(p - line) + 1;
        n++;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

/* Adds one token (the secret is only hashed). A name or a secret used
 * twice is said at name_at / secret_at. 0, RB_EINVAL (said in d), RB_ENOMEM. */
static int add(rb_auth_t *a, const char *name, unsigned role, const char *secret,
               const char *path, rb_mark_t name_at, rb_mark_t secret_at, rb_diags_t *d)
{
    unsigned char dg[32];
    if (sha256(secret, strlen(secret), dg) < 0)
        return RB_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        if (!strcmp(a->t[i].name, name)) {
            rb_diag_add(d, RB_DIAG_ERROR, path, name_at, "token name \"%s\" is used twice", name);
            return RB_EINVAL;
        }
        if (!CRYPTO_memcmp(a->t[i].digest, dg, 32)) {
            rb_diag_add(d, RB_DIAG_ERROR, path, secret_at,
                        "token %s has the same secret as token %s", name, a->t[i].name);
            return RB_EINVAL;
        }
    }
    token_t *t = realloc(a->t, (a->n + 1) * sizeof *t);
    if (!t)
        return RB_ENOMEM;
    a->t = t;
    t[a->n].name = strdup(name);
    t[a->n].role = role;
    memcpy(t[a->n].digest, dg, 32);
    OPENSSL_cleanse(dg, 32);
    if (!t[a->n].name)
        return RB_ENOMEM;
    a->n++;
    return 0;
}

static int parse(rb_auth_t *a, char *text, const char *path, rb_diags_t *d)
{
    int bad = 0;
    unsigned lineno = 0;
    char *save = NULL;
    for (char *line = text; line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        char *f[4];
        unsigned col[4];
        size_t n = split(line, f, col);
        if (n == 0 || f[0][0] == '#')
            continue;
        rb_mark_t at = {lineno, col[0], 0};
        if (n != 3) {
            rb_diag_add(d, RB_DIAG_ERROR, path, at,
                        "a token line is NAME ROLE SECRET (three fields), this one has %zu", n);
            bad = 1;
            continue;
        }
        unsigned role = rb_auth_role(f[1]);
        if (!role) {
            rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){lineno, col[1], 0},
                        "unknown role \"%s\": hook, operator or viewer", f[1]);
            bad = 1;
            continue;
        }
        if (strlen(f[2]) < RB_AUTH_MIN_SECRET) {
            rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){lineno, col[2], 0},
                        "the secret of token %s is shorter than %d characters", f[0],
                        RB_AUTH_MIN_SECRET);
            bad = 1;
            continue;
        }
        int rc = add(a, f[0], role, f[2], path, at, (rb_mark_t){lineno, col[2], 0}, d);
        OPENSSL_cleanse(f[2], strlen(f[2]));
        if (rc == RB_ENOMEM)
            return rc;
        if (rc < 0)
            bad = 1;
    }
    return bad ? RB_EINVAL : 0;
}

int rb_auth_load(const char *path, rb_diags_t *d, rb_auth_t **out)
{
    *out = NULL;
    rb_auth_t *a = calloc(1, sizeof *a);
    if (!a)
        return RB_ENOMEM;
    if (!path) {
        *out = a;
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0}, "cannot read the tokens file: %s",
                    strerror(errno));
        if (fd >= 0)
            close(fd);
        rb_auth_free(a);
        return RB_EIO;
    }
    int rc = 0;
    if (!S_ISREG(st.st_mode)) {
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0}, "the tokens file is not a regular file");
        rc = RB_EINVAL;
    } else if (st.st_mode & 077) {
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0},
                    "the tokens file may be read or written by others than its owner (mode %04o): "
                    "chmod 600 %s", (unsigned)(st.st_mode & 07777), path);
        rc = RB_EINVAL;
    } else if ((uint64_t)st.st_size > RB_AUTH_MAX_FILE) {
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0}, "the tokens file is over 1 MiB");
        rc = RB_EINVAL;
    }
    char *text = rc ? NULL : calloc(1, (size_t)st.st_size + 1);
    if (!rc && !text)
        rc = RB_ENOMEM;
    size_t got = 0;
    while (!rc && got < (size_t)st.st_size) {
        ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!rc && memchr(text, '\0', got)) {
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0}, "the tokens file holds a NUL byte");
        rc = RB_EINVAL;
    }
    if (!rc)
        rc = parse(a, text, path, d);
    if (text) {
        OPENSSL_cleanse(text, got);
        free(text);
    }
    if (rc) {
        rb_auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int rb_auth_add_env(rb_auth_t *a, const json_t *tokens, const char *file, rb_diags_t *d)
{
    int bad = 0;
    const char *name;
    const json_t *t;
    json_object_foreach((json_t *)tokens, name, t) {
        const char *var = json_string_value(json_object_get(t, "secret_env"));
        unsigned role = rb_auth_role(json_string_value(json_object_get(t, "role")));
        rb_mark_t at = {(uint32_t)json_integer_value(json_object_get(t, "line")),
                        (uint32_t)json_integer_value(json_object_get(t, "col")), 0};
        const char *secret = var ? getenv(var) : NULL;
        if (!var || !role) {
            bad = 1; /* the config loader said why */
        } else if (!secret || !*secret) {
            rb_diag_add(d, RB_DIAG_ERROR, file, at,
                        "token %s: the environment variable %s is %s", name, var,
                        secret ? "empty" : "not set in the server's environment");
            bad = 1;
        } else if (strlen(secret) < RB_AUTH_MIN_SECRET) {
            rb_diag_add(d, RB_DIAG_ERROR, file, at,
                        "token %s: the secret in %s is shorter than %d characters", name, var,
                        RB_AUTH_MIN_SECRET);
            bad = 1;
        } else {
            int rc = add(a, name, role, secret, file, at, at, d);
            if (rc == RB_ENOMEM)
                return rc;
            bad |= rc < 0;
        }
    }
    return bad ? RB_EINVAL : 0;
}

/* h[0..hl) without the blanks around it. */
static const char *trim(const char *h, size_t *hl)
{
    while (*hl && (*h == ' ' || *h == '\t')) {
        h++;
        (*hl)--;
    }
    while (*hl && (h[*hl - 1] == ' ' || h[*hl - 1] == '\t'))
        (*hl)--;
    return h;
}

/* The SHA-256 of the password of Basic credentials b[0..bl) =
 * BASE64(USER:PASSWORD) (RFC 7617: any user name; the password is what
 * follows the first ':'), decoded with OpenSSL. 0, or -1 when they are not
 * base64, have no ':' or an empty password. */
static int basic_digest(const char *b, size_t bl, unsigned char dg[32])
{
    if (!bl || bl % 4 || bl > 8192)
        return -1;
    unsigned char *plain = malloc(bl / 4 * 3 + 1);
    if (!plain)
        return -1;
    int n = EVP_DecodeBlock(plain, (const unsigned char *)b, (int)bl);
    /* EVP_DecodeBlock counts the bytes the padding stands for: not data */
    for (size_t k = bl; n > 0 && k > bl - 2 && b[k - 1] == '='; k--)
        n--;
    int rc = -1;
    const unsigned char *colon = n > 0 ? memchr(plain, ':', (size_t)n) : NULL;
    if (colon && colon + 1 < plain + n)
        rc = sha256(colon + 1, (size_t)(plain + n - colon - 1), dg);
    if (n > 0)
        OPENSSL_cleanse(plain, (size_t)n);
    free(plain);
    return rc;
}

int rb_auth_check(const rb_auth_t *a, const char *h, size_t hl, unsigned roles, int basic,
                  const char **who)
{
    *who = NULL;
    if (roles == RB_ROLE_OPEN) {
        *who = "anonymous";
        return 200;
    }
    static const char bearer[] = "Bearer ", basic_sp[] = "Basic ";
    unsigned char dg[32];
    if (h && hl > sizeof bearer - 1 && !strncasecmp(h, bearer, sizeof bearer - 1)) {
        hl -= sizeof bearer - 1;
        h = trim(h + sizeof bearer - 1, &hl);
        if (!hl || sha256(h, hl, dg) < 0)
            return 401;
    } else if (basic && h && hl > sizeof basic_sp - 1 &&
               !strncasecmp(h, basic_sp, sizeof basic_sp - 1)) {
        hl -= sizeof basic_sp - 1;
        h = trim(h + sizeof basic_sp - 1, &hl);
        if (basic_digest(h, hl, dg) < 0)
            return 401;
    } else {
        return 401;
    }
    /* Every token is compared, whichever matches: the time is the same. */
    const token_t *found = NULL;
    for (size_t i = 0; a && i < a->n; i++)
        if (!CRYPTO_memcmp(a->t[i].digest, dg, 32))
            found = &a->t[i];
    OPENSSL_cleanse(dg, 32);
    if (!found)
        return 401;
    *who = found->name;
    /* The operator reads what a viewer reads. */
    unsigned have = found->role | (found->role & RB_ROLE_OPERATOR ? RB_ROLE_VIEWER : 0);
    return have & roles ? 200 : 403;
}
