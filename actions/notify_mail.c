/*
 * notify_mail.c — the `email` channel of `notify`: one message over SMTP
 * with libcurl (STARTTLS required by default), From / To / Subject / Date
 * headers, a text part and an optional HTML part as multipart/alternative,
 * the MIME built by curl_mime (quoted-printable parts), never by hand.
 *
 * Owns: the mail parameters' checks, the addresses, the encoded subject,
 * and the curl objects of one transfer (mime, recipients, headers), made by
 * rb__notify_mail_setup on each attempt's handle and freed by
 * rb__notify_mail_release after curl is done with it.
 *
 * Must never:
 *   - let a value become a header or a recipient: CR, LF and NUL are
 *     refused in addresses (and in every parameter after rendering); the
 *     subject is made one line, and encoded (RFC 2047) when not ASCII;
 *   - send a password in clear: smtp:// goes through STARTTLS unless the
 *     runbook says `starttls: false`, and then credentials are refused;
 *   - run the transfer itself: http_client.c drives it on the loop.
 */
#define _GNU_SOURCE
#include "http_client.h"
#include "notify_int.h"

#include "with.h"

#include <runbook/runbook.h>

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAIL_MAX_RCPTS 50

struct notify_mail {
    char *url, *username, *password, *ca_file;
    int starttls;
    char *from_hdr, *from_addr;
    char *to_hdr; /* "a@x, Ops <b@y>" */
    char *rcpts;  /* "a@x, b@y": for the result */
    char **to_addr;
    size_t nto;
    char *subject; /* header-ready: ASCII, or RFC 2047 encoded words */
    char *text, *html;
    /* one transfer's */
    curl_mime *mime;
    struct curl_slist *rcpt_list, *headers;
    char reply[256]; /* the server's first failing reply line, "451 4.3.0 try later" */
};

/* The bare address of "a@b" or "Name <a@b>", malloc'd; NULL when it is not
 * one address with nothing dangerous in it. */
static char *addr_of(const char *s)
{
    const char *lt = strchr(s, '<');
    const char *a = s, *e = s + strlen(s);
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1] != '\0')
            return NULL;
        for (const char *p = s; p < lt; p++) /* a display name: printable ASCII */
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || strchr("\"\\<>,;", *p))
                return NULL;
        a = lt + 1;
        e = gt;
    }
    while (a < e && *a == ' ')
        a++;
    while (e > a && e[-1] == ' ')
        e--;
    const char *at = memchr(a, '@', (size_t)(e - a));
    if (!at || at == a || at + 1 == e || e - a > 254)
        return NULL;
    for (const char *p = a; p < e; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f || strchr("<>,;\"\\()[]", *p))
            return NULL;
    return strndup(a, (size_t)(e - a));
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int addr_ok(const json_t *v)
{
    if (!json_is_string(v) || rb__with_has_nul(v) || has_ctl(json_string_value(v)))
        return 0;
    char *a = addr_of(json_string_value(v));
    free(a);
    return a != NULL;
}

