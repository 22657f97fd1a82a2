/*
 * fuzz_load.c — libFuzzer target for the YAML loader and the validator
 * (engine/load: rb_runbook_load_text, what `runbook validate`, `run` and
 * the server's catalog call on every runbook file).
 *
 * The input is a runbook file's text. It is parsed, checked and compiled
 * with its relative paths and sub-runbooks looked up in a scratch folder
 * that holds two small runbooks (one of which starts the other, so that
 * the cycle check has something to follow). A valid runbook is then
 * matched against an alert and looked into; every diagnostic is turned into
 * JSON and printed. Besides the sanitizers it checks: a refused runbook
 * has at least one error, a loaded one none, and every diagnostic's
 * line:col lies inside the input.
 *
 * Owns: the scratch folder (made once, under $TMPDIR, removed at exit).
 * Built with -DRB_FUZZ=ON (clang); run by tests/fuzz/run.sh.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include "load/diag.h"
#include "load/runbook.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static FILE *devnull;

static void cleanup(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/child.yaml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/back.yaml", dir);
    unlink(path);
    rmdir(dir);
}

static void put(const char *name, const char *text)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/rb-fuzz-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir) || !(devnull = fopen("/dev/null", "w")))
        abort();
    atexit(cleanup);
    put("child.yaml", "apiVersion: runbook/v1\nname: child\nparams:\n  x: {default: 1}\n"
                      "steps:\n  - name: a\n    run: [\"true\"]\n");
    put("back.yaml", "apiVersion: runbook/v1\nname: back\nsteps:\n  - name: a\n"
                     "    action: runbook\n    with: {name: fuzz}\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull)
        setup();
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    int rc = rb_runbook_load_text("fuzz.yaml", (const char *)data, size, dir, d, &rb);
    if ((rc == 0) != (rb != NULL) || (rc == 0 && rb_diags_errors(d)) ||
        (rc < 0 && !rb_diags_errors(d)))
        abort();
    /* every line lies inside the text: YAML breaks lines at LF, CR, CR LF
     * and (YAML 1.1, libyaml) NEL U+0085, LS U+2028, PS U+2029; a bound
     * counts each of their bytes that can end one */
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || data[i] == '\r' || data[i] == 0x85 || data[i] == 0xa8 ||
                 data[i] == 0xa9;
    json_t *all = rb_diags_json(d);
    size_t i;
    json_t *x;
    json_array_foreach(all, i, x) {
        json_int_t line = json_integer_value(json_object_get(x, "line"));
        if (line < 0 || (size_t)line > lines + 1 || !json_string_value(json_object_get(x, "message")))
            abort();
    }
    json_decref(all);
    rb_diags_print(d, devnull, 0);
    rb_diags_print(d, devnull, 1);
    if (rb) {
        json_t *alert = json_pack("{s:{s:s,s:s}}", "labels", "alertname", "NodeDown", "instance",
                                  "node1:20332");
        rb_runbook_match_alert(rb, alert);
        json_decref(alert);
        for (size_t k = 0; k < rb_runbook_nsteps(rb); k++)
            if (rb_runbook_step_index(rb, rb_runbook_step(rb, k)->name) < 0)
                abort();
        rb_runbook_free(rb);
    }
    rb_diags_free(d);
    return 0;
}
