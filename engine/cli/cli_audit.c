/*
 * cli_audit.c — `runbook audit verify`, `runbook journal prune` and
 * `runbook journal copy` (DESIGN §5, §8, §11): check the journal's hash
 * chain and say where it was tampered with; remove old finished runs
 * behind a checkpoint; move a journal file into PostgreSQL.
 *
 * Owns: the words and exit codes of these commands, and the parsing of
 * --before. Works only through engine/journal/journal.h.
 *
 * Must never: touch a database, create a journal file, or say "ok" about a
 * journal it could not read to the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include "cli_out.h"
#include "journal/journal.h"

#include <runbook/runbook.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OPT_BEFORE = RB__OPT_NEXT, OPT_DRY_RUN, OPT_PUBKEY, OPT_ANCHOR };

#define PUBKEYS_MAX 16

static void usage_verify(FILE *f)
{
    fprintf(f,
            "usage: runbook audit verify [--db FILE] [--pubkey FILE]… [--anchor ANCHOR]…\n"
            "                            [--format text|json]\n"
            "\n"
            "Checks the whole journal: every event's SHA-256 against its content and\n"
            "against the event before it, the order of every run's events, the chain\n"
            "head (so that deleting the newest events shows), the checkpoints left by\n"
            "`runbook journal prune`, and every recorded runbook text against its\n"
            "SHA-256. Reports the first bad event (run, seq, what is wrong) and the\n"
            "others after it.\n"
            "\n"
            "The chain alone has no secret: whoever can write the file can rewrite every\n"
            "event after the one they change, and the head, and it verifies. --pubkey\n"
            "also checks the signed checkpoints (the head signed at each run's end with\n"
            "the key RUNBOOK_SIGNING_KEY or the server's signing_key names): every event\n"
            "up to the newest signed one is proven unchanged, and the events after it are\n"
            "counted as unsigned. --anchor checks heads kept elsewhere (`runbook audit\n"
            "anchor`). Either names the first signed or anchored head that no longer\n"
            "matches.\n"
            "\n"
            "Options:\n"
            "      --db FILE        the journal, a file or a postgresql:// URL ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --pubkey FILE    a public key (`runbook audit key init`); again for\n"
            "                       another key (the one before a rotation)\n"
            "      --anchor ANCHOR  a line `runbook audit anchor` printed, or a file of such\n"
            "                       lines (each is checked); may be given again\n"
            "      --format FORMAT  text (default) or json (the full report)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 the journal is intact (with --pubkey: and signed by a key\n"
            "given); 1 tampering found: an event, checkpoint, signature or anchor that\n"
            "does not match, or no checkpoint signed by the keys given; 2 bad usage, a\n"
            "key or anchor that cannot be read, or the journal cannot be opened or read.\n",
            rb_cli_default_db());
}

static void usage_prune(FILE *f)
{
    fprintf(f,
            "usage: runbook journal prune --before DATE [--db FILE] [--dry-run]\n"
            "                             [--format text|json]\n"
            "\n"
            "Removes the runs that finished before DATE, with their events and alerts,\n"
            "and the runbook versions no remaining run uses. Leaves a checkpoint (the\n"
            "hash chain's value at the cut) so that `runbook audit verify` still checks\n"
            "what remains. Only the oldest part of the chain can go: a run that finished\n"
            "before DATE but whose events interleave with a run that stays (one still\n"
            "open, or newer) is kept, and reported, until that run goes too.\n"
            "\n"
            "DATE: YYYY-MM-DD (local midnight), YYYY-MM-DDTHH:MM[:SS] (local time), the\n"
            "same with Z or +HH:MM (that offset), or a duration such as 90d or 12h\n"
            "(that long ago).\n"
            "\n"
            "Options:\n"
            "      --before DATE    required\n"
            "      --db FILE        the journal file ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "  -n, --dry-run        say what would be removed; change nothing\n"
            "      --format FORMAT  text (default) or json\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 done (also when there was nothing to remove); 2 bad usage, or\n"
            "the journal cannot be opened or written.\n",
            rb_cli_default_db());
}

/* ---- helpers ------------------------------------------------------------------ */

