/*
 * books.c — the runbooks the server has in force: every valid file below
 * the runbooks folder, loaded once and matched against each alert; reloaded
 * on SIGHUP and when the folder changes (uv_fs_event, after a short settle
 * time so that an editor's save is one reload).
 *
 * A reload builds a new set: an unchanged file keeps its book; a changed
 * file that validates gets a new one; a file that fails keeps the last
 * good book (its diagnostics are logged, file:line:col); a removed file's
 * book leaves the set. Books are reference counted: a run holds its book,
 * so a run in flight keeps the version it started with.
 *
 * Owns: the sets, the books, the watch handles. Must never: free a book a
 * run still holds; start or stop a run.
 */
#define _GNU_SOURCE
#include "server_int.h"

#include "load/catalog.h"
#include "log.h"

#include <runbook/runbook.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_BOOKS_SETTLE_MS 200

struct rb_books {
    rb_book_t **v;
    size_t n, cap;
    /* the watch */
    uv_fs_event_t *ev;
    uv_timer_t *settle;
    /* what was said of a file that failed (or lost to a duplicate name):
     * path → its diagnostics, so that a reload says it again only when it
     * changed (one report per problem, not one per reload) */
    json_t *said;
};

void rb__book_ref(rb_book_t *k)
{
    k->refs++;
}

void rb__book_unref(rb_book_t *k)
{
    if (!k || --k->refs)
        return;
    rb_runbook_free(k->rb);
    free(k->path);
    free(k);
}

size_t rb__books_count(const rb_books_t *b)
{
    return b ? b->n : 0;
}

rb_book_t *rb__books_at(const rb_books_t *b, size_t i)
{
    return i < b->n ? b->v[i] : NULL;
}

rb_book_t *rb__books_find(const rb_books_t *b, const char *name)
{
    for (size_t i = 0; b && i < b->n; i++)
        if (!strcmp(rb_runbook_name(b->v[i]->rb), name))
            return b->v[i];
    return NULL;
}

static rb_book_t *find_path(const rb_books_t *b, const char *path)
{
    for (size_t i = 0; b && i < b->n; i++)
        if (!strcmp(b->v[i]->path, path))
            return b->v[i];
    return NULL;
}

static int push(rb_books_t *b, rb_book_t *k)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        rb_book_t **v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return RB_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = k;
    rb__book_ref(k);
    return 0;
}

void rb__srv_log_diags(rb_diags_t *d, const char *event)
{
    json_t *all = rb_diags_json(d);
    size_t i;
    json_t *x;
    json_array_foreach(all, i, x) {
        char at[64];
        snprintf(at, sizeof at, "%lld:%lld", (long long)json_integer_value(json_object_get(x, "line")),
                 (long long)json_integer_value(json_object_get(x, "col")));
        const char *lv = json_string_value(json_object_get(x, "level"));
        rb_slog(lv && !strcmp(lv, "warning") ? "warn" : "error", event, "file",
                json_string_value(json_object_get(x, "file")), "at", at, "message",
                json_string_value(json_object_get(x, "message")), (char *)NULL);
    }
    json_decref(all);
}

