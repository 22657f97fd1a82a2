/*
 * ssh_spec.c — `with` of the `ssh` action to the OpenSSH client's command
 * line: the checks validate() runs at load and start() runs again on the
 * rendered values, the host (a name, or a host of the inventory), and the
 * client's options.
 *
 * The options that are always given, whatever ~/.ssh/config says:
 *   BatchMode=yes           never a prompt (a password, a passphrase, a new
 *                           host key): what would ask fails instead;
 *   StrictHostKeyChecking   yes (or accept-new when asked): an unknown or
 *                           changed host key stops the connection;
 *   -T -x -a, SendEnv=-*    no terminal, no X11 or agent forwarding, and no
 *                           local variable is sent (env goes in the command);
 *   ControlMaster=auto, ControlPath, ControlPersist
 *                           the connection is kept and reused, its socket in
 *                           the engine's private runtime directory (0700).
 * The socket's name is a hash of everything that decides which server is
 * trusted (address, port, user, identity, known hosts, pinned key, jump
 * host), so a step that pins another key never rides on a connection whose
 * key was checked against something else.
 *
 * Owns: an exec_spec_t being filled, until rb__exec_run takes it. Creates
 * the runtime directory and, for a pinned host key, a known_hosts file in
 * it (written once, renamed into place).
 *
 * Must never:
 *   - let a value reach ssh as an option: host, user and jump are checked
 *     word by word and come after `--` or as the argument of their option;
 *   - give the client the engine's environment (only PATH, HOME, LANG and
 *     SSH_AUTH_SOCK, for the agent);
 *   - use a runtime directory that is a symbolic link, not ours, or open
 *     to others.
 */
#define _GNU_SOURCE
#include "ssh_int.h"
#include "with.h"

#include <openssl/evp.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SSH_DEFAULT_GRACE_MS 5000
#define SSH_DEFAULT_CONNECT_MS 10000
#define SSH_DEFAULT_PERSIST_MS 60000
/* After the remote side was asked to stop: its grace, then this much for
 * the connection to say so, before the local client is signalled. */
#define SSH_STOP_SLACK_MS 5000
/* sun_path is 108 bytes; ssh adds ".XXXXXXXXXXXXXXXX" while binding. */
#define SSH_SOCK_MAX 90
#define SSH_PATH_DEFAULT "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---------- small checks ---------- */

/* Letters, digits and the characters of extra; never a leading '-' (the
 * value would read as an option). */
static int word_ok(const char *s, const char *extra)
{
    if (!*s || *s == '-')
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(extra, *p)))
            return 0;
    return 1;
}

static int host_ok(const char *s)
{
    return word_ok(s, "._-:[]%@");
}

static int user_ok(const char *s)
{
    return word_ok(s, "._-");
}

/* A shell variable name: it is exported by the remote wrapper. */
static int env_name_ok(const char *k)
{
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_'))
        return 0;
    for (const char *p = k + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

/* One public key per line, "TYPE BASE64 [comment]": nothing that a
 * known_hosts file would read as a marker (@revoked, @cert-authority) or a
 * host pattern. */
static int host_key_ok(const char *s)
{
    int keys = 0;
    while (*s) {
        const char *eol = strchrnul(s, '\n');
        const char *p = s;
        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p < eol) {
            const char *t = p;
            while (p < eol && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                               strchr("-@.", *p)))
                p++;
            if (p == t || p == eol || *p != ' ')
                return 0;
            while (p < eol && *p == ' ')
                p++;
            const char *b = p;
            while (p < eol && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                               (*p >= '0' && *p <= '9') || strchr("+/=", *p)))
                p++;
            if (p - b < 16 || (p < eol && *p != ' ' && *p != '\r'))
                return 0;
            keys++;
        }
        s = *eol ? eol + 1 : eol;
    }
    return keys > 0;
}

/* A key of the host: the parameter, else the inventory host's field. */
static const json_t *host_field(const json_t *with, const char *param, const char *field)
{
    const json_t *v = rb__with_get(with, param);
    if (v)
        return v;
    const json_t *h = rb__with_get(with, "host");
    return json_is_object(h) ? rb__with_get(h, field) : NULL;
}

/* ---------- checking `with` ---------- */

