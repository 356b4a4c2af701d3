/*
 * floor: the machine's floor, measured in the same run: a program reading
 * the master side of a raw PTY directly, with no relay, agent or
 * WebSocket in the way.
 */
#ifndef CL_BENCH_FLOOR_H
#define CL_BENCH_FLOOR_H

#include <stddef.h>

/* forkpty running `cat path`; the parent reads the master until EOF.
 * Returns MB/s (10^6 bytes of the file per second), or < 0 on error. */
double floor_cat_mbps(const char *path, size_t size);

/* Keystroke echo through a login bash in a raw PTY with HOME=home (the
 * bench's rc files): n samples into us[]. Returns n or < 0. */
int floor_echo(const char *home, int n, double *us);

#endif
