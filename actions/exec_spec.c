/*
 * exec_spec.c — `with` of the `exec` action to what to run: the checks that
 * validate() runs at load and start() runs again on the rendered values,
 * then argv (or /bin/sh -c), the child's environment, cwd, stdin and grace,
 * and finding the program in the child's PATH.
 *
 * Owns: an exec_spec_t (exec_int.h), from rb__exec_parse to
 * rb__exec_spec_free. Touches no loop and no process: a pure function of
 * `with`, the engine's environment and the file system.
 *
 * Must never:
 *   - let a value become shell syntax: argv values are passed as they are,
 *     and only `shell` is ever given to /bin/sh;
 *   - hand the engine's environment (its tokens, DSNs) to a command that did
 *     not ask for it with inherit_env;
 *   - look a bare command name up in the engine's PATH: the child's PATH is
 *     the one the command was promised.
 */
#define _GNU_SOURCE
#include "exec_int.h"
#include "with.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The child's PATH when it does not inherit the engine's environment. */
#define EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_DEFAULT_GRACE_MS 5000

/* ---------- small helpers ---------- */

static void strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* Scalars are accepted where a string is wanted: a template that is exactly
 * one {{ expr }} keeps its value's type, so `[sleep, "{{ params.n }}"]` may
 * render to a number. (A string with a NUL byte is refused apart.) */
