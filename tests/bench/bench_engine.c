/*
 * bench_engine.c — the engine's speed and memory figures of issue 3, all in
 * one process so that they are measured in the same run:
 *
 *   steps   N exec /bin/true steps, journaled (writer thread), at FULL (the
 *           default) and at NORMAL, each against its floor built in the
 *           same round: N times posix_spawn /bin/true + wait + one
 *           single-row commit at that synchronous level; several rounds,
 *           and the medians;
 *   flat    the same run again while the process holds 1 GiB of live state
 *           (spawn cost must not grow with the engine: posix_spawn, vfork);
 *   idle    R concurrent runs each waiting in a sleep step: RSS per run and
 *           the loop's worst lag while they wait;
 *   load    load + validate + compile of 1,000 runbooks of about 60 lines;
 *   sign    N one-step runs in one journal, without and with a signing key
 *           (a signed checkpoint at each run's end), in alternating rounds:
 *           what a signature costs a run;
 *   parse   FILE: jansson's parse and free of the file's JSON, N times (the
 *           serve bench gives it the ingest benchmark's body: the share of
 *           an alert's cost that is the JSON library's alone).
 *
 * Prints figures; never fails on timing. Usage:
 *   bench_engine [steps N | flat N | idle R | load N | sign N | parse FILE [N] | all]
 */
#define _GNU_SOURCE
#include "load/diag.h"
#include "journal/journal.h"
#include "run/run.h"
#include "load/runbook.h"

#include <jansson.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static char tmpdir[64];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static rb_runbook_t *load(const char *path)
{
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    if (rb_runbook_load(path, d, &rb) < 0) {
        rb_diags_print(d, stderr, 0);
        exit(1);
    }
    rb_diags_free(d);
    return rb;
}

