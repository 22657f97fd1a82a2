/*
 * hello.c — an external action module, the worked example of
 * docs/plugins.md. It is built as its own shared object (rb_hello.so, in
 * the build's plugins/ folder), never into the engine, and uses nothing but
 * include/runbook/action.h: what it does, any module can do.
 *
 * The `hello` action greets someone after an optional delay:
 *
 *     - name: greet
 *       action: hello
 *       with: { name: "{{ params.instance }}", delay: 2s }
 *
 * Owns: one uv_timer_t per start, freed in its close callback, which is
 * where the result is handed over (so a loop that ran only this action ends
 * with no handle of ours). Must never block the loop or report twice.
 */
#include <runbook/action.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hello {
    uv_timer_t timer;
    rb_action_ctx_t *ctx;
    char message[256];
    uint64_t t0;
    int cancelled;
    int closing;
} hello_t;

/* A template ("{{ params.delay }}") is checked once rendered, in start(). */
static int is_template(const json_t *v)
{
    return json_is_string(v) && strstr(json_string_value(v), "{{") != NULL;
}

static int delay_ms(const json_t *v, uint64_t *ms)
{
    if (!v) {
        *ms = 0;
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 3600) {
        *ms = (uint64_t)json_integer_value(v) * 1000u;
        return 0;
    }
    if (json_is_string(v) && rb_duration_parse(json_string_value(v), ms) == 0 && *ms <= 3600000u)
        return 0;
    return RB_EINVAL;
}

/* Load time: the engine has already checked types and unknown keys against
 * the parameter map below; this is for what the map cannot say. */
static int hello_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    const json_t *d = json_object_get(with, "delay");
    uint64_t ms;
    if (d && !is_template(d) && delay_ms(d, &ms) < 0) {
        *key = "delay";
        snprintf(msg, msglen, "delay must be a duration of at most 1h");
        return RB_EINVAL;
    }
    return 0;
}

static void hello_close_cb(uv_handle_t *h)
{
    hello_t *s = h->data;
    rb_action_ctx_t *ctx = s->ctx;
    json_t *r;
    if (s->cancelled)
        r = json_pack("{s:b,s:s}", "ok", 0, "status", "cancelled");
    else
        r = json_pack("{s:b,s:s,s:I}", "ok", 1, "message", s->message, "waited_ms",
                      (json_int_t)((uv_hrtime() - s->t0) / 1000000u));
    if (!s->cancelled)
        rb_action_log(ctx, "info", s->message);
    free(s);
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, r); /* exactly once, and last: ctx may be gone after it */
}

static void hello_timer_cb(uv_timer_t *t)
{
    hello_t *s = t->data;
    s->closing = 1;
    uv_close((uv_handle_t *)t, hello_close_cb);
}

/* Run time, on the loop thread, with every template rendered. Returning an
 * error means rb_action_done() will not be called. */
static int hello_start(rb_action_ctx_t *ctx, const json_t *with)
{
    uint64_t ms;
    const json_t *n = json_object_get(with, "name");
    const char *name = json_is_string(n) ? json_string_value(n) : "world";
    if (delay_ms(json_object_get(with, "delay"), &ms) < 0) {
        rb_action_log(ctx, "error", "hello: delay must be a duration of at most 1h");
        return RB_EINVAL;
    }
    hello_t *s = calloc(1, sizeof(*s));
    if (!s)
        return RB_ENOMEM;
    s->ctx = ctx;
    s->t0 = uv_hrtime();
    snprintf(s->message, sizeof(s->message), "hello, %s", name);
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    /* Even with no delay, report from a callback, never from start(). The
     * loop's clock is the time its iteration began: brought up to now, so
     * that the delay is not cut short by however long ago that was. */
    uv_update_time(rb_action_loop(ctx));
    uv_timer_start(&s->timer, hello_timer_cb, ms, 0);
    rb_action_set_data(ctx, s);
    return 0;
}

/* A timeout or an abort: stop waiting; rb_action_done() still comes, once. */
static void hello_cancel(rb_action_ctx_t *ctx)
{
    hello_t *s = rb_action_data(ctx);
    if (!s || s->closing)
        return;
    s->cancelled = 1;
    s->closing = 1;
    uv_close((uv_handle_t *)&s->timer, hello_close_cb);
}

static const rb_action_param_t hello_params[] = {
    {"name", RB_PARAM_STRING, 0, "\"world\"", "Who to greet."},
    {"delay", RB_PARAM_DURATION, 0, "\"0s\"", "How long to wait before answering (at most 1h)."},
    {NULL, 0, 0, NULL, NULL},
};

static const rb_action_t hello_action = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "hello",
    .summary = "Greet someone after an optional delay (an example module)",
    .flags = RB_ACTION_READ_ONLY,
    .params = hello_params,
    .validate = hello_validate,
    .start = hello_start,
    .cancel = hello_cancel,
};

/* The one symbol the engine looks up: a NULL-terminated list. */
__attribute__((visibility("default"))) const rb_action_t *const *rb_action_module_entry(void)
{
    static const rb_action_t *const actions[] = {&hello_action, NULL};
    return actions;
}
