/*
 * sc_longlink: relay + agent over a long-distance link (linkem.h), at 20,
 * 80 and 150 ms round trip (the smoke run: 20 ms only).
 *
 * Where the link sits: between the agent and the relay. That is where a
 * deployed relay is far away from most of its agents (home machines and
 * servers reaching a relay in a data centre), the link the agent's
 * output window has to cover, and the link whose kernel buffers an echo
 * can wait behind. The bench's viewer stays next to the relay: a browser
 * far from the relay adds its round trip to the window's the same way,
 * and the relay's per-viewer queue (CL_VIEWER_QUEUE_MAX) is not what a
 * long link stresses. The link is capped at LL__RATE_MBS each way (a
 * 200 Mbit/s line) with LL__STALL_PER_MB stalls of one round trip per MB
 * (what a lost segment costs an in-order stream): without a cap the
 * "link" would be loopback-fast and only memory would bound it.
 *
 * Per round trip, in ll_reps rounds (best of each counts; full run 2):
 *  - cat of a file (ll_size) through two plain forwarders with the same
 *    emulated link between them (hops.h): the reference, what the link
 *    itself allows;
 *  - the same cat through relay + agent with the agent's window fixed at
 *    its default (`--window-max 1M`: the behaviour before decision 58);
 *  - the same with the window free to grow (the agent's defaults);
 *    target >= 0.9x the reference; in the last round a second cat in the
 *    same session shows the grown window without its ramp-up;
 *  - keystroke echo through that agent: target p50 <= round trip + 1 ms,
 *    in turns with the plain forwarders over the same link (keys_interleave;
 *    a reference row);
 *  - the echo again while ll_busy other sessions stream (busy_main):
 *    target p99 <= round trip + 2 ms (the loaded target of the latency
 *    scenario, on top of the link's own round trip).
 * The round trip itself is a row ("link round trip"), the floor of the
 * echo rows.
 */
#include "bench.h"
#include "hops.h"
#include "linkem.h"
#include "procstat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LL__RATE_MBS     25.0 /* MB/s each way: a 200 Mbit/s line */
#define LL__STALL_PER_MB 0.02
#define LL__MARK         "__CLLONG__"

static const int ll__rtt_ms[3] = {20, 80, 150};

/* The last bytes received, for finding the marker across chunks. */
struct ll__tail {
    char buf[64];
    size_t len;
    bool found;
};

static void ll__on_output(struct term *t, const uint8_t *p, size_t n)
{
    struct ll__tail *tl = t->user;
    size_t keep = sizeof tl->buf / 2, ml = sizeof LL__MARK - 1;
    if (tl->found)
        return;
    if (n >= keep) {
        if (memmem(p, n, LL__MARK, ml)) {
            tl->found = true;
            return;
        }
        tl->len = 0;
        p += n - keep, n = keep;
    }
    if (tl->len + n > sizeof tl->buf) {
        size_t drop = tl->len + n - sizeof tl->buf;
        memmove(tl->buf, tl->buf + drop, tl->len - drop);
        tl->len -= drop;
    }
    memcpy(tl->buf + tl->len, p, n);
    tl->len += n;
    tl->found = memmem(tl->buf, tl->len, LL__MARK, ml) != NULL;
}

/* One cat through the shell, timed from the command to the marker that
 * follows it; MB/s or < 0. */
static double ll__cat(struct bench *b, struct shell *sh)
{
    char cmd[RIG_PATH_MAX + 96];
    struct ll__tail tl = {.len = 0};
    uint64_t t0;
    double deadline;
    struct keyio io;
    bool found;
    int n = snprintf(cmd, sizeof cmd, "cat %s; printf '%%s\\n' __CL''LONG__\r", b->llfile);

    sh->t.user = &tl;
    sh->t.on_output = ll__on_output;
    t0 = ps_now_ns();
    if (term_write(&sh->t, cmd, (size_t)n))
        return -1;
    deadline = ps_now_s() + 180;
    while (!tl.found && sh->t.state == TERM_READY && ps_now_s() < deadline)
        wsc_loop_poll(sh->loop, 100);
    sh->t.on_output = NULL;
    found = tl.found;
    if (!found)
        return -1;
    double mbps = (double)b->ll_size / ((double)(sh->t.last_rx_ns - t0) / 1e9) / 1e6;
    term_ack(&sh->t);
    shell_keyio(sh, &io);
    keys_settle(&io, 300, 5000);
    return mbps;
}