static rb_journal_t *journal(const char *name, int flags)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);
    rb_journal_t *j = NULL;
    if (rb_journal_open(path, flags, &j, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return j;
}

static int finished;
static void on_done(rb_run_t *r, void *arg) { finished++; }

/* Runs one run of rb on a fresh loop with the journal in writer mode. */
static double run_once(rb_runbook_t *rb, int flags, const char *name)
{
    rb_journal_t *j = journal(name, flags);
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* RB_BENCH_DIRECT=1: commit on the loop thread instead, to see what the
     * writer thread's hand-off costs */
    int attached = !getenv("RB_BENCH_DIRECT") && rb_journal_attach_loop(j, &loop) == 0;
    rb_run_opts_t o = {.trigger = "bench"};
    rb_run_t *r;
    char err[256];
    double t0 = now_ms();
    if (rb_run_new(&loop, rb, j, &o, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    rb_run_start(r, NULL, on_done, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    double t = now_ms() - t0;
    if (strcmp(rb_run_status(r), "resolved"))
        fprintf(stderr, "bench run ended %s: %s\n", rb_run_status(r), rb_run_error(r));
    rb_run_free(r);
    if (attached)
        rb_journal_detach_loop(j);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    rb_journal_close(j);
    return t;
}

/* The floor of one journaled exec step, built the plainest way: for each
 * step, posix_spawn /bin/true and wait for it, then one single-row commit
 * (a row of an event's size) in a WAL database at the given synchronous
 * level. An engine step does at least this: start a process and make its
 * intent durable. */
static double floor_steps(int n, int full)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/floor.db", tmpdir);
    unlink(path);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                 NULL, NULL, NULL);
    sqlite3_exec(db, "CREATE TABLE t(a INTEGER, b TEXT)", NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?, ?)", -1, &st, NULL);
    char row[300];
    memset(row, 'x', sizeof(row) - 1);
    row[sizeof(row) - 1] = 0;
    char *const args[] = {"/bin/true", NULL};
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int stat;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0 ||
            waitpid(pid, &stat, 0) != pid) {
            perror("posix_spawn /bin/true");
            exit(1);
        }
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, row, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    double t = now_ms() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    // cppcheck-suppress uninitvar -- the callers filled v[0..n), one value a round
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static rb_runbook_t *steps_runbook(int n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/steps.yaml", tmpdir);
    size_t cap = (size_t)n * 48 + 128, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text + o, cap - o, "apiVersion: runbook/v1\nname: bench-true\nsteps:\n");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(text + o, cap - o, "  - { name: s%d, run: [/bin/true] }\n", i);
    write_file(path, text);
    free(text);
    return load(path);
}

#define RB_BENCH_ROUNDS_MAX 21

/* Each round measures, back to back, the FULL floor, the engine at FULL
 * (the default durability), the NORMAL floor and the engine at NORMAL, so
 * that every ratio compares figures taken under the same load; the medians
 * over the rounds are the figures to quote. RB_BENCH_ROUNDS (default 5). */
static void bench_steps(int n)
{
    rb_runbook_t *rb = steps_runbook(n);
    const char *rs = getenv("RB_BENCH_ROUNDS");
    int rounds = rs ? atoi(rs) : 5;
    if (rounds < 1 || rounds > RB_BENCH_ROUNDS_MAX)
        rounds = 5;
    double ff[RB_BENCH_ROUNDS_MAX], ef[RB_BENCH_ROUNDS_MAX], fn[RB_BENCH_ROUNDS_MAX],
        en[RB_BENCH_ROUNDS_MAX], rf[RB_BENCH_ROUNDS_MAX], rn[RB_BENCH_ROUNDS_MAX];
    run_once(rb, RB_JOURNAL_SYNC_NORMAL, "warm.db"); /* page cache, binary, libraries */
    printf("steps: %d x exec /bin/true, journaled (writer thread), %d rounds\n", n, rounds);
    printf("  floor: per step posix_spawn /bin/true + wait, then one single-row commit\n");
    printf("  round  floor FULL  engine FULL  ratio   floor NORMAL  engine NORMAL  ratio  "
           "(ms/step)\n");
    for (int k = 0; k < rounds; k++) {
        ff[k] = floor_steps(n, 1) / n;
        ef[k] = run_once(rb, 0, "full.db") / n;
        fn[k] = floor_steps(n, 0) / n;
        en[k] = run_once(rb, RB_JOURNAL_SYNC_NORMAL, "normal.db") / n;
        rf[k] = ef[k] / ff[k];
        rn[k] = en[k] / fn[k];
        printf("  %5d  %10.3f  %11.3f  %5.2fx  %12.3f  %13.3f  %5.2fx\n", k + 1, ff[k], ef[k],
               rf[k], fn[k], en[k], rn[k]);
    }
    printf("  median %10.3f  %11.3f  %5.2fx  %12.3f  %13.3f  %5.2fx\n", median(ff, rounds),
           median(ef, rounds), median(rf, rounds), median(fn, rounds), median(en, rounds),
           median(rn, rounds));
    printf("  engine/floor at FULL (the default): %.2fx; at NORMAL: %.2fx (medians of the "
           "per-round ratios)\n", median(rf, rounds), median(rn, rounds));
    rb_runbook_free(rb);
}

static void bench_flat(int n)
{
    rb_runbook_t *rb = steps_runbook(n);
    run_once(rb, RB_JOURNAL_SYNC_NORMAL, "warm.db");
    double before = run_once(rb, RB_JOURNAL_SYNC_NORMAL, "flat1.db");
    size_t big = (size_t)1 << 30;
    char *state = malloc(big);
    for (size_t i = 0; i < big; i += 4096)
        state[i] = (char)i; /* touch every page: live, mapped memory */
    long rss = rss_kib();
    double after = run_once(rb, RB_JOURNAL_SYNC_NORMAL, "flat2.db");
    printf("spawn flatness: %d steps, NORMAL\n", n);
    printf("  small process                %8.1f ms  %.3f ms/step\n", before, before / n);
    printf("  holding 1 GiB (RSS %ld MiB)  %8.1f ms  %.3f ms/step  %+.1f%%\n", rss / 1024, after,
           after / n, (after / before - 1.0) * 100.0);
    free(state);
    rb_runbook_free(rb);
}

static double worst_lag;
static uint64_t last_tick;
static int ticks;
static rb_run_t **idle_runs;
static int idle_count;

/* Every 10 ms for 2 s while all runs wait: how late is the loop? Then
 * cancel them all. */
static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    if (last_tick) {
        double lag = (double)(now - last_tick) / 1e6 - 10.0;
        if (lag > worst_lag)
            worst_lag = lag;
    }
    last_tick = now;
    if (++ticks == 200) {
        uv_timer_stop(t);
        for (int i = 0; i < idle_count; i++)
            rb_run_cancel(idle_runs[i]);
    }
}