int rb__notify_mail_check(const json_t *with, int rendered, char *msg, size_t msglen,
                          const char **key)
{
    const json_t *url = rb__with_get(with, "url");
    if (!url)
        RB__WITH_FAIL("url", "url is required: the mail server, smtp://host:587 or smtps://host:465");
    if (!rb__with_unrendered(url, rendered)) {
        const char *u = json_string_value(url);
        if (!u || rb__with_has_nul(url) || has_ctl(u) ||
            (strncasecmp(u, "smtp://", 7) && strncasecmp(u, "smtps://", 8)))
            RB__WITH_FAIL("url", "url must be the mail server, smtp://host:587 or smtps://host:465");
    }
    const json_t *from = rb__with_get(with, "from");
    if (!from)
        RB__WITH_FAIL("from", "from is required: the sender's address");
    if (!rb__with_unrendered(from, rendered) && !addr_ok(from))
        RB__WITH_FAIL("from", "from must be one address, a@example.com or \"Name <a@example.com>\"");
    const json_t *to = rb__with_get(with, "to");
    if (!to)
        RB__WITH_FAIL("to", "to is required: an address or a list of addresses");
    if (!rb__with_unrendered(to, rendered)) {
        if (json_is_array(to)) {
            if (!json_array_size(to) || json_array_size(to) > MAIL_MAX_RCPTS)
                RB__WITH_FAIL("to", "to must list 1 to %d addresses", MAIL_MAX_RCPTS);
            size_t i;
            const json_t *a;
            json_array_foreach(to, i, a)
                if (!rb__with_unrendered(a, rendered) && !addr_ok(a))
                    RB__WITH_FAIL("to", "to[%zu] is not one address (a@example.com)", i);
        } else if (!addr_ok(to)) {
            RB__WITH_FAIL("to", "to must be an address or a list of addresses");
        }
    }
    static const char *const strs[] = {"username", "password", "subject", "html", "ca_file"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        const json_t *v = rb__with_get(with, strs[i]);
        if (v && !rb__with_unrendered(v, rendered) && (!json_is_string(v) || rb__with_has_nul(v)))
            RB__WITH_FAIL(strs[i], "%s must be a string without NUL bytes", strs[i]);
    }
    const json_t *st = rb__with_get(with, "starttls");
    if (st && !rb__with_unrendered(st, rendered) && !json_is_boolean(st))
        RB__WITH_FAIL("starttls", "starttls must be true or false");
    /* "{{ params.pw }}" may render to "", which means no password: it is
     * judged once rendered */
    const json_t *pwv = rb__with_get(with, "password");
    const char *pw = json_string_value(pwv);
    if (json_is_false(st) && pw && *pw && !rb__with_unrendered(pwv, rendered))
        RB__WITH_FAIL("starttls", "a password is never sent without TLS: drop starttls: false, or use smtps://");
    return 0;
}

/* The subject as a header value: as is when printable ASCII, else RFC 2047
 * "=?UTF-8?B?…?=" words of at most 45 bytes each, cut on UTF-8 boundaries,
 * one a line (folded: CRLF and a space), so no line passes RFC 5322's 998
 * bytes however long the subject. */
