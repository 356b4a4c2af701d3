/*
 * sc_latency: keystroke echo through bash, p50/p90/p99.
 *
 * Idle: v1 and v2 through relay + agent, each against the raw PTY (the
 * floor) and two plain forwarders (hops.h, the reference the targets are
 * set against) measured in the same window: blocks of floor, reference
 * and relay keystrokes alternate (keys_interleave), so load from
 * elsewhere on the machine falls on all alike.
 *
 * Loaded: v2 again while other sessions of the same agent stream output
 * at full speed (`cat` of a file in a loop), each watched by a viewer that
 * reads and acks; the busy viewers run on their own thread and loop, so
 * the measuring loop only ever waits for its own echo. Its floor is the
 * raw PTY's echo while as many raw PTYs run the same loop, drained by a
 * thread of the bench's (floor_busy). The two loads cannot run at once
 * without doubling the load, so the loaded floor is measured just before.
 */
#include "bench.h"
#include "floor.h"
#include "hops.h"
#include "procstat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *busy_main(void *arg)
{
    struct busy *bz = arg;
    struct wsc_loop loop;
    struct term *t;
    char cmd[RIG_PATH_MAX + 64], sid[65];
    int n, opened = 0;

    if (wsc_loop_init(&loop))
        return NULL;
    t = calloc((size_t)bz->n, sizeof *t);
    if (!t)
        abort();
    n = snprintf(cmd, sizeof cmd, "while :; do cat %s; done\r", bz->b->busyfile);
    for (int i = 0; i < bz->n && !atomic_load(&bz->stop); i++) {
        if (rig_session_new(&bz->b->rig, 0, sid, 15000, bz->err, sizeof bz->err) ||
            term_open(&t[i], &loop, &bz->b->rig.addr, bz->b->rig.prov.user_token, sid,
                      bz->b->rig.prov.dev[0].id, 2) ||
            term_wait_ready(&t[i], &loop, 15000)) {
            if (!bz->err[0])
                snprintf(bz->err, sizeof bz->err, "busy session %d: %s", i, t[i].err);
            term_close(&t[i]);
            break;
        }
        t[i].ack_every = 64 * 1024;
        term_write(&t[i], cmd, (size_t)n);
        atomic_store(&bz->opened, ++opened);
    }
    if (opened < bz->n)
        atomic_store(&bz->opened, -1); /* failed: bz->err says why */
    while (!atomic_load(&bz->stop)) {
        int streaming = 0;
        unsigned long long total = 0;
        wsc_loop_poll(&loop, 50);
        for (int i = 0; i < opened; i++) {
            streaming += t[i].bytes > 0;
            total += t[i].bytes;
        }
        atomic_store(&bz->ready, streaming);
        atomic_store(&bz->bytes, total);
    }
    for (int i = 0; i < opened; i++) {
        if (getenv("CL_BENCH_DEBUG"))
            fprintf(stderr, "busy %d: %s bytes=%llu next=%llu acked=%llu state=%d %s\n", i,
                    t[i].sid, (unsigned long long)t[i].bytes, (unsigned long long)t[i].next_off,
                    (unsigned long long)t[i].acked, (int)t[i].state, t[i].err);
        term_close(&t[i]);
    }
    free(t);
    wsc_loop_free(&loop);
    return NULL;
}

void busy_start(struct busy *bz, pthread_t *th)
{
    atomic_init(&bz->opened, 0);
    atomic_init(&bz->ready, 0);
    atomic_init(&bz->stop, false);
    atomic_init(&bz->bytes, 0);
    pthread_create(th, NULL, busy_main, bz);
}

/* A floor to compare with: its figures and the name of its rows. */
struct lat__floor {
    struct keys_stats st;
    char what[48];
};

/* Blocks of 100 keystrokes alternate in a full run; a short run still
 * alternates a few times. */
/* The loaded echo's targets (issue 16, section 1), as multiples of the
 * loaded floor's p50 and p99 measured in the same run. */
#define LAT_LOADED_P50_X 2.0
#define LAT_LOADED_P99_X 1.5
/* The busy sessions' output while the loaded echo is measured, before the
 * bounded agent-link queues (decisions.md 59): 68.7 MB/s, one run
 * of `bench/run build --only latency` on the 2-core development machine,
 * 2026-12-07. The target keeps it within 10%. Machine-specific: re-measure
 * the baseline on another machine before reading the verdict. */
#define LAT_BUSY_BASELINE_MBS 68.7
#define LAT_BUSY_MIN_X        0.9

static int lat__block(const struct bench *b)
{
    return b->keys >= 400 ? 100 : b->keys >= 4 ? b->keys / 4 : 1;
}