static int check_string(const json_t *v, int rendered, const char *k, int (*ok)(const char *),
                        const char *what, char *msg, size_t msglen, const char **key)
{
    if (!v || rb__with_unrendered(v, rendered))
        return 0;
    if (rb__with_has_nul(v))
        RB__WITH_FAIL(k, "%s contains a NUL byte", k);
    if (!json_is_string(v))
        RB__WITH_FAIL(k, "%s must be a string", k);
    if (ok && !ok(json_string_value(v)))
        RB__WITH_FAIL(k, "%s: \"%s\" is not %s", k, json_string_value(v), what);
    if (!ok && json_string_length(v) == 0)
        RB__WITH_FAIL(k, "%s must not be empty", k);
    return 0;
}

int rb__ssh_check(const json_t *with, int rendered, char *msg, size_t msglen, const char **key)
{
    if (!json_is_object(with))
        RB__WITH_FAIL(NULL, "ssh: `with` must be an object");
    const json_t *host = rb__with_get(with, "host");
    if (!host)
        RB__WITH_FAIL("host", "host is required");
    if (json_is_object(host)) {
        const json_t *a = rb__with_get(host, "address");
        if (!a)
            a = rb__with_get(host, "name");
        if (!a)
            RB__WITH_FAIL("host", "host: an inventory host needs an address or a name");
        if (check_string(a, rendered, "host", host_ok, "a host name or address", msg, msglen, key))
            return RB_EINVAL;
    } else if (check_string(host, rendered, "host", host_ok, "a host name or address", msg, msglen,
                            key)) {
        return RB_EINVAL;
    }
    if (check_string(host_field(with, "user", "user"), rendered, "user", user_ok, "a user name",
                     msg, msglen, key) ||
        check_string(rb__with_get(with, "jump"), rendered, "jump", host_ok,
                     "a host (user@host:port)", msg, msglen, key) ||
        check_string(host_field(with, "identity", "identity"), rendered, "identity", NULL, NULL,
                     msg, msglen, key) ||
        check_string(rb__with_get(with, "known_hosts"), rendered, "known_hosts", NULL, NULL, msg,
                     msglen, key) ||
        check_string(host_field(with, "host_key", "host_key"), rendered, "host_key", host_key_ok,
                     "a public key (\"ssh-ed25519 AAAA…\", one per line)", msg, msglen, key))
        return RB_EINVAL;
    const json_t *port = host_field(with, "port", "port");
    int p;
    if (port && !rb__with_unrendered(port, rendered) && rb__with_port(port, &p) < 0)
        RB__WITH_FAIL("port", "port must be from 1 to 65535");
    if (rb__with_get(with, "host_key") && rb__with_get(with, "known_hosts"))
        RB__WITH_FAIL("known_hosts", "give host_key or known_hosts, not both");
    const json_t *chk = rb__with_get(with, "host_key_checking");
    if (chk && !rb__with_unrendered(chk, rendered) &&
        (!json_is_string(chk) || (strcmp(json_string_value(chk), "strict") &&
                                  strcmp(json_string_value(chk), "accept-new"))))
        RB__WITH_FAIL("host_key_checking", "host_key_checking must be strict or accept-new");
    /* a step's pinned key is the only key accepted: accept-new would never
     * apply, and a reader could think it does (an inventory host's pinned
     * key wins over the step's accept-new: docs/remote.md) */
    if (chk && rb__with_get(with, "host_key") && json_is_string(chk) &&
        !strcmp(json_string_value(chk), "accept-new"))
        RB__WITH_FAIL("host_key_checking",
                      "host_key_checking: accept-new never applies with host_key, which pins the "
                      "key: give one of them");
    const json_t *argv = rb__with_get(with, "argv"), *cmd = rb__with_get(with, "command");
    if (argv && cmd)
        RB__WITH_FAIL("command", "give either argv or command, not both");
    if (!argv && !cmd)
        RB__WITH_FAIL("argv", "one of argv or command is required");
    if (argv && !rb__with_unrendered(argv, rendered) &&
        rb__exec_check_argv(argv, msg, msglen, key) < 0)
        return RB_EINVAL;
    if (check_string(cmd, rendered, "command", NULL, NULL, msg, msglen, key))
        return RB_EINVAL;
    const json_t *env = rb__with_get(with, "env");
    if (env && !rb__with_unrendered(env, rendered) &&
        rb__exec_check_env(env, env_name_ok, "a shell variable name", msg, msglen, key) < 0)
        return RB_EINVAL;
    static const char *const durations[] = {"timeout", "grace", "connect_timeout", "persist", NULL};
    for (size_t i = 0; durations[i]; i++) {
        const json_t *d = rb__with_get(with, durations[i]);
        uint64_t ms = 0; /* read below only where rb_duration_value set it */
        if (d && !rb__with_unrendered(d, rendered) && rb_duration_value(d, &ms) < 0)
            RB__WITH_FAIL(durations[i], "%s: invalid duration (e.g. \"30s\", \"5m\")", durations[i]);
        /* ssh's ConnectTimeout=0 is no limit of its own: a host that never
         * answers would hold the step to its timeout */
        if (d && !rb__with_unrendered(d, rendered) && i == 2 && ms == 0)
            RB__WITH_FAIL("connect_timeout", "connect_timeout must be more than 0s");
        /* a limit of 0s would end every attempt at once; no limit is no timeout: */
        if (d && !rb__with_unrendered(d, rendered) && i == 0 && ms == 0)
            RB__WITH_FAIL("timeout", "timeout must be more than 0s (leave it out for no limit)");
    }
    return 0;
}

