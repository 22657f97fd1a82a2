/*
 * action.c — the registry of action descriptors and the per-start context
 * (the engine's half of include/runbook/action.h).
 *
 * Owns: the list of built-in descriptors, the registry (built-ins + the
 * descriptors engine/host/plugin.c registers after checking them), and the
 * rb_action_ctx_t lifetime.
 * It never knows what an action does; it only enforces the ABI's "done
 * exactly once" contract.
 */
#include "action_host.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const rb_action_t rb_action_exec;
extern const rb_action_t rb_action_sleep;
extern const rb_action_t rb_action_log_desc;
extern const rb_action_t rb_action_runbook;
extern const rb_action_t rb_action_fs;
extern const rb_action_t rb_action_http;
extern const rb_action_t rb_action_tcp;
extern const rb_action_t rb_action_notify;
extern const rb_action_t rb_action_ssh;

static const rb_action_t *const builtins[] = {
    &rb_action_exec,
    &rb_action_sleep,
    &rb_action_log_desc,
    &rb_action_runbook,
    &rb_action_fs,
    &rb_action_http,
    &rb_action_tcp,
    &rb_action_notify,
    &rb_action_ssh,
    NULL,
};

#define RB_DEFAULT_OUTPUT_CAP (64 * 1024)

struct rb_action_ctx {
    uv_loop_t *loop;
    const rb_action_t *action;
    char *base_dir;
    size_t cap;
    rb_action_done_cb done;
    void *arg;
    rb_action_log_cb log;
    void *log_arg;
    const rb_subrun_host_t *subrun;
    void *data;
    json_t *last_error; /* the last line logged at level error: why a start failed */
    json_t *run_view;   /* rb_action_run_view(): run, checks, steps, event */
    int started;
    int finished;
    int cancelled;
};

/* Built-ins followed by the descriptors of loaded plugins (engine/host/plugin.c),
 * NULL-terminated; NULL while no plugin is registered. Changed only at
 * start-up, before any loop runs. */
static const rb_action_t **registry;
static size_t nregistry;

const rb_action_t *const *rb__action_builtins(void)
{
    return builtins;
}

const rb_action_t *const *rb__action_list(void)
{
    return registry ? (const rb_action_t *const *)registry : builtins;
}

