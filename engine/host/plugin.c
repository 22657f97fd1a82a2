/*
 * plugin.c — the loader of external action modules (.so files exporting
 * RB_ACTION_ENTRY_SYMBOL). It opens a module, asks it for its descriptors,
 * checks each one against the ABI and hands the good ones to the registry
 * in engine/host/action.c.
 *
 * Owns: the open module handles (kept for the life of the process: a
 * compiled runbook points straight at a module's descriptors) and their
 * paths.
 *
 * Must never:
 *   - read a descriptor field before abi_version and struct_size say the
 *     descriptor has that field in the layout this engine knows;
 *   - register part of a module: a module is loaded whole or not at all, so
 *     an error leaves the registry as it was;
 *   - name an action anywhere: the core knows plugins only by descriptor.
 */
#define _GNU_SOURCE /* asprintf */
#include "plugin.h"
#include "action_host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct module {
    uv_lib_t lib;
    char *path;
    const rb_action_t **acts; /* the descriptors registered from it */
    size_t nacts;
} module_t;

static module_t *mods;
static size_t nmods;

/*
 * A module calls back into the engine through the functions of
 * include/runbook/action.h and runbook.h, which the executable exports
 * (ENABLE_EXPORTS, -rdynamic). The engine is a static library, so a
 * function the engine itself never calls would not be linked in, and a
 * module using it would be refused at load. Naming them here keeps every
 * service of the ABI in any program that can load modules.
 */
typedef void (*rb__any_fn)(void);
__attribute__((used)) static const rb__any_fn abi_services[] = {
    (rb__any_fn)rb_action_loop,     (rb__any_fn)rb_action_set_data,   (rb__any_fn)rb_action_data,
    (rb__any_fn)rb_action_base_dir, (rb__any_fn)rb_action_output_cap, (rb__any_fn)rb_action_log,
    (rb__any_fn)rb_action_done,     (rb__any_fn)rb_strerror,          (rb__any_fn)rb_duration_parse,
    (rb__any_fn)rb_duration_format, (rb__any_fn)rb_duration_value, (rb__any_fn)rb_action_run_view,
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int valid_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n > 0 && n <= 64;
}

static int check_params(const rb_action_t *a, char *err, size_t errlen)
{
    const rb_action_param_t *p = a->params;
    if (!p)
        return 0; /* an action without parameters */
    for (size_t i = 0; p[i].name; i++) {
        if (i >= RB_PLUGIN_MAX_PARAMS)
            return fail(err, errlen, RB_EINVAL,
                        "action \"%s\": more than %d parameters (is the map terminated by an "
                        "entry with name NULL?)",
                        a->name, RB_PLUGIN_MAX_PARAMS);
        if (!valid_name(p[i].name))
            return fail(err, errlen, RB_EINVAL,
                        "action \"%s\": parameter name \"%.64s\" is not [a-z0-9_]+", a->name,
                        p[i].name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(p[j].name, p[i].name))
                return fail(err, errlen, RB_EINVAL,
                            "action \"%s\": parameter \"%s\" is declared twice", a->name,
                            p[i].name);
        if (p[i].type < RB_PARAM_STRING || p[i].type > RB_PARAM_SHELL)
            return fail(err, errlen, RB_EINVAL,
                        "action \"%s\": parameter \"%s\" has unknown type %d", a->name, p[i].name,
                        (int)p[i].type);
        if (!p[i].description)
            return fail(err, errlen, RB_EINVAL,
                        "action \"%s\": parameter \"%s\" has no description (it is the "
                        "documentation: `runbook actions`)",
                        a->name, p[i].name);
        if (p[i].default_value) {
            if (p[i].required)
                return fail(err, errlen, RB_EINVAL,
                            "action \"%s\": parameter \"%s\" is required and has a default",
                            a->name, p[i].name);
            json_error_t je;
            json_t *v = json_loads(p[i].default_value, JSON_DECODE_ANY, &je);
            if (!v)
                return fail(err, errlen, RB_EINVAL,
                            "action \"%s\": the default of \"%s\" is not JSON text (%s); write "
                            "strings quoted, e.g. \"\\\"info\\\"\"",
                            a->name, p[i].name, je.text);
            json_decref(v);
        }
    }
    return 0;
}

