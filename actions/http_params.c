/*
 * http_params.c — the checks and text helpers the `http` and `notify`
 * actions share (declared in http_client.h): URL and header checks, the
 * redirect scheme rule, durations, and bytes to UTF-8 JSON text (through
 * utf8.c, the sanitiser exec shares).
 *
 * Owns: nothing past a call. Must never touch the loop or libcurl: these run
 * at load time (validate) on any thread as well as in start().
 */
#define _GNU_SOURCE
#include "http_client.h"
#include "utf8.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The sanitiser is utf8.c's, one for every action; http_client.h keeps
 * this name for the http and notify code that calls it. */
json_t *rb__http_text(const char *buf, size_t len, int truncated)
{
    return rb__utf8_json(buf, len, truncated);
}


int rb__http_check_url(const char *url, char *msg, size_t msglen)
{
    size_t skip;
    if (!url || !*url) {
        snprintf(msg, msglen, "url is empty");
        return RB_EINVAL;
    }
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else {
        snprintf(msg, msglen, "url must start with http:// or https:// (got \"%.60s\")", url);
        return RB_EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(msg, msglen, "url contains a control character");
            return RB_EINVAL;
        }
    if (!url[skip] || strchr("/?#", url[skip])) {
        snprintf(msg, msglen, "url has no host");
        return RB_EINVAL;
    }
    return 0;
}

const char *rb__http_redir_protocols(const char *url)
{
    return url && strncasecmp(url, "https://", 8) == 0 ? "https" : "http,https";
}

int rb__http_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int rb__http_token_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!rb__http_token_char((unsigned char)s[n]))
            return 0;
    return n > 0 && n <= max;
}

int rb__http_check_headers(const json_t *headers, int rendered, char *msg, size_t msglen)
{
    if (!json_is_object(headers)) {
        snprintf(msg, msglen, "headers must be a map of names to strings");
        return RB_EINVAL;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)headers, k, v) {
        if (!rb__http_token_ok(k, 128)) {
            snprintf(msg, msglen, "headers: invalid header name \"%.60s\"", k);
            return RB_EINVAL;
        }
        /* The transfer's framing is libcurl's to write; a header that changes
         * it would let a value split or smuggle a request. */
        if (!strcasecmp(k, "content-length") || !strcasecmp(k, "transfer-encoding")) {
            snprintf(msg, msglen, "headers: %s is set by the engine, not by headers", k);
            return RB_EINVAL;
        }
        if (json_is_number(v) || json_is_boolean(v))
            continue;
        if (!json_is_string(v)) {
            snprintf(msg, msglen, "headers.%s must be a string", k);
            return RB_EINVAL;
        }
        const char *s = json_string_value(v);
        if (!rendered && strstr(s, "{{"))
            continue;
        if (strlen(s) != json_string_length(v) || strpbrk(s, "\r\n")) {
            snprintf(msg, msglen, "headers.%s: a header value cannot hold a line break or NUL", k);
            return RB_EINVAL;
        }
    }
    return 0;
}
