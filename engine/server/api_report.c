/*
 * api_report.c — GET /api/v1/runs/ID/report?format=html|md|text|json: the
 * post-incident review of a run (docs/review.md), written by
 * engine/review/ from the server's journal. HTML by default, served with a
 * Content-Security-Policy that lets the page do nothing but show itself:
 * no script, no request to anywhere, its one inline <style> allowed by its
 * hash. 404 for a run the journal does not hold, 400 for a format it does
 * not know.
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

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The policy for the HTML page: nothing may load, run, submit or frame;
 * the one <style> element of the page is allowed by its SHA-256 (put in
 * at %s). */
#define RB_REPORT_CSP                                                                  \
    "default-src 'none'; style-src '%s'; img-src 'none'; base-uri 'none'; "            \
    "form-action 'none'; frame-ancestors 'none'"

static const struct {
    const char *name, *type;
} formats[] = {
    {"html", "text/html; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"text", "text/plain; charset=utf-8"},
    {"json", "application/json"},
};

/* "sha256-BASE64" of the text of the page's first <style> element, in src
 * (size cap); "" when the page has none. */
static void style_hash(const char *page, size_t len, char *src, size_t cap)
{
    *src = '\0';
    const char *a = memmem(page, len, "<style>", 7);
    const char *b = a ? memmem(a, len - (size_t)(a - page), "</style>", 8) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    unsigned int ml = 0;
    if (!b || EVP_Digest(a + 7, (size_t)(b - a - 7), md, &ml, EVP_sha256(), NULL) != 1)
        return;
    EVP_EncodeBlock(b64, md, (int)ml);
    snprintf(src, cap, "sha256-%s", (const char *)b64);
}

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
    if (!strcmp(name, "html")) {
        char hash[128], csp[512];
        style_hash(page, len, hash, sizeof hash);
        snprintf(csp, sizeof csp, RB_REPORT_CSP, *hash ? hash : "none");
        rb_http_res_header(r, "content-security-policy", csp);
    }
    rb_http_res_header(r, "x-content-type-options", "nosniff");
    rb_http_res_header(r, "cache-control", "no-store");
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    rb_http_req_log(r, "run", sid);
    rb_http_reply(r, 200, type, page, len);
    free(page);
}
