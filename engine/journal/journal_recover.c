/*
 * journal_recover.c — crash recovery's two questions: is the process that
 * owns a run still alive, and where would a resumed run pick up?
 *
 * A run records its owner: pid, the process's start time (field 22 of
 * /proc/PID/stat, clock ticks after boot) and the kernel's boot id. The
 * owner is alive when the boot is the same, the pid exists, is not a
 * zombie, and started at the same tick — a pid reused by another program
 * after a crash does not count. Without /proc, kill(pid, 0) is the
 * fallback (and a reused pid would then keep a run open: on such a system
 * an operator marks it by hand).
 *
 * The resume point is computed from the run's events through the public
 * read API; this file never touches SQLite.
 *
 * Owns: the cached identity of this process. Must never: call a process
 * dead that it cannot prove dead on this boot.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_int.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Start time (field 22) and state (field 3) of pid; -1 when there is no
 * such process or /proc cannot say. The command name (field 2) may hold
 * spaces and parentheses, so the fields are counted from its last ')'. */
static int64_t proc_start(int64_t pid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    char *save = NULL, *tok = strtok_r(p, " ", &save);
    for (int field = 3; tok; field++, tok = strtok_r(NULL, " ", &save)) {
        if (field == 3 && state)
            *state = tok[0];
        if (field == 22)
            return strtoll(tok, NULL, 10);
    }
    return -1;
}

static void read_boot_id(char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    if (fgets(out, (int)len, f))
        out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
}

static rb__owner_t rb__self;
static uv_mutex_t rb__self_mu;
static uv_once_t rb__self_once = UV_ONCE_INIT;

static void self_init(void)
{
    uv_mutex_init(&rb__self_mu);
}

const rb__owner_t *rb__owner_self(void)
{
    uv_once(&rb__self_once, self_init);
    uv_mutex_lock(&rb__self_mu);
    /* Computed again in a child after fork(): a journal handle must not
     * cross fork(), but a child may open its own. */
    if (rb__self.pid != (int64_t)getpid()) {
        rb__owner_t me = { .pid = getpid() };
        me.start = proc_start(me.pid, NULL);
        read_boot_id(me.boot, sizeof me.boot);
        rb__self = me;
    }
    uv_mutex_unlock(&rb__self_mu);
    return &rb__self;
}

int rb__owner_alive(const rb__owner_t *o)
{
    const rb__owner_t *me = rb__owner_self();
    if (o->pid <= 0)
        return 0;
    if (o->boot[0] && me->boot[0] && strcmp(o->boot, me->boot) != 0)
        return 0; /* rebooted since: every process of that boot is gone */
    if (o->pid == me->pid && (o->start < 0 || o->start == me->start))
        return 1;
    if (me->start >= 0) {
        char state = '?';
        int64_t start = proc_start(o->pid, &state);
        if (start < 0)
            return 0;
        if (state == 'Z' || state == 'X')
            return 0;
        return o->start < 0 || start == o->start;
    }
    return kill((pid_t)o->pid, 0) == 0 || errno == EPERM;
}