static char *subject_encode(const char *s)
{
    int ascii = 1;
    for (const char *p = s; *p; p++)
        ascii &= (unsigned char)*p < 0x80;
    if (ascii)
        return strdup(s);
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    if (!o)
        return NULL;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t k = n - i > 45 ? 45 : n - i;
        while (i + k < n && k > 1 && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k--;
        unsigned char b64[64];
        EVP_EncodeBlock(b64, (const unsigned char *)s + i, (int)k);
        fprintf(o, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", b64);
        i += k;
    }
    if (fclose(o) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void rb__notify_mail_free(notify_mail_t *m)
{
    if (!m)
        return;
    rb__notify_mail_release(m);
    free(m->url);
    free(m->username);
    free(m->password);
    free(m->ca_file);
    free(m->from_hdr);
    free(m->from_addr);
    free(m->to_hdr);
    free(m->rcpts);
    for (size_t i = 0; i < m->nto; i++)
        free(m->to_addr[i]);
    free(m->to_addr);
    free(m->subject);
    free(m->text);
    free(m->html);
    free(m);
}

/* A string parameter, NULL when absent or empty (an empty parameter is
 * how a runbook leaves a setting off). */
static char *dup_str(const json_t *with, const char *k)
{
    const char *s = json_string_value(rb__with_get(with, k));
    return s && *s ? strdup(s) : NULL;
}

/* Appends s to the sep-joined list *list. 0 or -1. */
static int join(char **list, const char *s, const char *sep)
{
    char *n = NULL;
    if (asprintf(&n, "%s%s%s", *list ? *list : "", *list ? sep : "", s) < 0)
        return -1;
    free(*list);
    *list = n;
    return 0;
}

notify_mail_t *rb__notify_mail_new(const json_t *with, const char *subject, const char *text,
                                   const char *html, const char *base_dir, char *msg, size_t msglen)
{
    notify_mail_t *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    m->url = dup_str(with, "url");
    m->username = dup_str(with, "username");
    m->password = dup_str(with, "password");
    m->starttls = !json_is_false(rb__with_get(with, "starttls"));
    const char *ca = json_string_value(rb__with_get(with, "ca_file"));
    if (ca && !*ca)
        ca = NULL;
    if (ca && asprintf(&m->ca_file, "%s%s%s", ca[0] == '/' ? "" : base_dir, ca[0] == '/' ? "" : "/", ca) < 0)
        m->ca_file = NULL;
    if (m->ca_file && access(m->ca_file, R_OK) != 0) {
        snprintf(msg, msglen, "ca_file: %s: %s", m->ca_file, strerror(errno));
        rb__notify_mail_free(m);
        return NULL;
    }
    m->from_hdr = dup_str(with, "from");
    m->from_addr = m->from_hdr ? addr_of(m->from_hdr) : NULL;
    const json_t *to = rb__with_get(with, "to");
    size_t nto = json_is_array(to) ? json_array_size(to) : 1;
    m->to_addr = calloc(nto, sizeof(*m->to_addr));
    int bad = !m->url || !m->from_addr || !m->to_addr || (ca && !m->ca_file);
    for (size_t i = 0; !bad && i < nto; i++) {
        const char *t = json_string_value(json_is_array(to) ? json_array_get(to, i) : to);
        if (!t || !(m->to_addr[i] = addr_of(t))) {
            bad = 1;
            break;
        }
        m->nto++;
        /* one recipient a line (folded) in the header: a long list stays
         * under RFC 5322's 998 bytes a line */
        bad = join(&m->to_hdr, t, ",\r\n ") < 0 || join(&m->rcpts, m->to_addr[i], ", ") < 0;
    }
    char *one = bad ? NULL : rb__notify_one_line(subject, strlen(subject), 900);
    m->subject = one ? subject_encode(one) : NULL;
    free(one);
    m->text = strdup(text);
    m->html = html ? strdup(html) : NULL;
    if (bad || !m->subject || !m->text || (html && !m->html)) {
        snprintf(msg, msglen, bad && m->to_addr && m->from_addr ? "to: not an address"
                              : bad && m->to_addr               ? "from: not an address"
                                                                : "out of memory");
        rb__notify_mail_free(m);
        return NULL;
    }
    return m;
}

const char *rb__notify_mail_rcpts(const notify_mail_t *m)
{
    return m->rcpts;
}

void rb__notify_mail_release(void *arg)
{
    notify_mail_t *m = arg;
    curl_mime_free(m->mime);
    m->mime = NULL;
    curl_slist_free_all(m->rcpt_list);
    m->rcpt_list = NULL;
    curl_slist_free_all(m->headers);
    m->headers = NULL;
}

static int add_header(notify_mail_t *m, const char *name, const char *v)
{
    char *line = NULL;
    if (asprintf(&line, "%s: %s", name, v) < 0)
        return -1;
    struct curl_slist *n = curl_slist_append(m->headers, line);
    free(line);
    if (!n)
        return -1;
    m->headers = n;
    return 0;
}

/* A text part of mime: data as UTF-8 text of type (text/plain, text/html),
 * quoted-printable, its lines ending in CRLF (a bare LF would be encoded
 * "=0A" and the part would read as one line). */
static int add_text_part(curl_mime *mime, const char *data, const char *type)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    char *crlf = malloc(strlen(data) * 2 + 1);
    size_t w = 0;
    for (const char *c = data; crlf && *c; c++) {
        if (*c == '\n' && (c == data || c[-1] != '\r'))
            crlf[w++] = '\r';
        crlf[w++] = *c;
    }
    int ok = p && crlf && (crlf[w] = '\0', curl_mime_data(p, crlf, w) == CURLE_OK);
    free(crlf);
    return ok &&
                   curl_mime_type(p, type) == CURLE_OK &&
                   curl_mime_encoder(p, "quoted-printable") == CURLE_OK
               ? 0
               : -1;
}

#define SET(opt, val) RB__HTTP_SET(e, opt, val)

/* Message-ID: <32 random hex digits@the sender's domain> (RFC 5322 3.6.4),
 * new for each try as each is a new message to the server. */
static int add_message_id(notify_mail_t *m)
{
    unsigned char r[16];
    char id[300], hex[33];
    if (RAND_bytes(r, sizeof(r)) != 1)
        return -1;
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    const char *at = strrchr(m->from_addr, '@');
    snprintf(id, sizeof(id), "<%s%s>", hex, at ? at : "@runbook.invalid");
    return add_header(m, "Message-ID", id);
}

/* CURLOPT_DEBUGFUNCTION: keeps the server's failing reply line (libcurl says
 * only "Weird server reply" and drops the server's words). */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)e;
    notify_mail_t *m = arg;
    /* the first failing reply (4xx, 5xx): a QUIT's 221 may follow it */
    if (type != CURLINFO_HEADER_IN || size < 3 || m->reply[0] || (data[0] != '4' && data[0] != '5'))
        return 0;
    char *one = rb__notify_one_line(data, size, sizeof(m->reply) - 1);
    if (one) {
        size_t n = strlen(one);
        while (n && one[n - 1] == ' ')
            one[--n] = '\0';
        snprintf(m->reply, sizeof(m->reply), "%s", one);
    }
    free(one);
    return 0;
}

