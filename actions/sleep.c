/*
 * sleep.c — the `sleep` action: waits for a duration, on a uv timer.
 *
 * Owns: one uv_timer_t per start, freed in its close callback. Must never
 * hold a thread or block the loop: tens of thousands of runs may be sleeping
 * at once (retry delays, waits for a service to settle), and each costs one
 * timer. The result is handed over from the close callback, so the loop is
 * left with no handle of ours.
 */
#include <runbook/action.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sleep_state {
    uv_timer_t timer;
    rb_action_ctx_t *ctx;
    uint64_t t0; /* uv_hrtime() at start, ns */
    uint64_t slept_ms;
    int cancelled;
    int closing;
} sleep_state_t;


static int sleep_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    const json_t *d = json_object_get(with, "duration");
    uint64_t ms;
    if (key)
        *key = "duration";
    if (!d || json_is_null(d)) {
        snprintf(msg, msglen, "sleep: duration is required");
        return RB_EINVAL;
    }
    /* A template is checked once rendered, in start(). */
    if (json_is_string(d) && strstr(json_string_value(d), "{{"))
        return 0;
    if (rb_duration_value(d, &ms) < 0) {
        snprintf(msg, msglen, "sleep: invalid duration (e.g. \"30s\", \"500ms\", \"2m\")");
        return RB_EINVAL;
    }
    return 0;
}

static void sleep_close_cb(uv_handle_t *h)
{
    sleep_state_t *s = h->data;
    rb_action_ctx_t *ctx = s->ctx;
    json_t *r = json_pack("{s:b,s:s,s:I}", "ok", !s->cancelled, "status",
                          s->cancelled ? "cancelled" : "ok", "slept_ms", (json_int_t)s->slept_ms);
    free(s);
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, r); /* last: the engine may free ctx in there */
}

static void sleep_finish(sleep_state_t *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->slept_ms = (uv_hrtime() - s->t0) / 1000000u;
    uv_close((uv_handle_t *)&s->timer, sleep_close_cb);
}

static void sleep_timer_cb(uv_timer_t *t)
{
    sleep_finish(t->data);
}

static int sleep_start(rb_action_ctx_t *ctx, const json_t *with)
{
    uint64_t ms;
    const json_t *d = json_object_get(with, "duration");
    if (!d || rb_duration_value(d, &ms) < 0) {
        /* the line is the step's error: say what was given */
        char *got = d ? json_dumps(d, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "sleep: duration %.80s is not a duration (e.g. \"30s\", \"500ms\", \"2m\", "
                 "or a number of seconds from 0)",
                 got ? got : "(none)");
        free(got);
        rb_action_log(ctx, "error", msg);
        return RB_EINVAL;
    }
    sleep_state_t *s = calloc(1, sizeof(*s));
    if (!s)
        return RB_ENOMEM;
    s->ctx = ctx;
    s->t0 = uv_hrtime();
    /* The loop's clock is the time of its last turn; a step started after a
     * long callback would otherwise sleep that much less than asked. */
    uv_update_time(rb_action_loop(ctx));
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, sleep_timer_cb, ms, 0);
    rb_action_set_data(ctx, s);
    return 0;
}

static void sleep_cancel(rb_action_ctx_t *ctx)
{
    sleep_state_t *s = rb_action_data(ctx);
    if (!s || s->closing)
        return;
    s->cancelled = 1;
    uv_timer_stop(&s->timer);
    sleep_finish(s);
}

static const rb_action_param_t sleep_params[] = {
    {"duration", RB_PARAM_DURATION, 1, NULL, "How long to wait (\"30s\", \"500ms\", \"2m\")."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_sleep = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "sleep",
    .summary = "Wait for a duration",
    .flags = RB_ACTION_READ_ONLY,
    .params = sleep_params,
    .validate = sleep_validate,
    .start = sleep_start,
    .cancel = sleep_cancel,
};