static int print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!s)
        return RB_EXIT_FAILED;
    puts(s);
    free(s);
    return RB_EXIT_OK;
}

static void fmt_local(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm))
        snprintf(buf, len, "?");
}

/* Text from the journal may come from outside (step names, runbook names):
 * no control characters to the terminal. */
static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static rb_journal_t *open_journal(const char *cmd, const char *db, int flags)
{
    if (!rb_journal_is_url(db) && access(db, F_OK) != 0 && errno == ENOENT) {
        fprintf(stderr,
                "runbook %s: no journal at %s (nothing has run here yet? pass --db FILE or"
                " set RUNBOOK_DB)\n", cmd, db);
        return NULL;
    }
    rb_journal_t *j = NULL;
    char err[512];
    if (rb_journal_open(db, flags, &j, err, sizeof err) != 0) {
        fprintf(stderr, "runbook %s: %s\n", cmd, err);
        return NULL;
    }
    return j;
}

typedef struct {
    const char *db;
    const char *before;
    int json;
    int dry_run;
    rb_journal_key_t *keys[PUBKEYS_MAX]; /* --pubkey */
    size_t nkeys;
    rb_journal_anchor_t *anchors; /* --anchor */
    size_t nanchors, anchors_cap;
} audit_opts_t;

static void opts_free(audit_opts_t *o)
{
    for (size_t i = 0; i < o->nkeys; i++)
        rb_journal_key_free(o->keys[i]);
    free(o->anchors);
    memset(o, 0, sizeof *o);
}

/* Returns -1 to go on, or the exit code to return now. */
static int parse_opts(int argc, char **argv, const char *cmd, int prune, audit_opts_t *o,
                      void (*usage)(FILE *))
{
    static const struct option longopts[] = {
        { "db", required_argument, NULL, RB__OPT_DB },
        { "format", required_argument, NULL, RB__OPT_FORMAT },
        { "before", required_argument, NULL, OPT_BEFORE },
        { "dry-run", no_argument, NULL, 'n' },
        { "pubkey", required_argument, NULL, OPT_PUBKEY },
        { "anchor", required_argument, NULL, OPT_ANCHOR },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    optind = 0; /* a full GNU reset: getopt may have run in this process before */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, prune ? ":hn" : ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return RB_EXIT_OK;
        case RB__OPT_DB:
        case RB__OPT_FORMAT: {
            int rc = rb__cli_journal_opt(c, cmd, &o->db, &o->json);
            if (rc >= 0)
                return rc;
            break;
        }
        case OPT_BEFORE:
            if (!prune)
                goto unknown;
            o->before = optarg;
            break;
        case 'n':
            if (!prune)
                goto unknown;
            o->dry_run = 1;
            break;
        case OPT_PUBKEY: {
            char err[512];
            if (prune)
                goto unknown;
            if (o->nkeys == PUBKEYS_MAX) {
                fprintf(stderr, "runbook %s: at most %d --pubkey\n", cmd, PUBKEYS_MAX);
                return RB_EXIT_USAGE;
            }
            if (rb_journal_key_load_public(optarg, &o->keys[o->nkeys], err, sizeof err) != 0) {
                fprintf(stderr, "runbook %s: --pubkey %s\n", cmd, err);
                return RB_EXIT_USAGE;
            }
            o->nkeys++;
            break;
        }
        case OPT_ANCHOR:
            if (prune)
                goto unknown;
            if (rb__cli_anchors_add(cmd, optarg, &o->anchors, &o->nanchors, &o->anchors_cap) != 0)
                return RB_EXIT_USAGE;
            break;
        case ':':
            fprintf(stderr, "runbook %s: %s needs a value\nTry 'runbook %s --help'.\n", cmd,
                    argv[optind - 1], cmd);
            return RB_EXIT_USAGE;
        default:
        unknown:
            fprintf(stderr, "runbook %s: unknown option '%s'\nTry 'runbook %s --help'.\n", cmd,
                    argv[optind - 1], cmd);
            return RB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "runbook %s: unexpected argument '%s'\nTry 'runbook %s --help'.\n", cmd,
                argv[optind], cmd);
        return RB_EXIT_USAGE;
    }
    if (!o->db)
        o->db = rb_cli_default_db();
    return -1;
}