static void bench_idle(int runs)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/idle.yaml", tmpdir);
    write_file(path, "apiVersion: runbook/v1\nname: wait\nparams: { n: { default: 0 } }\n"
                     "concurrency: \"{{ params.n }}\"\nsteps:\n"
                     "  - { name: wait, action: sleep, with: { duration: 60s } }\n");
    rb_runbook_t *rb = load(path);
    rb_journal_t *j = journal("idle.db", RB_JOURNAL_SYNC_NORMAL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_attach_loop(j, &loop);
    long rss0 = rss_kib();
    rb_run_t **all = calloc((size_t)runs, sizeof(*all));
    rb_run_opts_t o = {.trigger = "bench"};
    char err[256];
    double t0 = now_ms();
    for (int i = 0; i < runs; i++) {
        json_t *p = json_pack("{s:i}", "n", i); /* a key of its own: all may run at once */
        o.params = p;
        int rc = rb_run_new(&loop, rb, j, &o, &all[i], err, sizeof(err));
        json_decref(p);
        if (rc < 0) {
            fprintf(stderr, "run %d: %s\n", i, err);
            exit(1);
        }
        rb_run_start(all[i], NULL, on_done, NULL);
    }
    double started = now_ms() - t0;
    /* let the writer catch up and every run reach its sleep */
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    finished = 0;
    idle_runs = all;
    idle_count = runs;
    for (int k = 0; k < 50; k++)
        uv_run(&loop, UV_RUN_NOWAIT);
    long rss1 = rss_kib();
    uv_timer_start(&tick, on_tick, 10, 10);
    uv_run(&loop, UV_RUN_DEFAULT);
    double total = now_ms() - t0;
    printf("idle: %d concurrent runs waiting in a sleep step (one loop, NORMAL journal)\n", runs);
    printf("  started all in %.0f ms; RSS %ld MiB -> %ld MiB: %.1f KiB a run\n", started,
           rss0 / 1024, rss1 / 1024, (double)(rss1 - rss0) / runs);
    printf("  worst loop lag over 2 s of waiting %.1f ms; all %d cancelled and journaled, "
           "%.1f s in all\n", worst_lag, finished, total / 1000.0);
    for (int i = 0; i < runs; i++)
        rb_run_free(all[i]);
    free(all);
    uv_close((uv_handle_t *)&tick, NULL);
    rb_journal_detach_loop(j);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    rb_journal_close(j);
    rb_runbook_free(rb);
}

static void bench_load(int n)
{
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/many", tmpdir);
    mkdir(dir, 0755);
    for (int i = 0; i < n; i++) {
        char path[160], text[4096];
        snprintf(path, sizeof(path), "%s/rb%04d.yaml", dir, i);
        snprintf(text, sizeof(text),
                 "apiVersion: runbook/v1\nname: node-crash-%d\ntitle: Node crash %d\nowner: oncall\n"
                 "triggers:\n  - match: { alertname: NodeDown, team: \"=~ops|sre\" }\n"
                 "params:\n  instance: { default: \"{{ alert.labels.instance }}\", required: true }\n"
                 "  unit: { default: neo-node }\n  port: { default: 20332 }\n"
                 "detect:\n  - name: process\n    run: [systemctl, is-active, \"{{ params.unit }}\"]\n"
                 "  - name: rpc\n    run: [curl, -fsS, \"http://{{ params.instance }}:{{ params.port }}/health\"]\n"
                 "    expect: \"exit_code == 0 && len(stdout) > 0\"\n"
                 "confirm: \"!checks.process.ok || !checks.rpc.ok\"\n"
                 "severity:\n  - { level: P1, when: \"!checks.process.ok && !checks.rpc.ok\" }\n"
                 "  - { level: P2 }\n"
                 "steps:\n  - name: logs\n    run: \"journalctl -u {{ params.unit }} -n 100 --no-pager\"\n"
                 "    on_failure: continue\n  - name: restart\n    run: [systemctl, restart, \"{{ params.unit }}\"]\n"
                 "    timeout: 60s\n    retry: { attempts: 3, delay: 30s, backoff: 2 }\n"
                 "    verify:\n      run: [systemctl, is-active, \"{{ params.unit }}\"]\n"
                 "      retry: { attempts: 5, delay: 5s }\n    on_failure: continue\n"
                 "  - name: restore\n    when: \"!steps.restart.ok\"\n"
                 "    approval: { when: \"run.severity == 'P1'\", timeout: 15m }\n"
                 "    run: [./scripts/restore_backup.sh, --latest]\n    on_failure: rollback\n"
                 "    undo: { run: [./scripts/lb.sh, enable, \"{{ params.instance }}\"] }\n"
                 "  - name: note\n    action: log\n    with: { message: \"{{ params.unit }} back: {{ steps.restart.status }}\" }\n"
                 "validate:\n  - name: rpc-up\n    run: [curl, -fsS, \"http://{{ params.instance }}:{{ params.port }}/health\"]\n"
                 "    retry: { attempts: 10, delay: 3s }\n"
                 "escalate:\n  - { after: 15m, unless: \"run.status == 'resolved'\", action: log, with: { message: escalate } }\n"
                 "levels: { P1: { respond: 15m, resolve: 2h } }\n",
                 i, i);
        write_file(path, text);
    }
    double t0 = now_ms();
    int ok = 0;
    for (int i = 0; i < n; i++) {
        char path[160];
        snprintf(path, sizeof(path), "%s/rb%04d.yaml", dir, i);
        rb_diags_t *d = rb_diags_new();
        rb_runbook_t *rb = NULL;
        if (rb_runbook_load(path, d, &rb) == 0)
            ok++;
        else
            rb_diags_print(d, stderr, 0);
        rb_runbook_free(rb);
        rb_diags_free(d);
    }
    double t = now_ms() - t0;
    printf("load: %d runbooks of about 60 lines loaded, validated and compiled in %.1f ms: "
           "%.0f runbooks/s (%d valid)\n", n, t, n / (t / 1000.0), ok);
}