static struct rep_item *ll__row(struct bench *b, const char *name, double v, const char *unit,
                                int cmp, double limit, const char *target, const char *floor_ref,
                                double floor)
{
    struct rep_item *it = rep_add(&b->rep, "longlink", name, v, unit, cmp, limit, target);
    if (floor_ref) {
        it->has_floor = true;
        it->floor = floor;
        snprintf(it->floor_ref, sizeof it->floor_ref, "%s", floor_ref);
    }
    return it;
}

/* p50 and p99 rows of an echo run, against the round trip (ms). */
static void ll__echo_rows(struct bench *b, const char *what, double *us, int n, int rtt,
                          const char *rtt_row, double allowance_ms, int on_pct)
{
    struct keys_stats st;
    keys_stats(us, n, &st);
    for (int i = 0; i < 2; i++) {
        double v = (i == 0 ? st.p50 : st.p99) / 1000.0;
        char name[64], target[32] = "";
        int cmp = 0;
        if (i == on_pct && allowance_ms > 0) {
            snprintf(target, sizeof target, "<= RTT + %.0f ms", allowance_ms);
            cmp = -1;
        }
        snprintf(name, sizeof name, "%s %s", what, i == 0 ? "p50" : "p99");
        struct rep_item *it =
            ll__row(b, name, v, "ms", cmp, rtt + allowance_ms, target, rtt_row, (double)rtt);
        snprintf(it->note, sizeof it->note, "RTT %+.2f ms; n=%d, max %.1f ms", v - rtt, n,
                 st.max / 1000.0);
    }
}

/* A fresh agent through the link (with args), a shell, and the cat;
 * with the window free to grow also the echo, idle and loaded. */
