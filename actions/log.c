/*
 * log.c — the `log` action: writes one line to the run's log (and so the
 * journal) at a given level.
 *
 * Owns: nothing past the call but one short-lived timer. Must never write
 * anywhere but rb_action_log (the engine decides where lines go and masks
 * secrets there), and never report from inside start(): a runbook of many
 * log steps in a row would otherwise recurse through the engine's "step
 * done → start next step" path, one stack frame deeper per step. The result
 * is handed over from the timer's close callback on the next turn.
 *
 * The descriptor is rb_action_log_desc: rb_action_log is already the name of
 * the ABI's logging service (include/runbook/action.h).
 */
#include <runbook/action.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

typedef struct log_state {
    uv_timer_t timer;
    rb_action_ctx_t *ctx;
    json_t *result;
} log_state_t;

static int level_ok(const char *l)
{
    for (size_t i = 0; log_levels[i]; i++)
        if (strcmp(l, log_levels[i]) == 0)
            return 1;
    return 0;
}

static int log_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    const json_t *m = json_object_get(with, "message");
    const json_t *l = json_object_get(with, "level");
    if (!m || json_is_null(m)) {
        if (key)
            *key = "message";
        snprintf(msg, msglen, "log: message is required");
        return RB_EINVAL;
    }
    if (l && !json_is_null(l)) {
        const char *lv = json_string_value(l);
        if (!lv || (!strstr(lv, "{{") && !level_ok(lv))) {
            if (key)
                *key = "level";
            snprintf(msg, msglen, "log: level must be one of debug, info, warn, error");
            return RB_EINVAL;
        }
    }
    return 0;
}

static void log_close_cb(uv_handle_t *h)
{
    log_state_t *s = h->data;
    rb_action_ctx_t *ctx = s->ctx;
    json_t *r = s->result;
    free(s);
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, r);
}

static void log_timer_cb(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, log_close_cb);
}

static int log_start(rb_action_ctx_t *ctx, const json_t *with)
{
    const json_t *m = json_object_get(with, "message");
    const json_t *l = json_object_get(with, "level");
    const char *level = "info";
    if (l && !json_is_null(l)) {
        level = json_string_value(l);
        if (!level || strlen(level) != json_string_length(l) || !level_ok(level)) {
            rb_action_log(ctx, "error", "log: level must be one of debug, info, warn, error");
            return RB_EINVAL;
        }
    }
    if (!m || json_is_null(m)) {
        rb_action_log(ctx, "error", "log: message is required");
        return RB_EINVAL;
    }
    /* "{{ checks.rpc.json }}" keeps its type when rendered: log it as JSON.
     * A string is written to its length: a NUL byte in it (a command's
     * output) is kept, never an end of the line. */
    json_t *text = json_is_string(m) ? json_incref((json_t *)m) : NULL;
    if (!text) {
        char *dumped = json_dumps(m, JSON_ENCODE_ANY | JSON_COMPACT);
        text = dumped ? json_string(dumped) : NULL;
        free(dumped);
    }
    log_state_t *s = calloc(1, sizeof(*s));
    if (!text || !s) {
        json_decref(text);
        free(s);
        return RB_ENOMEM;
    }
    s->ctx = ctx;
    s->result = json_pack("{s:b,s:O,s:s}", "ok", 1, "message", text, "level", level);
    if (!s->result) {
        json_decref(text);
        free(s);
        return RB_ENOMEM;
    }
    rb_action_logn(ctx, level, json_string_value(text), json_string_length(text));
    json_decref(text);
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, log_timer_cb, 0, 0);
    rb_action_set_data(ctx, s);
    return 0;
}

static const rb_action_param_t log_params[] = {
    {"message", RB_PARAM_STRING, 1, NULL, "The line to write."},
    {"level", RB_PARAM_STRING, 0, "\"info\"", "debug, info, warn or error."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_log_desc = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "log",
    .summary = "Write a line to the run's log and journal",
    .flags = RB_ACTION_READ_ONLY,
    .params = log_params,
    .validate = log_validate,
    .start = log_start,
    .cancel = NULL, /* finishes on the next turn of the loop */
};