int rb__exec_scalar_ok(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

char *rb__exec_scalar_dup(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

static int env_name_ok(const char *k)
{
    return *k && !strchr(k, '=');
}


static char *path_join(const char *dir, const char *rel)
{
    char *p;
    if (rel[0] == '/')
        return strdup(rel);
    if (asprintf(&p, "%s/%s", dir, rel) < 0)
        return NULL;
    return p;
}

/* ---------- checking and parsing `with` ---------- */

int rb__exec_check_argv(const json_t *argv, char *msg, size_t msglen, const char **key)
{
    if (!json_is_array(argv) || json_array_size(argv) == 0)
        RB__WITH_FAIL("argv", "argv must be a non-empty list of strings");
    size_t i;
    const json_t *v;
    json_array_foreach(argv, i, v) {
        if (rb__with_has_nul(v))
            RB__WITH_FAIL("argv", "argv[%zu] contains a NUL byte: it cannot be passed to a "
                                  "command", i);
        if (!rb__exec_scalar_ok(v))
            RB__WITH_FAIL("argv", "argv[%zu] must be a string (or a number or boolean, "
                                  "passed as its text)", i);
    }
    const json_t *a0 = json_array_get(argv, 0);
    if (json_is_string(a0) && json_string_length(a0) == 0)
        RB__WITH_FAIL("argv", "argv[0] (the command) is empty");
    return 0;
}

int rb__exec_check_env(const json_t *env, int (*name_ok)(const char *), const char *what,
                       char *msg, size_t msglen, const char **key)
{
    if (!json_is_object(env))
        RB__WITH_FAIL("env", "env must be a map of names to strings");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        if (!name_ok(k))
            RB__WITH_FAIL("env", "env: \"%s\" is not %s", k, what);
        if (rb__with_has_nul(v))
            RB__WITH_FAIL("env", "env.%s contains a NUL byte: it cannot be passed to a "
                                 "command", k);
        if (!rb__exec_scalar_ok(v))
            RB__WITH_FAIL("env", "env.%s must be a string", k);
    }
    return 0;
}

/* The checks validate() runs at load time and start() runs again on the
 * rendered values; `rendered` says which (templates are only allowed before). */
int rb__exec_check(const json_t *with, int rendered, char *msg, size_t msglen, const char **key)
{
    if (!json_is_object(with))
        RB__WITH_FAIL(NULL, "exec: `with` must be an object");
    const json_t *argv = rb__with_get(with, "argv"), *shell = rb__with_get(with, "shell");
    if (argv && shell)
        RB__WITH_FAIL("shell", "give either argv or shell, not both");
    if (!argv && !shell)
        RB__WITH_FAIL("argv", "one of argv or shell is required");
    if (argv && !rb__with_unrendered(argv, rendered) &&
        rb__exec_check_argv(argv, msg, msglen, key) < 0)
        return RB_EINVAL;
    if (shell && !rb__with_unrendered(shell, rendered)) {
        if (!json_is_string(shell))
            RB__WITH_FAIL("shell", "shell must be a string");
        if (rb__with_has_nul(shell))
            RB__WITH_FAIL("shell", "shell contains a NUL byte: it cannot be passed to /bin/sh");
        if (json_string_length(shell) == 0)
            RB__WITH_FAIL("shell", "shell is empty");
    }
    const json_t *env = rb__with_get(with, "env");
    if (env && !rb__with_unrendered(env, rendered) &&
        rb__exec_check_env(env, env_name_ok, "a variable name", msg, msglen, key) < 0)
        return RB_EINVAL;
    const json_t *inh = rb__with_get(with, "inherit_env");
    if (inh && !rb__with_unrendered(inh, rendered) && !json_is_boolean(inh))
        RB__WITH_FAIL("inherit_env", "inherit_env must be true or false");
    const json_t *cwd = rb__with_get(with, "cwd");
    if (cwd && rb__with_has_nul(cwd))
        RB__WITH_FAIL("cwd", "cwd contains a NUL byte: no directory has that name");
    if (cwd && !rb__with_unrendered(cwd, rendered) &&
        (!json_is_string(cwd) || json_string_length(cwd) == 0))
        RB__WITH_FAIL("cwd", "cwd must be a non-empty string");
    const json_t *in = rb__with_get(with, "stdin");
    if (in && !json_is_string(in) && !json_is_number(in) && !json_is_boolean(in))
        RB__WITH_FAIL("stdin", "stdin must be a string");
    const json_t *grace = rb__with_get(with, "grace");
    uint64_t ms;
    if (grace && !rb__with_unrendered(grace, rendered) && rb_duration_value(grace, &ms) < 0)
        RB__WITH_FAIL("grace", "grace: invalid duration (e.g. \"5s\", \"500ms\")");
    return 0;
}


/* Builds the child's environment: explicit and minimal unless inherit_env,
 * so the engine's own secrets (tokens, DSNs) never reach a command that was
 * not asked to see them. `env` entries replace same-named ones. */
static int env_build(const json_t *env, int inherit, char ***out)
{
    size_t n_base = 3, n = 0;
    if (inherit)
        for (n_base = 0; environ && environ[n_base]; n_base++)
            ;
    char **v = calloc(n_base + (env ? json_object_size(env) : 0) + 1, sizeof(*v));
    if (!v)
        return RB_ENOMEM;

    const char *minimal[3] = {"PATH=" EXEC_DEFAULT_PATH, NULL, "LANG=C.UTF-8"};
    char *home = NULL;
    if (!inherit && getenv("HOME") && asprintf(&home, "HOME=%s", getenv("HOME")) < 0)
        home = NULL;
    minimal[1] = home;

    for (size_t i = 0; i < n_base; i++) {
        const char *e = inherit ? environ[i] : minimal[i];
        if (!e)
            continue;
        const char *eq = strchr(e, '=');
        if (!eq)
            continue;
        int overridden = 0;
        const char *k;
        const json_t *val;
        json_object_foreach((json_t *)env, k, val) {
            if (strlen(k) == (size_t)(eq - e) && strncmp(k, e, (size_t)(eq - e)) == 0)
                overridden = 1;
        }
        if (!overridden && !(v[n++] = strdup(e)))
            goto nomem;
    }
    if (env) {
        const char *k;
        const json_t *val;
        json_object_foreach((json_t *)env, k, val) {
            char *s = rb__exec_scalar_dup(val);
            int rc = s ? asprintf(&v[n], "%s=%s", k, s) : -1;
            free(s);
            if (rc < 0) {
                v[n] = NULL;
                goto nomem;
            }
            n++;
        }
    }
    free(home);
    *out = v;
    return 0;
nomem:
    free(home);
    strv_free(v);
    return RB_ENOMEM;
}

void rb__exec_spec_free(exec_spec_t *sp)
{
    strv_free(sp->argv);
    strv_free(sp->envp);
    free(sp->cwd);
    free(sp->stdin_own);
    free(sp->limit_text);
}

int rb__exec_parse(rb_action_ctx_t *ctx, const json_t *with, exec_spec_t *sp)
{
    char msg[256];
    const char *key = NULL;
    memset(sp, 0, sizeof(*sp));
    int rc = rb__exec_check(with, 1, msg, sizeof(msg), &key);
    if (rc < 0) {
        /* start() can only return a code: say what was wrong in the run log. */
        rb_action_log(ctx, "error", msg);
        return rc;
    }
    const json_t *argv = rb__with_get(with, "argv"), *shell = rb__with_get(with, "shell");
    size_t n = argv ? json_array_size(argv) : 3;
    if (!(sp->argv = calloc(n + 1, sizeof(char *))))
        return RB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (argv)
            sp->argv[i] = rb__exec_scalar_dup(json_array_get(argv, i));
        else
            sp->argv[i] = strdup(i == 0 ? "/bin/sh" : i == 1 ? "-c" : json_string_value(shell));
        if (!sp->argv[i])
            goto nomem;
    }
    rc = env_build(rb__with_get(with, "env"), json_is_true(rb__with_get(with, "inherit_env")), &sp->envp);
    if (rc < 0) {
        rb__exec_spec_free(sp);
        return rc;
    }
    const json_t *cwd = rb__with_get(with, "cwd");
    sp->cwd = cwd ? path_join(rb_action_base_dir(ctx), json_string_value(cwd))
                  : strdup(rb_action_base_dir(ctx));
    if (!sp->cwd)
        goto nomem;
    const json_t *in = rb__with_get(with, "stdin");
    if (json_is_string(in)) {
        sp->stdin_data = json_string_value(in);
        sp->stdin_len = json_string_length(in);
        sp->has_stdin = 1;
    } else if (in) {
        if (!(sp->stdin_own = rb__exec_scalar_dup(in)))
            goto nomem;
        sp->stdin_data = sp->stdin_own;
        sp->stdin_len = strlen(sp->stdin_own);
        sp->has_stdin = 1;
    }
    sp->grace_ms = EXEC_DEFAULT_GRACE_MS;
    const json_t *grace = rb__with_get(with, "grace");
    if (grace)
        rb_duration_value(grace, &sp->grace_ms);
    return 0;
nomem:
    rb__exec_spec_free(sp);
    return RB_ENOMEM;
}

