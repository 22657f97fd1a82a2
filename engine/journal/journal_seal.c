/*
 * journal_seal.c — signed checkpoints in the file: signing the chain head
 * inside a write transaction and storing the signature (the signatures
 * table), and, for `audit verify --pubkey/--anchor`, checking every
 * signature and every anchor against the chain as it is now. The hash
 * chain alone can be rewritten by whoever can write the file; a signed
 * head cannot be made again without the private key, nor an anchor kept
 * elsewhere changed.
 *
 * Owns: the signatures table (rb__j_apply_seal alone writes it); the
 * checks themselves are journal_seal_check.c's, fed the file's rows from
 * here. Must never: sign a head other than the one the open transaction
 * ends at.
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

/* ---- checking: the file's rows for journal_seal_check.c ------------------------- */

static int sq_signatures(void *ctx, int (*row)(void *arg, const rb__jsigrow_t *r), void *arg)
{
    rb__jconn_t *c = ctx;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(c->db,
                                "SELECT id, event_id, hash, signed_at, key_id, signature"
                                " FROM signatures ORDER BY id", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading signatures");
    int ret = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rb__jsigrow_t r = {
            .id = sqlite3_column_int64(st, 0), .event_id = sqlite3_column_int64(st, 1),
            .hash = rb__j_col_hash(st, 2), .signed_at = sqlite3_column_int64(st, 3),
            .key_id = rb__j_col_hash(st, 4), .sig = sqlite3_column_blob(st, 5),
            .sig_len = (size_t)sqlite3_column_bytes(st, 5),
        };
        ret = row(arg, &r);
    }
    sqlite3_finalize(st);
    if (ret)
        return ret;
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading signatures");
}

/* One row of sql with ?1 = id: its columns into at (event_id, hash,
 * checkpoint from cols; a negative col: none). */
static int sq_at(rb__jconn_t *c, const char *sql, int64_t id, int ev_col, int hash_col,
                 int cp_col, rb__jseal_at_t *at)
{
    sqlite3_stmt *st;
    memset(at, 0, sizeof *at);
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "verify");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *h = rb__j_col_hash(st, hash_col);
        at->found = 1;
        at->event_id = ev_col >= 0 ? sqlite3_column_int64(st, ev_col) : id;
        at->checkpoint = cp_col >= 0 ? sqlite3_column_int64(st, cp_col) : 0;
        if (h) {
            memcpy(at->buf, h, RB__J_HASH_LEN);
            at->hash = at->buf;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "verify");
}

static int sq_event_hash(void *ctx, int64_t id, rb__jseal_at_t *at)
{
    return sq_at(ctx, "SELECT hash FROM events WHERE id = ?1", id, -1, 0, -1, at);
}

static int sq_cut_at(void *ctx, int64_t id, rb__jseal_at_t *at)
{
    return sq_at(ctx, "SELECT cut_event_id, cut_hash, id FROM checkpoints"
                      " WHERE cut_event_id >= ?1 ORDER BY cut_event_id LIMIT 1", id, 0, 1, 2, at);
}

static int sq_ended_after(void *ctx, int64_t from, int64_t *n)
{
    rb__jconn_t *c = ctx;
    sqlite3_stmt *st;
    *n = 0;
    int rc = sqlite3_prepare_v2(c->db, "SELECT count(*) FROM events WHERE id > ?1 AND"
                                       " type = 'run_finished'", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, from);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            *n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return rc == SQLITE_ROW ? 0 : rb__j_failc(c, rc, "verify");
}

int rb__j_verify_seals(rb__jconn_t *c, rb__jverify_t *v, const rb_journal_verify_opts_t *o,
                       int64_t cut, int64_t end, json_t *out)
{
    const rb__jseal_io_t io = {.ctx = c, .signatures = sq_signatures,
                               .event_hash = sq_event_hash, .cut_at = sq_cut_at,
                               .ended_after = sq_ended_after};
    return rb__jv_seals(v, &io, o, cut, end, out);
}
