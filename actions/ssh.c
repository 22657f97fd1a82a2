/*
 * ssh.c — the `ssh` action: one command on another machine, through the
 * OpenSSH client (so ~/.ssh/config, the agent, jump hosts and known_hosts
 * all apply), with the outcome an operator needs: the remote command's exit
 * is `ok` or `failed`, and ssh's own failures (unreachable, refused or
 * unknown host key, authentication) are `error` — a probe that could not
 * connect never confirms an incident.
 *
 * The client is run by actions/exec.c (posix_spawn, pidfd, capture, cap,
 * process group); ssh_spec.c builds its command line, ssh_remote.c the
 * remote one. What is added here:
 *   - cancel and the action's own timeout close the client's stdin, which
 *     the remote wrapper takes as the cue to end the command's whole process
 *     group there (SIGTERM, SIGKILL after grace); the client is signalled
 *     only if the remote side does not answer in time — or at once when the
 *     start marker has not come (still connecting: nothing runs there);
 *   - the result: the wrapper's start and end markers are taken out of
 *     stderr, the exit status comes from the end marker (a remote exit 255
 *     is not ssh's 255), and no start marker means the command never ran.
 *
 * Owns: the host name and marker of one invocation (ssh_state_t), freed
 * with exec's state.
 *
 * Must never: judge a run by ssh's exit status alone, or report a command
 * that never started as `failed`.
 */
#define _GNU_SOURCE
#include "ssh_int.h"
#include "with.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ssh_state {
    char *host;
    char nonce[SSH_NONCE_LEN + 1];
} ssh_state_t;

/* The last non-empty line of s[0..n), at most cap bytes, into out. */
static void last_line(const char *s, size_t n, char *out, size_t cap)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    size_t b = n;
    while (b && s[b - 1] != '\n')
        b--;
    size_t len = n - b < cap - 1 ? n - b : cap - 1;
    memcpy(out, s + b, len);
    out[len] = 0;
}

static void set_error(json_t *r, const char *host, const char *why, const char *detail)
{
    char m[512];
    if (detail && *detail)
        snprintf(m, sizeof(m), "ssh to %s: %s: %s", host, why, detail);
    else
        snprintf(m, sizeof(m), "ssh to %s: %s", host, why);
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "status", json_string("error"));
    json_object_set_new(r, "error", json_string(m));
}

