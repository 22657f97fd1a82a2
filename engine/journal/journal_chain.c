/*
 * journal_chain.c — the journal's hash chain: the canonical encoding of an
 * event and of a checkpoint, their SHA-256 (OpenSSL EVP), and the rules
 * `runbook audit verify` applies to the events in chain order.
 *
 * Owns: the byte layout that every event hash commits to. It is part of the
 * file format: docs/journal.md describes it so that an auditor can check a
 * journal without this program; changing it needs a new domain tag (the
 * "-v1" below) and a schema migration.
 *
 * Must never: touch SQLite (journal_append.c, journal_audit.c and
 * journal_schema.c feed it rows), or accept a chain it cannot fully
 * account for.
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rb__ev_tag[] = "runbook-journal-event-v1";      /* + its NUL */
static const char rb__cp_tag[] = "runbook-journal-checkpoint-v1"; /* + its NUL */
static const char rb__sig_tag[] = "runbook-journal-signature-v1"; /* + its NUL */

int rb__hasher_init(rb__hasher_t *h)
{
    h->ctx = EVP_MD_CTX_new();
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    /* Fetched once: EVP_sha256() would fetch it again on every init. */
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
    h->md = (void *)EVP_sha256();
#endif
    if (!h->ctx || !h->md) {
        rb__hasher_free(h);
        return RB_ENOMEM;
    }
    return 0;
}

void rb__hasher_free(rb__hasher_t *h)
{
    EVP_MD_CTX_free(h->ctx);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD_free(h->md);
#endif
    h->ctx = NULL;
    h->md = NULL;
}

static void put_i64(EVP_MD_CTX *c, int64_t v)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(u >> (56 - 8 * i));
    EVP_DigestUpdate(c, b, 8);
}

static void put_bytes(EVP_MD_CTX *c, const void *p, size_t n)
{
    put_i64(c, (int64_t)n);
    if (n)
        EVP_DigestUpdate(c, p, n);
}

static int finish(EVP_MD_CTX *c, unsigned char out[RB__J_HASH_LEN])
{
    unsigned int n = 0;
    if (!EVP_DigestFinal_ex(c, out, &n) || n != RB__J_HASH_LEN)
        return RB_EJOURNAL;
    return 0;
}

/*
 * tag NUL | run_id | seq | wall_ms | mono_ns | len type | 0 or (1 len step)
 * | attempt | len data | prev_hash — integers 8 bytes big-endian, lengths
 * likewise. Every field is length-delimited, so no two different events
 * encode to the same bytes.
 */
static unsigned char *be64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(u >> (56 - 8 * i));
    return p + 8;
}

int rb__chain_event_hash(rb__hasher_t *h, const rb__jev_t *e, unsigned char out[RB__J_HASH_LEN])
{
    EVP_MD_CTX *c = h->ctx;
    if (!EVP_DigestInit_ex(c, h->md, NULL))
        return RB_EJOURNAL;
    /* Everything up to the data in one update when it fits (it nearly
     * always does): this runs once per event on the writer thread. */
    unsigned char head[512], *p = head;
    if (e->type_len + e->step_len <= sizeof head - sizeof rb__ev_tag - 8 * 8 - 1) {
        memcpy(p, rb__ev_tag, sizeof rb__ev_tag);
        p += sizeof rb__ev_tag;
        p = be64(p, e->run_id);
        p = be64(p, e->seq);
        p = be64(p, e->wall_ms);
        p = be64(p, e->mono_ns);
        p = be64(p, (int64_t)e->type_len);
        memcpy(p, e->type, e->type_len);
        p += e->type_len;
        if (e->step) {
            *p++ = 1;
            p = be64(p, (int64_t)e->step_len);
            memcpy(p, e->step, e->step_len);
            p += e->step_len;
        } else {
            *p++ = 0;
        }
        p = be64(p, e->attempt);
        p = be64(p, (int64_t)e->data_len);
        EVP_DigestUpdate(c, head, (size_t)(p - head));
        EVP_DigestUpdate(c, e->data, e->data_len);
    } else {
        EVP_DigestUpdate(c, rb__ev_tag, sizeof rb__ev_tag);
        put_i64(c, e->run_id);
        put_i64(c, e->seq);
        put_i64(c, e->wall_ms);
        put_i64(c, e->mono_ns);
        put_bytes(c, e->type, e->type_len);
        if (e->step) {
            EVP_DigestUpdate(c, "\1", 1);
            put_bytes(c, e->step, e->step_len);
        } else {
            EVP_DigestUpdate(c, "\0", 1);
        }
        put_i64(c, e->attempt);
        put_bytes(c, e->data, e->data_len);
    }
    EVP_DigestUpdate(c, e->prev_hash, RB__J_HASH_LEN);
    return finish(c, out);
}