/* ---------- finding the program ---------- */

/*
 * The file argv[0] names. A name with a '/' is a path, relative to cwd (the
 * child's directory, not the engine's). A bare name is looked up in the
 * child's PATH: posix_spawnp would search the engine's, which is not the
 * environment the command was promised. Returns 0 with *out allocated, or
 * -ENOENT / -EACCES as execvp would, or RB_ENOMEM.
 */
int rb__exec_resolve(const char *name, char *const *envp, const char *cwd, char **out)
{
    if (strchr(name, '/'))
        return (*out = path_join(cwd, name)) ? 0 : RB_ENOMEM;
    const char *path = EXEC_DEFAULT_PATH;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) {
            path = *e + 5; /* the first, as getenv() in the child would see */
            break;
        }
    int err = -ENOENT;
    for (const char *p = path;;) {
        const char *colon = strchrnul(p, ':');
        char *cand = NULL;
        int dl = (int)(colon - p);
        /* An empty entry means the current directory (POSIX), here cwd. */
        int rc = dl == 0 ? asprintf(&cand, "%s/%s", cwd, name)
                 : p[0] == '/' ? asprintf(&cand, "%.*s/%s", dl, p, name)
                               : asprintf(&cand, "%s/%.*s/%s", cwd, dl, p, name);
        if (rc < 0)
            return RB_ENOMEM;
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (faccessat(AT_FDCWD, cand, X_OK, AT_EACCESS) == 0) {
                *out = cand;
                return 0;
            }
            err = -EACCES; /* keep looking; report this only if nothing runs */
        }
        free(cand);
        if (!*colon)
            return err;
        p = colon + 1;
    }
}