const rb_action_t *rb__action_find(const char *name)
{
    const rb_action_t *const *all = rb__action_list();
    for (size_t i = 0; all[i]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

/* A field added within the ABI version is there only when struct_size
 * covers it (docs/plugins.md, Versioning). */
#define HAS_FIELD(a, f) ((a)->struct_size >= offsetof(rb_action_t, f) + sizeof((a)->f))

int (*rb__action_validate_all(const rb_action_t *a))(const json_t *, rb_action_report_fn, void *)
{
    return a && HAS_FIELD(a, validate_all) ? a->validate_all : NULL;
}

json_t *(*rb__action_preview(const rb_action_t *a))(const json_t *, const json_t *, const char *)
{
    return a && HAS_FIELD(a, preview) ? a->preview : NULL;
}

int rb__action_register(const rb_action_t *a)
{
    if (!registry) {
        size_t n = sizeof(builtins) / sizeof(builtins[0]) - 1;
        if (!(registry = malloc((n + 1) * sizeof(*registry))))
            return RB_ENOMEM;
        memcpy(registry, builtins, (n + 1) * sizeof(*registry));
        nregistry = n;
    }
    const rb_action_t **r = realloc(registry, (nregistry + 2) * sizeof(*registry));
    if (!r)
        return RB_ENOMEM;
    registry = r;
    registry[nregistry++] = a;
    registry[nregistry] = NULL;
    return 0;
}

void rb__action_unregister(const rb_action_t *a)
{
    for (size_t i = 0; registry && registry[i]; i++) {
        if (registry[i] != a)
            continue;
        memmove(&registry[i], &registry[i + 1], (nregistry - i) * sizeof(*registry));
        nregistry--;
        break;
    }
    if (registry && nregistry == sizeof(builtins) / sizeof(builtins[0]) - 1) {
        free(registry); /* built-ins only again */
        registry = NULL;
        nregistry = 0;
    }
}

int rb__edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *rb__action_suggest(const char *name)
{
    const char *best = NULL;
    int best_d = 3;
    const rb_action_t *const *all = rb__action_list();
    for (size_t i = 0; all[i]; i++) {
        int d = rb__edit_distance(name, all[i]->name);
        if (d < best_d) {
            best_d = d;
            best = all[i]->name;
        }
    }
    return best;
}

rb_action_ctx_t *rb__action_ctx_new(uv_loop_t *loop, const rb_action_t *a, const char *base_dir,
                                    size_t cap, rb_action_done_cb done, void *arg)
{
    rb_action_ctx_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->action = a;
    c->base_dir = strdup(base_dir ? base_dir : ".");
    c->cap = cap ? cap : RB_DEFAULT_OUTPUT_CAP;
    c->done = done;
    c->arg = arg;
    if (!c->base_dir) {
        free(c);
        return NULL;
    }
    return c;
}

void rb__action_ctx_free(rb_action_ctx_t *ctx)
{
    if (!ctx)
        return;
    json_decref(ctx->last_error);
    json_decref(ctx->run_view);
    free(ctx->base_dir);
    free(ctx);
}

int rb__action_start(rb_action_ctx_t *ctx, const json_t *with)
{
    ctx->started = 1;
    ctx->finished = 0;
    ctx->cancelled = 0;
    int rc = ctx->action->start(ctx, with);
    if (rc < 0)
        ctx->started = 0;
    return rc;
}

json_t *rb__action_run_view_of(const json_t *expr_ctx)
{
    static const char *const keep[] = {"run", "checks", "steps", "event", "failed"};
    json_t *v = json_object();
    if (!v)
        return NULL;
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *x = json_object_get(expr_ctx, keep[i]);
        if (x && json_object_set(v, keep[i], x) < 0) {
            json_decref(v);
            return NULL;
        }
    }
    return v;
}

int rb__action_ctx_set_run_view(rb_action_ctx_t *ctx, const json_t *expr_ctx)
{
    json_decref(ctx->run_view);
    ctx->run_view = NULL;
    if (!json_is_object(expr_ctx))
        return 0;
    ctx->run_view = rb__action_run_view_of(expr_ctx);
    return ctx->run_view ? 0 : RB_ENOMEM;
}

const json_t *rb_action_run_view(rb_action_ctx_t *ctx)
{
    return ctx->run_view;
}

const json_t *rb__action_last_error(const rb_action_ctx_t *ctx)
{
    return ctx->last_error;
}

void rb__action_cancel(rb_action_ctx_t *ctx)
{
    if (!ctx->started || ctx->finished || ctx->cancelled)
        return;
    ctx->cancelled = 1;
    if (ctx->action->cancel)
        ctx->action->cancel(ctx);
}

int rb__action_cancelled(const rb_action_ctx_t *ctx)
{
    return ctx->cancelled;
}

void rb__result_set_outcome(json_t *res, const char *word)
{
    json_t *st = json_object_get(res, "status");
    if (!st || json_is_null(st) || json_is_string(st)) {
        json_object_set_new(res, "status", json_string(word));
        json_object_del(res, "outcome");
    } else {
        json_object_set_new(res, "outcome", json_string(word));
    }
}

json_t *rb__result_new(const rb_action_t *a, const char *word, const char *msg)
{
    json_t *r = json_pack("{s:b}", "ok", !strcmp(word, "ok"));
    if (!r)
        return NULL;
    if (a && (a->flags & RB_ACTION_HTTP_STATUS)) {
        json_object_set_new(r, "status", json_integer(0));
        json_object_set_new(r, "outcome", json_string(word));
    } else {
        json_object_set_new(r, "status", json_string(word));
    }
    if (msg)
        json_object_set_new(r, "error", json_string(msg));
    return r;
}

const char *rb__result_outcome(const json_t *res)
{
    const char *o = json_string_value(json_object_get(res, "outcome"));
    if (!o)
        o = json_string_value(json_object_get(res, "status"));
    return o ? o : (json_is_true(json_object_get(res, "ok")) ? "ok" : "failed");
}

uv_loop_t *rb_action_loop(rb_action_ctx_t *ctx) { return ctx->loop; }
void rb_action_set_data(rb_action_ctx_t *ctx, void *data) { ctx->data = data; }
void *rb_action_data(rb_action_ctx_t *ctx) { return ctx->data; }
const char *rb_action_base_dir(rb_action_ctx_t *ctx) { return ctx->base_dir; }
size_t rb_action_output_cap(rb_action_ctx_t *ctx) { return ctx->cap; }

void rb__action_ctx_set_subrun(rb_action_ctx_t *ctx, const rb_subrun_host_t *h) { ctx->subrun = h; }
const rb_subrun_host_t *rb__action_ctx_subrun(rb_action_ctx_t *ctx) { return ctx->subrun; }

void rb__action_ctx_set_log(rb_action_ctx_t *ctx, rb_action_log_cb cb, void *arg)
{
    ctx->log = cb;
    ctx->log_arg = arg;
}

void rb_action_logn(rb_action_ctx_t *ctx, const char *level, const char *message, size_t len)
{
    if (!message)
        message = "", len = 0;
    if (level && !strcmp(level, "error")) {
        /* start() can only return a code: its reason is the line it logged */
        json_decref(ctx->last_error);
        ctx->last_error = json_stringn(message, len);
    }
    if (ctx->log)
        ctx->log(ctx, level ? level : "info", message, len, ctx->log_arg);
    else
        fprintf(stderr, "[%s] %s: %.*s\n", ctx->action->name, level ? level : "info", (int)len,
                message);
}

void rb_action_log(rb_action_ctx_t *ctx, const char *level, const char *message)
{
    rb_action_logn(ctx, level, message, message ? strlen(message) : 0);
}

void rb_action_done(rb_action_ctx_t *ctx, json_t *result)
{
    if (ctx->finished) {
        /* A second report breaks the ABI contract; keep the first. */
        fprintf(stderr, "runbook: action %s reported twice; ignoring the second result\n",
                ctx->action->name);
        json_decref(result);
        return;
    }
    ctx->finished = 1;
    if (!result || !json_is_object(result)) {
        json_decref(result);
        result = json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "error", "error",
                           "action reported no result object");
    }
    json_t *ok = json_object_get(result, "ok");
    if (!json_is_boolean(ok))
        json_object_set_new(result, "ok", json_false());
    json_t *st = json_object_get(result, "status");
    if (!json_is_string(json_object_get(result, "outcome")) || json_is_string(st)) {
        const char *word = json_is_string(st) ? json_string_value(st)
                           : json_is_true(json_object_get(result, "ok")) ? "ok" : "failed";
        if ((ctx->action->flags & RB_ACTION_HTTP_STATUS) && !json_is_integer(st)) {
            /* an HTTP-status action that reported without a code: none came */
            json_object_set_new(result, "outcome", json_string(word));
            json_object_set_new(result, "status", json_integer(0));
        } else {
            rb__result_set_outcome(result, word);
        }
    }
    ctx->done(ctx, result, ctx->arg);
}