/* ---- runbook audit verify ------------------------------------------------------- */

/* What --pubkey and --anchor proved, for a journal that verified. */
static void print_seals(const json_t *r)
{
    const json_t *s = json_object_get(r, "signatures"), *last = json_object_get(s, "last");
    char at[64];
    if (json_is_object(last)) {
        fmt_local(jint(last, "signed_at"), at, sizeof at);
        printf("  signed       up to event #%lld: signed checkpoint #%lld, %s, key %.16s…;"
               " every event up to it is as it was signed\n", jint(last, "event_id"),
               jint(last, "id"), at, jstr(last, "key_id"));
    } else if (json_is_object(s)) {
        printf("  signed       nothing: no signed checkpoint of these keys covers an event"
               " that is left\n");
    }
    if (json_is_object(s)) {
        long long n = jint(s, "unsigned_events"), ended = jint(s, "unsigned_runs_ended");
        printf("  unsigned     %lld event%s after it%s", n, n == 1 ? "" : "s",
               n ? ": not proven beyond the hash chain" : "");
        if (ended)
            printf(" (%lld run%s ended in them unsigned: a run's end is signed when its"
                   " process has the key; if it had, signatures were deleted)", ended,
                   ended == 1 ? "" : "s");
        putchar('\n');
        if (json_array_size(json_object_get(s, "other_keys")))
            printf("  other keys   %lld signed checkpoint%s by other keys, not checked\n",
                   jint(s, "total") - jint(s, "by_keys"),
                   jint(s, "total") - jint(s, "by_keys") == 1 ? "" : "s");
    }
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(r, "anchors"), i, a) {
        fmt_local(jint(a, "wall_ms"), at, sizeof at);
        printf("  anchor       event #%lld %.16s… (%s) is there, unchanged\n",
               jint(a, "event_id"), jstr(a, "hash"), at);
    }
}

static int audit_verify(int argc, char **argv)
{
    audit_opts_t o;
    int rc = parse_opts(argc, argv, "audit verify", 0, &o, usage_verify);
    if (rc >= 0) {
        opts_free(&o);
        return rc;
    }
    rb_journal_t *j = open_journal("audit verify", o.db, RB_JOURNAL_READONLY);
    if (!j) {
        opts_free(&o);
        return RB_EXIT_USAGE;
    }
    json_t *r = NULL;
    rb_journal_verify_opts_t vo = {.keys = o.keys, .nkeys = o.nkeys, .anchors = o.anchors,
                                   .nanchors = o.nanchors};
    if ((rc = rb_journal_verify_with(j, &vo, &r)) != 0) {
        const char *why = rb_journal_errmsg(j);
        fprintf(stderr, "runbook audit verify: %s\n", *why ? why : rb_strerror(rc));
        rb_journal_close(j);
        opts_free(&o);
        return RB_EXIT_USAGE;
    }
    rb_journal_close(j);
    int ok = json_is_true(json_object_get(r, "ok"));
    if (o.json) {
        print_json(r);
    } else if (ok) {
        const json_t *head = json_object_get(r, "head");
        printf("%s: ok, the hash chain is intact\n", jstr(r, "path"));
        if (jint(r, "events"))
            printf("  events       %lld in %lld runs (#%lld to #%lld)\n", jint(r, "events"),
                   jint(r, "runs"), jint(r, "first_event_id"),
                   jint(r, "first_event_id") + jint(r, "events") - 1);
        else
            printf("  events       none (%lld runs)\n", jint(r, "runs"));
        printf("  head         #%lld %s\n", jint(head, "event_id"), jstr(head, "hash"));
        printf("  versions     %lld, each matching its SHA-256\n", jint(r, "versions"));
        size_t i;
        json_t *cp;
        json_array_foreach(json_object_get(r, "checkpoints"), i, cp) {
            char at[64], before[64];
            fmt_local(jint(cp, "created_at"), at, sizeof at);
            fmt_local(jint(cp, "before_ms"), before, sizeof before);
            printf("  checkpoint   %lld: %s pruned %lld runs (%lld events) that ended before %s;"
                   " the chain resumes after #%lld %s\n",
                   jint(cp, "id"), at, jint(cp, "pruned_runs"), jint(cp, "pruned_events"), before,
                   jint(cp, "cut_event_id"), jstr(cp, "cut_hash"));
        }
        print_seals(r);
    } else {
        long long n = jint(r, "problems_total");
        size_t i;
        json_t *p;
        int unproven = (size_t)n == json_array_size(json_object_get(r, "problems"));
        json_array_foreach(json_object_get(r, "problems"), i, p)
            unproven &= !strcmp(jstr(p, "kind") ? jstr(p, "kind") : "", "unproven");
        if (unproven)
            printf("%s: NOT PROVEN: the hash chain is intact, but what was asked cannot be"
                   " proven\n", jstr(r, "path"));
        else
            printf("%s: TAMPERED: %lld problem%s found; the first bad record first\n",
                   jstr(r, "path"), n,
                   n == 1 ? "" : "s");
        out_t out = {stdout, 0};
        json_array_foreach(json_object_get(r, "problems"), i, p)
            rb__cli_put_problem(&out, p);
        if ((size_t)n > json_array_size(json_object_get(r, "problems")))
            printf("  … and %lld more\n",
                   n - (long long)json_array_size(json_object_get(r, "problems")));
    }
    json_decref(r);
    opts_free(&o);
    return ok ? RB_EXIT_OK : RB_EXIT_FAILED;
}