/* n runs of rb one after the other in one journal (writer thread), signed
 * with the private key at key or not: ms per run. */
static double runs_in_one_journal(rb_runbook_t *rb, const char *name, const char *key, int n)
{
    rb_journal_t *j = journal(name, 0);
    char err[512];
    if (key) {
        rb_journal_key_t *k = NULL;
        if (rb_journal_key_load_private(key, &k, err, sizeof err) < 0 ||
            rb_journal_set_signing_key(j, k) < 0) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_attach_loop(j, &loop);
    rb_run_opts_t o = {.trigger = "bench"};
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        rb_run_t *r;
        if (rb_run_new(&loop, rb, j, &o, &r, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        rb_run_start(r, NULL, on_done, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        rb_run_free(r);
    }
    double t = now_ms() - t0;
    rb_journal_detach_loop(j);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    rb_journal_close(j);
    return t / n;
}

static void bench_sign(int n)
{
    char prefix[128], key[160], err[512];
    snprintf(prefix, sizeof prefix, "%s/sign", tmpdir);
    snprintf(key, sizeof key, "%s.key", prefix);
    if (rb_journal_key_generate(prefix, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    rb_runbook_t *rb = steps_runbook(1);
    const char *env = getenv("RB_BENCH_ROUNDS");
    int rounds = env ? atoi(env) : 5;
    if (rounds < 1 || rounds > RB_BENCH_ROUNDS_MAX)
        rounds = 5;
    double plain[RB_BENCH_ROUNDS_MAX], sig[RB_BENCH_ROUNDS_MAX];
    /* RB_BENCH_AA=1: the "signed" side without a key, a control of what
     * the order and the load alone make of the difference */
    const char *skey = getenv("RB_BENCH_AA") ? NULL : key;
    for (int i = 0; i < rounds; i++) {
        /* which goes first alternates: the second of a pair pays for the
         * first's writeback */
        if (i % 2 == 0) {
            plain[i] = runs_in_one_journal(rb, "plain.db", NULL, n);
            sig[i] = runs_in_one_journal(rb, "signed.db", skey, n);
        } else {
            sig[i] = runs_in_one_journal(rb, "signed.db", skey, n);
            plain[i] = runs_in_one_journal(rb, "plain.db", NULL, n);
        }
    }
    double p = median(plain, rounds), q = median(sig, rounds);
    printf("sign: %d one-step runs per journal, %d rounds, medians: %.3f ms per run unsigned,"
           " %.3f ms signed: a signed checkpoint costs %.3f ms per run end (%+.1f%%)\n", n,
           rounds, p, q, q - p, 100.0 * (q - p) / p);
    rb_runbook_free(rb);
}

static void bench_parse(const char *path, int n)
{
    FILE *f = fopen(path, "rb");
    static char buf[1 << 20];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    json_error_t err;
    json_t *probe = json_loadb(buf, len, 0, &err);
    if (!probe) {
        printf("parse: %s: not JSON (%s)\n", path, err.text);
        return;
    }
    json_decref(probe);
    double t0 = now_ms();
    for (int i = 0; i < n; i++)
        json_decref(json_loadb(buf, len, 0, &err));
    double t = now_ms() - t0;
    printf("parse: jansson parse + free of %zu bytes: %.1f us each (%d times)\n", len,
           1000.0 * t / n, n);
}

int main(int argc, char **argv)
{
    strcpy(tmpdir, "/tmp/rb-bench-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const char *what = argc > 1 ? argv[1] : "all";
    if (!strcmp(what, "parse") && argc > 2) {
        bench_parse(argv[2], argc > 3 ? atoi(argv[3]) : 20000);
        rmdir(tmpdir);
        return 0;
    }
    int n = argc > 2 ? atoi(argv[2]) : 0;
    if (!strcmp(what, "steps") || !strcmp(what, "all"))
        bench_steps(n ? n : 1000);
    if (!strcmp(what, "flat") || !strcmp(what, "all"))
        bench_flat(n ? n : 1000);
    if (!strcmp(what, "load") || !strcmp(what, "all"))
        bench_load(n ? n : 1000);
    if (!strcmp(what, "sign") || !strcmp(what, "all"))
        bench_sign(n ? n : 200);
    if (!strcmp(what, "idle") || !strcmp(what, "all"))
        bench_idle(n ? n : 100000);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : 1;
}