/* Adds the p50/p90/p99 rows of `what`. mode 0: a floor or, with fl, a
 * reference shown against fl with no target; 2: the loaded
 * target, against the loaded floor fl of the same run (issue 16: p50 <= 2x
 * and p99 <= 1.5x; without fl, p99 <= 2 ms absolute as before).
 * (The idle targets: lat__report_idle.)
 * block > 0: the samples alternated with fl's in blocks of that size. */
static void lat__report(struct bench *b, const char *what, double *us, int n,
                        const struct lat__floor *fl, int mode, int block)
{
    static const char *pct[3] = {"p50", "p90", "p99"};
    struct keys_stats st;
    double v[3], f[3] = {0, 0, 0};

    keys_stats(us, n, &st);
    v[0] = st.p50, v[1] = st.p90, v[2] = st.p99;
    if (fl)
        f[0] = fl->st.p50, f[1] = fl->st.p90, f[2] = fl->st.p99;
    for (int i = 0; i < 3; i++) {
        struct rep_item *it;
        char name[64], target[32] = "";
        double limit = 0;
        int cmp = 0;

        if (mode == 2 && fl && i != 1) {
            double k = i == 0 ? LAT_LOADED_P50_X : LAT_LOADED_P99_X;
            limit = k * f[i];
            snprintf(target, sizeof target, "<= %.3gx loaded floor", k);
            cmp = -1;
        } else if (mode == 2 && !fl && i == 2) {
            limit = 2000;
            snprintf(target, sizeof target, "<= 2000 us");
            cmp = -1;
        }
        snprintf(name, sizeof name, "%s %s", what, pct[i]);
        it = rep_add(&b->rep, "latency", name, v[i], "us", cmp, limit, target);
        it->block = block;
        if (fl) {
            it->has_floor = true;
            it->floor = f[i];
            snprintf(it->floor_ref, sizeof it->floor_ref, "%s %s", fl->what, pct[i]);
        }
        if (mode == 2 && fl && f[i] > 0)
            snprintf(it->note, sizeof it->note, "%.1fx the loaded floor", v[i] / f[i]);
        if (mode != 2 && fl)
            snprintf(it->note, sizeof it->note, "floor %+.0f us", v[i] - f[i]);
        if (i == 2) {
            size_t l = strlen(it->note);
            snprintf(it->note + l, sizeof it->note - l, "%sn=%d, max %.0f us", l ? "; " : "", n,
                     st.max);
        }
    }
}

/* The idle targets, against the reference (ref: two plain forwarders)
 * of the same window, the floor (fl) shown beside: v2 p50 <= reference
 * + 20 us and p99 <= reference + 60 us; v1 p50 <= reference + 40 us.
 * Without a reference the rows are shown, not judged. */
static void lat__report_idle(struct bench *b, const char *what, int proto, double *us, int n,
                             const struct lat__floor *fl, const struct lat__floor *ref, int block)
{
    static const char *pct[3] = {"p50", "p90", "p99"};
    /* allowance over the reference per percentile; < 0: no target */
    const int allow[2][3] = {{40, -1, -1}, {20, -1, 60}};
    struct keys_stats st;
    double v[3], f[3], r[3] = {0, 0, 0};

    keys_stats(us, n, &st);
    v[0] = st.p50, v[1] = st.p90, v[2] = st.p99;
    f[0] = fl->st.p50, f[1] = fl->st.p90, f[2] = fl->st.p99;
    if (ref)
        r[0] = ref->st.p50, r[1] = ref->st.p90, r[2] = ref->st.p99;
    for (int i = 0; i < 3; i++) {
        struct rep_item *it;
        char name[96], target[40] = "";
        int a = allow[proto >= 2][i];
        size_t l;

        if (ref && a >= 0)
            snprintf(target, sizeof target, "<= reference + %d us", a);
        snprintf(name, sizeof name, "%s %s", what, pct[i]);
        it =
            rep_add(&b->rep, "latency", name, v[i], "us", ref && a >= 0 ? -1 : 0, r[i] + a, target);
        it->block = block;
        it->has_floor = true;
        it->floor = f[i];
        snprintf(it->floor_ref, sizeof it->floor_ref, "%s %s", fl->what, pct[i]);
        if (ref) {
            it->has_ref = true;
            it->ref = r[i];
            snprintf(it->ref_ref, sizeof it->ref_ref, "%s %s", ref->what, pct[i]);
            snprintf(it->note, sizeof it->note, "reference %+.0f us, floor %+.0f us", v[i] - r[i],
                     v[i] - f[i]);
        } else {
            snprintf(it->note, sizeof it->note, "floor %+.0f us", v[i] - f[i]);
        }
        l = strlen(it->note);
        if (i == 2)
            snprintf(it->note + l, sizeof it->note - l, "; n=%d, max %.0f us", n, st.max);
    }
}

