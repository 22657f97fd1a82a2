/*
 * foreach.c — a step with `foreach` (docs/semantics.md, R-foreach…): the
 * fan-out of its action over the items, at most max_parallel at a time.
 *
 * Every item's parameters are rendered first, into the step's intent
 * record (durable before any item starts when the action has side
 * effects), then the items run; each runs its action, then its verify
 * with `item` and `result` set, and its outcome is journaled as
 * item_finished. The step is ok when every item is; else it has the status
 * of the first item, in item order, that was not, and its error names that
 * item.
 *
 * Owns: the state of the foreach in flight (r->items … r->fitem). Ends the
 * step through step.c (rb__step_end) and never ends a run by itself.
 */
#include "run_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void foreach_next(rb_run_t *r);

/* The context an item's action, verify and undo see: the run's, with
 * `item` and, after the action, `result`. New reference. */
json_t *rb__item_ctx(const rb_run_t *r, const json_t *item, const json_t *res)
{
    json_t *c = json_copy(r->ctx);
    json_object_set(c, "item", (json_t *)item);
    if (res)
        json_object_set(c, "result", (json_t *)res);
    return c;
}

/* "2 (node-b)": an item as a failure message names it. */
static void item_label(const json_t *item, size_t k, char *buf, size_t len)
{
    char *txt = json_is_string(item) ? strdup(json_string_value(item))
                                     : json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, len, "%zu (%.60s%s)", k, txt ? txt : "?", txt && strlen(txt) > 60 ? "…" : "");
    free(txt);
}

/* Records item k's outcome (steals res). 0, or the journal's error. */
static int item_finished(rb_run_t *r, size_t k, json_t *res)
{
    const rb_step_t *s = rb__step_current(r);
    int ok = json_is_true(json_object_get(res, "ok"));
    if (!ok)
        r->items_failed++;
    r->items_done++;
    json_t *d =
        json_pack("{s:i,s:O,s:b,s:s,s:O}", "item", (int)k, "value", json_array_get(r->items, k),
                  "ok", ok, "status", rb__result_outcome(res), "result", res);
    int rc = rb__run_emit(r, "item_finished", s->name,
                          (int)json_integer_value(json_object_get(res, "attempt")), d);
    json_decref(d);
    json_object_set(res, "item", json_array_get(r->items, k)); /* steps.X.items[k].item */
    json_array_set_new(r->item_results, k, res);
    return rc;
}

static void on_item_verify_done(rb_invoker_t *iv, json_t *res, void *arg);

/* Item k's outcome is in (res stolen): journal it and start what may start. */
static void item_done(rb_run_t *r, size_t k, json_t *res)
{
    r->items_running--;
    if (item_finished(r, k, res) < 0) {
        rb__run_journal_failed(r, RB_EJOURNAL);
        return;
    }
    foreach_next(r);
}

/* An attempt of item k's action ended: its verify, if it has one, runs with
 * this item and this attempt's result (its own invoker, fiv[n + k], so
 * that a failed verify can start the item's next attempt). */
static void on_item_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    static const rb_invoker_hooks_t hooks = {rb__run_on_iv_event, on_item_verify_done};
    rb_run_t *r = arg;
    const rb_step_t *s = rb__step_current(r);
    size_t k = (size_t)((ivlabel_t *)rb__invoker_data(iv))->item;
    size_t n = json_array_size(r->items);
    if (json_is_true(json_object_get(res, "ok")) && s->verify && !r->cancelling &&
        strcmp(rb__result_outcome(res), "simulated")) {
        rb_invoker_t *viv = r->fiv[n + k];
        if (!viv)
            viv = r->fiv[n + k] = rb__run_new_invoker(r, s->name, (int)k);
        if (viv) {
            json_decref(r->fitem[k].main);
            r->fitem[k].main = res;
            json_t *c = rb__item_ctx(r, json_array_get(r->items, k), res);
            rb__invoker_start(viv, s->verify, c, NULL, "verify", &hooks, r);
            json_decref(c);
            return;
        }
    }
    item_done(r, k, res);
}

/* A verify that fails fails the item's attempt: its retry starts the
 * item's action again (R-verify), else the item ends failed. */