/* ---------- the runtime directory ---------- */

/* Makes dir (one level) if missing and checks that it is ours and private. */
static int private_dir(rb_action_ctx_t *ctx, const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        char m[PATH_MAX + 64];
        snprintf(m, sizeof(m), "runtime directory %s: %s", dir, strerror(errno));
        rb_action_log(ctx, "error", m);
        return -errno;
    }
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        char m[PATH_MAX + 128];
        snprintf(m, sizeof(m),
                 "runtime directory %s is not private (it must be a directory of this user, "
                 "mode 0700)", dir);
        rb_action_log(ctx, "error", m);
        return RB_EINVAL;
    }
    return 0;
}

/* $XDG_RUNTIME_DIR/runbook/ssh, else /tmp/runbook-UID/ssh. */
static int runtime_dir(rb_action_ctx_t *ctx, char *out, size_t len)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    int n = x && x[0] == '/' ? snprintf(out, len, "%s/runbook", x)
                             : snprintf(out, len, "/tmp/runbook-%u", (unsigned)geteuid());
    if (n < 0 || (size_t)n + 5 >= len)
        return RB_ETOOBIG;
    int rc = private_dir(ctx, out);
    if (rc < 0)
        return rc;
    strcat(out, "/ssh"); // NOLINT(clang-analyzer-security.insecureAPI.strcpy): room checked above (RB_ETOOBIG)
    return private_dir(ctx, out);
}

/* The first 32 hex characters of the SHA-256 of n NUL-separated strings. */
static void hash_hex(const char *const *parts, size_t n, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";
        EVP_DigestUpdate(c, p, strlen(p) + 1);
    }
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The first 32 hex characters of the SHA-256 of a file's bytes, or "absent"
 * when it cannot be read: a known_hosts file's content, not only its path,
 * decides whom a kept connection trusts. */
static void file_hash_hex(const char *path, char out[33])
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) {
        snprintf(out, 33, "absent");
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE], buf[8192];
    unsigned int mdlen = 0;
    size_t n;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(c, buf, n);
    fclose(f);
    EVP_DigestFinal_ex(c, md, &mdlen);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A known_hosts file that trusts exactly the pinned key(s), for any name:
 * it is given to this connection alone. */