/* The index of the subcommand word (the first argument that is neither an
 * option nor an option's value), or argc: options may come before it
 * (`runbook audit --db F verify`). */
static int subcommand_at(int argc, char **argv)
{
    static const char *const with_value[] = {"--db",     "--format", "--before", "--pubkey",
                                             "--anchor", "--out",    "--from",   "--to",
                                             NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return i + 1 < argc ? i + 1 : argc;
        if (argv[i][0] != '-' || !argv[i][1])
            return i;
        for (size_t k = 0; with_value[k]; k++)
            if (!strcmp(argv[i], with_value[k]))
                i++;
    }
    return argc;
}

/* Moves the subcommand word to argv[1], keeping the order of the rest. */
static void subcommand_first(int argc, char **argv)
{
    int at = subcommand_at(argc, argv);
    if (at >= argc || at == 1)
        return;
    char *word = argv[at];
    memmove(argv + 2, argv + 1, (size_t)(at - 1) * sizeof(char *));
    argv[1] = word;
}

/* `runbook CMD …` whose argv[1] (after subcommand_first) is not the one
 * subcommand sub: usage on stdout and exit 0 for -h / --help, else says
 * what is wrong — an unknown word, or no subcommand at all (`audit --db F`)
 * — then the usage on stderr, exit 2. */
static int no_subcommand(const char *cmd, const char *sub, int argc, char **argv,
                         const char *usage)
{
    int help = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        help |= !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");
    if (help) {
        fputs(usage, stdout);
        return RB_EXIT_OK;
    }
    if (subcommand_at(argc, argv) < argc)
        fprintf(stderr, "runbook %s: unknown subcommand '%s'\n\n", cmd, argv[1]);
    else
        fprintf(stderr, "runbook %s: the subcommand is missing: runbook %s %s …\n\n", cmd, cmd,
                sub);
    fputs(usage, stderr);
    return RB_EXIT_USAGE;
}

int rb_cli_audit(int argc, char **argv)
{
    subcommand_first(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "verify"))
        return audit_verify(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "anchor"))
        return rb__cli_audit_anchor(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "key"))
        return rb__cli_audit_key(argc - 1, argv + 1);
    return no_subcommand("audit", "verify", argc, argv,
                         "usage: runbook audit verify [--db FILE] [--pubkey FILE] [--anchor ANCHOR]\n"
                         "                            [--format text|json]\n"
                         "       runbook audit anchor [--db FILE] [--format text|json]\n"
                         "       runbook audit key init --out PREFIX\n"
                         "  verify   check the journal's hash chain, signatures and anchors\n"
                         "           (runbook audit verify --help)\n"
                         "  anchor   print the head to keep elsewhere (runbook audit anchor --help)\n"
                         "  key      make a signing key pair (runbook audit key --help)\n");
}

/* ---- runbook journal prune --------------------------------------------------------- */

