/*
 * procstat: what the bench reads about a process and the machine, from
 * /proc: resident memory, CPU time, and the machine description that goes
 * into results/latest.json.
 */
#ifndef CL_BENCH_PROCSTAT_H
#define CL_BENCH_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A "Name: N kB" field of /proc/PID/status (VmRSS, VmSize, ...) in bytes,
 * or a negative errno. */
int64_t ps_status_bytes(pid_t pid, const char *field);

/* VmRSS of pid in bytes, or a negative errno. */
int64_t ps_rss_bytes(pid_t pid);

/* Anonymous memory of pid (heap, stacks, private mappings: what is its
 * own rather than shared library pages), from smaps_rollup; bytes or < 0. */
int64_t ps_anon_bytes(pid_t pid);

/* utime + stime of pid (all its threads), in seconds; negative on error.
 * Resolution: one clock tick (usually 10 ms). */
double ps_cpu_seconds(pid_t pid);

/* Monotonic time in nanoseconds and in seconds. */
uint64_t ps_now_ns(void);
double ps_now_s(void);

struct ps_machine {
    char cpu_model[128];
    int cores;
    char kernel[256];
    char date[32]; /* ISO 8601, UTC */
};

void ps_machine_info(struct ps_machine *m);

#endif