int rb__plugin_check_action(const rb_action_t *a, char *err, size_t errlen)
{
    /* abi_version and struct_size are the first two fields in every ABI
     * version; nothing else may be read until both are known to be good. */
    if (a->abi_version != RB_ACTION_ABI_VERSION)
        return fail(err, errlen, RB_EABI, "ABI version %u, this engine speaks %d",
                    (unsigned)a->abi_version, RB_ACTION_ABI_VERSION);
    if (a->struct_size < RB_ACTION_MIN_SIZE)
        return fail(err, errlen, RB_EABI,
                    "struct_size %u is smaller than rb_action_t of ABI version %d (%zu bytes): "
                    "rebuild the module against this engine's include/runbook/action.h",
                    (unsigned)a->struct_size, RB_ACTION_ABI_VERSION, RB_ACTION_MIN_SIZE);
    if (a->struct_size > 4096)
        return fail(err, errlen, RB_EABI, "struct_size %u is not plausible (at most 4096)",
                    (unsigned)a->struct_size);
    if (!a->name || !valid_name(a->name))
        return fail(err, errlen, RB_EINVAL, "action name \"%.64s\" is not [a-z0-9_]+ (at most 64)",
                    a->name ? a->name : "(null)");
    if (!a->summary || !a->summary[0])
        return fail(err, errlen, RB_EINVAL, "action \"%s\" has no summary", a->name);
    uint32_t kind = a->flags & (RB_ACTION_SIDE_EFFECTS | RB_ACTION_READ_ONLY);
    const uint32_t known = RB_ACTION_SIDE_EFFECTS | RB_ACTION_READ_ONLY | RB_ACTION_HTTP_STATUS | RB_ACTION_SUBRUN;
    if (a->flags & ~known)
        return fail(err, errlen, RB_EINVAL, "action \"%s\" has unknown flags 0x%x", a->name,
                    (unsigned)(a->flags & ~known));
    if (kind != RB_ACTION_SIDE_EFFECTS && kind != RB_ACTION_READ_ONLY)
        return fail(err, errlen, RB_EINVAL,
                    "action \"%s\" must set exactly one of RB_ACTION_SIDE_EFFECTS and "
                    "RB_ACTION_READ_ONLY (--dry-run decides by it)",
                    a->name);
    if (!a->start)
        return fail(err, errlen, RB_EINVAL, "action \"%s\" has no start function", a->name);
    return check_params(a, err, errlen);
}

const char *rb__plugin_source(const rb_action_t *a)
{
    for (size_t i = 0; i < nmods; i++)
        for (size_t j = 0; j < mods[i].nacts; j++)
            if (mods[i].acts[j] == a)
                return mods[i].path;
    return NULL;
}

/* Who already answers to name: "built in", another module, or NULL. */
static int name_taken(const char *name, char *who, size_t wholen)
{
    const rb_action_t *a = rb__action_find(name);
    if (!a)
        return 0;
    const char *src = rb__plugin_source(a);
    if (src)
        snprintf(who, wholen, "is already provided by %s", src);
    else
        snprintf(who, wholen, "is already built in");
    return 1;
}

static void module_close(module_t *m)
{
    for (size_t j = 0; j < m->nacts; j++)
        rb__action_unregister(m->acts[j]);
    free(m->acts);
    uv_dlclose(&m->lib);
    free(m->path);
}

/* dlerror()'s text usually starts with the path already. */
static int fail_dl(char *err, size_t errlen, int rc, const char *path, const char *msg)
{
    size_t pl = strlen(path);
    if (msg && !strncmp(msg, path, pl) && msg[pl] == ':')
        return fail(err, errlen, rc, "%s", msg);
    return fail(err, errlen, rc, "%s: %s", path, msg ? msg : "cannot be loaded");
}

