/*
 * journal_seal.c — signed checkpoints in the file: signing the chain head
 * inside a write transaction and storing the signature (the signatures
 * table), and, for `audit verify --pubkey/--anchor`, checking every
 * signature and every anchor against the chain as it is now. The hash
 * chain alone can be rewritten by whoever can write the file; a signed
 * head cannot be made again without the private key, nor an anchor kept
 * elsewhere changed.
 *
 * Owns: the signatures table (rb__j_apply_seal alone writes it) and the
 * findings about it. Must never: sign a head other than the one the open
 * transaction ends at; call a head proven that the chain walk did not reach
 * intact; trust a signature row's key_id for more than choosing the key
 * (the signature decides).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rb_journal_set_signing_key(rb_journal_t *j, rb_journal_key_t *k)
{
    RB__J_SQLITE_ONLY(j, "signed checkpoints (RUNBOOK_SIGNING_KEY)");
    if (k && (!rb__key_is_private(k) || (j->flags & RB_JOURNAL_READONLY) || j->w)) {
        snprintf(j->err, sizeof j->err, "%s: a signing key needs a private key and a journal"
                                        " open for writing, before the writer starts", j->path);
        rb_journal_key_free(k);
        return RB_EINVAL;
    }
    rb_journal_key_free(j->sign_key);
    j->sign_key = k;
    return 0;
}

int rb_journal_seal(rb_journal_t *j)
{
    RB__J_SQLITE_ONLY(j, "signed checkpoints (RUNBOOK_SIGNING_KEY)");
    if (!j->sign_key || (j->flags & RB_JOURNAL_SCRATCH))
        return 0;
    rb__jrec_t r = {.kind = RB__REC_SEAL, .wall_ms = rb__j_wall_ms()};
    return rb__j_write(j, &r, NULL);
}

int rb__j_apply_seal(rb__jconn_t *c)
{
    const rb_journal_key_t *k = c->j->sign_key;
    const char *what = "signing the chain head";
    if (!k || c->head_id <= 0)
        return 0;
    sqlite3_stmt *st;
    int ret = rb__j_stmt(c, RB__JST_SIG_LAST, &st);
    if (ret != 0)
        return ret;
    int rc = sqlite3_step(st);
    int64_t last = 0;
    int same = 0;
    if (rc == SQLITE_ROW) {
        last = sqlite3_column_int64(st, 0);
        const unsigned char *kid = rb__j_col_hash(st, 2);
        same = sqlite3_column_int64(st, 1) == c->head_id && kid &&
               memcmp(kid, rb__key_raw_id(k), RB__J_HASH_LEN) == 0;
    }
    rb__j_release(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rb__j_failc(c, rc, what);
    if (same)
        return 0; /* this head is signed already */
    rb__jsig_t s = {.id = last + 1, .event_id = c->head_id, .hash = c->head_hash,
                    .signed_at = rb__j_wall_ms()};
    unsigned char msg[RB__J_SIGMSG_LEN], sig[RB__J_SIG_LEN];
    size_t n = rb__chain_sig_message(&s, msg);
    if (rb__key_sign(k, msg, n, sig) != 0)
        return rb__j_say(c, RB_EJOURNAL, "%s: Ed25519 signing failed", what);
    if ((ret = rb__j_stmt(c, RB__JST_SIG_PUT, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, s.id);
    sqlite3_bind_int64(st, 2, s.event_id);
    sqlite3_bind_blob(st, 3, s.hash, RB__J_HASH_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, s.signed_at);
    sqlite3_bind_blob(st, 5, rb__key_raw_id(k), RB__J_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, sig, RB__J_SIG_LEN, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    rb__j_release(st);
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, what);
}

/* ---- anchors ------------------------------------------------------------------ */

#define RB__ANCHOR_TAG "runbook-anchor-v1:"

static int unhex(int ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* A decimal integer at *p (no sign), up to end; moves *p past it. */
static int parse_i64(const char **p, const char *end, int64_t *out)
{
    const char *q = *p;
    int64_t v = 0;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*q - '0');
    }
    if (q == *p)
        return -1;
    *p = q;
    *out = v;
    return 0;
}

