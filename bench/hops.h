/*
 * hops: the least any relay + agent pair can cost on this machine. The
 * same processes and sockets as clawlink's path, with nothing in them:
 *
 *   bench --TCP--> relay stand-in --TCP--> agent stand-in --PTY--> bash
 *
 * Each stand-in is a process of its own, forked from the bench, that moves
 * bytes between its two descriptors with epoll and reads of up to 64 KiB:
 * no WebSocket, framing, TLS, JSON, flow control or database. What it adds
 * to the raw PTY (floor.h) is two more processes to wake and two loopback
 * TCP connections to cross per direction: the part of clawlink's overhead
 * that no relay and agent built as separate processes can remove here.
 * The bench reports it beside the floor as a reference, not a target.
 */
#ifndef CL_BENCH_HOPS_H
#define CL_BENCH_HOPS_H

#include <stddef.h>
#include <sys/types.h>

#include "keys.h"
#include "linkem.h"

struct hops {
    int fd;      /* the bench's socket to the relay stand-in */
    pid_t relay; /* the stand-ins; the agent one owns the shell */
    pid_t agent;
    struct linkem link; /* between the stand-ins, if asked for (pid -1: none) */
};

/* Starts both stand-ins and a login bash behind them (as floor_shell_open:
 * HOME=home), and drains its prompt. Call before the bench starts threads.
 * Returns 0 or a negative errno; on success close it with hops_close. */
int hops_open(struct hops *h, const char *home);
/* The same with an emulated long link (linkem.h) between the agent
 * stand-in and the relay stand-in, where clawlink's agent-relay link is. */
int hops_open_link(struct hops *h, const char *home, const struct linkem_opts *lo);
/* A keyio typing into the shell through both stand-ins. */
void hops_keyio(struct hops *h, struct keyio *io);
/* Runs `cat path` in the shell and reads until a marker printed after it:
 * MB/s (10^6 bytes of the file, size, per second), or < 0. */
double hops_cat_mbps(struct hops *h, const char *path, size_t size);
/* Closes the socket; the stand-ins and the shell exit in turn. */
void hops_close(struct hops *h);

#endif
