/*
 * fs.c — the `fs` action: a read-only look at the filesystem. `check: free`
 * measures the free space of the filesystem holding `path` (statfs),
 * `check: exists` says whether `path` exists, `check: age` how long ago it
 * was last modified (stat).
 *
 * Owns: one uv_fs_t per start (and, only after a cancel that could not stop
 * the request, one uv_timer_t), freed when both are done with.
 *
 * Must never:
 *   - call a blocking filesystem function on the loop thread: a stat on a
 *     hung NFS mount blocks for minutes. Every look goes through uv_fs_*
 *     with a callback, so it runs on libuv's threadpool;
 *   - write, create or delete anything: the action is RB_ACTION_READ_ONLY
 *     and runs in --dry-run;
 *   - hold a step past its timeout: a request already running on the
 *     threadpool cannot be stopped, so cancel() reports "cancelled" at once
 *     (from a timer, never from inside cancel()) and the request, when it
 *     finally returns, only frees its memory.
 */
#include <runbook/action.h>

#include "with.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { FS_FREE, FS_EXISTS, FS_AGE };
static const char *const fs_checks[] = {"free", "exists", "age", NULL};

typedef struct fs_state {
    uv_fs_t req;
    uv_timer_t timer;     /* reports a cancel the request did not honour */
    rb_action_ctx_t *ctx; /* NULL once the result was reported */
    char *path;           /* as resolved against the runbook's folder */
    int check;
    int has_min_free;
    double min_free;
    int has_max_age;
    uint64_t max_age_ms;
    int req_busy;   /* the uv_fs_t has not called back yet */
    int timer_open; /* the timer is not closed yet */
    int cancelled;
} fs_state_t;

static int check_index(const char *s)
{
    for (int i = 0; fs_checks[i]; i++)
        if (!strcmp(s, fs_checks[i]))
            return i;
    return -1;
}

/* Checks `with` once its templates are rendered (start) or as written
 * (validate: a template stands for whatever it will render to). */
static int fs_check_with(const json_t *with, int rendered, char *msg, size_t msglen,
                         const char **key)
{
    const json_t *path = json_object_get(with, "path");
    const json_t *check = json_object_get(with, "check");
    const json_t *min_free = json_object_get(with, "min_free");
    const json_t *max_age = json_object_get(with, "max_age");
    int ci = FS_EXISTS; /* the default */
    uint64_t ms;

    *key = "path";
    if (!json_is_string(path)) {
        snprintf(msg, msglen, "path is required (a string)");
        return RB_EINVAL;
    }
    if (rb__with_has_nul(path)) {
        snprintf(msg, msglen, "path contains a NUL byte: no file has that name");
        return RB_EINVAL;
    }
    if (rendered && !json_string_value(path)[0]) {
        snprintf(msg, msglen, "path is empty");
        return RB_EINVAL;
    }
    *key = "check";
    if (check && !rb__with_unrendered(check, rendered)) {
        if (!json_is_string(check) || rb__with_has_nul(check) ||
            (ci = check_index(json_string_value(check))) < 0) {
            snprintf(msg, msglen, "check must be free, exists or age");
            return RB_EINVAL;
        }
    } else if (check) {
        ci = -1; /* a template: known only at run time */
    }
    *key = "min_free";
    if (min_free && !rb__with_unrendered(min_free, rendered)) {
        if (!json_is_number(min_free) || json_number_value(min_free) < 0 ||
            json_number_value(min_free) > 100) {
            snprintf(msg, msglen, "min_free must be a percentage from 0 to 100");
            return RB_EINVAL;
        }
    }
    if (min_free && ci >= 0 && ci != FS_FREE) {
        snprintf(msg, msglen, "min_free applies only to check: free");
        return RB_EINVAL;
    }
    *key = "max_age";
    if (max_age && !rb__with_unrendered(max_age, rendered) && rb_duration_value(max_age, &ms) < 0) {
        snprintf(msg, msglen, "max_age must be a duration (e.g. \"10m\", \"24h\")");
        return RB_EINVAL;
    }
    if (max_age && ci >= 0 && ci != FS_AGE) {
        snprintf(msg, msglen, "max_age applies only to check: age");
        return RB_EINVAL;
    }
    *key = NULL;
    return 0;
}

