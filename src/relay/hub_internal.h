/*
 * hub_internal: the state the hub's files share (hub.c, hub_agent.c,
 * hub_viewer.c). Not for other modules: they reach the hub through the
 * router (router.h) or hub.h.
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

struct cl_live_session {
    char id[CL_ID_MAX + 1];
    char device_id[CL_ID_MAX + 1];
    bool start_sent;        /* session_start forwarded to the agent */
    bool fresh;             /* made by start-session in this relay process, not found in the
                             * store after a restart: its shell may still be to start */
    bool started;           /* the agent answered session_started (or announced it) */
    uint64_t produced;      /* stream offset after the newest byte seen */
    uint64_t ack_sent;      /* last ack offset told to the agent */
    int viewers_sent;       /* viewer count in that ack; -1 = none sent yet */
    uint64_t viewers_acked; /* the viewers' best ack and their count, as the */
    int viewers_count;      /* viewers' half last told (session_acked) */
    uv_timer_t ack_timer;   /* a caught-up ack waiting CL_ACK_DELAY_MS */
    struct cl_conn *viewers;
    size_t nviewers;
    /* A viewer that vanished without a close (network stall, ping timeout)
     * is held as a ghost for --agent-grace: it still counts for flow
     * control, so the shell stays paused until it comes back and resumes. */
    bool ghost;
    uint64_t ghost_acked;
    uv_timer_t ghost_timer;
    /* what the viewers' half last told the agent's half (session_acked) */
    bool told;
    uint64_t told_acked;
    int told_count;
    int open_handles;
    uv_timer_t idle; /* runs while nviewers == 0: backstop for v1 agents */
    /* The agent's latest session_title; stored at most every
     * CL_SESSION_TITLE_STORE_MS (title_dirty: newer than the store's). */
    char title[CL_SESSION_TITLE_MAX + 1];
    bool title_dirty;
    uint64_t title_stored_ms; /* loop time of the last store; 0 = never */
    /* Input flow control (docs/protocol.md, "Input flow control"): stdin
     * waiting for the agent's window, and the agent's count of this
     * session's stdin: passed to it, and written (its stdin_ack). */
    struct cl_inq inq;
    uint64_t in_fwd, in_acked;
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
    struct cl_conn *agents;           /* by device_id */
    struct cl_live_session *sessions; /* by id */
    struct cl_grace *graces;          /* by device_id */
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

/* hub.c: sending, live sessions */
void cl_hub_send_msg(struct cl_conn *c, const struct cl_msg *m);
void cl_hub_send_simple(struct cl_conn *c, enum cl_msg_type type, const char *session_id);
void cl_hub_send_accepted(struct cl_conn *c, enum cl_msg_type type, int asked,
                          uint32_t stdin_window);
void cl_hub_send_end(struct cl_conn *c, const char *session_id, enum cl_end_reason why);
void cl_hub_send_offset(struct cl_conn *c, enum cl_msg_type type, const char *session_id,
                        uint64_t offset, int viewers);
void cl_hub_live_remove(struct cl_hub *h, struct cl_live_session *ls);
void cl_hub_live_end(struct cl_hub *h, struct cl_live_session *ls, enum cl_end_reason why,
                     bool tell_agent);
void cl_hub_idle_fired(uv_timer_t *t);
struct cl_live_session *cl_hub_live_add(struct cl_hub *h, const char *id, const char *device_id);
struct cl_live_session *cl_hub_live_find(struct cl_hub *h, const char *id);

/* hub_agent.c */
void cl_hub_takers_gone(struct cl_hub *h, const char *device_id);
struct cl_conn *cl_hub_agent_find(struct cl_hub *h, const char *device_id);
void cl_hub_title_store(struct cl_hub *h, struct cl_live_session *ls);
void cl_hub_grace_cancel(struct cl_hub *h, const char *device_id);
void cl_hub_grace_start(struct cl_hub *h, const char *device_id);
void cl_hub_agent_hello(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m);
void cl_hub_agent_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m, const char *text,
                          size_t len, bool binary, struct cl_frame **owned);
void cl_hub_agent_rx(struct cl_conn *c, size_t len);
/* the router's entries to the agent's half (router_local.c) */
void cl_hub_agent_acked(struct cl_hub *h, const char *session_id, uint64_t acked, int viewers);
void cl_hub_agent_replay(struct cl_hub *h, const char *session_id, uint64_t offset);
bool cl_hub_agent_produced(struct cl_hub *h, const char *session_id, uint64_t *produced);
int cl_hub_agent_control(struct cl_hub *h, const char *session_id, const struct cl_msg *m,
                         const char *text, size_t len, bool *started);
enum cl_router_stdin_result cl_hub_agent_stdin(struct cl_hub *h, const struct cl_router_stdin *in);
void cl_hub_agent_viewer_left(struct cl_hub *h, const char *session_id, uint64_t viewer);

/* hub_viewer.c */
void cl_hub_viewer_detach(struct cl_hub *h, struct cl_conn *v);
void cl_hub_browser_auth(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m);
void cl_hub_browser_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m, const char *text,
                            size_t len, bool binary);
void cl_hub_viewer_written(struct cl_conn *c, uint64_t end_offset);
/* the router's entries to a session's viewers (router_local.c) */
void cl_hub_viewers_hold(struct cl_hub *h, const char *session_id, uint64_t acked);
void cl_hub_viewers_resume(struct cl_hub *h, const char *session_id);
void cl_hub_viewers_credit(struct cl_hub *h, const char *session_id, uint64_t viewer, size_t n,
                           bool done);
void cl_hub_viewers_output(struct cl_hub *h, const struct cl_router_output *out);
void cl_hub_viewers_forward(struct cl_hub *h, const char *session_id, const char *text, size_t len);
void cl_hub_viewers_notice(struct cl_hub *h, const char *session_id, const char *code,
                           const char *message);

#endif
