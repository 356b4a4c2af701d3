/*
 * rig: the stage every scenario runs on. A temporary directory holding
 * the relay's data (provisioned through the store before it starts), the
 * real relay and the real agent started from the build directory on
 * 127.0.0.1, and the API calls a scenario needs (start-session).
 *
 * Device 0 is the real agent's; devices 1..ndev-1 are for synthetic
 * agents.
 */
#ifndef CL_BENCH_RIG_H
#define CL_BENCH_RIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "proc.h"
#include "provision.h"

#define RIG_PATH_MAX 512

struct rig {
    char dir[256];           /* temporary root, removed by rig_free */
    char data[RIG_PATH_MAX]; /* relay --data */
    char home[RIG_PATH_MAX]; /* the real agent's HOME (bash rc files, config) */
    char relay_bin[RIG_PATH_MAX];
    char agent_bin[RIG_PATH_MAX];
    struct prov prov;
    struct bp_proc relay;
    int port;
    struct sockaddr_in addr;
    struct bp_proc agent;
    int agent_port;            /* where the agent connects: 0 = the relay's port
                                  (else a link emulator in front of it: linkem.h) */
    const char *agent_args[4]; /* more `clawlink up` arguments, NULL-terminated */
    bool agent_has_proto_flag; /* `clawlink up --proto N` exists */
    int relay_runs;            /* relay starts so far (log file names) */
    struct bp_proc perf;       /* perf record, while profiling */
};

/* Makes the temporary directory, provisions ndev devices and checks the
 * binaries in bin_dir. Returns 0 or a negative code with err set. */
int rig_init(struct rig *r, const char *bin_dir, size_t ndev, char *err, size_t errlen);

/* Starts a fresh relay on a free port and waits for /healthz. */
int rig_relay_start(struct rig *r, char *err, size_t errlen);
void rig_relay_stop(struct rig *r);

/* Starts the real agent for device 0 (`clawlink up`, bash as its shell),
 * asking for protocol proto (1 or 2) when the agent can be told. */
int rig_agent_start(struct rig *r, int proto, char *err, size_t errlen);
void rig_agent_stop(struct rig *r);

/* Polls the device list until device dev is online (timeout_ms). */
int rig_wait_online(struct rig *r, size_t dev, int timeout_ms);

/* POST /functions/v1/start-session for device dev; retries while the
 * device is not yet online (409), up to timeout_ms. sid gets the id. */
int rig_session_new(struct rig *r, size_t dev, char sid[65], int timeout_ms, char *err,
                    size_t errlen);

/* With CL_BENCH_PERF=DIR set: `perf record -g` of the relay (and the
 * agent, if running) into DIR/tag.data until rig_perf_stop. Otherwise
 * nothing. For finding what costs the time, not for the numbers. */
void rig_perf_start(struct rig *r, const char *tag);
void rig_perf_stop(struct rig *r);

/* Stops what runs and removes the temporary directory. */
void rig_free(struct rig *r);

/* Writes a text file of size bytes (80-column lines of printable ASCII)
 * at path. Returns 0 or a negative errno. */
int rig_text_file(const char *path, size_t size);

#endif