const char *rb__notify_mail_reply(const notify_mail_t *m)
{
    return m->reply;
}

int rb__notify_mail_setup(void *easy, void *arg, char *msg, size_t msglen)
{
    CURL *e = easy;
    notify_mail_t *m = arg;
    rb__notify_mail_release(m);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
    int bad = add_header(m, "From", m->from_hdr) < 0 || add_header(m, "To", m->to_hdr) < 0 ||
              add_header(m, "Subject", m->subject) < 0 || add_header(m, "Date", date) < 0 ||
              add_header(m, "Auto-Submitted", "auto-generated") < 0 ||
              add_message_id(m) < 0 ||
              add_header(m, "X-Mailer", "runbook/" RB_VERSION) < 0;
    for (size_t i = 0; !bad && i < m->nto; i++) {
        char *r = NULL;
        struct curl_slist *n = asprintf(&r, "<%s>", m->to_addr[i]) < 0 ? NULL : curl_slist_append(m->rcpt_list, r);
        free(r);
        if (!n)
            bad = 1;
        else
            m->rcpt_list = n;
    }
    if (!bad && !(m->mime = curl_mime_init(e)))
        bad = 1;
    if (!bad && m->html) {
        /* multipart/alternative: text first, the richer HTML last (RFC 2046) */
        curl_mime *alt = curl_mime_init(e);
        curl_mimepart *part = alt ? curl_mime_addpart(m->mime) : NULL;
        if (!part || add_text_part(alt, m->text, "text/plain; charset=utf-8") < 0 ||
            add_text_part(alt, m->html, "text/html; charset=utf-8") < 0 ||
            curl_mime_subparts(part, alt) != CURLE_OK) {
            curl_mime_free(alt);
            bad = 1;
        } else if (curl_mime_type(part, "multipart/alternative") != CURLE_OK) {
            bad = 1;
        }
    } else if (!bad) {
        bad = add_text_part(m->mime, m->text, "text/plain; charset=utf-8") < 0;
    }
    if (bad) {
        snprintf(msg, msglen, "out of memory");
        return RB_ENOMEM;
    }
    char from[300];
    snprintf(from, sizeof(from), "<%s>", m->from_addr);
    SET(CURLOPT_URL, m->url);
    SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SET(CURLOPT_USE_SSL, (long)(m->starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    SET(CURLOPT_MAIL_FROM, from);
    SET(CURLOPT_MAIL_RCPT, m->rcpt_list);
    SET(CURLOPT_HTTPHEADER, m->headers);
    SET(CURLOPT_MIMEPOST, m->mime);
    if (m->username)
        SET(CURLOPT_USERNAME, m->username);
    if (m->password)
        SET(CURLOPT_PASSWORD, m->password);
    if (m->ca_file)
        SET(CURLOPT_CAINFO, m->ca_file);
    m->reply[0] = '\0';
    SET(CURLOPT_DEBUGFUNCTION, on_debug);
    SET(CURLOPT_DEBUGDATA, m);
    SET(CURLOPT_VERBOSE, 1L); /* for on_debug: nothing is printed */
    return 0;
}