static int pinned_file(rb_action_ctx_t *ctx, const char *dir, const char *keys, char **out)
{
    char h[33];
    const char *parts[] = {"pinned-v1", keys};
    hash_hex(parts, 2, h);
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/known_hosts-%s", dir, h) < 0)
        return RB_ENOMEM;
    if (access(path, R_OK) == 0) {
        *out = path;
        return 0;
    }
    char r[9];
    unsigned rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) < 0)
        rnd = (unsigned)getpid();
    snprintf(r, sizeof(r), "%08x", rnd);
    if (asprintf(&tmp, "%s.%s", path, r) < 0) {
        free(path);
        return RB_ENOMEM;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f ? 0 : -errno;
    if (f) {
        for (const char *s = keys; *s;) {
            const char *eol = strchrnul(s, '\n');
            const char *p = s;
            while (p < eol && (*p == ' ' || *p == '\t'))
                p++;
            size_t n = (size_t)(eol - p);
            while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
                n--;
            if (n)
                fprintf(f, "* %.*s\n", (int)n, p);
            s = *eol ? eol + 1 : eol;
        }
        if (fclose(f) != 0)
            rc = -errno;
        if (rc == 0 && rename(tmp, path) < 0)
            rc = -errno;
    } else if (fd >= 0) {
        close(fd);
    }
    if (rc < 0) {
        unlink(tmp);
        char m[PATH_MAX + 64];
        snprintf(m, sizeof(m), "cannot write the pinned host key to %s: %s", path, rb_strerror(rc));
        rb_action_log(ctx, "error", m);
        free(path);
        free(tmp);
        return rc;
    }
    free(tmp);
    *out = path;
    return 0;
}

/* ---------- building the command line ---------- */

typedef struct strv {
    char **v;
    size_t n, cap;
    int failed;
} strv_t;

static void sv_add(strv_t *s, char *str) /* takes str */
{
    if (!str || s->failed) {
        free(str);
        s->failed = 1;
        return;
    }
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            free(str);
            s->failed = 1;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

static void sv_opt(strv_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sv_opt(strv_t *s, const char *fmt, ...)
{
    char *p = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&p, fmt, ap) < 0)
        p = NULL;
    va_end(ap);
    sv_add(s, strdup("-o"));
    sv_add(s, p);
}

static void sv_free(strv_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* ssh expands %-tokens in file options: a literal % is written %%. */
static char *pct_escape(const char *s)
{
    size_t n = strlen(s), k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '%';
    char *o = malloc(n + k + 1), *q = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i <= n; i++) {
        *q++ = s[i];
        if (s[i] == '%')
            *q++ = '%';
    }
    return o;
}

/* A path of the runbook's: relative to its folder; ~ is left to ssh. */
static char *file_path(rb_action_ctx_t *ctx, const char *p)
{
    char *o = NULL;
    if (p[0] == '/' || p[0] == '~')
        return pct_escape(p);
    if (asprintf(&o, "%s/%s", rb_action_base_dir(ctx), p) < 0)
        return NULL;
    char *e = pct_escape(o);
    free(o);
    return e;
}

static uint64_t duration_or(const json_t *with, const char *k, uint64_t dflt)
{
    uint64_t ms;
    const json_t *v = rb__with_get(with, k);
    return v && rb_duration_value(v, &ms) == 0 ? ms : dflt;
}

/* The client's environment: what it needs to find its files and the agent. */
static int ssh_env(exec_spec_t *sp)
{
    const char *vars[] = {"HOME", "SSH_AUTH_SOCK"};
    sp->envp = calloc(5, sizeof(char *));
    if (!sp->envp)
        return RB_ENOMEM;
    size_t n = 0;
    if (!(sp->envp[n++] = strdup("PATH=" SSH_PATH_DEFAULT)) ||
        !(sp->envp[n++] = strdup("LANG=C.UTF-8")))
        return RB_ENOMEM;
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(vars[i]);
        if (!v)
            continue;
        if (asprintf(&sp->envp[n], "%s=%s", vars[i], v) < 0) {
            sp->envp[n] = NULL;
            return RB_ENOMEM;
        }
        n++;
    }
    return 0;
}