static int fs_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    const char *k = NULL;
    int rc = fs_check_with(with, 0, msg, msglen, &k);
    if (key)
        *key = k;
    return rc;
}

static void fs_free_if_idle(fs_state_t *s)
{
    if (s->req_busy || s->timer_open)
        return;
    free(s->path);
    free(s);
}

/* Hands the result over; the state lives on until its handles are done. */
static void fs_report(fs_state_t *s, json_t *r)
{
    rb_action_ctx_t *ctx = s->ctx;
    s->ctx = NULL;
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, r); /* last: the engine may free ctx in there */
}

static json_t *fs_error(const fs_state_t *s, const char *what, int err)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s %s: %s", what, s->path, uv_strerror(err));
    /* Whether the path exists is known only when the answer was "no". */
    json_t *exists = err == UV_ENOENT || err == UV_ENOTDIR ? json_false() : json_null();
    return json_pack("{s:b,s:s,s:o,s:s}", "ok", 0, "status", "error", "exists", exists, "error",
                     buf);
}

static json_t *fs_cancelled(void)
{
    return json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "cancelled", "error", "cancelled");
}

static json_t *fs_free_result(const fs_state_t *s, const uv_statfs_t *st)
{
    /* As df counts it: blocks reserved for root are neither free nor
     * usable, so the percentage is of what an unprivileged writer can use. */
    uint64_t bs = st->f_bsize;
    uint64_t used = st->f_blocks >= st->f_bfree ? st->f_blocks - st->f_bfree : 0;
    uint64_t usable = used + st->f_bavail;
    double pct = usable ? 100.0 * (double)st->f_bavail / (double)usable : 0.0;
    pct = floor(pct * 100.0 + 0.5) / 100.0; /* two decimals are plenty */
    int ok = !s->has_min_free || pct >= s->min_free;
    return json_pack("{s:b,s:b,s:f,s:I,s:I}", "ok", ok, "exists", 1, "free_percent", pct,
                     "free_bytes", (json_int_t)(st->f_bavail * bs), "total_bytes",
                     (json_int_t)(st->f_blocks * bs));
}

static json_t *fs_stat_result(const fs_state_t *s, const uv_stat_t *st)
{
    if (s->check == FS_EXISTS)
        return json_pack("{s:b,s:b}", "ok", 1, "exists", 1);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double age = (double)(now.tv_sec - st->st_mtim.tv_sec) +
                 (double)(now.tv_nsec - st->st_mtim.tv_nsec) / 1e9;
    if (age < 0)
        age = 0; /* modified "in the future": clock skew, not an old file */
    age = floor(age * 1000.0 + 0.5) / 1000.0;
    int ok = !s->has_max_age || age * 1000.0 < (double)s->max_age_ms;
    return json_pack("{s:b,s:b,s:f}", "ok", ok, "exists", 1, "age_s", age);
}

static void fs_req_cb(uv_fs_t *req)
{
    fs_state_t *s = req->data;
    json_t *r = NULL;
    if (s->ctx) {
        if (s->cancelled || req->result == UV_ECANCELED)
            r = fs_cancelled();
        else if ((req->result == UV_ENOENT || req->result == UV_ENOTDIR) && s->check != FS_FREE)
            /* Not there is an answer, not an error: exists false, age failed. */
            r = json_pack("{s:b,s:b}", "ok", 0, "exists", 0);
        else if (req->result < 0)
            r = fs_error(s, s->check == FS_FREE ? "statfs" : "stat", (int)req->result);
        else if (s->check == FS_FREE)
            r = fs_free_result(s, uv_fs_get_ptr(req));
        else
            r = fs_stat_result(s, uv_fs_get_statbuf(req));
    }
    uv_fs_req_cleanup(req);
    s->req_busy = 0;
    if (s->ctx)
        fs_report(s, r);
    fs_free_if_idle(s);
}

