/*
 * fuzz_config.c — libFuzzer target for the server's config file
 * (engine/server/config.c: rb_srv_config_load, what `runbook serve
 * --config FILE` reads, through the runbook loader's YAML reader).
 *
 * The input is the file's text, given through a memory file
 * (memfd_create, read by its /proc/self/fd path: the real file reading,
 * no disk). Two variables are set in the environment so that env:,
 * secret_env: and a generic hook's secret_env: can name ones that exist
 * (one long enough to be a hook's secret, one too short). Besides the
 * sanitizers it checks: a refused config has an error, an accepted one
 * none and sane values (a port 0 to 65535, limits above zero, every hook
 * a window and at most a secret of 16 bytes or more), and every diagnostic
 * prints.
 *
 * Owns: the memory file (one, rewritten per input). Built with
 * -DRB_FUZZ=ON (clang); run by tests/fuzz/run.sh.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include "load/diag.h"
#include "server/config.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;
static char path[64];
static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        if ((fd = memfd_create("fuzz-config.yaml", 0)) < 0 || !(devnull = fopen("/dev/null", "w")))
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        setenv("RB_FUZZ_SECRET", "0123456789abcdef0123", 1);
        setenv("RB_FUZZ_SHORT", "short", 1);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    rb_srv_config_t *c = rb_srv_config_new();
    rb_diags_t *d = rb_diags_new();
    int rc = rb_srv_config_load(c, path, d);
    if ((rc == 0) != (rb_diags_errors(d) == 0))
        abort();
    if (rc == 0) {
        if (c->port < 0 || c->port > 65535 || !c->host || !c->body_max || !c->header_max ||
            !c->request_ms || !c->active_runs || !c->grace_ms)
            abort();
        const char *k;
        json_t *h;
        json_object_foreach(c->generic_hooks, k, h) {
            const char *secret = json_string_value(json_object_get(h, "secret"));
            if (json_integer_value(json_object_get(h, "window_ms")) <= 0 ||
                (secret && strlen(secret) < 16))
                abort();
        }
    }
    rb_diags_print(d, devnull, 0);
    json_decref(rb_diags_json(d));
    rb_diags_free(d);
    rb_srv_config_free(c);
    return 0;
}
