/*
 * bench: what the scenarios share. One run measures, against the floor of
 * the same machine in the same run: throughput, keystroke latency, idle
 * agents and the connect storm, forwarding capacity, and the agent's
 * footprint. Each scenario adds its measurements to the report; none
 * aborts the run (a scenario that cannot run says why in a note).
 */
#ifndef CL_BENCH_BENCH_H
#define CL_BENCH_BENCH_H

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
    int v2_ok; /* 1: the real agent and relay agreed on v2 at least once */
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

/* The scenarios (sc_*.c). Each needs the relay running, except where said. */
void sc_throughput(struct bench *b);
void sc_latency(struct bench *b);
void sc_footprint(struct bench *b);
void sc_forward(struct bench *b);
void sc_agents(struct bench *b);  /* connect storm + idle agents; wants a fresh relay */
void sc_browser(struct bench *b); /* xterm.js in chromium; runs its own relay (bench/browser) */

#endif