int rb__ssh_build(rb_action_ctx_t *ctx, const json_t *with, exec_spec_t *sp, char **host_name,
                  char *nonce)
{
    char msg[256], dir[PATH_MAX];
    const char *key = NULL;
    memset(sp, 0, sizeof(*sp));
    *host_name = NULL;
    int rc = rb__ssh_check(with, 1, msg, sizeof(msg), &key);
    if (rc < 0) {
        rb_action_log(ctx, "error", msg);
        return rc;
    }
    if ((rc = runtime_dir(ctx, dir, sizeof(dir))) < 0)
        return rc;

    const json_t *h = rb__with_get(with, "host");
    const char *address, *name;
    if (json_is_object(h)) {
        const json_t *a = rb__with_get(h, "address"), *nm = rb__with_get(h, "name");
        address = json_string_value(a ? a : nm);
        name = json_string_value(nm ? nm : a);
    } else {
        address = name = json_string_value(h);
    }
    const json_t *uj = host_field(with, "user", "user"), *pj = host_field(with, "port", "port");
    const json_t *ij = host_field(with, "identity", "identity");
    const json_t *kj = host_field(with, "host_key", "host_key");
    const json_t *khj = rb__with_get(with, "known_hosts"), *jj = rb__with_get(with, "jump");
    const json_t *cj = rb__with_get(with, "host_key_checking");
    const char *user = json_string_value(uj), *jump = json_string_value(jj);
    const char *checking = cj ? json_string_value(cj) : "strict";
    int port = 0;
    if (pj)
        rb__with_port(pj, &port);
    char ports[8] = "";
    if (port)
        snprintf(ports, sizeof(ports), "%d", port);
    uint64_t connect_ms = duration_or(with, "connect_timeout", SSH_DEFAULT_CONNECT_MS);
    uint64_t persist_ms = duration_or(with, "persist", SSH_DEFAULT_PERSIST_MS);
    sp->grace_ms = duration_or(with, "grace", SSH_DEFAULT_GRACE_MS);
    sp->soft_ms = sp->grace_ms + connect_ms + SSH_STOP_SLACK_MS;
    sp->stdin_hold = 1;
    const json_t *tj = rb__with_get(with, "timeout");
    if (tj) {
        sp->limit_ms = duration_or(with, "timeout", 0);
        char b[32];
        if (!(sp->limit_text = strdup(rb_duration_format(sp->limit_ms, b, sizeof(b)))))
            goto nomem;
    }

    strv_t a = {0};
    char *identity = ij ? file_path(ctx, json_string_value(ij)) : NULL;
    char *known = khj ? file_path(ctx, json_string_value(khj)) : NULL;
    char *pinned = NULL;
    if ((ij && !identity) || (khj && !known))
        goto nomem_a;
    if (kj && (rc = pinned_file(ctx, dir, json_string_value(kj), &pinned)) < 0)
        goto fail_a;

    sv_add(&a, strdup("ssh"));
    sv_add(&a, strdup("-T"));
    sv_add(&a, strdup("-x"));
    sv_add(&a, strdup("-a"));
    sv_opt(&a, "BatchMode=yes");
    sv_opt(&a, "StrictHostKeyChecking=%s", kj || strcmp(checking, "accept-new") ? "yes" : "accept-new");
    sv_opt(&a, "ConnectTimeout=%llu", (unsigned long long)((connect_ms + 999) / 1000));
    sv_opt(&a, "ServerAliveInterval=15");
    sv_opt(&a, "ServerAliveCountMax=3");
    sv_opt(&a, "LogLevel=ERROR");
    sv_opt(&a, "SendEnv=-*");
    sv_opt(&a, "RequestTTY=no");
    sv_opt(&a, "PermitLocalCommand=no");
    if (pinned) {
        sv_opt(&a, "UserKnownHostsFile=%s", pinned);
        sv_opt(&a, "GlobalKnownHostsFile=/dev/null");
        sv_opt(&a, "CheckHostIP=no");
        sv_opt(&a, "UpdateHostKeys=no");
    } else if (known) {
        sv_opt(&a, "UserKnownHostsFile=%s", known);
    }
    if (identity) {
        sv_add(&a, strdup("-i"));
        sv_add(&a, strdup(identity));
        sv_opt(&a, "IdentitiesOnly=yes");
    }
    if (persist_ms) {
        /* Everything that decides whom the connection trusts names its socket. */
        char hx[33], kh[33], kh_user[33], kh_global[33];
        /* Without a known_hosts of its own, ssh reads the user's and the
         * system's: their content names the socket too, so an edited file
         * is never bypassed by a connection made under the old one. */
        char *user_kh = NULL;
        const char *home = getenv("HOME");
        if (!known && !pinned && home && asprintf(&user_kh, "%s/.ssh/known_hosts", home) < 0)
            user_kh = NULL;
        file_hash_hex(known, kh);
        file_hash_hex(user_kh, kh_user);
        file_hash_hex(known || pinned ? NULL : "/etc/ssh/ssh_known_hosts", kh_global);
        free(user_kh);
        const char *parts[] = {"v2", address, ports, user, identity, known, kh, kh_user,
                               kh_global, pinned, jump, checking};
        hash_hex(parts, sizeof(parts) / sizeof(parts[0]), hx);
        if (strlen(dir) + 1 + strlen(hx) > SSH_SOCK_MAX) {
            char m[PATH_MAX + 128];
            snprintf(m, sizeof(m), "runtime directory %s: path too long for a control socket "
                                   "(set XDG_RUNTIME_DIR to a shorter directory)", dir);
            rb_action_log(ctx, "error", m);
            rc = RB_ETOOBIG;
            goto fail_a;
        }
        char *sock = NULL, *esc = NULL;
        if (asprintf(&sock, "%s/%s", dir, hx) < 0)
            goto nomem_a;
        esc = pct_escape(sock);
        free(sock);
        if (!esc)
            goto nomem_a;
        sv_opt(&a, "ControlMaster=auto");
        sv_opt(&a, "ControlPath=%s", esc);
        sv_opt(&a, "ControlPersist=%llu", (unsigned long long)((persist_ms + 999) / 1000));
        free(esc);
    } else {
        sv_opt(&a, "ControlMaster=no");
        sv_opt(&a, "ControlPath=none");
    }
    if (user) {
        sv_add(&a, strdup("-l"));
        sv_add(&a, strdup(user));
    }
    if (port) {
        sv_add(&a, strdup("-p"));
        sv_add(&a, strdup(ports));
    }
    if (jump) {
        sv_add(&a, strdup("-J"));
        sv_add(&a, strdup(jump));
    }
    sv_add(&a, strdup("--"));
    sv_add(&a, strdup(address));

    /* The remote command: argv, or /bin/sh -c LINE; env as KEY=VALUE words. */
    strv_t cmd = {0}, names = {0}, values = {0};
    const json_t *argv = rb__with_get(with, "argv"), *line = rb__with_get(with, "command");
    if (argv) {
        size_t i;
        const json_t *v;
        json_array_foreach(argv, i, v)
            sv_add(&cmd, rb__exec_scalar_dup(v));
    } else {
        sv_add(&cmd, strdup("/bin/sh"));
        sv_add(&cmd, strdup("-c"));
        sv_add(&cmd, strdup(json_string_value(line)));
    }
    const json_t *ej = rb__with_get(with, "env");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)ej, k, v) {
        sv_add(&names, strdup(k));
        sv_add(&values, rb__exec_scalar_dup(v));
    }
    unsigned char rnd[SSH_NONCE_LEN / 2];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)(rand() ^ getpid()); // NOLINT(cert-msc30-c,cert-msc50-cpp): a marker, no secret; getrandom failed
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    char *remote = NULL;
    if (!cmd.failed)
        remote = rb__ssh_remote_line(nonce, (sp->grace_ms + 999) / 1000, cmd.v);
    if (!names.failed && !values.failed)
        sp->stdin_own = rb__ssh_env_text(nonce, names.v, values.v);
    sv_free(&cmd);
    sv_free(&names);
    sv_free(&values);
    sv_add(&a, remote);
    if (sp->stdin_own) {
        sp->stdin_data = sp->stdin_own;
        sp->stdin_len = strlen(sp->stdin_own);
        sp->has_stdin = 1;
    }
    if (sp->stdin_len > SSH_ENV_MAX) {
        snprintf(msg, sizeof(msg), "env: %zu bytes once quoted, more than %d", sp->stdin_len,
                 SSH_ENV_MAX);
        rb_action_log(ctx, "error", msg);
        rc = RB_ETOOBIG;
        goto fail_a;
    }
    if (a.failed || !sp->stdin_own || ssh_env(sp) < 0 || !(sp->cwd = strdup(rb_action_base_dir(ctx))) ||
        !(*host_name = strdup(name)))
        goto nomem_a;
    sp->argv = a.v;
    free(identity);
    free(known);
    free(pinned);
    return 0;

nomem_a:
    rc = RB_ENOMEM;
fail_a:
    sv_free(&a);
    free(identity);
    free(known);
    free(pinned);
    free(*host_name);
    *host_name = NULL;
    rb__exec_spec_free(sp);
    memset(sp, 0, sizeof(*sp));
    return rc;
nomem:
    rb__exec_spec_free(sp);
    memset(sp, 0, sizeof(*sp));
    return RB_ENOMEM;
}