static void sha_of(const rb_runbook_t *rb, char out[65])
{
    size_t len;
    const char *src = rb_runbook_source(rb, &len);
    unsigned char md[32];
    unsigned int ml = 0;
    out[0] = '\0';
    if (EVP_Digest(src, len, md, &ml, EVP_sha256(), NULL) != 1)
        return;
    for (unsigned i = 0; i < ml; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

typedef struct {
    rb_books_t *old, *now;
    int oom;
    size_t kept, loaded, failed;
} walk_t;

/* 1 when the problem sig of the file at key is new (not said at the last
 * load); it is remembered in the new set either way. */
static int news(walk_t *w, const char *key, const char *sig)
{
    const char *before = w->old ? json_string_value(json_object_get(w->old->said, key)) : NULL;
    if (w->now->said)
        json_object_set_new(w->now->said, key, json_string(sig));
    return !before || strcmp(before, sig);
}

static int visit(const char *path, void *arg)
{
    walk_t *w = arg;
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    rb_book_t *prev = find_path(w->old, path);
    int rc = d ? rb_runbook_load(path, d, &rb) : RB_ENOMEM;
    rb_book_t *k = NULL;
    if (rc == 0) {
        char sha[65];
        sha_of(rb, sha);
        if (prev && !strcmp(prev->sha256, sha)) {
            rb_runbook_free(rb); /* unchanged: the book in force stays */
            k = prev;
            w->kept++;
        } else if ((k = calloc(1, sizeof *k)) && (k->path = strdup(path))) {
            k->rb = rb;
            memcpy(k->sha256, sha, sizeof sha);
            rb_slog("info", prev ? "runbook_reloaded" : "runbook_loaded", "name",
                    rb_runbook_name(rb), "file", path, "sha256", sha, (char *)NULL);
            w->loaded++;
        } else {
            free(k);
            k = NULL;
            rb_runbook_free(rb);
            w->oom = 1;
        }
    } else {
        json_t *all = rb_diags_json(d);
        char *sig = json_dumps(all, JSON_COMPACT);
        json_decref(all);
        int say = news(w, path, sig ? sig : "");
        free(sig);
        w->failed++;
        if (say)
            rb__srv_log_diags(d, "runbook_invalid");
        if (prev) {
            if (say)
                rb_slog("warn", "runbook_kept", "name", rb_runbook_name(prev->rb), "file", path,
                        "sha256", prev->sha256, "why",
                        "the new text does not validate: the last good version stays in force",
                        (char *)NULL);
            k = prev;
        } else if (say) {
            rb_slog("warn", "runbook_skipped", "file", path, "why",
                    "it does not validate: no alert starts it until it does", (char *)NULL);
        }
    }
    rb_diags_free(d);
    if (!k)
        return 0;
    const char *name = rb_runbook_name(k->rb);
    rb_book_t *same = rb__books_find(w->now, name);
    if (same) {
        char key[4200];
        snprintf(key, sizeof key, "duplicate\x1f%s", path);
        if (news(w, key, same->path))
            rb_slog("error", "runbook_duplicate", "name", name, "file", path, "kept",
                    same->path, "why",
                    "two files have one name: the first in name order is in force",
                    (char *)NULL);
        if (k != prev) { /* a new book nobody holds */
            k->refs = 1;
            rb__book_unref(k);
        }
        return 0;
    }
    if (push(w->now, k) < 0) {
        w->oom = 1;
        if (k != prev) { /* nobody holds it: freed as the duplicate above */
            k->refs = 1;
            rb__book_unref(k);
        }
    }
    return 0;
}

static rb_books_t *scan(rb_srv_t *s, const char *dir, rb_books_t *old, walk_t *w)
{
    memset(w, 0, sizeof *w);
    w->old = old;
    w->now = calloc(1, sizeof *w->now);
    if (!w->now || !(w->now->said = json_object())) {
        free(w->now);
        return w->now = NULL;
    }
    int rc = rb__runbook_walk(dir, visit, w);
    if (rc == RB_ETOOBIG)
        rb_slog("warn", "runbooks_cut", "dir", dir, "why",
                "the folder is deeper or larger than a walk reads: some files were left out",
                (char *)NULL);
    (void)s;
    return w->now;
}

int rb__books_load(rb_srv_t *s, const char *dir, rb_books_t **out)
{
    walk_t w;
    *out = scan(s, dir, NULL, &w);
    if (!*out || w.oom)
        return RB_ENOMEM;
    char n[32], bad[32];
    snprintf(n, sizeof n, "%zu", (*out)->n);
    snprintf(bad, sizeof bad, "%zu", w.failed);
    rb_slog("info", "runbooks", "dir", dir, "loaded", n, "invalid", bad, (char *)NULL);
    return 0;
}

void rb__books_reload(rb_srv_t *s, const char *what)
{
    rb_books_t *old = s->books;
    walk_t w;
    rb_books_t *now = scan(s, s->cfg->dir, old, &w);
    if (!now || w.oom) {
        rb_slog("error", "reload_failed", "why", "out of memory: the runbooks in force stay",
                (char *)NULL);
        if (now) {
            rb__books_free(now);
        }
        return;
    }
    for (size_t i = 0; old && i < old->n; i++)
        if (!find_path(now, old->v[i]->path))
            rb_slog("info", "runbook_removed", "name", rb_runbook_name(old->v[i]->rb),
                        "file", old->v[i]->path, (char *)NULL);
    now->ev = old ? old->ev : NULL;
    now->settle = old ? old->settle : NULL;
    if (old) {
        old->ev = NULL;
        old->settle = NULL;
    }
    s->books = now;
    rb__books_free(old);
    char n[32], bad[32], changed[32];
    snprintf(n, sizeof n, "%zu", now->n);
    snprintf(bad, sizeof bad, "%zu", w.failed);
    snprintf(changed, sizeof changed, "%zu", w.loaded);
    rb_slog("info", "reloaded", "trigger", what, "in_force", n, "changed", changed, "invalid",
            bad, (char *)NULL);
    if (now->ev)
        now->ev->data = s;
    if (now->settle)
        now->settle->data = s;
}

void rb__books_free(rb_books_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        rb__book_unref(b->v[i]);
    free(b->v);
    json_decref(b->said);
    if (b->ev)
        uv_close((uv_handle_t *)b->ev, (uv_close_cb)free);
    if (b->settle)
        uv_close((uv_handle_t *)b->settle, (uv_close_cb)free);
    free(b);
}

/* ---- the watch ---- */

static void on_settled(uv_timer_t *t)
{
    rb_srv_t *s = t->data;
    if (!s->stopping)
        rb__books_reload(s, "change");
}

static void on_change(uv_fs_event_t *h, const char *file, int events, int status)
{
    rb_srv_t *s = h->data;
    (void)file;
    (void)events;
    (void)status;
    if (s->books && s->books->settle)
        uv_timer_start(s->books->settle, on_settled, RB_BOOKS_SETTLE_MS, 0);
}

int rb__books_watch(rb_srv_t *s)
{
    rb_books_t *b = s->books;
    b->ev = calloc(1, sizeof *b->ev);
    b->settle = calloc(1, sizeof *b->settle);
    if (!b->ev || !b->settle) {
        free(b->ev);
        free(b->settle);
        b->ev = NULL;
        b->settle = NULL;
        return RB_ENOMEM;
    }
    uv_timer_init(s->loop, b->settle);
    b->settle->data = s;
    uv_fs_event_init(s->loop, b->ev);
    b->ev->data = s;
    int rc = uv_fs_event_start(b->ev, on_change, s->cfg->dir, 0);
    if (rc != 0) {
        rb_slog("warn", "watch_failed", "dir", s->cfg->dir, "why", uv_strerror(rc),
                "then", "reload with SIGHUP", (char *)NULL);
        uv_close((uv_handle_t *)b->ev, (uv_close_cb)free);
        b->ev = NULL;
    }
    return 0;
}

void rb__books_unwatch(rb_srv_t *s)
{
    rb_books_t *b = s->books;
    if (!b)
        return;
    if (b->ev)
        uv_close((uv_handle_t *)b->ev, (uv_close_cb)free);
    if (b->settle)
        uv_close((uv_handle_t *)b->settle, (uv_close_cb)free);
    b->ev = NULL;
    b->settle = NULL;
}