/* tag NUL | id | created_at | before_ms | cut_event_id | cut_hash |
 * pruned_runs | pruned_events | prev_hash */
int rb__chain_checkpoint_hash(rb__hasher_t *h, const rb__jcp_t *cp,
                              unsigned char out[RB__J_HASH_LEN])
{
    EVP_MD_CTX *c = h->ctx;
    if (!EVP_DigestInit_ex(c, h->md, NULL))
        return RB_EJOURNAL;
    EVP_DigestUpdate(c, rb__cp_tag, sizeof rb__cp_tag);
    put_i64(c, cp->id);
    put_i64(c, cp->created_at);
    put_i64(c, cp->before_ms);
    put_i64(c, cp->cut_event_id);
    EVP_DigestUpdate(c, cp->cut_hash, RB__J_HASH_LEN);
    put_i64(c, cp->pruned_runs);
    put_i64(c, cp->pruned_events);
    EVP_DigestUpdate(c, cp->prev_hash, RB__J_HASH_LEN);
    return finish(c, out);
}

int rb__j_sha256(const void *p, size_t n, unsigned char out[RB__J_HASH_LEN])
{
    unsigned int len = 0;
    if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) || len != RB__J_HASH_LEN)
        return RB_EJOURNAL;
    return 0;
}

/* tag NUL | id | event_id | hash | signed_at: what a signed checkpoint's
 * Ed25519 signature is over. */
size_t rb__chain_sig_message(const rb__jsig_t *s, unsigned char out[RB__J_SIGMSG_LEN])
{
    unsigned char *p = out;
    memcpy(p, rb__sig_tag, sizeof rb__sig_tag);
    p += sizeof rb__sig_tag;
    p = be64(p, s->id);
    p = be64(p, s->event_id);
    memcpy(p, s->hash, RB__J_HASH_LEN);
    p += RB__J_HASH_LEN;
    p = be64(p, s->signed_at);
    return (size_t)(p - out);
}

void rb__hex(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* ---- canonical JSON --------------------------------------------------------------
 * The text an event's data is stored (and hashed) as: jansson's
 * json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) byte for byte — compact,
 * object keys in byte order, "\uXXXX" (upper-case hex) for control
 * characters, UTF-8 as is, reals as "%.17g" with a ".0" when needed and no
 * "+" or leading zeros in the exponent. Written here rather than by
 * jansson because this runs on the loop thread for every event, and
 * json_dumps with sorted keys costs several times more (a heap array and
 * qsort per object, printf per number, a growing buffer per call).
 */

static int buf_reserve(rb__buf_t *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return RB_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(rb__buf_t *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return RB_ENOMEM;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

void rb__buf_free(rb__buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Length of the valid UTF-8 sequence at p (2-4), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

static int put_string(rb__buf_t *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)str, *end = p + n, *run = p;
    if (buf_reserve(b, n + 2) != 0)
        return RB_ENOMEM;
    b->p[b->len++] = '"';
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t k = utf8_seq(p, end);
            if (!k)
                return RB_EINVAL;
            p += k;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            elen = 6;
        }
        if (buf_put(b, (const char *)run, (size_t)(p - run)) != 0 || buf_put(b, esc, elen) != 0)
            return RB_ENOMEM;
        run = ++p;
    }
    if (buf_put(b, (const char *)run, (size_t)(p - run)) != 0 || buf_put(b, "\"", 1) != 0)
        return RB_ENOMEM;
    return 0;
}

