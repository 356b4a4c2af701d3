/*
 * linkem: a long-distance link, emulated in user space (this machine's
 * kernel has no netem). A forwarder process, forked from the bench, that
 * listens on 127.0.0.1 and forwards every connection it accepts to a
 * target port, holding the bytes of each direction for a one-way delay
 * before writing them on:
 *
 *   client --TCP--> linkem [delay, rate, stalls] --TCP--> target
 *
 * Each direction is a `line`: bytes read at time t leave the line
 * serialised at the rate cap (if any) behind what it already carries, and
 * arrive delay_ms later, in order. A stall (optional) holds the line for
 * stall_ms (default: one round trip), drawn with stall_per_mb probability
 * per MB carried: what a lost segment costs an in-order TCP stream, a
 * retransmission a round trip later with everything behind it waiting.
 *
 * What it does not model: the kernel's TCP on either side sees a loopback
 * connection with no delay, so TCP's own windows, slow start and loss
 * recovery are not part of the picture. Its memory is bounded: a line
 * stops reading its sender (which then waits, as behind a full router
 * buffer) while LINKEM_HELD_MAX bytes are held or LINKEM_QUEUE_MS of
 * sending is queued at the rate cap.
 */
#ifndef CL_BENCH_LINKEM_H
#define CL_BENCH_LINKEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes one direction of one connection holds at most (in flight and
 * queued); at 25 MB/s and 75 ms one way 1.9 MB are in flight. */
#define LINKEM_HELD_MAX (64u * 1024 * 1024)
/* Sending queued in front of the rate cap before the sender is paused: a
 * bottleneck router's buffer, in time at the line's rate. */
#define LINKEM_QUEUE_MS 20
/* The receive buffer of the emulator's sockets (SO_RCVBUF). Kept small so
 * that what the line cannot take yet waits in the sender's socket buffer,
 * as unsent data does behind a real sender's congestion window, and not
 * in a loopback receive buffer no real path has (autotuned to MBs). */
#define LINKEM_RCVBUF (128 * 1024)
/* Connections one emulator carries at once (the agent reconnects). */
#define LINKEM_CONNS 16

struct linkem_opts {
    double delay_ms;     /* one way, each direction (round trip = 2x) */
    double rate_mbs;     /* MB/s (10^6 bytes) each direction; 0 = no cap */
    double stall_per_mb; /* probability of a stall per MB carried; 0 = none */
    double stall_ms;     /* a stall's length; 0 = one round trip */
    unsigned seed;       /* of the stall draws (deterministic per seed) */
};

/* One direction's schedule. Pure: no clock, no I/O (unit-tested). */
struct linkem_line {
    struct linkem_opts o;
    uint64_t free_ns; /* when the line has sent what it was given */
    uint64_t carried; /* bytes since the last stall draw */
    uint64_t rng;     /* xorshift64 state */
    uint64_t stalls;  /* stalls so far */
};

void linkem_line_init(struct linkem_line *l, const struct linkem_opts *o, unsigned salt);
/* n bytes given to the line at now_ns: returns when they arrive at the
 * far end (never before an earlier call's bytes). */
uint64_t linkem_line_due(struct linkem_line *l, uint64_t now_ns, size_t n);
/* Sending still queued at now_ns (ns): what the line has accepted but
 * not yet serialised at its rate, or a stall not yet over. */
uint64_t linkem_line_backlog(const struct linkem_line *l, uint64_t now_ns);

/* The forwarder process. */
struct linkem {
    pid_t pid;
    uint16_t port; /* where to connect instead of the target */
};

/* Forks the emulator, forwarding to 127.0.0.1:target. Call before the
 * bench starts threads. Returns 0 or a negative errno. */
int linkem_start(struct linkem *lk, const struct linkem_opts *o, uint16_t target);
/* Stops it (its connections close). Safe on a stopped one. */
void linkem_stop(struct linkem *lk);

#endif