static void ssh_result(json_t *r, const char *tail, size_t tail_len, void *arg)
{
    ssh_state_t *st = arg;
    const char *status = json_string_value(json_object_get(r, "status"));
    const json_t *ej = json_object_get(r, "stderr");
    const char *err = json_string_value(ej);
    size_t n = json_string_length(ej);
    const json_t *xc = json_object_get(r, "exit_code");
    int ssh_exit = json_is_integer(xc) ? (int)json_integer_value(xc) : -1;
    json_object_set_new(r, "host", json_string(st->host));
    json_object_del(r, "pid");
    json_object_del(r, "signal");
    if (!err || !status)
        return;

    char start[64], endp[64];
    int sl = snprintf(start, sizeof(start), "rb-ssh-%s-start\n", st->nonce);
    int el = snprintf(endp, sizeof(endp), "\nrb-ssh-%s-end-", st->nonce);
    const char *s0 = memmem(err, n, start, (size_t)sl);
    const char *body = s0 ? s0 + sl : NULL, *e0 = NULL, *e1 = NULL;
    int code = -1;
    for (const char *p = body; p && (p = memmem(p, n - (size_t)(p - err), endp, (size_t)el));
         p++) {
        const char *q = p + el;
        int c = 0, digits = 0;
        while (q < err + n && *q >= '0' && *q <= '9' && digits < 4)
            c = c * 10 + (*q++ - '0'), digits++;
        if (digits && q < err + n && *q == '\n') {
            e0 = p;
            e1 = q + 1;
            code = c;
        }
    }

    /* stderr without the markers: the client's own lines, then the command's. */
    size_t pre = s0 ? (size_t)(s0 - err) : n;
    char line[300];
    last_line(err, pre, line, sizeof(line));
    if (s0) {
        size_t mid = (e0 ? (size_t)(e0 - body) : n - (size_t)(body - err));
        size_t post = e1 ? n - (size_t)(e1 - err) : 0;
        char *clean = malloc(pre + mid + post + 1);
        if (clean) {
            memcpy(clean, err, pre);
            memcpy(clean + pre, body, mid);
            if (e1)
                memcpy(clean + pre + mid, e1, post);
            json_object_set_new(r, "stderr", json_stringn(clean, pre + mid + post));
            free(clean);
        }
    }

    if (!strcmp(status, "timeout") || !strcmp(status, "cancelled")) {
        json_object_set_new(r, "exit_code", e0 ? json_integer(code) : json_null());
        /* Ended before the start marker: the command never ran (still
         * connecting), so no symptom was seen — error, never timeout. */
        if (!s0)
            set_error(r, st->host, "the command did not run: ended while connecting", line);
        return;
    }
    if (!strcmp(status, "error")) /* the client itself could not be run */
        return;
    if (!s0) {
        json_object_set_new(r, "exit_code", json_null());
        if (line[0])
            set_error(r, st->host, "the command did not run", line);
        else {
            char why[64];
            snprintf(why, sizeof(why), "the command did not run (ssh exited %d)", ssh_exit);
            set_error(r, st->host, why, NULL);
        }
        return;
    }
    if (!e0 && s0 && tail_len) {
        /* the capture was cut before the end marker: it is in the tail */
        for (const char *p = tail; (p = memmem(p, tail_len - (size_t)(p - tail), endp + 1,
                                             (size_t)el - 1));
             p++) {
            const char *q = p + el - 1;
            int c = 0, digits = 0;
            while (q < tail + tail_len && *q >= '0' && *q <= '9' && digits < 4)
                c = c * 10 + (*q++ - '0'), digits++;
            if (digits && q < tail + tail_len && *q == '\n') {
                code = c;
                e0 = p;
            }
        }
    }
    if (!e0 && (ssh_exit == 255 || ssh_exit < 0)) {
        char last[300];
        const char *now = json_string_value(json_object_get(r, "stderr"));
        last_line(now, strlen(now), last, sizeof(last));
        json_object_set_new(r, "exit_code", json_null());
        set_error(r, st->host, "the connection ended before the command did", last);
        return;
    }
    if (e0)
        ssh_exit = code;
    json_object_set_new(r, "exit_code", json_integer(ssh_exit));
    json_object_set_new(r, "ok", json_boolean(ssh_exit == 0));
    json_object_set_new(r, "status", json_string(ssh_exit == 0 ? "ok" : "failed"));
    json_object_del(r, "error");
}

/* Whether the wrapper's start marker has come: before it, nothing runs on
 * the host, and a stop ends the client at once. */
static int ssh_started(const char *err, size_t n, void *arg)
{
    ssh_state_t *st = arg;
    char start[64];
    int sl = snprintf(start, sizeof(start), "rb-ssh-%s-start\n", st->nonce);
    return err && memmem(err, n, start, (size_t)sl) != NULL;
}

static void ssh_state_free(void *arg)
{
    ssh_state_t *st = arg;
    free(st->host);
    free(st);
}

static int ssh_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    return rb__ssh_check(with, 0, msg, msglen, key);
}

/* Every problem of an entry (or an inventory host) in one pass. An
 * inventory host's fields are checked as the step's own parameters, which
 * they stand for (a step's own wins, as at the start): so that one problem
 * set aside does not hide the host's others. */
static int ssh_validate_all(const json_t *with, rb_action_report_fn report, void *arg)
{
    const json_t *h = json_object_get(with, "host");
    if (!json_is_object(h) || !(json_object_get(h, "address") || json_object_get(h, "name")))
        return rb__with_check_all(with, rb__ssh_check, NULL, report, arg);
    json_t *w = json_copy((json_t *)with);
    static const char *const fields[] = {"user", "port", "identity", "host_key", NULL};
    for (size_t i = 0; w && fields[i]; i++)
        if (!json_object_get(w, fields[i]) && json_object_get(h, fields[i]))
            json_object_set(w, fields[i], json_object_get(h, fields[i]));
    if (w)
        json_object_set(w, "host", json_object_get(h, json_object_get(h, "address") ? "address" : "name"));
    int n = rb__with_check_all(w ? w : with, rb__ssh_check, NULL, report, arg);
    json_decref(w);
    return n;
}