static int put_integer(rb__buf_t *b, json_int_t v)
{
    char tmp[24], *q = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    return buf_put(b, q, (size_t)(tmp + sizeof tmp - q));
}

/* jansson's jsonp_dtostr with its default precision (17). */
static int put_real(rb__buf_t *b, double v)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp - 3, "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof tmp - 3)
        return RB_EINVAL;
    size_t len = (size_t)n;
    for (size_t i = 0; i < len; i++)
        if (tmp[i] == ',')
            tmp[i] = '.'; /* a locale's decimal comma */
    if (!memchr(tmp, '.', len) && !memchr(tmp, 'e', len)) {
        tmp[len++] = '.';
        tmp[len++] = '0';
        tmp[len] = '\0';
    }
    char *start = memchr(tmp, 'e', len);
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - tmp) + 1);
            len -= (size_t)(end - start);
        }
    }
    return buf_put(b, tmp, len);
}

typedef struct {
    const char *key;
    size_t len;
    json_t *value;
} kv_t;

static int kv_cmp(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int canon(rb__buf_t *b, const json_t *v, int depth)
{
    int rc;
    if (depth > RB__J_JSON_DEPTH)
        return RB_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        kv_t stack[16], *kv = n <= 16 ? stack : malloc(n * sizeof *kv);
        if (!kv)
            return RB_ENOMEM;
        for (void *it = json_object_iter((json_t *)v); it && i < n;
             it = json_object_iter_next((json_t *)v, it), i++)
            kv[i] = (kv_t){ json_object_iter_key(it), json_object_iter_key_len(it),
                            json_object_iter_value(it) };
        n = i;
        if (n <= 16) { /* insertion sort: no allocation for the usual object */
            for (size_t a = 1; a < n; a++)
                for (size_t c = a; c > 0 && kv_cmp(&kv[c - 1], &kv[c]) > 0; c--) {
                    kv_t t = kv[c];
                    kv[c] = kv[c - 1];
                    kv[c - 1] = t;
                }
        } else {
            qsort(kv, n, sizeof *kv, kv_cmp);
        }
        rc = buf_put(b, "{", 1);
        for (i = 0; rc == 0 && i < n; i++) {
            if (i)
                rc = buf_put(b, ",", 1);
            if (rc == 0)
                rc = put_string(b, kv[i].key, kv[i].len);
            if (rc == 0)
                rc = buf_put(b, ":", 1);
            if (rc == 0)
                rc = canon(b, kv[i].value, depth + 1);
        }
        if (kv != stack)
            free(kv);
        return rc ? rc : buf_put(b, "}", 1);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        rc = buf_put(b, "[", 1);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (i)
                rc = buf_put(b, ",", 1);
            if (rc == 0)
                rc = canon(b, json_array_get(v, i), depth + 1);
        }
        return rc ? rc : buf_put(b, "]", 1);
    }
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_integer(b, json_integer_value(v));
    case JSON_REAL:
        return put_real(b, json_real_value(v));
    case JSON_TRUE:
        return buf_put(b, "true", 4);
    case JSON_FALSE:
        return buf_put(b, "false", 5);
    case JSON_NULL:
        return buf_put(b, "null", 4);
    }
    return RB_EINVAL;
}

int rb__canon_json(rb__buf_t *b, const json_t *v)
{
    b->len = 0;
    int rc = v ? canon(b, v, 0) : buf_put(b, "{}", 2);
    if (rc == 0 && buf_reserve(b, 0) == 0)
        b->p[b->len] = '\0';
    return rc;
}

/* ---- int64 map ---------------------------------------------------------------- */

static size_t slot(const rb__i64map_t *m, int64_t key)
{
    uint64_t x = (uint64_t)key * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 17) & (m->cap - 1);
}

int rb__map_get(const rb__i64map_t *m, int64_t key, int64_t *val)
{
    if (!m->cap)
        return 0;
    for (size_t i = slot(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            *val = m->vals[i];
            return 1;
        }
        if (m->keys[i] == 0)
            return 0;
    }
}

