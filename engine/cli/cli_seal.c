/*
 * cli_seal.c — the signed checkpoints' side of `runbook audit`: `audit key
 * init` (an Ed25519 key pair), `audit anchor` (the head to keep elsewhere),
 * reading the anchors `audit verify --anchor` is given, and the signing
 * key $RUNBOOK_SIGNING_KEY names for `run` and `resume`.
 *
 * Owns: the words and exit codes of `audit key` and `audit anchor`, and
 * the anchor's text form. Works only through engine/journal/journal.h.
 *
 * Must never: touch SQLite, print a private key, anchor a journal that does
 * not verify, or overwrite a key file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include "cli_out.h"
#include "journal/journal.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rb_cli_signing_key(const char *cmd, rb_journal_t *j)
{
    const char *path = getenv("RUNBOOK_SIGNING_KEY");
    if (!path || !*path)
        return 0;
    rb_journal_key_t *k = NULL;
    char err[512];
    if (rb_journal_key_load_private(path, &k, err, sizeof err) != 0 ||
        rb_journal_set_signing_key(j, k) != 0) {
        if (k)
            snprintf(err, sizeof err, "%s", rb_journal_errmsg(j));
        fprintf(stderr, "runbook %s: RUNBOOK_SIGNING_KEY: %s; nothing was run\n", cmd, err);
        return -1;
    }
    return 0;
}

/* ---- anchors ------------------------------------------------------------------- */

#define ANCHOR_TAG "runbook-anchor-v1:"
#define ANCHORS_MAX 10000

/* Every "runbook-anchor-v1:…" in text, in order. */
static int scan_anchors(const char *text, rb_journal_anchor_t **arr, size_t *n, size_t *cap)
{
    for (const char *p = strstr(text, ANCHOR_TAG); p; p = strstr(p + 1, ANCHOR_TAG)) {
        size_t len = strspn(p, "runbook-anchor-v1:0123456789abcdefABCDEF");
        if (*n == *cap) {
            if (*cap >= ANCHORS_MAX)
                return -1;
            size_t nc = *cap ? *cap * 2 : 8;
            rb_journal_anchor_t *q = realloc(*arr, nc * sizeof *q);
            if (!q)
                return -1;
            *arr = q;
            *cap = nc;
        }
        if (rb_journal_anchor_parse(p, len, &(*arr)[*n]) != 0)
            return -1;
        (*n)++;
    }
    return 0;
}

int rb__cli_anchors_add(const char *cmd, const char *arg, rb_journal_anchor_t **arr, size_t *n,
                        size_t *cap)
{
    size_t before = *n;
    char *text = NULL;
    if (strncmp(arg, ANCHOR_TAG, sizeof ANCHOR_TAG - 1) != 0) {
        FILE *f = fopen(arg, "r");
        if (!f) {
            fprintf(stderr, "runbook %s: --anchor %s: neither an anchor (%s…, as `runbook audit"
                            " anchor` prints it) nor a file: %s\n", cmd, arg, ANCHOR_TAG,
                    strerror(errno));
            return -1;
        }
        size_t len = 0, tcap = 0;
        char buf[8192];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0 && len < (64u << 20)) {
            if (len + got + 1 > tcap) {
                tcap = (len + got + 1) * 2;
                char *t = realloc(text, tcap);
                if (!t)
                    break;
                text = t;
            }
            memcpy(text + len, buf, got);
            len += got;
        }
        fclose(f);
        if (text)
            text[len] = '\0';
    }
    int rc = scan_anchors(text ? text : arg, arr, n, cap);
    free(text);
    if (rc != 0 || *n == before) {
        fprintf(stderr, "runbook %s: --anchor %s: %s\n", cmd, arg,
                rc != 0 ? "an anchor in it is damaged (runbook-anchor-v1:EVENT:HASH:TIME)"
                        : "no anchor in it (runbook-anchor-v1:…, as `runbook audit anchor`"
                          " prints it)");
        return -1;
    }
    return 0;
}

/* ---- runbook audit key init --------------------------------------------------------- */

static void usage_key(FILE *f)
{
    fputs("usage: runbook audit key init --out PREFIX\n"
          "\n"
          "Makes an Ed25519 key pair for signed checkpoints: PREFIX.key, the private\n"
          "key (PEM, mode 0600: give it to the journal's writers as RUNBOOK_SIGNING_KEY\n"
          "or the server's signing_key, and to nobody else), and PREFIX.pub, the public\n"
          "key (for `runbook audit verify --pubkey`: keep a copy away from the journal's\n"
          "host). Never overwrites a file: an existing PREFIX.key or PREFIX.pub is\n"
          "refused.\n"
          "\n"
          "Options:\n"
          "      --out PREFIX     where the two files go (required)\n"
          "  -h, --help           this help\n"
          "\n"
          "Exit status: 0 made; 2 bad usage, or a file exists or cannot be written.\n",
          f);
}