static int ssh_start(rb_action_ctx_t *ctx, const json_t *with)
{
    ssh_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        return RB_ENOMEM;
    exec_spec_t sp;
    int rc = rb__ssh_build(ctx, with, &sp, &st->host, st->nonce);
    if (rc < 0) {
        free(st);
        return rc;
    }
    exec_hooks_t hooks = {ssh_result, ssh_state_free, st, ssh_started};
    return rb__exec_run(ctx, &sp, &hooks);
}

static void ssh_cancel(rb_action_ctx_t *ctx)
{
    rb__exec_stop(ctx);
}

static const rb_action_param_t ssh_params[] = {
    {"host", RB_PARAM_ANY, 1, NULL,
     "The host: a name or address (as ssh takes it, ~/.ssh/config applies), or a host of the "
     "inventory (\"{{ item }}\" in a foreach over inventory.groups.NAME)."},
    {"argv", RB_PARAM_ANY, 0, NULL,
     "The remote command and its arguments (a list of strings), each quoted for the remote "
     "shell: no value can become shell syntax there. Exactly one of argv and command."},
    {"command", RB_PARAM_SHELL, 0, NULL,
     "A command line run by /bin/sh -c on the host; every interpolated value is shell-quoted."},
    {"user", RB_PARAM_STRING, 0, NULL, "The remote user (default: the inventory's, else ssh's)."},
    {"port", RB_PARAM_ANY, 0, NULL, "The SSH port (default: the inventory's, else ssh's, 22)."},
    {"env", RB_PARAM_MAP, 0, NULL,
     "Environment variables for the remote command, sent quoted on the session's stdin "
     "(never through SendEnv, never on a remote command line)."},
    {"timeout", RB_PARAM_DURATION, 0, NULL,
     "Time limit for the attempt, counted from the ssh client's start (connecting included): "
     "when it runs out the command is ended on the host and the result is timeout, or error "
     "when the command never started (no evidence). More than 0s; leave it out for no limit."},
    {"grace", RB_PARAM_DURATION, 0, "\"5s\"",
     "On cancel or timeout: time between SIGTERM and SIGKILL to the remote process group."},
    {"connect_timeout", RB_PARAM_DURATION, 0, "\"10s\"", "Limit for connecting (ConnectTimeout)."},
    {"identity", RB_PARAM_STRING, 0, NULL,
     "Private key file (relative to the runbook's folder; ~ is the home directory); only this "
     "key is offered."},
    {"host_key", RB_PARAM_STRING, 0, NULL,
     "The host's public key (\"ssh-ed25519 AAAA…\", one per line): only it is accepted, whatever "
     "known_hosts says."},
    {"known_hosts", RB_PARAM_STRING, 0, NULL,
     "A known_hosts file to check the host key against (default: ssh's own)."},
    {"host_key_checking", RB_PARAM_STRING, 0, "\"strict\"",
     "strict: an unknown or changed host key is an error; accept-new: an unknown key is "
     "recorded in known_hosts, a changed one is still an error."},
    {"jump", RB_PARAM_STRING, 0, NULL, "A jump host (ProxyJump, user@host:port)."},
    {"persist", RB_PARAM_DURATION, 0, "\"60s\"",
     "How long an idle connection is kept for the next step on the same host (0: none)."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_ssh = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "ssh",
    .summary = "Run a command on another host through the OpenSSH client; exit, output, host",
    .flags = RB_ACTION_SIDE_EFFECTS,
    .params = ssh_params,
    .validate = ssh_validate,
    .validate_all = ssh_validate_all,
    .start = ssh_start,
    .cancel = ssh_cancel,
};