static int grow(rb__i64map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    int64_t *k = calloc(cap, sizeof *k), *v = calloc(cap, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return RB_ENOMEM;
    }
    rb__i64map_t n = { k, v, cap, 0 };
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            rb__map_put(&n, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    *m = n;
    return 0;
}

int rb__map_put(rb__i64map_t *m, int64_t key, int64_t val)
{
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != 0)
        return RB_ENOMEM;
    for (size_t i = slot(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key || m->keys[i] == 0) {
            if (m->keys[i] == 0)
                m->len++;
            m->keys[i] = key;
            m->vals[i] = val;
            return 0;
        }
    }
}

void rb__map_clear(rb__i64map_t *m)
{
    if (m->cap) {
        memset(m->keys, 0, m->cap * sizeof *m->keys);
        m->len = 0;
    }
}

void rb__map_free(rb__i64map_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- verify rules ------------------------------------------------------------ */

int rb__jv_init(rb__jverify_t *v, int64_t first_id, const unsigned char start[RB__J_HASH_LEN])
{
    memset(v, 0, sizeof *v);
    v->problems = json_array();
    if (!v->problems || rb__hasher_init(&v->h) != 0) {
        json_decref(v->problems);
        return RB_ENOMEM;
    }
    v->expect_id = first_id;
    memcpy(v->expect_prev, start, RB__J_HASH_LEN);
    return 0;
}

void rb__jv_free(rb__jverify_t *v)
{
    json_decref(v->problems);
    rb__hasher_free(&v->h);
    rb__map_free(&v->seqs);
    v->problems = NULL;
}

void rb__jv_problem(rb__jverify_t *v, const rb__jev_t *e, int64_t event_id, const char *fmt, ...)
{
    v->nproblems++;
    if (json_array_size(v->problems) >= RB__JV_MAX_PROBLEMS)
        return;
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    json_t *p = json_object();
    if (!p) {
        v->oom = 1;
        return;
    }
    json_object_set_new(p, "event_id", e ? json_integer(e->id)
                                          : event_id > 0 ? json_integer(event_id) : json_null());
    json_object_set_new(p, "run_id", e ? json_integer(e->run_id) : json_null());
    json_object_set_new(p, "seq", e ? json_integer(e->seq) : json_null());
    json_object_set_new(p, "type", e ? json_stringn(e->type ? e->type : "", e->type_len)
                                     : json_null());
    json_object_set_new(p, "step", e && e->step ? json_stringn(e->step, e->step_len)
                                                : json_null());
    json_object_set_new(p, "what", json_string(what));
    if (json_array_append_new(v->problems, p) != 0)
        v->oom = 1;
}

/*
 * One finding per event, the most telling first: a gap before it, then its
 * own content, then its link, then its run's sequence. After a finding the
 * walk resynchronises on the event as stored, so that one edit is one
 * finding and not a cascade.
 */
void rb__jv_event(rb__jverify_t *v, const rb__jev_t *e, const void *hash, size_t hash_len,
                  int run_exists)
{
    unsigned char computed[RB__J_HASH_LEN];
    int64_t last_seq = 0;
    int known = rb__map_get(&v->seqs, e->run_id, &last_seq);
    int found = 0;

    v->events++;
    if (e->id != v->expect_id) {
        if (e->id == v->expect_id + 1)
            rb__jv_problem(v, e, 0, "event #%lld, before it, is missing (deleted)",
                           (long long)v->expect_id);
        else if (e->id > v->expect_id)
            rb__jv_problem(v, e, 0, "events #%lld to #%lld, before it, are missing (deleted)",
                           (long long)v->expect_id, (long long)(e->id - 1));
        else
            rb__jv_problem(v, e, 0,
                           "event id #%lld is out of sequence (expected #%lld): inserted or"
                           " renumbered", (long long)e->id, (long long)v->expect_id);
        found = 1;
    }
    if (!found && rb__chain_event_hash(&v->h, e, computed) != 0) {
        v->oom = 1;
        return;
    }
    if (!found && (hash_len != RB__J_HASH_LEN || memcmp(hash, computed, RB__J_HASH_LEN) != 0)) {
        rb__jv_problem(v, e, 0, "its content does not match its hash: a column was edited");
        found = 1;
    }
    if (!found && memcmp(e->prev_hash, v->expect_prev, RB__J_HASH_LEN) != 0) {
        if (v->last_id)
            rb__jv_problem(v, e, 0,
                           "it does not follow event #%lld (its prev_hash is not that event's"
                           " hash): events were inserted, deleted or reordered here",
                           (long long)v->last_id);
        else
            rb__jv_problem(v, e, 0,
                           "it does not follow the start of the chain (its prev_hash is not the"
                           " %s): events before it were deleted or it was inserted",
                           e->id == 1 ? "genesis hash" : "checkpoint's cut hash");
        found = 1;
    }
    if (!found && e->seq != last_seq + 1) {
        if (!known && e->seq > 1)
            rb__jv_problem(v, e, 0, "run %lld starts at seq %lld: its first events are missing",
                           (long long)e->run_id, (long long)e->seq);
        else
            rb__jv_problem(v, e, 0,
                           "run %lld: seq %lld follows seq %lld: events of the run are missing"
                           " or out of order", (long long)e->run_id, (long long)e->seq,
                           (long long)last_seq);
        found = 1;
    }
    if (!found && !run_exists)
        rb__jv_problem(v, e, 0, "run %lld has no record in the runs table (deleted)",
                       (long long)e->run_id);

    if (rb__map_put(&v->seqs, e->run_id, e->seq) != 0)
        v->oom = 1;
    v->expect_id = e->id + 1;
    v->last_id = e->id;
    if (hash_len == RB__J_HASH_LEN)
        memcpy(v->last_hash, hash, RB__J_HASH_LEN);
    else
        memset(v->last_hash, 0, RB__J_HASH_LEN);
    memcpy(v->expect_prev, v->last_hash, RB__J_HASH_LEN);
}

/* The rules of `audit verify` on the records around the events, whichever
 * backend read them (journal_audit.c, journal_pg_audit.c): the same
 * findings, in the same words. */

void rb__jv_event_bad_prev(rb__jverify_t *v, const rb__jev_t *e, const void *hash,
                           size_t hash_len)
{
    /* Not 32 bytes: no hash could have been computed over it. */
    rb__jv_problem(v, e, 0, "its prev_hash is not a 32-byte hash: a column was edited");
    v->events++;
    v->expect_id = e->id + 1;
    v->last_id = e->id;
    if (hash && hash_len == RB__J_HASH_LEN)
        memcpy(v->last_hash, hash, RB__J_HASH_LEN);
    else
        memset(v->last_hash, 0, RB__J_HASH_LEN);
    memcpy(v->expect_prev, v->last_hash, RB__J_HASH_LEN);
    if (rb__map_put(&v->seqs, e->run_id, e->seq) != 0)
        v->oom = 1;
}

static const unsigned char rb__jv_zero[RB__J_HASH_LEN];

void rb__jv_checkpoint(rb__jverify_t *v, rb__jvcp_t *s, const rb__jcp_t *cp,
                       const unsigned char *stored, json_t *list)
{
    unsigned char h[RB__J_HASH_LEN];
    const unsigned char *ch = cp->cut_hash, *ph = cp->prev_hash;
    rb__jcp_t c = *cp;
    c.cut_hash = ch ? ch : rb__jv_zero;
    c.prev_hash = ph ? ph : rb__jv_zero;
    if (!ch || !ph || !stored || rb__chain_checkpoint_hash(&v->h, &c, h) != 0 ||
        memcmp(h, stored, RB__J_HASH_LEN) != 0)
        rb__jv_problem(v, NULL, 0, "checkpoint %lld: its content does not match its hash"
                                   " (edited)", (long long)c.id);
    else if (memcmp(c.prev_hash, s->prev, RB__J_HASH_LEN) != 0)
        rb__jv_problem(v, NULL, 0, "checkpoint %lld does not follow the checkpoint before it"
                                   " (a checkpoint was deleted or inserted)", (long long)c.id);
    else if (c.cut_event_id <= s->cut)
        rb__jv_problem(v, NULL, 0, "checkpoint %lld cuts at event #%lld, not after the"
                                   " previous cut #%lld", (long long)c.id,
                       (long long)c.cut_event_id, (long long)s->cut);
    memcpy(s->prev, stored ? stored : rb__jv_zero, RB__J_HASH_LEN);
    s->cut = c.cut_event_id;
    memcpy(s->cut_hash, c.cut_hash, RB__J_HASH_LEN);
    char hex[2 * RB__J_HASH_LEN + 1];
    rb__hex(c.cut_hash, RB__J_HASH_LEN, hex);
    if (json_array_append_new(list, json_pack("{s:I,s:I,s:I,s:I,s:s,s:I,s:I}", "id",
                                              (json_int_t)c.id, "created_at",
                                              (json_int_t)c.created_at, "before_ms",
                                              (json_int_t)c.before_ms, "cut_event_id",
                                              (json_int_t)c.cut_event_id, "cut_hash", hex,
                                              "pruned_runs", (json_int_t)c.pruned_runs,
                                              "pruned_events", (json_int_t)c.pruned_events)) != 0)
        v->oom = 1;
}

void rb__jv_head(rb__jverify_t *v, int64_t head_id, const unsigned char head_hash[RB__J_HASH_LEN],
                 int64_t last, const unsigned char last_hash[RB__J_HASH_LEN])
{
    if (head_id == last + 1)
        rb__jv_problem(v, NULL, head_id,
                       "the chain head records event #%lld but the newest event is #%lld:"
                       " the newest event was deleted", (long long)head_id, (long long)last);
    else if (head_id > last)
        rb__jv_problem(v, NULL, last + 1,
                       "the chain head records event #%lld but the newest event is #%lld:"
                       " the newest events (#%lld to #%lld) were deleted",
                       (long long)head_id, (long long)last, (long long)(last + 1),
                       (long long)head_id);
    else if (head_id < last)
        rb__jv_problem(v, NULL, head_id + 1,
                       "events #%lld to #%lld are newer than the chain head (#%lld): added"
                       " outside the journal", (long long)(head_id + 1), (long long)last,
                       (long long)head_id);
    else if (memcmp(head_hash, last_hash, RB__J_HASH_LEN) != 0)
        rb__jv_problem(v, NULL, last,
                       "the chain head's hash is not event #%lld's: the newest event or the"
                       " head was edited", (long long)last);
}

void rb__jv_version(rb__jverify_t *v, const char *sha, const char *name, const char *src,
                    size_t len)
{
    char hex[65];
    if (rb__j_sha256_hex(src ? src : "", src ? len : 0, hex) != 0 || !sha || strcmp(sha, hex) != 0)
        rb__jv_problem(v, NULL, 0, "runbook version %.64s (%s): its text does not match its"
                                   " SHA-256 (edited)", sha ? sha : "?", name ? name : "?");
}

void rb__jv_run_status(rb__jverify_t *v, int64_t run_id, const char *have, const char *want)
{
    rb__jv_problem(v, NULL, 0,
                   "run %lld: the runs table says \"%.32s\" but its events end \"%.32s\""
                   " (the runs table was edited)", (long long)run_id, have ? have : "null",
                   want ? want : "null");
}

json_t *rb__jv_report(const rb__jverify_t *v, const char *path, int64_t runs, int64_t versions,
                      int64_t first_id, const json_t *cps, int64_t head_id,
                      const unsigned char head_hash[RB__J_HASH_LEN], int64_t head_wall_ms)
{
    char hex[2 * RB__J_HASH_LEN + 1];
    rb__hex(head_hash, RB__J_HASH_LEN, hex);
    json_t *out = json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:O,s:I}", "ok", v->nproblems == 0, "path",
                            path, "events", (json_int_t)v->events, "runs", (json_int_t)runs,
                            "versions", (json_int_t)versions, "first_event_id",
                            (json_int_t)first_id, "checkpoints", cps, "problems_total",
                            (json_int_t)v->nproblems);
    if (out) {
        json_object_set_new(out, "head",
                            head_id < 0 ? json_null()
                                        : json_pack("{s:I,s:s,s:I}", "event_id",
                                                    (json_int_t)head_id, "hash", hex, "wall_ms",
                                                    (json_int_t)head_wall_ms));
        json_object_set(out, "problems", v->problems);
    }
    return out;
}
