/*
 * term: the browser side of one terminal session, as the web app speaks
 * it: /session, auth (asking for protocol v2 or not), session_start, then
 * stdout in (JSON/base64 in v1, binary frames in v2), stdin out, and acks
 * so the agent's window keeps moving.
 *
 * The v2 binary frame (docs/protocol.md): byte 0 the message type (7
 * stdin, 8 stdout), byte 1 the session id length L (1..64), bytes 2..9 the
 * offset (big-endian; stdin: 0), then L bytes of session id, then the
 * payload.
 */
#ifndef CL_BENCH_TERM_H
#define CL_BENCH_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsc.h"

#define TERM_V2_HEADER 10 /* type, id length, offset; the id follows */

enum term_state { TERM_CONNECTING, TERM_AUTH, TERM_STARTING, TERM_READY, TERM_ENDED };

struct term {
    struct wsc_conn *ws;
    enum term_state state;
    char sid[65];
    char device_id[65];
    const char *token;
    int proto_req;        /* asked for in auth: 1 or 2 */
    int proto;            /* what auth_ok granted */
    uint64_t next_off;    /* stream offset after the last byte received */
    uint64_t acked;       /* last ack sent */
    uint64_t ack_every;   /* ack once this much is unacknowledged */
    uint64_t bytes;       /* stdout payload bytes received */
    uint64_t msgs;        /* stdout messages received */
    uint64_t binary_msgs; /* of which v2 binary frames */
    uint64_t last_rx_ns;  /* when the last stdout arrived (ps_now_ns) */
    /* called with each stdout payload, may be NULL */
    void (*on_output)(struct term *t, const uint8_t *p, size_t n);
    void *user;
    char err[160];    /* first error the relay reported, or why it closed */
    uint8_t *scratch; /* base64 decoding */
    size_t scratch_cap;
};

/* Opens a viewer of session sid on device_id. token must outlive t.
 * Returns 0 or a negative errno; then run the loop until t->state is
 * TERM_READY (or TERM_ENDED on failure, reason in t->err). */
int term_open(struct term *t, struct wsc_loop *l, const struct sockaddr_in *addr, const char *token,
              const char *sid, const char *device_id, int proto);

/* Types n bytes (stdin), binary in v2, JSON in v1. Returns 0 or < 0. */
int term_write(struct term *t, const void *p, size_t n);

/* Sends an ack for everything received, if anything is unacknowledged. */
void term_ack(struct term *t);

/* Runs l until t is ready or ended or timeout_ms passed; 0 when ready. */
int term_wait_ready(struct term *t, struct wsc_loop *l, int timeout_ms);

void term_close(struct term *t);

/* Encodes a v2 data frame header for sid into h (TERM_V2_HEADER + 64
 * bytes); returns its length. */
size_t term_v2_header(uint8_t *h, int type, const char *sid, uint64_t offset);

/* Parses a v2 data frame; false if it is malformed. */
bool term_v2_parse(const uint8_t *p, size_t n, int *type, const char **sid, size_t *sid_len,
                   uint64_t *offset, const uint8_t **payload, size_t *payload_len);

#endif
