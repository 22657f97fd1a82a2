/*
 * http_client.h — the one HTTP transfer engine shared by the `http` and
 * `notify` actions (actions/http_client.c): libcurl's multi interface driven
 * by the uv loop (uv_poll_t per socket, one uv_timer_t per loop), one CURLM
 * per loop shared by every transfer on it.
 *
 * Internal to the built-in actions (rb__ prefix). Loop thread only, except
 * the rb__http_check_* helpers, which touch nothing but their arguments.
 */
#ifndef RB_HTTP_CLIENT_H
#define RB_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* At most this many redirects are followed. */
#define RB_HTTP_MAX_REDIRS 5
/* Past max_body the body is read and dropped up to this multiple of it (at
 * least RB_HTTP_DRAIN_MIN bytes in all); past that the transfer is stopped
 * and the result is an error, "response too large". */
#define RB_HTTP_DRAIN_FACTOR 4
#define RB_HTTP_DRAIN_MIN (64 * 1024)
/* Response headers kept in the result (more are read and dropped). */
#define RB_HTTP_MAX_HEADERS 100
#define RB_HTTP_MAX_HEADER_BYTES (32 * 1024)

typedef struct rb__http_req rb__http_req_t;

/*
 * Called exactly once per started request, on the loop thread, from a uv
 * close callback: never from inside rb__http_start() or rb__http_cancel().
 * result is stolen: an object with
 *   ok (2xx and a complete transfer), outcome ("ok" | "failed" | "error" |
 *   "timeout" | "cancelled"), status (the HTTP status code, 0 when no
 *   response arrived), headers (lower-case names), body (UTF-8, U+FFFD for
 *   bad bytes), body_truncated, time_ms, url (the last URL asked for after
 *   redirects), redirects, and error (a string, only when something failed
 *   below HTTP).
 * raw / raw_len are the body bytes as received (at most max_body), valid only
 * during the call. By then the request is freed: its pointer is dead.
 */
typedef void (*rb__http_done_cb)(json_t *result, const char *raw, size_t raw_len, void *arg);

typedef struct rb__http_opts {
    const char *url;          /* http:// or https:// only */
    const char *method;       /* NULL: GET, or POST when body is set */
    const json_t *headers;    /* borrowed for the call: object of name -> scalar, or NULL */
    const char *body;         /* NULL: none. Copied. */
    size_t body_len;
    const char *content_type; /* Content-Type for body unless headers give one; may be NULL */
    uint64_t timeout_ms;      /* the whole transfer, connect included; 0: none */
    int insecure;             /* 1: no TLS peer or host name verification */
    int follow_redirects;     /* 1: follow up to RB_HTTP_MAX_REDIRS, same or safer scheme */
    size_t max_body;          /* body bytes kept */
    int drain_body;           /* 1: past max_body, read and drop the rest to its end (never
                               * "response too large": the status is the answer; the
                               * timeout still bounds the transfer) */
    /* Another protocol on the same loop machinery (notify's SMTP): when
     * setup is set, url is not checked here and method, headers, body,
     * content_type and follow_redirects are ignored; setup(easy, setup_arg)
     * sets the URL, the protocols allowed and the rest on the easy handle
     * (a CURL *) after the common options (timeouts, TLS verification,
     * callbacks). release(setup_arg), when set, runs exactly once after
     * start returned: after the easy handle is cleaned up, or at once when
     * start fails. The result is built as for HTTP: status is the
     * protocol's last response code (SMTP: 250 …), ok when it is 2xx. */
    int (*setup)(void *easy, void *setup_arg, char *msg, size_t msglen);
    void (*release)(void *setup_arg);
    void *setup_arg;
} rb__http_opts_t;

/*
 * Starts a transfer on loop. On success returns 0, sets *out (valid until
 * done is called; only for rb__http_cancel) and done will be called once.
 * On failure returns a negative RB_E* with a message in msg and done is never
 * called. Loop thread.
 */
int rb__http_start(uv_loop_t *loop, const rb__http_opts_t *o, rb__http_done_cb done, void *arg,
                   rb__http_req_t **out, char *msg, size_t msglen);

/* Stops a started transfer (its easy handle leaves the multi at once); done
 * still comes, once, with outcome "cancelled". A no-op once the transfer has
 * ended and its report is on the way. Loop thread. */
void rb__http_cancel(rb__http_req_t *req);

/* Number of loops that have a live CURLM (tests: 0 once every transfer has
 * ended). Any thread. */
size_t rb__http_active_loops(void);

/* In a function with (…, char *msg, size_t msglen) that returns an int:
 * sets a libcurl option on the easy handle e, or says which one libcurl
 * refused and returns RB_EINVAL. For files that include <curl/curl.h>. */
#define RB__HTTP_SET(e, opt, val)                                                                  \
    do {                                                                                           \
        if (curl_easy_setopt((e), opt, val) != CURLE_OK) {                                         \
            snprintf(msg, msglen, "libcurl refused %s", #opt);                                     \
            return RB_EINVAL;                                                                      \
        }                                                                                          \
    } while (0)

/* --- parameter checks shared by http.c and notify.c (any thread), in
 *     actions/http_params.c --- */

/* 0 when url is an http:// or https:// URL (scheme case-insensitive) with a
 * host and no control bytes; else RB_EINVAL with msg. */
int rb__http_check_url(const char *url, char *msg, size_t msglen);

/* The schemes a redirect from url may go to: "https" from https (never down
 * to plain http), "http,https" from http. */
const char *rb__http_redir_protocols(const char *url);

/* 0 when headers (an object) has token names and scalar values without CR,
 * LF or NUL. Values that are still {{ }} templates pass when !rendered. */
int rb__http_check_headers(const json_t *headers, int rendered, char *msg, size_t msglen);

/* 1 for a character of an HTTP token (a method or a header name); 1 when s
 * is a token of 1..max characters. */
int rb__http_token_char(unsigned char c);
int rb__http_token_ok(const char *s, size_t max);

/* A JSON string of the bytes, ill-formed UTF-8 replaced by U+FFFD; when
 * truncated, a character cut by the end is dropped. Never NULL unless memory
 * ran out. */
json_t *rb__http_text(const char *buf, size_t len, int truncated);

#endif