int rb_journal_anchor_parse(const char *s, size_t len, rb_journal_anchor_t *a)
{
    const char *p = s, *end = s + len;
    size_t tl = sizeof RB__ANCHOR_TAG - 1;
    if (len < tl || memcmp(p, RB__ANCHOR_TAG, tl) != 0)
        return RB_EINVAL;
    p += tl;
    if (parse_i64(&p, end, &a->event_id) != 0 || a->event_id <= 0 || p >= end || *p++ != ':')
        return RB_EINVAL;
    for (int i = 0; i < RB__J_HASH_LEN; i++) {
        if (end - p < 2 || unhex(p[0]) < 0 || unhex(p[1]) < 0)
            return RB_EINVAL;
        a->hash[i] = (unsigned char)(unhex(p[0]) << 4 | unhex(p[1]));
        p += 2;
    }
    if (p >= end || *p++ != ':' || parse_i64(&p, end, &a->wall_ms) != 0)
        return RB_EINVAL;
    return p == end ? 0 : RB_EINVAL;
}

/* ---- checking ------------------------------------------------------------------ */

/* Marks the finding just made (if it was kept) as "unproven": nothing was
 * found changed, but what was asked cannot be proven. */
static void mark_unproven(rb__jverify_t *v, size_t before)
{
    size_t n = json_array_size(v->problems);
    if (n > before)
        json_object_set_new(json_array_get(v->problems, n - 1), "kind", json_string("unproven"));
}

typedef enum { PT_MATCH = 1, PT_DIFFERS, PT_MISSING, PT_PRUNED } pt_state_t;

typedef struct {
    int64_t event_id, at_ms, sig_id; /* sig_id 0: an anchor */
    size_t index;                    /* the signature's key, or the anchor's place */
    unsigned char hash[RB__J_HASH_LEN];
    unsigned char now[RB__J_HASH_LEN];
    pt_state_t state;
    int64_t cut_by; /* PT_PRUNED: the checkpoint whose cut passed it */
} point_t;

static void fmt_utc(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "?");
}

static int pt_cmp(const void *a, const void *b)
{
    const point_t *x = a, *y = b;
    if (x->event_id != y->event_id)
        return (x->event_id > y->event_id) - (x->event_id < y->event_id);
    return (x->sig_id > y->sig_id) - (x->sig_id < y->sig_id);
}

/* Where the point's event is now: its hash, a checkpoint's cut, or gone. */
static int pt_locate(rb__jconn_t *c, sqlite3_stmt *ev, sqlite3_stmt *cp, point_t *p)
{
    sqlite3_bind_int64(ev, 1, p->event_id);
    int rc = sqlite3_step(ev);
    const unsigned char *h = rc == SQLITE_ROW ? rb__j_col_hash(ev, 0) : NULL;
    if (rc == SQLITE_ROW) {
        p->state = h && memcmp(h, p->hash, RB__J_HASH_LEN) == 0 ? PT_MATCH : PT_DIFFERS;
        if (h)
            memcpy(p->now, h, RB__J_HASH_LEN);
        else
            memset(p->now, 0, RB__J_HASH_LEN);
    }
    sqlite3_reset(ev);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return rb__j_failc(c, rc, "verify");
    /* ?1 = a cut exactly (that hash is there); else the first cut past it */
    sqlite3_bind_int64(cp, 1, p->event_id);
    rc = sqlite3_step(cp);
    if (rc == SQLITE_ROW) {
        h = rb__j_col_hash(cp, 1);
        p->cut_by = sqlite3_column_int64(cp, 2);
        if (sqlite3_column_int64(cp, 0) == p->event_id) {
            p->state = h && memcmp(h, p->hash, RB__J_HASH_LEN) == 0 ? PT_MATCH : PT_DIFFERS;
            if (h)
                memcpy(p->now, h, RB__J_HASH_LEN);
        } else {
            p->state = PT_PRUNED;
        }
    } else {
        p->state = PT_MISSING;
    }
    sqlite3_reset(cp);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "verify");
}

