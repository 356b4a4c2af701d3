/*
 * proc: the child processes a bench run starts (relay, agent, raw-PTY
 * floor helpers) and the little blocking HTTP client it drives the relay's
 * API with.
 */
#ifndef CL_BENCH_PROC_H
#define CL_BENCH_PROC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bp_proc {
    pid_t pid; /* 0 when not running */
    char name[32];
    char log[256]; /* where its stdout and stderr go */
};

/* Starts argv[0] with argv and envp (NULL: inherit), in cwd (NULL: ours),
 * stdin from /dev/null, stdout and stderr appended to logpath. Returns 0 or
 * a negative errno. */
int bp_spawn(struct bp_proc *p, const char *name, char *const argv[], char *const envp[],
             const char *cwd, const char *logpath);

/* true while the process has not exited (reaps it if it has). */
bool bp_alive(struct bp_proc *p);

/* SIGTERM, then SIGKILL after timeout_ms; reaps. Returns the wait status,
 * or -1 if it was not running. */
int bp_stop(struct bp_proc *p, int timeout_ms);

/* Prints the last lines of p's log to stderr (for a failure report). */
void bp_log_tail(const struct bp_proc *p, int lines);

/* One HTTP/1.1 request to addr (Connection: close), bearer token if not
 * NULL, JSON body if not NULL. The response body goes to resp (cap bytes,
 * NUL-terminated, cut if longer) and its status to *status. Returns 0 or
 * a negative errno. */
int bh_request(const struct sockaddr_in *addr, const char *method, const char *path,
               const char *token, const char *body, int *status, char *resp, size_t cap,
               int timeout_ms);

/* A free TCP port on 127.0.0.1 (bind :0 and release), or -1. */
int bh_free_port(void);

#endif