/* ---- resume point ------------------------------------------------------------------ */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int rb_journal_run_resume_point(rb_journal_t *j, int64_t run_id, json_t **out)
{
    /* both backends: it reads through rb_journal_run_get and get_version */
    json_t *run = NULL;
    *out = NULL;
    int ret = rb_journal_run_get(j, run_id, &run);
    if (ret != 0)
        return ret;

    json_t *results = json_object(), *finished = json_array();
    const json_t *started = NULL, *steps = NULL, *in_flight_with = NULL;
    const char *in_flight = NULL, *last_step = NULL;
    json_int_t attempts = 0, last_seq = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(run, "events"), i, e) {
        const char *type = jstr(e, "type"), *step = jstr(e, "step");
        const json_t *data = json_object_get(e, "data");
        last_seq = json_integer_value(json_object_get(e, "seq"));
        if (!type)
            continue;
        if (!strcmp(type, "run_started")) {
            started = data;
            steps = json_object_get(data, "steps");
        } else if (!strcmp(type, "step_started") && step) {
            in_flight = step;
            in_flight_with = json_object_get(data, "with");
            attempts = 0;
        } else if (!strcmp(type, "attempt_started") && step && in_flight &&
                   !strcmp(step, in_flight)) {
            attempts++;
        } else if ((!strcmp(type, "step_finished") || !strcmp(type, "step_skipped")) && step) {
            const json_t *res = json_object_get(data, "result");
            json_object_set(results, step,
                            (json_t *)(res && !strcmp(type, "step_finished") ? res : data));
            int seen = 0;
            size_t k;
            json_t *name;
            json_array_foreach(finished, k, name)
                seen |= !strcmp(json_string_value(name), step);
            if (!seen)
                json_array_append_new(finished, json_string(step));
            last_step = step;
            if (in_flight && !strcmp(in_flight, step)) {
                in_flight = NULL;
                in_flight_with = NULL;
            }
        }
    }

    /* The run_started event is hash-chained; the runs row is a projection
     * anyone could edit, so it is only the fallback. */
    const char *sha = started && jstr(started, "sha256") ? jstr(started, "sha256")
                                                         : jstr(run, "sha256");
    const json_t *params = started && json_object_get(started, "params")
                               ? json_object_get(started, "params")
                               : json_object_get(run, "params");
    const char *next = in_flight;
    if (!next && json_is_array(steps)) {
        json_t *name;
        json_array_foreach(steps, i, name) {
            if (json_is_string(name) && !json_object_get(results, json_string_value(name))) {
                next = json_string_value(name);
                break;
            }
        }
    }

    char *source = NULL;
    size_t len = 0;
    if (!sha) {
        snprintf(j->err, sizeof j->err, "%s: run %lld: no runbook version recorded", j->path,
                 (long long)run_id);
        ret = RB_ENOTFOUND;
    } else if ((ret = rb_journal_get_version(j, sha, &source, &len)) == 0) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char hex[65];
        if (!EVP_Digest(source, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
            ret = RB_EJOURNAL;
        } else {
            rb__hex(md, 32, hex);
            if (strcmp(hex, sha) != 0) {
                snprintf(j->err, sizeof j->err,
                         "%s: run %lld: the recorded runbook text does not match its SHA-256"
                         " %.64s (run `runbook audit verify`)", j->path, (long long)run_id, sha);
                ret = RB_EJOURNAL;
            }
        }
    }
    if (ret == 0) {
        *out = json_pack("{s:I,s:O,s:O,s:s,s:s,s:O,s:O,s:I,s:O,s:O,s:o,s:o,s:b,s:o,s:I}",
                         "run_id", (json_int_t)run_id, "status", json_object_get(run, "status"),
                         "runbook", json_object_get(run, "runbook"), "sha256", sha, "source",
                         source, "params", params ? params : json_null(), "trigger",
                         json_object_get(run, "trigger"), "last_seq", last_seq, "results",
                         results, "finished", finished, "last_step",
                         last_step ? json_string(last_step) : json_null(), "next_step",
                         next ? json_string(next) : json_null(), "next_step_started",
                         in_flight != NULL, "next_step_with",
                         in_flight_with ? json_deep_copy(in_flight_with) : json_null(),
                         "next_step_attempts", in_flight ? attempts : (json_int_t)0);
        if (!*out) {
            ret = RB_ENOMEM;
        } else {
            /* The rest of what the run started from, when it was recorded. */
            json_t *alert = started ? json_object_get(started, "alert") : NULL;
            json_object_set_new(*out, "alert", alert ? json_deep_copy(alert) : json_null());
            /* when it started (ms): a resumed run's duration counts from then */
            json_object_set(*out, "started_at", json_object_get(run, "started_at"));
            json_object_set_new(*out, "dry_run",
                                json_boolean(started &&
                                             json_is_true(json_object_get(started, "dry_run"))));
        }
    }
    free(source);
    json_decref(results);
    json_decref(finished);
    json_decref(run);
    return ret;
}