static void on_item_verify_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    size_t k = (size_t)((ivlabel_t *)rb__invoker_data(iv))->item;
    struct rb_fe_item *fi = &r->fitem[k];
    json_t *main = fi->main;
    fi->main = NULL;
    int ok = json_is_true(json_object_get(res, "ok"));
    const char *vst = rb__result_outcome(res);
    char msg[300];
    const char *why = json_string_value(json_object_get(res, "error"));
    snprintf(msg, sizeof(msg), "verify %s%s%s", !strcmp(vst, "ok") ? "failed" : vst,
             why ? ": " : "", why ? why : "");
    json_object_set_new(main, "verify", res);
    if (ok) {
        item_done(r, k, main);
        return;
    }
    json_object_set_new(main, "ok", json_false());
    rb__result_set_outcome(main, "failed");
    json_object_set_new(main, "error", json_string(msg));
    int rc = r->cancelling ? 0 : rb__invoker_again(r->fiv[k], "verify failed");
    if (rc > 0) {
        json_decref(main); /* on_item_done comes again with the next attempt */
        return;
    }
    if (rc < 0) {
        json_decref(main);
        r->items_running--;
        rb__run_journal_failed(r, rc);
        return;
    }
    item_done(r, k, main);
}

/* The foreach step's result, once every item is in (or the run is being
 * cancelled and the rest never started). New reference. */
static json_t *foreach_result(rb_run_t *r)
{
    size_t n = json_array_size(r->items);
    const char *status = "ok";
    char err[400] = "";
    int simulated = 0;
    for (size_t k = 0; k < n; k++) {
        const json_t *res = json_array_get(r->item_results, k);
        const char *st = json_is_null(res) ? "cancelled" : rb__result_outcome(res);
        if (json_is_true(json_object_get(res, "ok"))) {
            simulated |= !strcmp(st, "simulated");
            continue;
        }
        /* the first item, in item order, that was not ok */
        char lab[96];
        item_label(json_array_get(r->items, k), k, lab, sizeof(lab));
        const char *why = json_string_value(json_object_get(res, "error"));
        if (!why)
            why = json_string_value(json_object_get(res, "reason"));
        if (!why && json_is_string(json_object_get(res, "assumed")))
            why = "assumed failed (--assume)";
        const json_t *ec = json_object_get(res, "exit_code");
        if (why)
            snprintf(err, sizeof(err), "item %s: %s: %s", lab, st, why);
        else if (json_is_integer(ec))
            snprintf(err, sizeof(err), "item %s: %s (exit %lld)", lab, st,
                     (long long)json_integer_value(ec));
        else
            snprintf(err, sizeof(err), "item %s: %s", lab, st);
        status = st;
        break;
    }
    int ok = !err[0];
    if (ok && simulated)
        status = "simulated";
    json_t *res = json_pack("{s:b,s:s,s:O,s:i,s:i}", "ok", ok, "status", status, "items",
                            r->item_results, "total", (int)n, "failed", r->items_failed);
    if (!ok)
        json_object_set_new(res, "error", json_string(err));
    if (!strcmp(status, "simulated")) /* a drill: how --assume took it, as for one action */
        json_object_set_new(res, "assumed", json_string(ok ? "ok" : "failed"));
    return res;
}