static void fs_timer_close_cb(uv_handle_t *h)
{
    fs_state_t *s = h->data;
    s->timer_open = 0;
    fs_free_if_idle(s);
}

static void fs_timer_cb(uv_timer_t *t)
{
    fs_state_t *s = t->data;
    uv_close((uv_handle_t *)t, fs_timer_close_cb);
    if (s->ctx)
        fs_report(s, fs_cancelled());
}

static char *path_join(const char *base, const char *p)
{
    if (p[0] == '/' || !base || !base[0])
        return strdup(p);
    size_t lb = strlen(base), lp = strlen(p);
    char *out = malloc(lb + lp + 2);
    if (!out)
        return NULL;
    memcpy(out, base, lb);
    size_t n = lb;
    if (base[lb - 1] != '/')
        out[n++] = '/';
    memcpy(out + n, p, lp + 1);
    return out;
}

static int fs_start(rb_action_ctx_t *ctx, const json_t *with)
{
    char msg[256];
    const char *key = NULL;
    if (fs_check_with(with, 1, msg, sizeof(msg), &key) < 0) {
        char line[320];
        snprintf(line, sizeof(line), "fs: %s", msg);
        rb_action_log(ctx, "error", line);
        return RB_EINVAL;
    }
    fs_state_t *s = calloc(1, sizeof(*s));
    if (!s)
        return RB_ENOMEM;
    const json_t *check = json_object_get(with, "check");
    const json_t *min_free = json_object_get(with, "min_free");
    const json_t *max_age = json_object_get(with, "max_age");
    s->ctx = ctx;
    s->check = check ? check_index(json_string_value(check)) : FS_EXISTS;
    if (min_free) {
        s->has_min_free = 1;
        s->min_free = json_number_value(min_free);
    }
    if (max_age) {
        s->has_max_age = 1;
        rb_duration_value(max_age, &s->max_age_ms);
    }
    s->path = path_join(rb_action_base_dir(ctx), json_string_value(json_object_get(with, "path")));
    if (!s->path) {
        free(s);
        return RB_ENOMEM;
    }
    s->req.data = s;
    uv_loop_t *loop = rb_action_loop(ctx);
    int rc = s->check == FS_FREE ? uv_fs_statfs(loop, &s->req, s->path, fs_req_cb)
                                 : uv_fs_stat(loop, &s->req, s->path, fs_req_cb);
    if (rc < 0) {
        free(s->path);
        free(s);
        return rc;
    }
    s->req_busy = 1;
    rb_action_set_data(ctx, s);
    return 0;
}

static void fs_cancel(rb_action_ctx_t *ctx)
{
    fs_state_t *s = rb_action_data(ctx);
    if (!s || !s->ctx || s->cancelled)
        return;
    s->cancelled = 1;
    /* Still queued: libuv calls back with UV_ECANCELED. Already running on
     * the threadpool: report now (next turn) and let the request finish on
     * its own. */
    if (uv_cancel((uv_req_t *)&s->req) == 0)
        return;
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    s->timer_open = 1;
    uv_timer_start(&s->timer, fs_timer_cb, 0, 0);
}

static const rb_action_param_t fs_params[] = {
    {"path", RB_PARAM_STRING, 1, NULL,
     "The file or directory to look at; relative to the runbook's folder. For check: free, any "
     "path on the filesystem to measure."},
    {"check", RB_PARAM_STRING, 0, "\"exists\"",
     "free (space left on the filesystem), exists, or age (time since the last modification)."},
    {"min_free", RB_PARAM_ANY, 0, NULL,
     "check: free only. A percentage from 0 to 100: ok only when at least this much of the "
     "filesystem is free."},
    {"max_age", RB_PARAM_DURATION, 0, NULL,
     "check: age only. ok only when the file was modified less than this long ago."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_fs = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "fs",
    .summary = "Check free disk space, whether a file exists, or its age",
    .flags = RB_ACTION_READ_ONLY,
    .params = fs_params,
    .validate = fs_validate,
    .start = fs_start,
    .cancel = fs_cancel,
};
