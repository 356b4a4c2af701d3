/*
 * bench: what the scenarios share. One run measures, against the floor of
 * the same machine in the same run: throughput, keystroke latency, idle
 * agents and the connect storm, forwarding capacity, and the agent's
 * footprint. Each scenario adds its measurements to the report; none
 * aborts the run (a scenario that cannot run says why in a note).
 */
#ifndef CL_BENCH_BENCH_H
#define CL_BENCH_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "keys.h"
#include "report.h"
#include "rig.h"
#include "term.h"

struct bench {
    bool smoke;
    const char *bin_dir; /* the relay's and agent's build directory */
    struct rig rig;
    struct report rep;
    char textfile[RIG_PATH_MAX + 32]; /* the throughput file */
    size_t text_size;
    char busyfile[RIG_PATH_MAX + 32]; /* what busy sessions cat in a loop */
    int reps;                         /* throughput runs (best is kept) */
    int keys;                         /* keystrokes per latency run */
    int busy_sessions;
    size_t idle_agents;
    int idle_secs;
    int fwd_secs;
    int fwd_sessions[3];
    int n_fwd;
    int footprint_sessions;
    int v2_ok;   /* 1: the real agent and relay agreed on v2 at least once */
    int ll_rtts; /* long-link round trips measured (sc_longlink: 20, 80, 150 ms) */
    int ll_keys; /* keystrokes per long-link echo run */
    int ll_reps; /* long-link throughput rounds (the best counts) */
    int ll_busy; /* busy sessions beside the long-link loaded echo */
    char llfile[RIG_PATH_MAX + 32]; /* what the long-link cat reads */
    size_t ll_size;
};

/* A real shell through the relay: a session on device 0 (the real agent),
 * a viewer speaking proto, and the prompt drained. */
struct shell {
    struct term t;
    struct wsc_loop *loop;
};

int shell_open(struct shell *s, struct bench *b, struct wsc_loop *l, int proto, char *err,
               size_t errlen);
/* A keyio typing into the shell (see keys.h). */
void shell_keyio(struct shell *s, struct keyio *io);
void shell_close(struct shell *s);

/* Busy sessions (sc_latency.c): n sessions of device 0, each running
 * `while :; do cat busyfile; done` watched by a viewer that reads and
 * acks, all on the thread of busy_main (started by busy_start) until stop
 * is set. */
struct busy {
    struct bench *b;
    int n;
    atomic_int opened; /* sessions started, command typed; -1: failed (err) */
    atomic_int ready;  /* sessions that have received output */
    atomic_bool stop;
    atomic_ullong bytes;
    char err[256];
};
void *busy_main(void *arg);
/* Zeroes bz's counters and starts busy_main on *th (bz->b, bz->n set). */
void busy_start(struct busy *bz, pthread_t *th);

/* The scenarios (sc_*.c). Each needs the relay running, except where said. */
void sc_throughput(struct bench *b);
void sc_latency(struct bench *b);
void sc_footprint(struct bench *b);
void sc_forward(struct bench *b);
void sc_agents(struct bench *b);   /* connect storm + idle agents; wants a fresh relay */
void sc_browser(struct bench *b);  /* xterm.js in chromium; runs its own relay (bench/browser) */
void sc_longlink(struct bench *b); /* throughput and echo over an emulated long link */

#endif