static void pt_name(const point_t *p, const rb_journal_verify_opts_t *o, char *buf, size_t len)
{
    char at[40];
    fmt_utc(p->at_ms, at, sizeof at);
    if (p->sig_id)
        snprintf(buf, len, "signed checkpoint #%lld (signed %s by key %.16s…)",
                 (long long)p->sig_id, at, rb_journal_key_id(o->keys[p->index]));
    else
        snprintf(buf, len, "the anchor of event #%lld (%s)", (long long)p->event_id, at);
}

typedef struct {
    json_t *report;  /* "signatures" */
    json_t *anchors; /* "anchors" */
    point_t *pts;
    size_t n, cap;
    json_t *others;  /* key ids of signatures by other keys */
    int64_t total, by_keys, valid;
} seal_ctx_t;

static int pt_add(seal_ctx_t *s, const point_t *p)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        point_t *q = realloc(s->pts, cap * sizeof *q);
        if (!q)
            return RB_ENOMEM;
        s->pts = q;
        s->cap = cap;
    }
    s->pts[s->n++] = *p;
    return 0;
}

/* Every signature row: by one of the keys and valid, it becomes a point. */
static int read_signatures(rb__jconn_t *c, rb__jverify_t *v, const rb_journal_verify_opts_t *o,
                           seal_ctx_t *s)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(c->db,
                                "SELECT id, event_id, hash, signed_at, key_id, signature"
                                " FROM signatures ORDER BY id", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading signatures");
    int64_t prev = 0;
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        point_t p = {.sig_id = sqlite3_column_int64(st, 0),
                     .event_id = sqlite3_column_int64(st, 1),
                     .at_ms = sqlite3_column_int64(st, 3)};
        const unsigned char *h = rb__j_col_hash(st, 2), *kid = rb__j_col_hash(st, 4);
        s->total++;
        if (o->nkeys && p.sig_id == prev + 2)
            rb__jv_problem(v, NULL, 0, "signed checkpoint #%lld is missing (deleted)",
                           (long long)(prev + 1));
        else if (o->nkeys && p.sig_id > prev + 2)
            rb__jv_problem(v, NULL, 0, "signed checkpoints #%lld to #%lld are missing (deleted)",
                           (long long)(prev + 1), (long long)(p.sig_id - 1));
        prev = p.sig_id;
        size_t k = o->nkeys;
        for (size_t i = 0; kid && i < o->nkeys; i++)
            if (memcmp(kid, rb__key_raw_id(o->keys[i]), RB__J_HASH_LEN) == 0)
                k = i;
        if (k == o->nkeys) {
            char hex[2 * RB__J_HASH_LEN + 1] = "?";
            if (kid)
                rb__hex(kid, RB__J_HASH_LEN, hex);
            int seen = 0;
            size_t i;
            json_t *x;
            json_array_foreach(s->others, i, x)
                seen |= !strcmp(json_string_value(x), hex);
            if (!seen)
                json_array_append_new(s->others, json_string(hex));
            continue;
        }
        s->by_keys++;
        p.index = k;
        unsigned char msg[RB__J_SIGMSG_LEN];
        rb__jsig_t sg = {.id = p.sig_id, .event_id = p.event_id, .hash = h,
                         .signed_at = p.at_ms};
        if (!h || !rb__key_check(o->keys[k], msg, rb__chain_sig_message(&sg, msg),
                                 sqlite3_column_blob(st, 5),
                                 (size_t)sqlite3_column_bytes(st, 5))) {
            char at[40];
            fmt_utc(p.at_ms, at, sizeof at);
            rb__jv_problem(v, NULL, p.event_id,
                           "signed checkpoint #%lld (of the head at event #%lld, signed %s) is"
                           " not a valid signature by key %.16s…: the signature row was edited",
                           (long long)p.sig_id, (long long)p.event_id, at,
                           rb_journal_key_id(o->keys[k]));
            continue;
        }
        s->valid++;
        memcpy(p.hash, h, RB__J_HASH_LEN);
        if ((ret = pt_add(s, &p)) != 0)
            break;
    }
    sqlite3_finalize(st);
    if (ret)
        return ret;
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading signatures");
}