/*
 * DATE → ms since the epoch. YYYY-MM-DD is local midnight; a time without
 * a zone is local; Z or ±HH:MM is that offset; a duration is that long
 * before now. 0 on success.
 */
static int parse_before(const char *s, int64_t *out)
{
    uint64_t dur;
    if (isdigit((unsigned char)s[0]) && !strchr(s, '-') && rb_duration_parse(s, &dur) == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *out = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (int64_t)dur;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0, y, mo, d, h = 0, mi = 0, sec = 0;
    /* sscanf reads at most 4 digits into an int, no overflow; the lengths
     * and ranges are checked after each. */
    // NOLINTBEGIN(cert-err34-c)
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5)
            return -1;
        p += 1 + m;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &m) != 1 || m != 2)
                return -1;
            p += 3;
        }
        if (*p == '.') /* fractions of a second: ignored */
            for (p++; isdigit((unsigned char)*p); p++)
                ;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t;
    if (!*p) {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else {
        long off = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, m = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5 || oh > 23 || om > 59)
                return -1;
            // NOLINTEND(cert-err34-c)
            off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
            p += 1 + m;
        } else {
            return -1;
        }
        if (*p)
            return -1;
        t = timegm(&tm) - off;
    }
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t * 1000;
    return 0;
}

static int journal_prune(int argc, char **argv)
{
    audit_opts_t o;
    int rc = parse_opts(argc, argv, "journal prune", 1, &o, usage_prune);
    if (rc >= 0)
        return rc;
    int64_t before;
    if (!o.before) {
        fprintf(stderr, "runbook journal prune: --before DATE is required\n"
                        "Try 'runbook journal prune --help'.\n");
        return RB_EXIT_USAGE;
    }
    if (parse_before(o.before, &before) != 0) {
        fprintf(stderr, "runbook journal prune: --before: '%s' is not a date (YYYY-MM-DD),"
                        " a time (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]) or a duration (90d)\n",
                o.before);
        return RB_EXIT_USAGE;
    }
    rb_journal_t *j = open_journal("journal prune", o.db, 0);
    if (!j)
        return RB_EXIT_USAGE;
    json_t *r = NULL;
    if ((rc = rb_journal_prune(j, before, o.dry_run, &r)) != 0) {
        const char *why = rb_journal_errmsg(j);
        fprintf(stderr, "runbook journal prune: %s\n", *why ? why : rb_strerror(rc));
        rb_journal_close(j);
        return RB_EXIT_USAGE;
    }
    rb_journal_close(j);
    if (o.json) {
        print_json(r);
    } else {
        char when[64];
        fmt_local(before, when, sizeof when);
        const json_t *cp = json_object_get(r, "checkpoint");
        printf("%s %lld run%s (%lld events) that ended before %s\n",
               o.dry_run ? "would remove" : "removed", jint(r, "pruned_runs"),
               jint(r, "pruned_runs") == 1 ? "" : "s", jint(r, "pruned_events"), when);
        if (json_is_object(cp))
            printf("%s %lld: the chain resumes after event #%lld %s\n",
                   o.dry_run ? "checkpoint would be" : "checkpoint", jint(cp, "id"),
                   jint(cp, "cut_event_id"), jstr(cp, "cut_hash"));
        if (jint(r, "kept_runs"))
            printf("kept %lld run%s that ended before %s: their events interleave with a run"
                   " that stays; a later prune removes them\n", jint(r, "kept_runs"),
                   jint(r, "kept_runs") == 1 ? "" : "s", when);
    }
    json_decref(r);
    return RB_EXIT_OK;
}

/* ---- runbook journal copy ---------------------------------------------------------- */

