/*
 * link: the agent's one WebSocket connection to the relay (`/connect`).
 *
 * A client (wsclient.h) on the agent's one WebSocket context. The link
 * says hello with the device credentials,
 * waits for hello_ok, hands relay messages for sessions to its handler and
 * sends what sessions queue, one frame per WRITEABLE callback through a
 * struct cl_wsq. When the connection drops it reconnects with exponential
 * backoff (1 s .. 30 s, reset after a connection that lasted 10 s; a relay
 * going away with 1001, or one that announced `restarting`, is retried
 * after ~250 ms). Frames queued while the relay is unreachable stay queued
 * and go out after the next hello_ok. An idle connection is pinged every
 * ping interval and dropped after two intervals (plus a little slack) with
 * nothing received.
 */
#ifndef CL_AGENT_LINK_H
#define CL_AGENT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/wsclient.h"
#include "core/proto.h"
#include "core/wsq.h"

#define CL_AGENT_BACKOFF_MIN_MS 1000
#define CL_AGENT_BACKOFF_MAX_MS 30000
/* A connection that lasted this long resets the backoff. */
#define CL_AGENT_HEALTHY_MS 10000
/* Reconnect delay after close 1001 "going away" (plus up to as much jitter). */
#define CL_AGENT_GOING_AWAY_MS 250
/* From starting a connection to hello_ok. */
#define CL_AGENT_HANDSHAKE_TIMEOUT_MS 20000
/* --ping-interval: default and bounds (seconds). A link with nothing
 * received for 2 intervals + CL_AGENT_PING_SLACK_S is dropped. */
#define CL_AGENT_PING_DEFAULT_S 20
#define CL_AGENT_PING_MIN_S     1
#define CL_AGENT_PING_MAX_S     3600
#define CL_AGENT_PING_SLACK_S   5

struct cl_agent_link;

/* Callbacks from the link into its owner; ud is passed back. */
struct cl_agent_link_handler {
    void *ud;
    /* A message for the sessions: session_start, stdin, resize,
     * session_end, ack or replay; or an OpenClaw node request (prompt,
     * status, restart, workflow, workflows). m (and its data) is valid only
     * during the call. */
    void (*on_message)(void *ud, const struct cl_msg *m);
    /* Fills out[0..cap) with the live sessions to announce in the hello of
     * a new connection and returns how many (may be NULL: none). */
    size_t (*on_hello)(void *ud, struct cl_msg_session *out, size_t cap);
    /* Whether the link takes output changed: it became ready, went down, or
     * its queue drained below CL_AGENT_SENDQ_HIGH. Ask
     * cl_agent_link_can_accept. */
    void (*on_flow)(void *ud);
    /* The connection was lost with output still queued: the frames are
     * dropped (a new relay might take them as coming after a replay it asks
     * for) and the owner rewinds its cursor to start_offset to send them
     * again. Called once per dropped frame. */
    void (*on_output_dropped)(void *ud, void *owner, uint64_t start_offset);
    /* After cl_agent_link_close: the connection is gone (or never was). */
    void (*on_closed)(void *ud);
};

/* Creates the link to the relay in cfg as a client of wsc (which, with
 * loop, must outlive it; the context holds the CA file); copies what it
 * needs from cfg (the token included) and from h. ping_s (CL_AGENT_PING_MIN_S..CL_AGENT_PING_MAX_S)
 * is the idle time before a ping. Returns 0 with *out set, or CL_EINVAL (bad relay_url or ping_s) /
 * CL_ENOMEM with a message in err. Does not connect: call
 * cl_agent_link_start. */
int cl_agent_link_new(uv_loop_t *loop, struct cl_wsc_ctx *wsc, const struct cl_agent_config *cfg,
                      unsigned ping_s, const struct cl_agent_link_handler *h,
                      struct cl_agent_link **out, char *err, size_t errlen);

/* The highest protocol version to ask the relay for (default and maximum
 * CL_PROTO_MAX; 1 = PrivaClaw's JSON only). Call before cl_agent_link_start. */
void cl_agent_link_set_proto(struct cl_agent_link *l, int proto);

/* The chat family version this agent serves, told in every hello from the
 * next connection on (0: none; CL_CHAT_PROTO_VERSION when the chat store
 * is open and chat is declared). */
void cl_agent_link_set_chat(struct cl_agent_link *l, int version);

/* The login shell sessions start, told to the relay in hello's meta. */
void cl_agent_link_set_shell(struct cl_agent_link *l, const char *shell);

/* The protocol the current connection's hello_ok accepted: 2 means stdout
 * goes as binary frames (cl_bin_*), 1 as JSON. */
int cl_agent_link_proto(const struct cl_agent_link *l);

/* Starts the first connection attempt now. */
void cl_agent_link_start(struct cl_agent_link *l);

/* true between hello_ok and the loss of that connection. */
bool cl_agent_link_ready(const struct cl_agent_link *l);

/* true if sessions may read more output: the link is ready and holds at
 * most CL_AGENT_SENDQ_HIGH bytes. */
bool cl_agent_link_can_accept(const struct cl_agent_link *l);

/* Ready, and the relay's hello_ok honoured the input window the hello
 * granted (CL_AGENT_STDIN_WINDOW): it sends a session no more stdin than
 * the window beyond the last stdin_ack, and wants stdin_ack. */
bool cl_agent_link_stdin_flow(const struct cl_agent_link *l);

/* Bytes waiting in the send queue. */
size_t cl_agent_link_queued(const struct cl_agent_link *l);

/* Queues a text frame (takes ownership of f, whose len is set). control =
 * true for the small protocol replies that must not be refused
 * (session_started, session_end); data frames are refused over
 * CL_WS_SENDQ_MAX with CL_ELIMIT (f freed) — sessions stop reading long
 * before that. Frames wait in the queue while the relay is unreachable. */
int cl_agent_link_send(struct cl_agent_link *l, struct cl_frame *f, bool control);

/* Queues an output frame ahead of other sessions' output (not ahead of
 * control frames or its own session's earlier frames), whatever is
 * queued: for a session with only a little to send, such as an echo,
 * while others stream (cl_wsq_push_urgent). The link must be ready. */
void cl_agent_link_send_urgent(struct cl_agent_link *l, struct cl_frame *f);

/* Frames owned by owner lose their owner (it is going away). */
void cl_agent_link_disown(struct cl_agent_link *l, const void *owner);

/* Encodes m (cl_msg_encode) and queues it as a control frame. */
int cl_agent_link_send_msg(struct cl_agent_link *l, const struct cl_msg *m);

/* Stops reconnecting and closes the connection with 1001 "going away".
 * Returns true if there was no connection (nothing to wait for); otherwise
 * h->on_closed runs once the connection is gone. */
bool cl_agent_link_close(struct cl_agent_link *l);

/* No handler callback runs after this (call it before destroying the
 * WebSocket context). */
void cl_agent_link_destroy(struct cl_agent_link *l);

/* Frees the link (queued frames included) and wipes its copy of the token.
 * Call after the WebSocket context is destroyed (cl_wsc_ctx_destroyed). */
void cl_agent_link_free(struct cl_agent_link *l);

#endif