int rb__plugin_load(const char *path, char *err, size_t errlen)
{
    char msg[384];
    /* uv_dlopen binds lazily (RTLD_LAZY): a module calling a function the
     * engine lacks would load fine and abort the process at its first call,
     * in the middle of an incident. Opening it once with RTLD_NOW first
     * binds every symbol now (the later uv_dlopen finds it loaded), so such
     * a module is refused here with the missing symbol's name. */
    dlerror();
    void *probe = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!probe)
        return fail_dl(err, errlen, RB_EIO, path, dlerror());

    module_t m;
    memset(&m, 0, sizeof(m));
    int rc = uv_dlopen(path, &m.lib);
    dlclose(probe);
    if (rc != 0) {
        rc = fail_dl(err, errlen, RB_EIO, path, uv_dlerror(&m.lib));
        uv_dlclose(&m.lib);
        return rc;
    }
    union {
        void *p;
        rb_action_entry_fn fn;
    } entry = {NULL};
    if (uv_dlsym(&m.lib, RB_ACTION_ENTRY_SYMBOL, &entry.p) != 0 || !entry.p) {
        rc = fail(err, errlen, RB_EABI,
                  "%s: the module has no symbol %s (is it a runbook action module?)", path,
                  RB_ACTION_ENTRY_SYMBOL);
        goto out;
    }
    const rb_action_t *const *list = entry.fn();
    size_t n = 0;
    while (list && n <= RB_PLUGIN_MAX_ACTIONS && list[n])
        n++;
    if (n == 0) {
        rc = fail(err, errlen, RB_EINVAL, "%s: %s() returned no actions", path,
                  RB_ACTION_ENTRY_SYMBOL);
        goto out;
    }
    if (n > RB_PLUGIN_MAX_ACTIONS) {
        rc = fail(err, errlen, RB_EINVAL,
                  "%s: more than %d actions (is the list terminated by NULL?)", path,
                  RB_PLUGIN_MAX_ACTIONS);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = rb__plugin_check_action(list[i], msg, sizeof(msg))) < 0) {
            /* Before the checks pass, the name is not safe to read. */
            if (rc == RB_EABI && n > 1)
                rc = fail(err, errlen, rc, "%s: descriptor %zu: %s", path, i, msg);
            else
                rc = fail(err, errlen, rc, "%s: %s", path, msg);
            goto out;
        }
        if (list[i]->flags & RB_ACTION_SUBRUN) {
            /* a replay runs such an action instead of answering it from
             * the journal: only the built-in `runbook` may say so */
            rc = fail(err, errlen, RB_EINVAL, "%s: action \"%s\": RB_ACTION_SUBRUN is reserved for the built-in runbook action",
                      path, list[i]->name);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(list[j]->name, list[i]->name)) {
                rc = fail(err, errlen, RB_EINVAL, "%s: action \"%s\" is defined twice", path,
                          list[i]->name);
                goto out;
            }
        if (name_taken(list[i]->name, msg, sizeof(msg))) {
            rc = fail(err, errlen, RB_EINVAL, "%s: action \"%s\" %s", path, list[i]->name, msg);
            goto out;
        }
    }
    module_t *nm = realloc(mods, (nmods + 1) * sizeof(*mods));
    m.path = strdup(path);
    m.acts = calloc(n, sizeof(*m.acts));
    if (!nm || !m.path || !m.acts) {
        if (nm)
            mods = nm;
        rc = fail(err, errlen, RB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    mods = nm;
    for (size_t i = 0; i < n; i++) {
        if ((rc = rb__action_register(list[i])) < 0) {
            fail(err, errlen, rc, "%s: out of memory", path);
            goto out;
        }
        m.acts[m.nacts++] = list[i];
    }
    mods[nmods++] = m;
    return 0;
out:
    module_close(&m);
    return rc;
}

static int so_filter(const struct dirent *e)
{
    size_t l = strlen(e->d_name);
    return e->d_name[0] != '.' && l > 3 && !strcmp(e->d_name + l - 3, ".so");
}

int rb__plugins_load_dir(const char *dir, char *err, size_t errlen)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, so_filter, alphasort);
    if (n < 0) {
        int e = errno;
        return fail(err, errlen, -e, "%s: %s", dir, strerror(e));
    }
    size_t before = nmods;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        size_t dl = strlen(dir);
        struct stat st;
        if (rc == 0) {
            if (asprintf(&path, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
                         ents[i]->d_name) < 0) {
                path = NULL;
                rc = fail(err, errlen, RB_ENOMEM, "%s: out of memory", dir);
            } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                rc = rb__plugin_load(path, err, errlen);
            }
        }
        free(path);
        free(ents[i]);
    }
    free(ents);
    if (rc < 0) /* all or nothing: drop what this call loaded, newest first */
        while (nmods > before)
            module_close(&mods[--nmods]);
    return rc;
}

void rb__plugins_unload_all(void)
{
    while (nmods)
        module_close(&mods[--nmods]);
    free(mods);
    mods = NULL;
}
