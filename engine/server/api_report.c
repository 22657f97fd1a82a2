/*
 * api_report.c — GET /api/v1/runs/ID/report?format=html|md|text|json: the
 * post-incident review of a run (docs/review.md), written by
 * engine/review/ from the server's journal. HTML by default, served with a
 * Content-Security-Policy that lets the page do nothing but show itself
 * (rb__api_reply_page). 404 for a run the journal does not hold, 400 for a
 * format it does not know.
 *
 * Owns: nothing past a request. Must never: let a value of the journal
 * reach the page unescaped (the writers escape it; this file adds nothing
 * to the page); touch SQL. Loop thread (the report reads the journal's
 * committed records with the journal's read API, as GET /runs/ID does).
 */
#define _GNU_SOURCE
#include "api.h"

#include "review/review.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *type;
} formats[] = {
    {"html", "text/html; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"text", "text/plain; charset=utf-8"},
    {"json", "application/json"},
};

void rb__api_report(rb_srv_t *s, rb_http_req_t *r, int64_t id)
{
    char *fmt = rb__api_query(r, "format");
    const char *name = NULL, *type = NULL;
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcmp(fmt ? fmt : "html", formats[i].name)) {
            name = formats[i].name;
            type = formats[i].type;
        }
    free(fmt);
    if (!type) {
        rb_http_reply_error(r, 400, "format must be html, md, text or json");
        return;
    }
    json_t *rep = NULL;
    char err[300] = "";
    int rc = rb_review_report(s->j, id, &rep, err, sizeof err);
    if (rc == RB_ENOTFOUND) {
        rb_http_reply_error(r, 404, "no such run");
        return;
    }
    if (rc < 0) {
        rb_http_reply_error(r, 503, err);
        return;
    }
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (!f) {
        json_decref(rep);
        rb_http_reply_error(r, 500, "out of memory");
        return;
    }
    if (!strcmp(name, "json"))
        json_dumpf(rep, f, JSON_INDENT(2) | JSON_ENSURE_ASCII), fputc('\n', f);
    else if (!strcmp(name, "html"))
        rb_review_report_html(rep, f);
    else if (!strcmp(name, "md"))
        rb_review_report_md(rep, f);
    else
        rb_review_report_text(rep, f, 0);
    json_decref(rep);
    if (fclose(f) != 0) {
        free(page);
        rb_http_reply_error(r, 500, "out of memory");
        return;
    }
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    rb_http_req_log(r, "run", sid);
    rb__api_reply_page(r, type, page, len, "'none'");
    free(page);
}
