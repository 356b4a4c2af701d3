/*
 * sc_latency: keystroke echo through bash, p50/p90/p99: the raw PTY
 * (floor), v1 and v2 through relay + agent, then v2 again while other
 * sessions of the same agent stream output at full speed (`cat` of a file
 * in a loop), each watched by a viewer that reads and acks. The busy
 * viewers run on their own thread and loop, so the measuring loop only
 * ever waits for its own echo.
 */
#include "bench.h"
#include "floor.h"
#include "procstat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct busy {
    struct bench *b;
    int n;
    atomic_int opened; /* sessions started, command typed */
    atomic_int ready;  /* sessions that have received output */
    atomic_bool stop;
    atomic_ullong bytes;
    char err[256];
};

static void *busy__main(void *arg)
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

static void lat__report(struct bench *b, const char *what, double *us, int n,
                        const struct keys_stats *fl, int mode)
{
    struct keys_stats st;
    struct rep_item *it;
    char name[64];

    keys_stats(us, n, &st);
    /* mode 0: the floor; 1: idle targets; 2: busy target */
    snprintf(name, sizeof name, "%s p50", what);
    it = rep_add(&b->rep, "latency", name, st.p50, "us", mode == 1 ? -1 : 0,
                 mode == 1 ? fl->p50 + 40 : 0, mode == 1 ? "<= floor + 40 us" : "");
    it->has_floor = mode != 0;
    it->floor = fl ? fl->p50 : 0;
    snprintf(name, sizeof name, "%s p90", what);
    it = rep_add(&b->rep, "latency", name, st.p90, "us", 0, 0, "");
    it->has_floor = mode != 0;
    it->floor = fl ? fl->p90 : 0;
    snprintf(name, sizeof name, "%s p99", what);
    it = rep_add(&b->rep, "latency", name, st.p99, "us", mode ? -1 : 0,
                 mode == 1 ? fl->p99 + 100 : 2000,
                 mode == 1   ? "<= floor + 100 us"
                 : mode == 2 ? "<= 2000 us"
                             : "");
    it->has_floor = mode != 0;
    it->floor = fl ? fl->p99 : 0;
    snprintf(it->note, sizeof it->note, "n=%d, max %.0f us", n, st.max);
}

/* Keystrokes through a fresh agent speaking proto; busy > 0 adds that
 * many streaming sessions beside. Returns samples taken or < 0. */
static int lat__through(struct bench *b, int proto, int busy, double *us, char *err, size_t errlen,
                        int *granted)
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
        atomic_init(&bz.opened, 0);
        atomic_init(&bz.ready, 0);
        atomic_init(&bz.stop, false);
        atomic_init(&bz.bytes, 0);
        pthread_create(&th, NULL, busy__main, &bz);
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
            struct rep_item *it =
                rep_add(&b->rep, "latency", "busy sessions' output meanwhile",
                        (double)(atomic_load(&bz.bytes) - b0) / secs / 1e6, "MB/s", 0, 0, "");
            snprintf(it->note, sizeof it->note, "%d of %d busy sessions had received output",
                     atomic_load(&bz.ready), busy);
        }
        atomic_store(&bz.stop, true);
        pthread_join(th, NULL);
    } else {
        char tag[32];
        snprintf(tag, sizeof tag, "latency-v%d", proto);
        shell_keyio(&sh, &io);
        rig_perf_start(&b->rig, tag);
        rc = keys_run(&io, b->keys, us);
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

void sc_latency(struct bench *b)
{
    double *us = calloc((size_t)b->keys, sizeof *us);
    struct keys_stats fl;
    char err[256] = "", what[64];
    int rc, granted = 0;

    if (!us)
        abort();
    rc = floor_echo(b->rig.home, b->keys, us);
    if (rc < 0) {
        rep_note(&b->rep, "latency: raw PTY echo failed (%d)", rc);
        free(us);
        return;
    }
    keys_stats(us, rc, &fl);
    lat__report(b, "raw PTY echo (floor)", us, rc, NULL, 0);

    for (int proto = 1; proto <= 2; proto++) {
        err[0] = 0;
        rc = lat__through(b, proto, 0, us, err, sizeof err, &granted);
        if (rc < 0) {
            rep_note(&b->rep, "latency v%d: %s", proto, err);
            continue;
        }
        snprintf(what, sizeof what, "echo v%d%s", proto,
                 granted == proto ? ""
                 : proto == 2     ? " (got v1)"
                                  : "");
        lat__report(b, what, us, rc, &fl, 1);
    }
    if (b->busy_sessions <= 0) {
        free(us);
        return;
    }
    err[0] = 0;
    rc = lat__through(b, 2, b->busy_sessions, us, err, sizeof err, &granted);
    if (rc < 0) {
        rep_note(&b->rep, "latency with %d busy sessions: %s", b->busy_sessions, err);
    } else {
        snprintf(what, sizeof what, "echo v2, %d busy sessions", b->busy_sessions);
        lat__report(b, what, us, rc, &fl, 2);
    }
    free(us);
}