static void usage_copy(FILE *f)
{
    fputs("usage: runbook journal copy --from FILE --to URL [--format text|json]\n"
          "\n"
          "Copies the journal file FILE into the PostgreSQL journal URL\n"
          "(postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DB), in one transaction: every\n"
          "runbook version, run, event, checkpoint, signature and alert, with the stored\n"
          "hashes as they are, so that `runbook audit verify --db URL` checks the same\n"
          "chain. The journal's tables are made in a database that has none; a target\n"
          "that already holds runs, events, versions, alerts, checkpoints or signatures\n"
          "is refused. Each event is checked against its hash as it is copied and the\n"
          "copy is verified before it commits: a source whose chain is broken copies\n"
          "nothing. The file is only read.\n"
          "\n"
          "Options:\n"
          "      --from FILE      the journal file to copy\n"
          "      --to URL         the PostgreSQL journal to fill (libpq's URL; PGPASSWORD\n"
          "                       and ~/.pgpass are read as by psql)\n"
          "      --format FORMAT  text (default) or json\n"
          "  -h, --help           this help\n"
          "\n"
          "Exit status: 0 copied; 1 the source's hash chain does not verify (nothing\n"
          "copied); 2 bad usage, a file or database that cannot be opened or written,\n"
          "or a target that is not empty.\n",
          f);
}

enum { OPT_FROM = OPT_ANCHOR + 1, OPT_TO };

static int journal_copy(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "from", required_argument, NULL, OPT_FROM },
        { "to", required_argument, NULL, OPT_TO },
        { "format", required_argument, NULL, RB__OPT_FORMAT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = "journal copy", *from = NULL, *to = NULL, *unused = NULL;
    int json = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage_copy(stdout);
            return RB_EXIT_OK;
        case OPT_FROM:
            from = optarg;
            break;
        case OPT_TO:
            to = optarg;
            break;
        case RB__OPT_FORMAT: {
            int rc = rb__cli_journal_opt(c, cmd, &unused, &json);
            if (rc >= 0)
                return rc;
            break;
        }
        default:
            return rb__cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return rb__cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!from || !*from)
        return rb__cli_usage(cmd, "--from FILE is required");
    if (!to || !*to)
        return rb__cli_usage(cmd, "--to URL is required");
    if (!rb_journal_is_url(to))
        return rb__cli_usage(cmd, "--to must be a postgresql:// URL, not '%s'", to);
    if (access(from, F_OK) != 0 && errno == ENOENT) {
        fprintf(stderr, "runbook %s: no journal at %s\n", cmd, from);
        return RB_EXIT_USAGE;
    }
    json_t *r = NULL;
    char err[1024];
    int rc = rb_journal_copy(from, to, &r, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "runbook %s: %s\n", cmd, err[0] ? err : rb_strerror(rc));
        return RB_EXIT_USAGE;
    }
    if (!json_is_true(json_object_get(r, "copied"))) {
        /* a broken chain is a finding, as audit verify's exit 1 */
        if (json)
            print_json(r);
        fprintf(stderr, "runbook %s: %s: the source's hash chain does not verify (see `runbook"
                        " audit verify --db %s`): nothing was copied\n", cmd,
                jstr(r, "problem"), from);
        json_decref(r);
        return RB_EXIT_FAILED;
    }
    if (json) {
        print_json(r);
    } else {
        const json_t *head = json_object_get(r, "head");
        printf("copied %s to %s\n", from, jstr(r, "to"));
        printf("  runs         %lld (%lld events, %lld runbook versions)\n", jint(r, "runs"),
               jint(r, "events"), jint(r, "versions"));
        printf("  alerts       %lld (%lld run links)\n", jint(r, "alerts"), jint(r, "alert_runs"));
        printf("  checkpoints  %lld, signatures %lld\n", jint(r, "checkpoints"),
               jint(r, "signatures"));
        if (json_is_object(head))
            printf("  head         #%lld %s, verified\n", jint(head, "event_id"),
                   jstr(head, "hash"));
    }
    json_decref(r);
    return RB_EXIT_OK;
}

int rb_cli_journal(int argc, char **argv)
{
    subcommand_first(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "prune"))
        return journal_prune(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "copy"))
        return journal_copy(argc - 1, argv + 1);
    return no_subcommand("journal", "prune", argc, argv,
                         "usage: runbook journal prune --before DATE [--db FILE] [--dry-run]\n"
                         "       runbook journal copy --from FILE --to URL\n"
                         "  prune    remove old finished runs, leaving a checkpoint"
                         " (runbook journal prune --help)\n"
                         "  copy     copy a journal file into PostgreSQL"
                         " (runbook journal copy --help)\n");
}