static double ll__agent(struct bench *b, int rtt, const char *window_max, const char *rtt_row,
                        bool echo, const struct keyio *ref_io, double *again, char *err,
                        size_t errlen)
{
    struct wsc_loop loop;
    struct shell sh;
    struct keyio io;
    double mbps = -1, *us, *hus;
    char what[64];
    int rc, block = b->ll_keys >= 8 ? b->ll_keys / 4 : 1;

    b->rig.agent_args[0] = window_max ? "--window-max" : NULL;
    b->rig.agent_args[1] = window_max;
    b->rig.agent_args[2] = NULL;
    us = calloc((size_t)b->ll_keys, sizeof *us);
    hus = calloc((size_t)b->ll_keys, sizeof *hus);
    if (!us || !hus || wsc_loop_init(&loop)) {
        free(us);
        free(hus);
        return -1;
    }
    rc = rig_agent_start(&b->rig, 2, err, errlen);
    if (!rc)
        rc = shell_open(&sh, b, &loop, 2, err, errlen);
    if (rc)
        goto out;
    mbps = ll__cat(b, &sh);
    if (mbps < 0)
        snprintf(err, errlen, "no marker after the cat (%s)", sh.t.err);
    else if (again)
        *again = ll__cat(b, &sh); /* the window as the first cat left it */
    if (!echo || mbps < 0)
        goto out_shell;

    shell_keyio(&sh, &io);
    if (ref_io) {
        /* the plain forwarders over the same link take turns with us */
        const struct keyio *ios[2] = {ref_io, &io};
        double *uss[2] = {hus, us};
        rc = keys_interleave(ios, uss, 2, b->ll_keys, block);
    } else {
        rc = keys_run(&io, b->ll_keys, us);
    }
    if (rc < 0) {
        snprintf(err, errlen, "echo: none within 5 s (%s)", sh.t.err);
        goto out_shell;
    }
    if (ref_io) {
        snprintf(what, sizeof what, "echo via plain forwarders, %d ms RTT (ref.)", rtt);
        ll__echo_rows(b, what, hus, rc, rtt, rtt_row, 0, -1);
    }
    snprintf(what, sizeof what, "echo, %d ms RTT", rtt);
    ll__echo_rows(b, what, us, rc, rtt, rtt_row, 1, 0);

    if (b->ll_busy > 0) {
        struct busy bz = {.b = b, .n = b->ll_busy};
        pthread_t th;
        double deadline = ps_now_s() + 60, t0;
        unsigned long long b0;
        busy_start(&bz, &th);
        while (ps_now_s() < deadline && atomic_load(&bz.opened) >= 0 &&
               atomic_load(&bz.ready) < b->ll_busy)
            wsc_loop_poll(&loop, 50);
        b0 = atomic_load(&bz.bytes);
        t0 = ps_now_s();
        rc = atomic_load(&bz.opened) == b->ll_busy ? keys_run(&io, b->ll_keys, us) : -1;
        double secs = ps_now_s() - t0;
        atomic_store(&bz.stop, true);
        pthread_join(th, NULL);
        if (rc < 0) {
            snprintf(err, errlen, "loaded echo, %d ms: %.150s", rtt,
                     bz.err[0] ? bz.err : "no echo within 5 s");
            goto out_shell;
        }
        snprintf(what, sizeof what, "echo, %d ms RTT, %d busy sessions", rtt, b->ll_busy);
        ll__echo_rows(b, what, us, rc, rtt, rtt_row, 2, 1);
        snprintf(what, sizeof what, "busy sessions' output, %d ms RTT", rtt);
        struct rep_item *it = ll__row(b, what, (double)(atomic_load(&bz.bytes) - b0) / secs / 1e6,
                                      "MB/s", 0, 0, "", NULL, 0);
        snprintf(it->note, sizeof it->note, "%d of %d busy sessions had output; link %.0f MB/s",
                 atomic_load(&bz.ready), b->ll_busy, LL__RATE_MBS);
    }
out_shell:
    shell_close(&sh);
out:
    rig_agent_stop(&b->rig);
    wsc_loop_free(&loop);
    b->rig.agent_args[0] = NULL;
    free(us);
    free(hus);
    return mbps;
}