/* One point found changed or gone: the problem names the span it is in,
 * from after good (the newest point of its kind before it that still
 * matches; NULL: the start of what is left, first) up to it. */
static void pt_problem(rb__jverify_t *v, const rb_journal_verify_opts_t *o, const point_t *p,
                       const point_t *good, int64_t first, int64_t end)
{
    char name[160], was[2 * RB__J_HASH_LEN + 1], now[2 * RB__J_HASH_LEN + 1], since[120];
    pt_name(p, o, name, sizeof name);
    rb__hex(p->hash, RB__J_HASH_LEN, was);
    rb__hex(p->now, RB__J_HASH_LEN, now);
    if (good && good->sig_id)
        snprintf(since, sizeof since, " (signed checkpoint #%lld, of event #%lld, still"
                                      " matches)", (long long)good->sig_id,
                 (long long)good->event_id);
    else if (good)
        snprintf(since, sizeof since, " (the anchor of event #%lld still matches)",
                 (long long)good->event_id);
    else
        since[0] = '\0';
    int64_t from = good ? good->event_id + 1 : first;
    if (p->state == PT_DIFFERS && p->event_id < first)
        rb__jv_problem(v, NULL, p->event_id,
                       "%s has hash %.16s… for event #%lld, the checkpoint that cut the chain"
                       " there now has %.16s…: the checkpoint was rewritten (and the chain"
                       " after it with it)", name, was, (long long)p->event_id, now);
    else if (p->state == PT_DIFFERS)
        rb__jv_problem(v, NULL, p->event_id,
                       "%s has hash %.16s… for event #%lld, the journal now has %.16s…: events"
                       " #%lld to #%lld were changed after it was taken%s", name, was,
                       (long long)p->event_id, now, (long long)from, (long long)p->event_id,
                       since);
    else if (p->event_id > end)
        rb__jv_problem(v, NULL, p->event_id,
                       "%s names event #%lld but the journal ends at #%lld: the newest events"
                       " (#%lld to #%lld) were deleted after it was taken", name,
                       (long long)p->event_id, (long long)end, (long long)(end + 1),
                       (long long)p->event_id);
    else if (p->state == PT_MISSING)
        rb__jv_problem(v, NULL, p->event_id, "%s names event #%lld, which is not in the"
                                             " journal: it was deleted", name,
                       (long long)p->event_id);
    else { /* an anchor pruned */
        size_t before = json_array_size(v->problems);
        rb__jv_problem(v, NULL, p->event_id,
                       "%s: its event was pruned (checkpoint %lld cut the chain after it): it"
                       " cannot be checked any more; take a new anchor after a prune", name,
                       (long long)p->cut_by);
        mark_unproven(v, before);
    }
}

