/*
 * hub_internal: the hub's state and the calls between its files (hub.c,
 * hub_agent.c, hub_viewer.c; the local router and its unit test). Each
 * half owns its own struct and table below; the halves never call each
 * other (they go through the router, decision 70), only hub.c's helpers.
 * Not for other modules: they reach the hub through the router or hub.h.
 */
#ifndef CL_RELAY_HUB_INTERNAL_H
#define CL_RELAY_HUB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "core/proto.h"
#include "relay/conn.h"
#include "relay/hub.h"
#include "relay/inq.h"

/* A live session as the agent's half knows it (hub_agent.c): what was
 * started and produced, the acks and input window toward the agent. Every
 * live session has one; the viewer's half has its own entry for the
 * sessions it has viewers (or a held place) for. */
struct cl_agent_session {
    char id[CL_ID_MAX + 1];
    char device_id[CL_ID_MAX + 1];
    bool start_sent;        /* session_start forwarded to the agent */
    bool fresh;             /* made by start-session in this relay process, not found in the
                             * store after a restart: its shell may still be to start */
    bool started;           /* the agent answered session_started (or announced it) */
    uint64_t produced;      /* stream offset after the newest byte seen */
    uint64_t ack_sent;      /* last ack offset told to the agent */
    int viewers_sent;       /* viewer count in that ack; -1 = none sent yet */
    uint64_t viewers_acked; /* the viewers' best ack, their count (a held place */
    int viewers_count;      /* counting) and how many are attached, as the */
    int attached;           /* viewer's half last told (session_acked) */
    uv_timer_t ack_timer;   /* a caught-up ack waiting CL_ACK_DELAY_MS */
    uv_timer_t idle;        /* runs while no viewer is attached: backstop for v1 agents */
    int open_handles;
    /* The agent's latest session_title; stored at most every
     * CL_SESSION_TITLE_STORE_MS (title_dirty: newer than the store's). */
    char title[CL_SESSION_TITLE_MAX + 1];
    bool title_dirty;
    uint64_t title_stored_ms; /* loop time of the last store; 0 = never */
    /* Input flow control (docs/protocol.md, "Input flow control"): stdin
     * waiting for the agent's window (its owners: viewer ids), and the
     * agent's count of this session's stdin: passed to it, and written
     * (its stdin_ack). */
    struct cl_inq inq;
    uint64_t in_fwd, in_acked;
    struct cl_hub *hub;
    UT_hash_handle hh;
};

/* A live session as the viewer's half knows it (hub_viewer.c): who is
 * watching. */
struct cl_viewer_session {
    char id[CL_ID_MAX + 1];
    struct cl_conn *viewers;
    size_t nviewers;
    /* A viewer that vanished without a close (network stall, ping timeout)
     * is held as a ghost for --agent-grace: it still counts for flow
     * control, so the shell stays paused until it comes back and resumes. */
    bool ghost;
    uint64_t ghost_acked;
    uv_timer_t ghost_timer;
    /* what this half last told the agent's half (session_acked) */
    bool told;
    uint64_t told_acked;
    int told_count, told_attached;
    struct cl_hub *hub;
    UT_hash_handle hh;
};

/* A disconnected agent's grace period. */
struct cl_grace {
    char device_id[CL_ID_MAX + 1];
    uv_timer_t timer;
    struct cl_hub *hub;
    UT_hash_handle hh;
};

struct cl_hub {
    struct cl_relay *relay;
    /* the agent's half (hub_agent.c) */
    struct cl_conn *agents;            /* by device_id */
    struct cl_agent_session *sessions; /* by id: every live session */
    struct cl_grace *graces;           /* by device_id */
    /* the viewer's half (hub_viewer.c) */
    struct cl_viewer_session *watched; /* by id: sessions with viewers or a held place */
    size_t browsers;
    uint64_t viewer_ids; /* the last viewer id given (cl_conn's viewer_id) */
    /* agent messages other modules take (cl_hub_take): by_type holds a
     * taker's index + 1, 0 for the hub's own */
    struct {
        const struct cl_agent_taker *t;
        void *ctx;
    } takers[CL_HUB_AGENT_TAKERS_MAX];
    size_t ntakers;
    uint8_t by_type[CL_MSG__COUNT];
};

