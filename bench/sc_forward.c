/*
 * sc_forward: the relay's forwarding capacity. Synthetic agents (no PTY)
 * send 64 KiB stdout chunks as fast as the relay takes them, within the
 * agent's window; one synthetic viewer per session reads and acks. For 1,
 * 10 and 100 sessions: MB/s delivered to viewers, and MB per second of
 * relay CPU (utime + stime), which does not depend on how fast the bench's
 * own client is.
 */
#include "agentsim.h"
#include "bench.h"
#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD__CHUNK (64 * 1024)

/* Device ranges never overlap between rounds: 1.., then after those. */
static void fwd__round(struct bench *b, int n, size_t first_dev)
{
    struct sim_fleet f;
    struct term *v;
    char err[256] = "", name[64];
    int ready = 0, proto = 0;
    uint64_t bytes0 = 0, bytes1 = 0;
    double cpu0, cpu1, t0, t1;

    if (sim_fleet_init(&f, &b->rig, first_dev, (size_t)n, 2, FWD__CHUNK, 0)) {
        rep_note(&b->rep, "forward %d: not enough devices provisioned", n);
        return;
    }
    v = calloc((size_t)n, sizeof *v);
    if (!v)
        abort();
    sim_fleet_connect(&f);
    sim_fleet_wait_online(&f, 30000);
    if (f.online < (size_t)n) {
        rep_note(&b->rep, "forward %d: only %zu agents online", n, f.online);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char sid[65];
        if (rig_session_new(&b->rig, first_dev + (size_t)i, sid, 10000, err, sizeof err) ||
            term_open(&v[i], &f.loop, &b->rig.addr, b->rig.prov.user_token, sid,
                      b->rig.prov.dev[first_dev + (size_t)i].id, 2)) {
            rep_note(&b->rep, "forward %d: session %d: %s", n, i, err);
            goto out;
        }
    }
    for (double deadline = ps_now_s() + 30; ready < n && ps_now_s() < deadline;) {
        wsc_loop_poll(&f.loop, 50);
        ready = 0;
        for (int i = 0; i < n; i++)
            ready += v[i].state == TERM_READY && v[i].bytes > 0;
    }
    if (ready < n) {
        rep_note(&b->rep, "forward %d: only %d sessions streaming (%s)", n, ready, v[0].err);
        goto out;
    }
    sim_fleet_run(&f, 500); /* warm up */
    for (int i = 0; i < n; i++)
        bytes0 += v[i].bytes;
    snprintf(name, sizeof name, "forward-%d", n);
    rig_perf_start(&b->rig, name);
    cpu0 = ps_cpu_seconds(b->rig.relay.pid);
    t0 = ps_now_s();
    sim_fleet_run(&f, b->fwd_secs * 1000);
    t1 = ps_now_s();
    cpu1 = ps_cpu_seconds(b->rig.relay.pid);
    rig_perf_stop(&b->rig);
    for (int i = 0; i < n; i++) {
        bytes1 += v[i].bytes;
        if (v[i].binary_msgs)
            proto = 2;
    }
    {
        double mb = (double)(bytes1 - bytes0) / 1e6, cpu = cpu1 - cpu0;
        struct rep_item *it;
        snprintf(name, sizeof name, "%d session%s, 64 KiB chunks", n, n > 1 ? "s" : "");
        it = rep_add(&b->rep, "forward", name, mb / (t1 - t0), "MB/s", 0, 0, "");
        snprintf(it->note, sizeof it->note, "agents got v%d; relay CPU %.0f%% of a core",
                 f.a[0].proto, cpu / (t1 - t0) * 100);
        snprintf(name, sizeof name, "%d session%s, per relay CPU-second", n, n > 1 ? "s" : "");
        it = rep_add(&b->rep, "forward", name, cpu > 0 ? mb / cpu : 0, "MB/cpu-s",
                     proto == 2 ? 1 : 0, 1000, proto == 2 ? ">= 1000 MB/cpu-s (v2)" : "(v2 only)");
        if (proto != 2)
            snprintf(it->note, sizeof it->note, "v1 JSON frames: v2 was not negotiated");
    }
out:
    for (int i = 0; i < n; i++)
        term_close(&v[i]);
    free(v);
    sim_fleet_free(&f);
}

void sc_forward(struct bench *b)
{
    size_t dev = 1;
    for (int i = 0; i < b->n_fwd; i++) {
        fwd__round(b, b->fwd_sessions[i], dev);
        dev += (size_t)b->fwd_sessions[i];
    }
}
