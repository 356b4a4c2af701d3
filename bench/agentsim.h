/*
 * agentsim: synthetic agents. Each holds one WebSocket to /connect, says
 * hello with a real device token, answers pings (and pings a link silent
 * for the agent's ping interval, as the real agent does), and, when the
 * relay forwards a session_start, answers session_started and streams
 * output as fast as the relay takes it: fixed chunks, v2 binary frames (or
 * v1 JSON), never more than the agent's window beyond the relay's ack.
 * No PTY, no shell: what is measured is the relay.
 */
#ifndef CL_BENCH_AGENTSIM_H
#define CL_BENCH_AGENTSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rig.h"
#include "wsc.h"

#define SIM_WINDOW        (1024 * 1024) /* the real agent's default --window */
#define SIM_PING_INTERVAL 20            /* s, the real agent's default */

enum sim_state { SIM_CONNECTING, SIM_HELLO, SIM_ONLINE, SIM_DEAD };

struct sim_fleet;

struct sim_agent {
    struct wsc_conn *ws;
    struct sim_fleet *f;
    size_t dev; /* index into rig->prov.dev */
    enum sim_state state;
    int proto; /* granted in hello_ok */
    uint64_t t_hello_ns, t_ok_ns, last_rx_ns;
    char sid[65];
    bool streaming;
    uint64_t produced, acked;
};

struct sim_fleet {
    struct wsc_loop loop; /* the agents; viewers may share it */
    struct rig *rig;
    int proto_req;
    size_t n;
    struct sim_agent *a;
    size_t online, dead;
    size_t refused_hello; /* closed after connecting, before hello_ok */
    uint64_t t_start_ns, t_last_ok_ns;
    size_t chunk;     /* output chunk size (streaming) */
    uint8_t *payload; /* chunk bytes of text */
    char *b64tail;    /* base64 of payload + "\"}}" (v1 frames) */
    size_t b64tail_len;
    uint64_t sent_bytes;
    int nsrc; /* source addresses 127.0.0.2.. to spread connections over (0: 127.0.0.1) */
};

/* Prepares n agents for devices first_dev.. of r, asking for protocol
 * proto, streaming chunk-byte chunks when a session starts. */
int sim_fleet_init(struct sim_fleet *f, struct rig *r, size_t first_dev, size_t n, int proto,
                   size_t chunk, int nsrc);

/* Starts every connection at once (t_start_ns is taken first). Returns
 * the number of connect() calls that failed at once. */
size_t sim_fleet_connect(struct sim_fleet *f);

/* Runs the loop until every agent is online or dead, or timeout_ms. */
void sim_fleet_wait_online(struct sim_fleet *f, int timeout_ms);

/* Runs the loop for ms milliseconds (keeping links alive). */
void sim_fleet_run(struct sim_fleet *f, int ms);

void sim_fleet_free(struct sim_fleet *f);

#endif
