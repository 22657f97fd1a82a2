/*
 * journal_seal_check.c — checking the signed checkpoints and anchors for
 * `audit verify --pubkey/--anchor`, whichever backend holds them: each
 * signature row against its key and the head it signed, each anchor
 * against the chain as it is now, and the span a difference can be in.
 * The rows come through rb__jseal_io_t (journal_seal.c reads the file,
 * journal_pg_audit.c PostgreSQL), so the findings are the same words on
 * both.
 *
 * Owns: the findings about signatures and anchors. Must never: touch a
 * database; call a head proven that the chain walk did not reach intact;
 * trust a signature row's key_id for more than choosing the key (the
 * signature decides).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
static int pt_locate(const rb__jseal_io_t *io, point_t *p)
{
    rb__jseal_at_t at;
    int ret = io->event_hash(io->ctx, p->event_id, &at);
    if (ret != 0)
        return ret;
    if (at.found) {
        p->state = at.hash && memcmp(at.hash, p->hash, RB__J_HASH_LEN) == 0 ? PT_MATCH : PT_DIFFERS;
        if (at.hash)
            memcpy(p->now, at.hash, RB__J_HASH_LEN);
        else
            memset(p->now, 0, RB__J_HASH_LEN);
        return 0;
    }
    /* a cut exactly (that hash is there); else the first cut past it */
    if ((ret = io->cut_at(io->ctx, p->event_id, &at)) != 0)
        return ret;
    if (at.found) {
        p->cut_by = at.checkpoint;
        if (at.event_id == p->event_id) {
            p->state = at.hash && memcmp(at.hash, p->hash, RB__J_HASH_LEN) == 0 ? PT_MATCH
                                                                                : PT_DIFFERS;
            if (at.hash)
                memcpy(p->now, at.hash, RB__J_HASH_LEN);
        } else {
            p->state = PT_PRUNED;
        }
    } else {
        p->state = PT_MISSING;
    }
    return 0;
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
typedef struct {
    rb__jverify_t *v;
    const rb_journal_verify_opts_t *o;
    seal_ctx_t *s;
    int64_t prev;
} sig_walk_t;

static int sig_row(void *arg, const rb__jsigrow_t *r)
{
    sig_walk_t *w = arg;
    rb__jverify_t *v = w->v;
    const rb_journal_verify_opts_t *o = w->o;
    seal_ctx_t *s = w->s;
    point_t p = {.sig_id = r->id, .event_id = r->event_id, .at_ms = r->signed_at};
    const unsigned char *h = r->hash, *kid = r->key_id;
    s->total++;
    if (o->nkeys && p.sig_id == w->prev + 2)
        rb__jv_problem(v, NULL, 0, "signed checkpoint #%lld is missing (deleted)",
                       (long long)(w->prev + 1));
    else if (o->nkeys && p.sig_id > w->prev + 2)
        rb__jv_problem(v, NULL, 0, "signed checkpoints #%lld to #%lld are missing (deleted)",
                       (long long)(w->prev + 1), (long long)(p.sig_id - 1));
    w->prev = p.sig_id;
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
        return 0;
    }
    s->by_keys++;
    p.index = k;
    unsigned char msg[RB__J_SIGMSG_LEN];
    rb__jsig_t sg = {.id = p.sig_id, .event_id = p.event_id, .hash = h, .signed_at = p.at_ms};
    if (!h || !rb__key_check(o->keys[k], msg, rb__chain_sig_message(&sg, msg), r->sig,
                             r->sig_len)) {
        char at[40];
        fmt_utc(p.at_ms, at, sizeof at);
        rb__jv_problem(v, NULL, p.event_id,
                       "signed checkpoint #%lld (of the head at event #%lld, signed %s) is"
                       " not a valid signature by key %.16s…: the signature row was edited",
                       (long long)p.sig_id, (long long)p.event_id, at,
                       rb_journal_key_id(o->keys[k]));
        return 0;
    }
    s->valid++;
    memcpy(p.hash, h, RB__J_HASH_LEN);
    return pt_add(s, &p);
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

int rb__jv_seals(rb__jverify_t *v, const rb__jseal_io_t *io, const rb_journal_verify_opts_t *o,
                 int64_t cut, int64_t end, json_t *out)
{
    seal_ctx_t s = {.others = json_array(), .anchors = json_array()};
    int ret = 0;
    if (!s.others || !s.anchors) {
        ret = RB_ENOMEM;
        goto done;
    }
    sig_walk_t w = {.v = v, .o = o, .s = &s};
    if (o->nkeys && (ret = io->signatures(io->ctx, sig_row, &w)) != 0)
        goto done;
    for (size_t i = 0; i < o->nanchors; i++) {
        point_t p = {.event_id = o->anchors[i].event_id, .at_ms = o->anchors[i].wall_ms,
                     .index = i};
        memcpy(p.hash, o->anchors[i].hash, RB__J_HASH_LEN);
        if ((ret = pt_add(&s, &p)) != 0)
            goto done;
    }
    for (size_t i = 0; i < s.n; i++)
        if ((ret = pt_locate(io, &s.pts[i])) != 0)
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
        if ((ret = io->ended_after(io->ctx, from, &ended)) != 0) {
            json_decref(lj);
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
    json_decref(s.others);
    json_decref(s.anchors);
    free(s.pts);
    return ret;
}