void sc_longlink(struct bench *b)
{
    /* CL_BENCH_RTT=MS: that round trip only (checking one link by hand) */
    const char *only = getenv("CL_BENCH_RTT");
    int only_rtt = only ? atoi(only) : 0;

    for (int r = 0; r < (only_rtt > 0 ? 1 : b->ll_rtts) && r < 3; r++) {
        int rtt = only_rtt > 0 && only_rtt <= 2000 ? only_rtt : ll__rtt_ms[r];
        struct linkem_opts lo = {.delay_ms = rtt / 2.0,
                                 .rate_mbs = LL__RATE_MBS,
                                 .stall_per_mb = LL__STALL_PER_MB,
                                 .seed = (unsigned)rtt};
        struct linkem lk;
        struct hops hp;
        struct keyio hio;
        bool have_hops;
        struct rep_item *it;
        char rtt_row[64], ref_row[64], name[64], target[32], err[256] = "";
        double ref = -1, fixed = -1, grown = -1, again = -1, t0 = ps_now_s();
        int rc;

        snprintf(rtt_row, sizeof rtt_row, "link round trip, %d ms (emulated)", rtt);
        it = ll__row(b, rtt_row, rtt, "ms", 0, 0, "", NULL, 0);
        snprintf(it->note, sizeof it->note, "%.0f MB/s each way, a stall of one RTT with p=%.2f/MB",
                 LL__RATE_MBS, LL__STALL_PER_MB);

        /* the reference: two plain forwarders over the same link */
        rc = hops_open_link(&hp, b->rig.home, &lo);
        have_hops = rc == 0;
        if (rc)
            rep_note(&b->rep, "longlink %d ms: plain forwarders failed (%d)", rtt, rc);
        else
            hops_keyio(&hp, &hio);
        rc = linkem_start(&lk, &lo, (uint16_t)b->rig.port);
        if (rc) {
            rep_note(&b->rep, "longlink %d ms: link emulator failed (%d)", rtt, rc);
            if (have_hops)
                hops_close(&hp);
            continue;
        }
        b->rig.agent_port = lk.port;
        /* Rounds of: the reference, the window fixed at its default (as
         * before decision 58), the window free to grow; the best of each
         * counts, so load that comes and goes falls on all alike. The last
         * round's growing agent also measures the echo. */
        for (int round = 0; round < b->ll_reps; round++) {
            bool last = round == b->ll_reps - 1;
            double v;
            if (have_hops && (v = hops_cat_mbps(&hp, b->llfile, b->ll_size)) > ref)
                ref = v;
            err[0] = 0;
            if ((v = ll__agent(b, rtt, "1M", rtt_row, false, NULL, NULL, err, sizeof err)) > fixed)
                fixed = v;
            if (err[0])
                rep_note(&b->rep, "longlink %d ms, fixed window: %s", rtt, err);
            err[0] = 0;
            v = ll__agent(b, rtt, NULL, rtt_row, last, last && have_hops ? &hio : NULL,
                          last ? &again : NULL, err, sizeof err);
            if (v > grown)
                grown = v;
            if (err[0])
                rep_note(&b->rep, "longlink %d ms: %s", rtt, err);
        }
        if (have_hops)
            hops_close(&hp);

        snprintf(ref_row, sizeof ref_row, "cat via plain forwarders, %d ms RTT (reference)", rtt);
        it = ll__row(b, ref_row, ref, "MB/s", 0, 0, "", NULL, 0);
        snprintf(it->note, sizeof it->note, "what the link allows: %.2fx its %.0f MB/s; best of %d",
                 ref / LL__RATE_MBS, LL__RATE_MBS, b->ll_reps);
        snprintf(target, sizeof target, ">= 0.90x reference");
        if (fixed >= 0) {
            snprintf(name, sizeof name, "cat via relay+agent, %d ms RTT, fixed 1M window", rtt);
            it = ll__row(b, name, fixed, "MB/s", ref > 0 ? 1 : 0, 0.9 * ref, ref > 0 ? target : "",
                         ref > 0 ? ref_row : NULL, ref);
            snprintf(it->note, sizeof it->note,
                     "%.2fx reference; --window-max 1M (before decision 58)",
                     ref > 0 ? fixed / ref : 0);
        }
        if (grown >= 0) {
            snprintf(name, sizeof name, "cat via relay+agent, %d ms RTT", rtt);
            it = ll__row(b, name, grown, "MB/s", ref > 0 ? 1 : 0, 0.9 * ref, ref > 0 ? target : "",
                         ref > 0 ? ref_row : NULL, ref);
            snprintf(it->note, sizeof it->note, "%.2fx reference; window grows (default 1M..16M)",
                     ref > 0 ? grown / ref : 0);
        }
        if (again >= 0) {
            snprintf(name, sizeof name, "cat via relay+agent, %d ms RTT, 2nd in session", rtt);
            it = ll__row(b, name, again, "MB/s", 0, 0, "", ref > 0 ? ref_row : NULL, ref);
            snprintf(it->note, sizeof it->note,
                     "%.2fx reference; the window as the first cat grew it (no ramp)",
                     ref > 0 ? again / ref : 0);
        }
        b->rig.agent_port = 0;
        linkem_stop(&lk);
        fprintf(stderr, "bench: longlink %d ms took %.0f s\n", rtt, ps_now_s() - t0);
    }
}
