/*
 * cli_client.c — the command line as a client of a running `runbook
 * serve` (--server URL, docs/cli.md): one HTTP request with libcurl, the
 * bearer token from $RUNBOOK_TOKEN or --token-file, the answer as JSON,
 * and a clear line for each way it can go wrong (no connection, 401, 403,
 * another refusal, a 5xx).
 *
 * Owns: the curl handle and the answer's bytes during a call. Must never:
 * print or log the token; take a token from the command line (ps shows it).
 */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_out.h"

#include <runbook/runbook.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_CLI_ANSWER_MAX (64u << 20)

typedef struct {
    char *p;
    size_t len;
    int too_big;
} buf_t;

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    buf_t *b = arg;
    size_t add = size * n;
    if (b->len + add > RB_CLI_ANSWER_MAX) {
        b->too_big = 1;
        return 0;
    }
    char *p = realloc(b->p, b->len + add + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, add);
    b->p = p;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

/* The token: $RUNBOOK_TOKEN, or the first line of file (trimmed). Returns
 * a malloc'd string, or NULL with why on stderr. */
static char *token(const char *cmd, const char *file)
{
    if (!file) {
        const char *t = getenv("RUNBOOK_TOKEN");
        if (t && *t)
            return strdup(t);
        fprintf(stderr,
                "runbook %s: no token: set RUNBOOK_TOKEN, or give --token-file FILE (a file "
                "holding the SECRET of a line of the server's tokens file)\n",
                cmd);
        return NULL;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "runbook %s: --token-file %s: %s\n", cmd, file, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        line[--n] = '\0';
    if (n <= 0) {
        fprintf(stderr, "runbook %s: --token-file %s: the first line holds no token\n", cmd, file);
        free(line);
        return NULL;
    }
    return line;
}

static int said(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int said(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "runbook %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int rb__cli_api(const char *cmd, const char *server, const char *token_file, const char *method,
                const char *path, const json_t *body, json_t **out)
{
    *out = NULL;
    char *tok = token(cmd, token_file);
    if (!tok)
        return RB_EXIT_USAGE;
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/')
        sl--;
    char *url = NULL, *auth = NULL, *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int ok = asprintf(&url, "%.*s%s", (int)sl, server, path) >= 0;
    ok = ok && asprintf(&auth, "Authorization: Bearer %s", tok) >= 0;
    explicit_bzero(tok, strlen(tok));
    free(tok);
    CURL *c = ok ? curl_easy_init() : NULL;
    if (!c) {
        free(url);
        free(auth);
        free(data);
        return said(cmd, RB_EXIT_USAGE, "out of memory");
    }
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Accept: application/json");
    if (data)
        h = curl_slist_append(h, "Content-Type: application/json");
    buf_t b = {0};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (data)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    else if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h); /* the header held the token */
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(data);
    int rc = RB_EXIT_OK;
    json_t *v = b.p ? json_loadb(b.p, b.len, 0, NULL) : NULL;
    const char *why = json_string_value(json_object_get(v, "error"));
    if (cc != CURLE_OK) {
        rc = said(cmd, RB_EXIT_UNREACHABLE,
                  "cannot reach the server at %s: %s (is `runbook serve` running there?)", url,
                  b.too_big ? "the answer is too large" : *err ? err : curl_easy_strerror(cc));
    } else if (status == 401) {
        rc = said(cmd, RB_EXIT_USAGE,
                  "the server refused the token (401): %s — set RUNBOOK_TOKEN or --token-file "
                  "to a token of its tokens file",
                  why ? why : "no reason given");
    } else if (status == 403) {
        rc = said(cmd, RB_EXIT_USAGE,
                  "the token's role may not do this (403)%s%s: reading wants a viewer or "
                  "operator token; start, approve, deny and cancel an operator token",
                  why ? ": " : "", why ? why : "");
    } else if (status >= 500 || status < 200) {
        rc = said(cmd, RB_EXIT_UNREACHABLE, "the server answered %ld: %s (try again later)",
                  status, why ? why : "no reason given");
    } else if (status >= 300) {
        rc = said(cmd, RB_EXIT_USAGE, "%s (the server answered %ld)", why ? why : "refused",
                  status);
    } else if (!v) {
        rc = said(cmd, RB_EXIT_UNREACHABLE, "%s answered something that is not JSON", url);
    }
    free(url);
    free(b.p);
    if (rc == RB_EXIT_OK)
        *out = v;
    else
        json_decref(v);
    return rc;
}

int rb__cli_api_run(const char *cmd, const opts_t *o, long long id, json_t **out)
{
    char path[64];
    json_t *run = NULL, *ev = NULL;
    snprintf(path, sizeof path, "/api/v1/runs/%lld", id);
    int rc = rb__cli_api(cmd, o->server, o->token_file, "GET", path, NULL, &run);
    if (rc != RB_EXIT_OK)
        return rc;
    snprintf(path, sizeof path, "/api/v1/runs/%lld/events", id);
    rc = rb__cli_api(cmd, o->server, o->token_file, "GET", path, NULL, &ev);
    if (rc != RB_EXIT_OK) {
        json_decref(run);
        return rc;
    }
    json_object_set(run, "events", json_object_get(ev, "events"));
    json_decref(ev);
    *out = run;
    return RB_EXIT_OK;
}