/* Keystrokes through a fresh agent speaking proto. nother > 0: alternate
 * with other[] in blocks (their samples into ous[]), the relay last.
 * busy > 0 adds that many streaming sessions beside. Returns samples
 * taken or < 0. */
static int lat__through(struct bench *b, int proto, int busy, double *us,
                        const struct keyio *const other[], double *const ous[], int nother,
                        int block, char *err, size_t errlen, int *granted)
{
    struct wsc_loop loop;
    struct shell sh;
    struct keyio io;
    struct busy bz = {.b = b, .n = busy};
    pthread_t th;
    int rc;

    if (wsc_loop_init(&loop))
        return -1;
    rc = rig_agent_start(&b->rig, proto, err, errlen);
    if (!rc)
        rc = shell_open(&sh, b, &loop, proto, err, errlen);
    if (rc)
        goto out_agent;
    *granted = sh.t.proto;
    if (busy) {
        double deadline = ps_now_s() + 60, all_open = 0;
        unsigned long long b0;
        busy_start(&bz, &th);
        /* Keep our own link alive while the others start: all of them
         * open, and all streaming or 5 s passed (an agent may starve some;
         * the note says how many got output). */
        while (ps_now_s() < deadline && atomic_load(&bz.opened) >= 0) {
            wsc_loop_poll(&loop, 50);
            if (atomic_load(&bz.opened) == busy && !all_open)
                all_open = ps_now_s();
            if (all_open && (atomic_load(&bz.ready) == busy || ps_now_s() > all_open + 5))
                break;
        }
        if (!all_open) {
            snprintf(err, errlen, "could not open %d busy sessions: %.150s", busy, bz.err);
            rc = -1;
        }
        b0 = atomic_load(&bz.bytes);
        double t0 = ps_now_s();
        shell_keyio(&sh, &io);
        rig_perf_start(&b->rig, "latency-busy");
        if (!rc)
            rc = keys_run(&io, b->keys, us);
        rig_perf_stop(&b->rig);
        double secs = ps_now_s() - t0;
        if (rc > 0) {
            char target[48];
            struct rep_item *it;
            snprintf(target, sizeof target, ">= %.2gx %.1f MB/s (baseline)", LAT_BUSY_MIN_X,
                     LAT_BUSY_BASELINE_MBS);
            it = rep_add(&b->rep, "latency", "busy sessions' output meanwhile",
                         (double)(atomic_load(&bz.bytes) - b0) / secs / 1e6, "MB/s", 1,
                         LAT_BUSY_MIN_X * LAT_BUSY_BASELINE_MBS, target);
            snprintf(it->note, sizeof it->note,
                     "%d of %d busy sessions had received output; %.2fx the baseline",
                     atomic_load(&bz.ready), busy, it->value / LAT_BUSY_BASELINE_MBS);
        }
        atomic_store(&bz.stop, true);
        pthread_join(th, NULL);
    } else {
        char tag[32];
        snprintf(tag, sizeof tag, "latency-v%d", proto);
        shell_keyio(&sh, &io);
        rig_perf_start(&b->rig, tag);
        if (nother > 0) {
            const struct keyio *ios[4];
            double *uss[4];
            for (int i = 0; i < nother && i < 3; i++)
                ios[i] = other[i], uss[i] = ous[i];
            ios[nother] = &io, uss[nother] = us;
            rc = keys_interleave(ios, uss, nother + 1, b->keys, block);
        } else {
            rc = keys_run(&io, b->keys, us);
        }
        rig_perf_stop(&b->rig);
    }
    if (rc < 0 && !err[0])
        snprintf(err, errlen, "keystrokes: no echo within 5 s (%s)", sh.t.err);
    shell_close(&sh);
out_agent:
    rig_agent_stop(&b->rig);
    wsc_loop_free(&loop);
    return rc;
}

/* The loaded floor: keystrokes through the raw-PTY shell behind fio while
 * b->busy_sessions raw PTYs stream (floor_busy), once all of them have
 * produced output or 5 s passed. Adds the rate they were drained at.
 * Returns samples taken (into us) or < 0 with err. */
