/*
 * keys: keystroke echo latency through bash, over any transport: a raw
 * PTY (the floor) or a session through the relay and agent.
 *
 * Each sample: type 'a' at the end of bash's command line and time until
 * the first echoed byte arrives; then erase it (DEL) and let the echo of
 * that settle, so the line never grows.
 */
#ifndef CL_BENCH_KEYS_H
#define CL_BENCH_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct keyio {
    /* Sends n bytes to the shell. 0 or < 0. */
    int (*send)(void *ctx, const uint8_t *p, size_t n);
    /* Waits up to timeout_ms for output; returns the bytes that arrived
     * (> 0) with *t_ns the arrival time (ps_now_ns), 0 on timeout, < 0 on
     * error. */
    long (*wait)(void *ctx, int timeout_ms, uint64_t *t_ns);
    void *ctx;
};

/* A keyio over a plain descriptor (a PTY master, a socket): write() to
 * send, poll() and one read() of up to 4 KiB to wait. *fd must outlive io. */
void keys_fd_keyio(int *fd, struct keyio *io);

/* Reads until no output came for quiet_ms (at most max_ms). 0 or < 0. */
int keys_settle(const struct keyio *io, int quiet_ms, int max_ms);

/* n samples into us[] (microseconds). Returns n, or < 0 on a timeout. */
int keys_run(const struct keyio *io, int n, double *us);

/* n samples through each of the nio transports io[] (into us[i]) in one
 * window, in turns of `block` keystrokes (io[0] first), so that load on the
 * machine that comes and goes falls on all alike. Each turn starts with
 * one keystroke that is not counted: the transport that sat idle during
 * the others' turns wakes up on it, as it would not between back-to-back
 * keystrokes. Returns n, or < 0 on a timeout of any. */
int keys_interleave(const struct keyio *const io[], double *const us[], int nio, int n, int block);

struct keys_stats {
    double p50, p90, p99, max;
    int n;
};

/* Sorts us[] in place and fills st. */
void keys_stats(double *us, int n, struct keys_stats *st);

#endif
