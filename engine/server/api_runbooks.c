/*
 * api_runbooks.c — GET /api/v1/runbooks (the runbooks in force) and
 * GET /api/v1/runbooks/NAME (one of them: the version in force, every
 * version the journal recorded with how many runs each started, and the
 * last validation: its file read and checked again now, so an edit that
 * does not validate — and keeps the last good version in force — shows
 * here with its diagnostics).
 *
 * Owns: nothing past a request. Must never: change the books in force
 * (a reload is books.c's), touch SQL.
 */
#include "api.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <string.h>

#define PREFIX "/api/v1/runbooks/"

static json_t *brief(const rb_book_t *k)
{
    json_t *params = json_array();
    for (size_t i = 0; i < rb_runbook_nparams(k->rb); i++) {
        const rb_param_t *p = rb_runbook_param(k->rb, i);
        json_array_append_new(params, json_pack("{s:s,s:b,s:b}", "name", p->name, "required",
                                                p->required, "secret", p->secret));
    }
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:b,s:o}", "name", rb_runbook_name(k->rb), "file",
                     k->path, "sha256", k->sha256, "steps", (json_int_t)rb_runbook_nsteps(k->rb),
                     "triggers", (json_int_t)rb_runbook_ntriggers(k->rb), "cancel_on_resolve",
                     rb_runbook_cancel_on_resolve(k->rb), "params", params);
}

/* The file checked again now: {ok, in_force (what the file holds now is
 * the version in force), diagnostics (file:line:col each)}. */
static json_t *validation(const rb_book_t *k)
{
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    int rc = d ? rb_runbook_load(k->path, d, &rb) : RB_ENOMEM;
    json_t *v = json_pack("{s:b,s:o}", "ok", rc == 0, "diagnostics",
                          d ? rb_diags_json(d) : json_array());
    if (rc == 0) {
        size_t len, klen;
        const char *src = rb_runbook_source(rb, &len);
        const char *ksrc = rb_runbook_source(k->rb, &klen);
        json_object_set_new(v, "in_force", json_boolean(len == klen && !memcmp(src, ksrc, len)));
    } else {
        json_object_set_new(v, "in_force", json_false());
    }
    rb_runbook_free(rb);
    rb_diags_free(d);
    return v;
}

void rb__api_runbooks(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    const char *path = rb_http_req_path(r);
    if (!strcmp(path, "/api/v1/runbooks") || !strcmp(path, PREFIX)) {
        json_t *list = json_array();
        for (size_t i = 0; i < rb__books_count(s->books); i++)
            json_array_append_new(list, brief(rb__books_at(s->books, i)));
        rb_http_reply_json(r, 200, json_pack("{s:o}", "runbooks", list));
        return;
    }
    const char *name = path + strlen(PREFIX);
    rb_book_t *k = strchr(name, '/') ? NULL : rb__books_find(s->books, name);
    if (!k) {
        rb_http_reply_error(r, 404, "no runbook of that name is in force");
        return;
    }
    json_t *versions = NULL;
    if (rb_journal_versions(s->j, name, &versions) < 0) {
        rb_http_reply_error(r, 503, rb_journal_errmsg(s->j));
        return;
    }
    json_t *v = brief(k);
    json_object_set_new(v, "versions", versions);
    json_object_set_new(v, "validation", validation(k));
    rb_http_reply_json(r, 200, v);
}