int rb__j_verify_seals(rb__jconn_t *c, rb__jverify_t *v, const rb_journal_verify_opts_t *o,
                       int64_t cut, int64_t end, json_t *out)
{
    seal_ctx_t s = {.others = json_array(), .anchors = json_array()};
    sqlite3_stmt *ev = NULL, *cp = NULL;
    int ret = 0;
    if (!s.others || !s.anchors) {
        ret = RB_ENOMEM;
        goto done;
    }
    int rc = sqlite3_prepare_v2(c->db, "SELECT hash FROM events WHERE id = ?1", -1, &ev, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(c->db,
                                "SELECT cut_event_id, cut_hash, id FROM checkpoints"
                                " WHERE cut_event_id >= ?1 ORDER BY cut_event_id LIMIT 1",
                                -1, &cp, NULL);
    if (rc != SQLITE_OK) {
        ret = rb__j_failc(c, rc, "verify");
        goto done;
    }
    if (o->nkeys && (ret = read_signatures(c, v, o, &s)) != 0)
        goto done;
    for (size_t i = 0; i < o->nanchors; i++) {
        point_t p = {.event_id = o->anchors[i].event_id, .at_ms = o->anchors[i].wall_ms,
                     .index = i};
        memcpy(p.hash, o->anchors[i].hash, RB__J_HASH_LEN);
        if ((ret = pt_add(&s, &p)) != 0)
            goto done;
    }
    for (size_t i = 0; i < s.n; i++)
        if ((ret = pt_locate(c, ev, cp, &s.pts[i])) != 0)
            goto done;
    if (s.n)
        qsort(s.pts, s.n, sizeof *s.pts, pt_cmp);

    const point_t *good_sig = NULL, *good_anchor = NULL, *last = NULL;
    for (size_t i = 0; i < s.n; i++) {
        const point_t *p = &s.pts[i];
        const point_t **good = p->sig_id ? &good_sig : &good_anchor;
        if (p->state == PT_MATCH) {
            *good = p;
            if (p->sig_id)
                last = p;
        } else if (p->state != PT_PRUNED || !p->sig_id) {
            pt_problem(v, o, p, *good, cut + 1, end);
        }
        if (!p->sig_id) {
            char hex[2 * RB__J_HASH_LEN + 1];
            rb__hex(p->hash, RB__J_HASH_LEN, hex);
            json_array_append_new(s.anchors,
                                  json_pack("{s:I,s:s,s:I,s:b}", "event_id",
                                            (json_int_t)p->event_id, "hash", hex, "wall_ms",
                                            (json_int_t)p->at_ms, "ok", p->state == PT_MATCH));
        }
    }
    if (o->nkeys) {
        if (!s.valid && end > 0) {
            char ids[200] = "";
            for (size_t i = 0; i < o->nkeys; i++)
                snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%.16s…", i ? ", " : "",
                         rb_journal_key_id(o->keys[i]));
            size_t before = json_array_size(v->problems);
            rb__jv_problem(v, NULL, 0,
                           "no checkpoint in the journal is signed by %s %s (%lld signed by"
                           " other keys): nothing beyond the hash chain is proven",
                           o->nkeys == 1 ? "the key" : "the keys", ids,
                           (long long)(s.total - s.by_keys));
            mark_unproven(v, before);
        }
        json_t *lj = json_null();
        int64_t from = cut;
        if (last) {
            char hex[2 * RB__J_HASH_LEN + 1];
            rb__hex(last->hash, RB__J_HASH_LEN, hex);
            lj = json_pack("{s:I,s:I,s:s,s:I,s:s}", "id", (json_int_t)last->sig_id, "event_id",
                           (json_int_t)last->event_id, "hash", hex, "signed_at",
                           (json_int_t)last->at_ms, "key_id",
                           rb_journal_key_id(o->keys[last->index]));
            if (last->event_id > from)
                from = last->event_id;
        }
        /* the runs that ended in the unsigned part: with a key, each run's
         * end is signed; their signatures are missing (deleted, or the run
         * had no key) */
        int64_t ended = 0;
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(c->db, "SELECT count(*) FROM events WHERE id > ?1 AND"
                                       " type = 'run_finished'", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, from);
            if ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ended = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        if (rc != SQLITE_ROW) {
            json_decref(lj);
            ret = rb__j_failc(c, rc, "verify");
            goto done;
        }
        json_object_set_new(out, "signatures",
                            json_pack("{s:I,s:I,s:I,s:O,s:o,s:I,s:I}", "total",
                                      (json_int_t)s.total, "by_keys", (json_int_t)s.by_keys,
                                      "valid", (json_int_t)s.valid, "other_keys", s.others,
                                      "last", lj, "unsigned_events",
                                      (json_int_t)(end > from ? end - from : 0),
                                      "unsigned_runs_ended", (json_int_t)ended));
    }
    if (o->nanchors)
        json_object_set(out, "anchors", s.anchors);
done:
    sqlite3_finalize(ev);
    sqlite3_finalize(cp);
    json_decref(s.others);
    json_decref(s.anchors);
    free(s.pts);
    return ret;
}