/* hub.c: sending */
void cl_hub_send_msg(struct cl_conn *c, const struct cl_msg *m);
void cl_hub_send_simple(struct cl_conn *c, enum cl_msg_type type, const char *session_id);
void cl_hub_send_accepted(struct cl_conn *c, enum cl_msg_type type, int asked,
                          uint32_t stdin_window);
void cl_hub_send_end(struct cl_conn *c, const char *session_id, enum cl_end_reason why);
void cl_hub_send_offset(struct cl_conn *c, enum cl_msg_type type, const char *session_id,
                        uint64_t offset, int viewers);

/* hub_agent.c */
void cl_hub_agents_start(struct cl_hub *h);
void cl_hub_agents_free(struct cl_hub *h);
struct cl_agent_session *cl_hub_agent_session(struct cl_hub *h, const char *id);
struct cl_conn *cl_hub_agent_find(struct cl_hub *h, const char *device_id);
void cl_hub_agent_hello(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m);
void cl_hub_agent_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m, const char *text,
                          size_t len, bool binary, struct cl_frame **owned);
void cl_hub_agent_closed(struct cl_hub *h, struct cl_conn *c);
void cl_hub_agent_rx(struct cl_conn *c, size_t len);
void cl_hub_agent_device_removed(struct cl_hub *h, const char *device_id, enum cl_end_reason why);
void cl_hub_agent_session_opened(struct cl_hub *h, const struct cl_session *s);
void cl_hub_agent_session_end(struct cl_hub *h, const char *session_id, enum cl_end_reason why);
/* the router's entries to the agent's half (router_local.c) */
void cl_hub_agent_attach(struct cl_hub *h, const char *session_id, const char *device_id);
void cl_hub_agent_acked(struct cl_hub *h, const char *session_id, uint64_t acked, int viewers,
                        int attached);
void cl_hub_agent_replay(struct cl_hub *h, const char *session_id, uint64_t offset);
bool cl_hub_agent_produced(struct cl_hub *h, const char *session_id, uint64_t *produced);
int cl_hub_agent_control(struct cl_hub *h, const char *session_id, const struct cl_msg *m,
                         const char *text, size_t len, bool *started);
enum cl_router_stdin_result cl_hub_agent_stdin(struct cl_hub *h, const struct cl_router_stdin *in);
void cl_hub_agent_viewer_left(struct cl_hub *h, const char *session_id, uint64_t viewer);

/* hub_viewer.c */
void cl_hub_viewers_free(struct cl_hub *h);
struct cl_viewer_session *cl_hub_viewer_session(struct cl_hub *h, const char *id);
void cl_hub_browser_auth(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m);
void cl_hub_browser_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m, const char *text,
                            size_t len, bool binary);
void cl_hub_viewer_closed(struct cl_hub *h, struct cl_conn *c);
void cl_hub_viewer_written(struct cl_conn *c, uint64_t end_offset);
/* the router's entries to a session's viewers (router_local.c) */
void cl_hub_viewers_output(struct cl_hub *h, const struct cl_router_output *out);
void cl_hub_viewers_forward(struct cl_hub *h, const char *session_id, const char *text, size_t len);
void cl_hub_viewers_notice(struct cl_hub *h, const char *session_id, const char *code,
                           const char *message);
void cl_hub_viewers_hold(struct cl_hub *h, const char *session_id, uint64_t acked);
void cl_hub_viewers_resume(struct cl_hub *h, const char *session_id);
void cl_hub_viewers_credit(struct cl_hub *h, const char *session_id, uint64_t viewer, size_t n,
                           bool done);
void cl_hub_viewers_closed(struct cl_hub *h, const char *session_id, enum cl_end_reason why,
                           bool tell);

#endif