static void foreach_next(rb_run_t *r)
{
    static const rb_invoker_hooks_t hooks = {rb__run_on_iv_event, on_item_done};
    const rb_step_t *s = rb__step_current(r);
    size_t n = json_array_size(r->items);
    /* An item can end inside the start of another (a rendering error, an
     * action that cannot start): that call only asks this loop to look
     * again, so items start in order and the step ends once. */
    if (r->in_foreach_next) {
        r->foreach_again = 1;
        return;
    }
    r->in_foreach_next = 1;
    do {
        r->foreach_again = 0;
        while (!r->cancelling && r->next_item < n && r->items_running < s->max_parallel) {
            size_t k = r->next_item++;
            json_t *with = json_array_get(r->item_with, k);
            if (json_is_null(with)) { /* its parameters did not render: it never starts */
                if (item_finished(r, k, json_incref(json_array_get(r->item_results, k))) < 0) {
                    r->in_foreach_next = 0;
                    rb__run_journal_failed(r, RB_EJOURNAL);
                    return;
                }
                continue;
            }
            rb_invoker_t *iv = r->fiv[k] = rb__run_new_invoker(r, s->name, (int)k);
            if (!iv) {
                item_finished(r, k, rb__result_new(s->inv.action, "error", "out of memory"));
                continue;
            }
            struct rb_fe_item *fi = &r->fitem[k];
            fi->subrun = (rb_subrun_host_t){rb__subrun_start_item, rb__subrun_cancel_item, fi};
            rb__invoker_set_subrun(iv, &fi->subrun);
            rb__run_invoker_set_assume(r, iv, s);
            r->items_running++;
            json_t *c = rb__item_ctx(r, json_array_get(r->items, k), NULL);
            rb__invoker_start(iv, &s->inv, c, json_incref(with), "main", &hooks, r);
            json_decref(c);
        }
    } while (r->foreach_again && !r->journal_broken);
    r->in_foreach_next = 0;
    if (r->journal_broken || r->items_running > 0 || (r->next_item < n && !r->cancelling))
        return;
    json_t *res = foreach_result(r);
    for (size_t i = 0; i < r->nfiv; i++)
        rb__run_free_invoker(r->fiv[i]);
    free(r->fiv);
    for (size_t k = 0; k < n; k++)
        json_decref(r->fitem[k].main);
    free(r->fitem);
    r->fiv = NULL;
    r->fitem = NULL;
    r->nfiv = 0;
    json_decref(r->items);
    json_decref(r->item_results);
    json_decref(r->item_with);
    r->items = r->item_results = r->item_with = NULL;
    rb__step_end(r, res, 1);
}

static void foreach_go(rb_run_t *r)
{
    if (r->cancelling) {
        rb__run_end(r, "cancelled", r->cancel_why);
        return;
    }
    foreach_next(r);
}

void rb__foreach_start(rb_run_t *r)
{
    const rb_step_t *s = rb__step_current(r);
    char e[256] = "";
    json_t *items = rb_tvalue_render(s->foreach, r->ctx, e, sizeof(e));
    if (!items || !json_is_array(items)) {
        char msg[320];
        if (items)
            snprintf(msg, sizeof(msg), "foreach must give a list, got %s",
                     json_is_object(items)   ? "a mapping"
                     : json_is_string(items) ? "a string"
                     : json_is_null(items)   ? "null"
                                             : "a scalar");
        else
            snprintf(msg, sizeof(msg), "foreach: %s", e);
        json_decref(items);
        rb__step_unstartable(r, msg);
        return;
    }
    /* Every item's parameters, rendered once: the intent records them and
     * each item's action gets exactly those (R-intent, R-foreach-journal).
     * An item whose parameters do not render is an error of that item. */
    size_t n = json_array_size(items);
    json_t *shown = json_array();
    r->item_with = json_array();
    r->item_results = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *c = rb__item_ctx(r, json_array_get(items, k), NULL);
        json_t *with = rb_tvalue_render(s->inv.with, c, e, sizeof(e));
        json_decref(c);
        json_t *one = json_pack("{s:O,s:O}", "item", json_array_get(items, k), "with",
                                with ? with : json_null());
        json_t *res = json_null();
        if (!with) {
            char msg[320];
            snprintf(msg, sizeof(msg), "cannot render parameters: %s", e);
            json_object_set_new(one, "error", json_string(msg));
            res = rb__result_new(s->inv.action, "error", msg);
            json_object_set_new(res, "attempt", json_integer(0));
        }
        json_array_append_new(shown, one);
        json_array_append_new(r->item_with, with ? with : json_null());
        json_array_append_new(r->item_results, res);
    }
    r->items = items;
    int rc = rb__step_intent(r, NULL, shown);
    json_decref(shown);
    if (rc < 0)
        return;
    r->fiv = calloc(n ? 2 * n : 1, sizeof(*r->fiv)); /* each item's action, then its verify */
    r->fitem = calloc(n ? n : 1, sizeof(*r->fitem));
    for (size_t k = 0; k < n; k++) {
        r->fitem[k].r = r;
        r->fitem[k].k = k;
    }
    r->nfiv = 2 * n;
    r->next_item = r->items_running = r->items_done = 0;
    r->items_failed = 0;
    rb__step_after_intent(r, foreach_go);
}
