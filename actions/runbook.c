/*
 * runbook.c — the `runbook` action: another runbook run as one step of this
 * one. The child run has its own journal entries, linked to the parent run
 * and step; the step's result is the child's outcome.
 *
 * Owns nothing but the call: the engine lends the service through the
 * action context (rb__action_ctx_subrun); this file never knows a run.
 */
#include "host/action_host.h"

#include <stdio.h>
#include <string.h>

static const rb_action_param_t params[] = {
    {"name", RB_PARAM_STRING, 1, NULL, "the `name:` of the runbook to run (looked up in this runbook's folder)"},
    {"params", RB_PARAM_MAP, 0, "{}", "its parameters (values may be templates)"},
    {NULL, 0, 0, NULL, NULL},
};

static int rb_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    const json_t *n = json_object_get(with, "name");
    if (json_is_string(n) && strlen(json_string_value(n)) != json_string_length(n)) {
        snprintf(msg, msglen, "name contains a NUL byte");
        *key = "name";
        return RB_EINVAL;
    }
    if (json_is_string(n) && !strstr(json_string_value(n), "{{")) {
        for (const char *p = json_string_value(n); *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
                snprintf(msg, msglen, "\"%s\" is not a runbook name ([a-z0-9-]+)", json_string_value(n));
                *key = "name";
                return RB_EINVAL;
            }
    }
    return 0;
}

static int rb_start(rb_action_ctx_t *ctx, const json_t *with)
{
    const rb_subrun_host_t *h = rb__action_ctx_subrun(ctx);
    const json_t *nv = json_object_get(with, "name");
    const char *name = json_string_value(nv);
    if (!name)
        return RB_EINVAL;
    char err[256] = "";
    if (strlen(name) != json_string_length(nv)) { /* it would name another runbook */
        rb_action_done(ctx, json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "error", "error",
                                      "name contains a NUL byte"));
        return 0;
    }
    if (!h) {
        rb_action_done(ctx, json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "error", "error",
                                      "sub-runbooks can only run inside a run"));
        return 0;
    }
    json_t *p = json_object_get(with, "params");
    int rc = h->start(h->arg, ctx, name, json_is_object(p) ? p : NULL, err, sizeof(err));
    if (rc < 0) {
        rb_action_done(ctx, json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "error", "error",
                                      err[0] ? err : rb_strerror(rc)));
        return 0;
    }
    return 0;
}

static void rb_cancel(rb_action_ctx_t *ctx)
{
    const rb_subrun_host_t *h = rb__action_ctx_subrun(ctx);
    if (h)
        h->cancel(h->arg, ctx);
}

const rb_action_t rb_action_runbook = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "runbook",
    .summary = "run another runbook as one step (its own journal entries, linked to this run)",
    .flags = RB_ACTION_SIDE_EFFECTS | RB_ACTION_SUBRUN,
    .params = params,
    .validate = rb_validate,
    .start = rb_start,
    .cancel = rb_cancel,
};
