/*
 * fuzz_alertmanager.c — libFuzzer target for the Alertmanager webhook's
 * parsing (engine/server/hook_parse.h: rb__hook_am_parse, what POST
 * /hooks/alertmanager does with a body before anything is claimed).
 *
 * The input is a request body. An accepted one is then used as the server
 * uses it: each alert's claim key (fingerprint, startsAt), the match
 * against the triggers of two runbooks (equalities and "=~" regular
 * expressions) and the templates an alert feeds (the concurrency key and
 * the params' defaults, rendered with the alert as `alert`). Besides the
 * sanitizers it checks: a refusal is 400 or 422 and says why, an accepted
 * body is a version "4" object whose alerts all have the fields the
 * handler then reads without checking again.
 *
 * Owns: the two runbooks (loaded once). Built with -DRB_FUZZ=ON (clang);
 * run by tests/fuzz/run.sh.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include "load/diag.h"
#include "load/runbook.h"
#include "server/hook_parse.h"

#include <stdio.h>
#include <string.h>

static rb_runbook_t *books[2];

static const char *const texts[2] = {
    "apiVersion: runbook/v1\nname: regex\ntriggers:\n"
    "  - match: { alertname: NodeDown }\n"
    "  - match: { alertname: \"=~^Node(Unreachable|Unresponsive)$\", env: production }\n"
    "  - match: { alertname: DiskSpaceLow, instance: \"=~^(node|validator)-[0-9]+:9100$\" }\n"
    "  - match: { severity: \"=~critical|page\" }\n"
    "steps:\n  - name: note\n    action: log\n    with: { message: \"{{ alert.labels.alertname }}\" }\n",
    "apiVersion: runbook/v1\nname: keyed\nconcurrency: \"node/{{ alert.labels.instance }}\"\n"
    "triggers:\n  - match: { alertname: \"=~.*\" }\n"
    "params:\n  instance: { default: \"{{ default(alert.labels.instance, 'localhost') }}\" }\n"
    "  port: { type: int, default: \"{{ split(alert.labels.instance, ':')[1] }}\" }\n"
    "steps:\n  - name: note\n    action: log\n    with: { message: \"{{ params.instance }}\" }\n",
};

static void setup(void)
{
    for (int i = 0; i < 2; i++) {
        rb_diags_t *d = rb_diags_new();
        if (rb_runbook_load_text("fuzz.yaml", texts[i], strlen(texts[i]), ".", d, &books[i]) < 0) {
            rb_diags_print(d, stderr, 0);
            abort();
        }
        rb_diags_free(d);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!books[0])
        setup();
    char why[300] = "";
    int status = 0;
    json_t *doc = rb__hook_am_parse((const char *)data, size, &status, why, sizeof why);
    if (!doc) {
        if ((status != 400 && status != 422) || !why[0])
            abort();
        return 0;
    }
    const char *version = json_string_value(json_object_get(doc, "version"));
    if (!json_is_object(doc) || !version || strcmp(version, "4"))
        abort();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "alerts"), i, a) {
        const char *fp = json_string_value(json_object_get(a, "fingerprint"));
        const char *sa = json_string_value(json_object_get(a, "startsAt"));
        const char *st = json_string_value(json_object_get(a, "status"));
        if (!fp || !sa || !st || !json_is_object(json_object_get(a, "labels")))
            abort();
        char *key;
        if (asprintf(&key, "%s\x1f%s", fp, sa) < 0)
            abort();
        free(key);
        json_t *ctx = json_pack("{s:O}", "alert", a);
        for (int k = 0; k < 2; k++) {
            if (!rb_runbook_match_alert(books[k], a))
                continue;
            char msg[256];
            const rb_tmpl_t *c = rb_runbook_concurrency(books[k]);
            json_t *v = c ? rb_tmpl_render(c, ctx, RB_TMPL_STRING, msg, sizeof msg) : NULL;
            json_decref(v);
            for (size_t p = 0; p < rb_runbook_nparams(books[k]); p++) {
                const rb_param_t *pa = rb_runbook_param(books[k], p);
                v = pa->def ? rb_tmpl_render(pa->def, ctx, 0, msg, sizeof msg) : NULL;
                json_decref(v);
            }
        }
        json_decref(ctx);
    }
    json_decref(doc);
    return 0;
}