int rb__cli_audit_key(int argc, char **argv)
{
    enum { OPT_OUT = 1000 };
    static const struct option longopts[] = {
        {"out", required_argument, NULL, OPT_OUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage_key(stdout);
            return RB_EXIT_OK;
        case OPT_OUT:
            out = optarg;
            break;
        case ':':
            fprintf(stderr, "runbook audit key: %s needs a value\n"
                            "Try 'runbook audit key --help'.\n", argv[optind - 1]);
            return RB_EXIT_USAGE;
        default:
            fprintf(stderr, "runbook audit key: unknown option '%s'\n"
                            "Try 'runbook audit key --help'.\n", argv[optind - 1]);
            return RB_EXIT_USAGE;
        }
    }
    if (optind >= argc || strcmp(argv[optind], "init") != 0 || optind + 1 < argc) {
        fprintf(stderr, "runbook audit key: %s%s%s\nTry 'runbook audit key --help'.\n",
                optind >= argc ? "the subcommand is missing: runbook audit key init --out PREFIX"
                               : strcmp(argv[optind], "init") ? "unknown subcommand '"
                                                              : "unexpected argument '",
                optind >= argc ? "" : argv[optind] + 0,
                optind >= argc ? "" : "'");
        return RB_EXIT_USAGE;
    }
    if (!out || !*out) {
        fprintf(stderr, "runbook audit key init: --out PREFIX is required\n"
                        "Try 'runbook audit key --help'.\n");
        return RB_EXIT_USAGE;
    }
    char err[512], id[65];
    if (rb_journal_key_generate(out, id, err, sizeof err) != 0) {
        fprintf(stderr, "runbook audit key init: %s\n", err);
        return RB_EXIT_USAGE;
    }
    printf("%s.key  the private key (mode 0600): for the journal's writers only\n"
           "%s.pub  the public key: for `runbook audit verify --pubkey %s.pub`\n"
           "key id  %s\n", out, out, out, id);
    return RB_EXIT_OK;
}

/* ---- runbook audit anchor ------------------------------------------------------------ */

static void usage_anchor(FILE *f)
{
    fprintf(f,
            "usage: runbook audit anchor [--db FILE] [--format text|json]\n"
            "\n"
            "Checks the journal (as `runbook audit verify` does) and prints its head —\n"
            "the newest event's id, its hash and its time — as one line:\n"
            "  runbook-anchor-v1:EVENT:HASH:TIME_MS\n"
            "Keep it where the journal's writers cannot change it (the incident ticket, a\n"
            "log shipped off the host, a WORM store). Later, `runbook audit verify --anchor\n"
            "LINE` (or a file of such lines) checks that the journal still holds that\n"
            "event with that hash, so everything up to it is unchanged.\n"
            "\n"
            "Options:\n"
            "      --db FILE        the journal, a file or a postgresql:// URL ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --format FORMAT  text (default: the line) or json\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 printed; 1 the journal does not verify (nothing is printed to\n"
            "keep); 2 bad usage, the journal cannot be read, or it has no event yet.\n",
            rb_cli_default_db());
}

int rb__cli_audit_anchor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, RB__OPT_DB},
        {"format", required_argument, NULL, RB__OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL;
    int json = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage_anchor(stdout);
            return RB_EXIT_OK;
        case RB__OPT_DB:
        case RB__OPT_FORMAT: {
            int rc = rb__cli_journal_opt(c, "audit anchor", &db, &json);
            if (rc >= 0)
                return rc;
            break;
        }
        case ':':
            fprintf(stderr, "runbook audit anchor: %s needs a value\n"
                            "Try 'runbook audit anchor --help'.\n", argv[optind - 1]);
            return RB_EXIT_USAGE;
        default:
            fprintf(stderr, "runbook audit anchor: unknown option '%s'\n"
                            "Try 'runbook audit anchor --help'.\n", argv[optind - 1]);
            return RB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "runbook audit anchor: unexpected argument '%s'\n"
                        "Try 'runbook audit anchor --help'.\n", argv[optind]);
        return RB_EXIT_USAGE;
    }
    if (!db)
        db = rb_cli_default_db();
    rb_journal_t *j = rb__cli_open_journal("audit anchor", db);
    if (!j)
        return RB_EXIT_USAGE;
    json_t *r = NULL;
    int rc = rb_journal_verify(j, &r);
    if (rc != 0) {
        const char *why = rb_journal_errmsg(j);
        fprintf(stderr, "runbook audit anchor: %s\n", *why ? why : rb_strerror(rc));
        rb_journal_close(j);
        return RB_EXIT_USAGE;
    }
    rb_journal_close(j);
    const json_t *head = json_object_get(r, "head");
    long long id = (long long)json_integer_value(json_object_get(head, "event_id"));
    const char *hash = json_string_value(json_object_get(head, "hash"));
    long long ms = (long long)json_integer_value(json_object_get(head, "wall_ms"));
    if (!json_is_true(json_object_get(r, "ok"))) {
        fprintf(stderr, "runbook audit anchor: %s does not verify (%lld problems): there is"
                        " no head to vouch for; run `runbook audit verify --db %s`\n", db,
                (long long)json_integer_value(json_object_get(r, "problems_total")), db);
        json_decref(r);
        return RB_EXIT_FAILED;
    }
    if (id <= 0 || !hash) {
        fprintf(stderr, "runbook audit anchor: %s has no event yet: nothing to anchor\n", db);
        json_decref(r);
        return RB_EXIT_USAGE;
    }
    char line[160], when[64] = "?";
    snprintf(line, sizeof line, ANCHOR_TAG "%lld:%s:%lld", id, hash, ms);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms > 0 && gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (json) {
        json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:I,s:s}", "anchor", line, "path", db,
                              "event_id", (json_int_t)id, "hash", hash, "wall_ms",
                              (json_int_t)ms, "time", when);
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        puts(line);
        fprintf(stderr, "# %s: head event #%lld of %s; keep the line above where the journal's"
                        " writers cannot change it; check later with: runbook audit verify"
                        " --anchor LINE\n", db, id, when);
    }
    json_decref(r);
    return RB_EXIT_OK;
}