static int lat__floor_busy(struct bench *b, const struct keyio *fio, double *us, char *err,
                           size_t errlen)
{
    struct floor_busy *fb;
    struct rep_item *it;
    unsigned long long b0;
    double t0, deadline;
    int rc, n = b->busy_sessions;

    rc = floor_busy_start(&fb, b->rig.home, b->busyfile, n, err, errlen);
    if (rc)
        return rc;
    deadline = ps_now_s() + 5;
    while (floor_busy_ready(fb) < n && ps_now_s() < deadline)
        usleep(10000);
    b0 = floor_busy_bytes(fb);
    t0 = ps_now_s();
    rc = keys_run(fio, b->keys, us);
    if (rc < 0) {
        snprintf(err, errlen, "keystrokes: no echo within 5 s");
    } else {
        it = rep_add(&b->rep, "latency", "busy PTYs' output meanwhile",
                     (double)(floor_busy_bytes(fb) - b0) / (ps_now_s() - t0) / 1e6, "MB/s", 0, 0,
                     "");
        snprintf(it->note, sizeof it->note,
                 "%d of %d busy PTYs had produced output; drained by "
                 "the bench",
                 floor_busy_ready(fb), n);
    }
    floor_busy_stop(fb);
    return rc;
}

void sc_latency(struct bench *b)
{
    double *us = calloc((size_t)b->keys, sizeof *us), *fus = calloc((size_t)b->keys, sizeof *fus),
           *hus = calloc((size_t)b->keys, sizeof *hus);
    struct floor_shell fsh;
    struct hops hp;
    struct keyio fio, hio;
    struct lat__floor fl, *loaded = NULL;
    char err[256] = "", what[64];
    int rc, granted = 0, block = lat__block(b);
    bool have_hops;

    if (!us || !fus || !hus)
        abort();
    rc = floor_shell_open(&fsh, b->rig.home);
    if (rc < 0) {
        rep_note(&b->rep, "latency: raw PTY shell failed (%d)", rc);
        goto out_free;
    }
    floor_shell_keyio(&fsh, &fio);
    /* the reference: the least a relay and an agent add here (hops.h) */
    rc = hops_open(&hp, b->rig.home);
    have_hops = rc == 0;
    if (!have_hops)
        rep_note(&b->rep, "latency: plain forwarders failed (%d)", rc);
    else
        hops_keyio(&hp, &hio);

    for (int proto = 1; proto <= 2; proto++) {
        /* the forwarders take turns in both windows: the targets are set
         * against them */
        const struct keyio *other[2] = {&fio, &hio};
        double *ous[2] = {fus, hus};
        int nother = have_hops ? 2 : 1;
        struct lat__floor ref;
        err[0] = 0;
        rc = lat__through(b, proto, 0, us, other, ous, nother, block, err, sizeof err, &granted);
        if (rc < 0) {
            rep_note(&b->rep, "latency v%d: %s", proto, err);
            continue;
        }
        snprintf(fl.what, sizeof fl.what, "raw PTY echo, v%d window (floor)", proto);
        lat__report(b, fl.what, fus, rc, NULL, 0, block);
        keys_stats(fus, rc, &fl.st);
        if (nother == 2) {
            snprintf(ref.what, sizeof ref.what, "plain forwarders, v%d window (reference)", proto);
            lat__report(b, ref.what, hus, rc, &fl, 0, block);
            keys_stats(hus, rc, &ref.st);
        }
        snprintf(what, sizeof what, "echo v%d%s", proto,
                 granted == proto ? ""
                 : proto == 2     ? " (got v1)"
                                  : "");
        lat__report_idle(b, what, proto, us, rc, &fl, nother == 2 ? &ref : NULL, block);
    }
    if (have_hops)
        hops_close(&hp);
    if (b->busy_sessions <= 0)
        goto out_shell;

    err[0] = 0;
    rc = lat__floor_busy(b, &fio, fus, err, sizeof err);
    if (rc < 0) {
        rep_note(&b->rep, "latency, raw PTY with %d busy PTYs: %s", b->busy_sessions, err);
    } else {
        snprintf(fl.what, sizeof fl.what, "raw PTY echo, %d busy PTYs (floor)", b->busy_sessions);
        lat__report(b, fl.what, fus, rc, NULL, 0, 0);
        keys_stats(fus, rc, &fl.st);
        loaded = &fl;
    }
    err[0] = 0;
    rc = lat__through(b, 2, b->busy_sessions, us, NULL, NULL, 0, 0, err, sizeof err, &granted);
    if (rc < 0) {
        rep_note(&b->rep, "latency with %d busy sessions: %s", b->busy_sessions, err);
    } else {
        snprintf(what, sizeof what, "echo v2, %d busy sessions", b->busy_sessions);
        lat__report(b, what, us, rc, loaded, 2, 0);
    }
out_shell:
    floor_shell_close(&fsh);
out_free:
    free(hus);
    free(fus);
    free(us);
}
