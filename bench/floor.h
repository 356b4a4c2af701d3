/*
 * floor: the machine's floor, measured in the same run: a program reading
 * the master side of a raw PTY directly, with no relay, agent or
 * WebSocket in the way. For keystrokes, a login bash in a raw PTY kept
 * open for the whole latency scenario, so its keystrokes can alternate
 * with those through the relay; for the loaded floor, raw PTYs streaming
 * at full speed beside it, drained by the bench itself.
 */
#ifndef CL_BENCH_FLOOR_H
#define CL_BENCH_FLOOR_H

#include <stddef.h>
#include <sys/types.h>

#include "keys.h"

/* forkpty running `cat path`; the parent reads the master until EOF.
 * Returns MB/s (10^6 bytes of the file per second), or < 0 on error. */
double floor_cat_mbps(const char *path, size_t size);

/* forkpty running bash with argv and the environment the agent gives its
 * shells (HOME=home and its .inputrc). The master is close-on-exec, so
 * later children (other PTYs, the relay, the agent) do not hold it open.
 * Returns the child's pid (a session and process group leader) with
 * *master, or a negative errno. */
pid_t floor_bash(const char *home, char *const argv[], int *master);

/* A login bash in a raw PTY with HOME=home (the bench's rc files). */
struct floor_shell {
    int master;
    pid_t pid;
};

/* Starts the shell and drains its prompt. Returns 0 or a negative errno;
 * on success close it with floor_shell_close. */
int floor_shell_open(struct floor_shell *f, const char *home);
/* A keyio typing into the shell (see keys.h), valid while f is open. */
void floor_shell_keyio(struct floor_shell *f, struct keyio *io);
void floor_shell_close(struct floor_shell *f);

/* n raw PTYs, each running `while :; do cat path; done` in bash (the
 * command the busy relay sessions run), read and discarded by a thread of
 * the bench's own (epoll) as fast as they write. */
struct floor_busy;

/* Starts the PTYs and the draining thread. Returns 0 and *out (free it
 * with floor_busy_stop), or a negative errno with the reason in err. */
int floor_busy_start(struct floor_busy **out, const char *home, const char *path, int n, char *err,
                     size_t errlen);
/* PTYs that have produced output so far. */
int floor_busy_ready(struct floor_busy *fb);
/* Bytes drained so far, all PTYs together. */
unsigned long long floor_busy_bytes(struct floor_busy *fb);
/* Stops the thread, kills the PTYs' process groups, reaps them and frees
 * fb. */
void floor_busy_stop(struct floor_busy *fb);

#endif
