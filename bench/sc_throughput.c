/*
 * sc_throughput: `cat` of a text file through relay + agent (v1 and v2),
 * against forkpty + cat read directly (the floor) and through two plain
 * forwarding processes (hops.h: the least any relay and agent cost here,
 * the reference the targets are set against). Floor, reference and relay
 * runs take turns, b->reps rounds per window; the best run of each counts.
 * The time runs from the command's stdin message to the arrival of a
 * marker the shell prints after cat.
 */
#include "bench.h"
#include "floor.h"
#include "hops.h"
#include "procstat.h"

#include <stdio.h>
#include <string.h>

#define TP__MARK "__CLDONE__"

struct tp__scan {
    char tail[16];
    size_t tail_len;
    bool found;
};

/* Looks for the marker, also across chunk boundaries. */
static void tp__on_output(struct term *t, const uint8_t *p, size_t n)
{
    struct tp__scan *s = t->user;
    char edge[32];
    size_t k = n < 15 ? n : 15, ml = sizeof TP__MARK - 1;
    if (s->found)
        return;
    memcpy(edge, s->tail, s->tail_len);
    memcpy(edge + s->tail_len, p, k);
    if (memmem(edge, s->tail_len + k, TP__MARK, ml) || memmem(p, n, TP__MARK, ml)) {
        s->found = true;
        return;
    }
    if (n >= 15) {
        memcpy(s->tail, p + n - 15, 15);
        s->tail_len = 15;
    } else {
        size_t keep = s->tail_len + n > 15 ? 15 - n : s->tail_len;
        memmove(s->tail, s->tail + s->tail_len - keep, keep);
        memcpy(s->tail + keep, p, n);
        s->tail_len = keep + n;
    }
}

/* One cat through the shell; MB/s or < 0. */
static double tp__run(struct bench *b, struct shell *sh)
{
    struct tp__scan scan = {0};
    struct keyio io;
    char cmd[RIG_PATH_MAX + 96];
    uint64_t t0;
    double deadline;
    int n;

    n = snprintf(cmd, sizeof cmd, "cat %s; printf '%%s\\n' __CL''DONE__\r", b->textfile);
    sh->t.user = &scan;
    sh->t.on_output = tp__on_output;
    t0 = ps_now_ns();
    if (term_write(&sh->t, cmd, (size_t)n))
        return -1;
    deadline = ps_now_s() + 120;
    while (!scan.found && sh->t.state == TERM_READY && ps_now_s() < deadline)
        wsc_loop_poll(sh->loop, 100);
    sh->t.on_output = NULL;
    if (!scan.found)
        return -1;
    double mbps = (double)b->text_size / ((double)(sh->t.last_rx_ns - t0) / 1e9) / 1e6;
    term_ack(&sh->t);
    shell_keyio(sh, &io);
    keys_settle(&io, 200, 5000);
    return mbps;
}

/* A best-of figure and the row it is reported in, beside its window's
 * floor (floor_ref) and, if ref_ref, its reference; ratio > 0: the target
 * is ratio times the reference. */
static struct rep_item *tp__row(struct bench *b, const char *name, double best, double floor,
                                const char *floor_ref, double ref, const char *ref_ref,
                                double ratio)
{
    char target[64] = "";
    struct rep_item *it;
    bool judged = ratio > 0 && ref_ref;

    if (judged)
        snprintf(target, sizeof target, ">= %.2fx reference", ratio);
    it = rep_add(&b->rep, "throughput", name, best, "MB/s", judged ? 1 : 0,
                 judged ? ratio * ref : 0, target);
    if (floor_ref) {
        it->has_floor = true;
        it->floor = floor;
        snprintf(it->floor_ref, sizeof it->floor_ref, "%s", floor_ref);
    }
    if (ref_ref) {
        it->has_ref = true;
        it->ref = ref;
        snprintf(it->ref_ref, sizeof it->ref_ref, "%s", ref_ref);
    }
    return it;
}

/* One window: a fresh agent speaking proto, and b->reps rounds of the
 * floor, the plain forwarders of hp (if any) and the relay path, one run
 * of each per round, so that load on the machine that comes and goes
 * falls on all alike; the best run of each counts. Target: the relay
 * path at 0.9x (v1) or 1.0x (v2) the reference of the same window. */
static void tp__window(struct bench *b, int proto, struct hops *hp)
{
    struct wsc_loop loop;
    struct shell sh;
    struct rep_item *it;
    double floor = -1, ref = -1, best = -1, ratio = proto == 2 ? 1.0 : 0.9;
    char err[256], name[64], fname[64], rname[64];

    if (wsc_loop_init(&loop))
        return;
    if (rig_agent_start(&b->rig, proto, err, sizeof err) ||
        shell_open(&sh, b, &loop, proto, err, sizeof err)) {
        rep_note(&b->rep, "throughput v%d: %s", proto, err);
        rig_agent_stop(&b->rig);
        wsc_loop_free(&loop);
        return;
    }
    /* perf, if asked for, follows the relay and the agent only */
    snprintf(name, sizeof name, "throughput-v%d", proto);
    rig_perf_start(&b->rig, name);
    for (int i = 0; i < b->reps; i++) {
        double v = floor_cat_mbps(b->textfile, b->text_size);
        if (v > floor)
            floor = v;
        if (hp && (v = hops_cat_mbps(hp, b->textfile, b->text_size)) > ref)
            ref = v;
        if ((v = tp__run(b, &sh)) > best)
            best = v;
    }
    rig_perf_stop(&b->rig);
    snprintf(fname, sizeof fname, "raw PTY cat, v%d window (floor)", proto);
    tp__row(b, fname, floor, 0, NULL, 0, NULL, 0);
    snprintf(rname, sizeof rname, "cat via plain forwarders, v%d window (reference)", proto);
    if (hp && ref < 0)
        rep_note(&b->rep, "throughput v%d: no marker through the plain forwarders", proto);
    if (hp && ref >= 0) {
        it = tp__row(b, rname, ref, floor, fname, 0, NULL, 0);
        snprintf(it->note, sizeof it->note, "%.2fx floor: the least a relay and an agent cost",
                 floor > 0 ? ref / floor : 0);
    }
    snprintf(name, sizeof name, "cat via relay+agent, v%d", proto);
    /* without a reference the row is shown, not judged */
    it = tp__row(b, name, best, floor, fname, ref, hp && ref >= 0 ? rname : NULL, ratio);
    snprintf(it->note, sizeof it->note,
             "%.2fx reference, %.2fx floor; negotiated v%d, %llu of %llu frames binary",
             ref > 0 ? best / ref : 0, floor > 0 ? best / floor : 0, sh.t.proto,
             (unsigned long long)sh.t.binary_msgs, (unsigned long long)sh.t.msgs);
    if (proto == 2 && sh.t.proto == 2)
        b->v2_ok = 1;
    shell_close(&sh);
    rig_agent_stop(&b->rig);
    wsc_loop_free(&loop);
}

void sc_throughput(struct bench *b)
{
    struct hops hp;
    int rc;

    /* the reference: the least a relay and an agent cost here (hops.h),
     * in both windows */
    rc = hops_open(&hp, b->rig.home);
    if (rc)
        rep_note(&b->rep, "throughput: plain forwarders failed (%d)", rc);
    tp__window(b, 1, rc ? NULL : &hp);
    tp__window(b, 2, rc ? NULL : &hp);
    if (!rc)
        hops_close(&hp);
}
