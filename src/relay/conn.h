/*
 * conn: one client connection of the relay (lws per-session data).
 *
 * libwebsockets allocates this struct per connection (zeroed) and frees it
 * after LWS_CALLBACK_CLOSED / CLOSED_HTTP; every module that keeps a
 * pointer to a conn drops it in its close hook. A conn starts as HTTP and
 * may become an agent (/connect), browser (/session) or dashboard events
 * (/events) WebSocket.
 */
#ifndef CL_RELAY_CONN_H
#define CL_RELAY_CONN_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/wsq.h"

struct cl_relay;
struct cl_viewer_session;
struct cl_http_job;
struct cl_events_sub;
struct cl_frame;
struct cl_conn;

enum cl_conn_kind {
    CL_CONN_NONE = 0,
    CL_CONN_HTTP,
    CL_CONN_AGENT,
    CL_CONN_BROWSER,
    CL_CONN_EVENTS
};

/* What one kind of connection does with what happens to it. server.c
 * chooses the table once, when the connection is established (an HTTP
 * request: http.c's; a WebSocket upgrade: by its path, hub.c's agent or
 * viewer table or events.c's), and from then on calls through c->ops:
 * server.c and conn.c name no module. Hooks marked "may be NULL" are
 * skipped when they are. */
struct cl_conn_ops {
    enum cl_conn_kind kind;
    /* WebSocket kinds */
    size_t max_message; /* a longer message closes the peer with 1009 */
    bool direct_write;  /* cl_conn_wake may write a lone queued frame at once */
    bool cookie_auth;   /* the upgrade's session cookie may sign it in (webauth.h) */
    void (*on_open)(struct cl_conn *c); /* established (may be NULL) */
    /* len bytes of a message arrived, before they are collected (may be NULL) */
    void (*on_rx)(struct cl_conn *c, size_t len);
    /* A whole message. When it was collected into a frame (data is its
     * payload), owned points to it and the handler may keep it, setting
     * *owned to NULL; otherwise data is valid during the call only. */
    void (*on_message)(struct cl_conn *c, const char *data, size_t len, bool binary,
                       struct cl_frame **owned);
    /* a frame was written to the socket; end_offset is its stdout end
     * offset, 0 for other frames (may be NULL) */
    void (*on_written)(struct cl_conn *c, uint64_t end_offset);
    /* HTTP: lws's callbacks, each returning what the callback returns */
    int (*on_body)(struct cl_conn *c, const void *in, size_t len);
    int (*on_body_complete)(struct cl_conn *c);
    int (*on_writeable)(struct cl_conn *c);
    /* both: the connection closed (lws frees c after it) */
    void (*on_close)(struct cl_conn *c);
};

enum cl_http_method {
    CL_HTTP_OTHER = 0,
    CL_HTTP_GET,
    CL_HTTP_POST,
    CL_HTTP_PUT,
    CL_HTTP_PATCH,
    CL_HTTP_DELETE,
    CL_HTTP_HEAD,
    CL_HTTP_OPTIONS
};

struct cl_http_state {
    enum cl_http_method method;
    char path[256];
    char *body; /* bounded by CL_HTTP_MAX_BODY */
    size_t body_len;
    bool body_expected;
    bool close_after;        /* answered before the body was read: close the link */
    struct cl_http_job *job; /* pending worker job, or NULL */
    /* response */
    int status;
    unsigned char *resp; /* LWS_PRE headroom + body */
    size_t resp_len;
    unsigned retry_after; /* seconds, 0 = none */
    char *set_cookie;     /* Set-Cookie value of the reply, or NULL (wiped when sent) */
    int phase;            /* 0 idle, 1 reply ready, 2 headers written,
                             3 stream headers ready, 4 streaming (http.c) */
    /* streamed reply (cl_http_stream_*): bytes waiting for the socket */
    char *sbuf;
    size_t slen, scap;
    bool stream_end; /* close once sbuf is written */
    /* called once if the connection closes while a route still waits on
     * something (cl_http_on_gone) */
    void (*gone_fn)(void *arg);
    void *gone_arg;
    /* a reply that is not JSON (cl_http_reply_body); NULL/0: JSON */
    const char *ctype;        /* Content-Type */
    const char *cache;        /* Cache-Control (NULL: no-store) */
    const char *encoding;     /* Content-Encoding, or NULL */
    char etag[48];            /* ETag, quoted, or "" */
    char disposition[160];    /* Content-Disposition (a HEAD of a download), or "" */
    bool vary_encoding;       /* Vary: Accept-Encoding */
    bool no_body;             /* HEAD or 304: the headers only */
    const unsigned char *ext; /* the body when borrowed (not in resp), or NULL */
    size_t resp_off;          /* bytes of the body written so far */
    /* metrics (http.c): when the request's headers came, the route
     * pattern it matched ("web", "none"), whether its reply was counted */
    double started;
    const char *route;
    bool counted;
};

struct cl_conn {
    enum cl_conn_kind kind; /* ops->kind once established */
    const struct cl_conn_ops *ops;
    struct lws *wsi;
    struct cl_relay *relay;
    char peer[64];

    /* WebSocket */
    struct cl_wsq q;
    struct cl_frame *rx; /* a message arriving in pieces (len: bytes so far) */
    bool authed;
    bool close_pending; /* close requested: input is discarded from now on */
    unsigned bad_msgs;  /* bad or unknown messages so far (cl_conn_log_bad) */
    bool close_sent;    /* our close frame is out; waiting for the peer's */
    int close_code;
    char close_reason[64];
    int proto; /* negotiated in hello / auth: 1 (JSON) or 2 (binary data frames) */

    /* liveness.c: every WebSocket connection, swept once a second */
    struct cl_conn *live_next, *live_prev;
    uint64_t last_rx;   /* uv_now() when the peer last sent anything */
    uint64_t opened_at; /* uv_now() when it became a WebSocket: hello/auth is due */
    bool live_tracked;
    bool ping_due;       /* a ping waits for the next WRITEABLE */
    bool ping_sent;      /* and is out; cleared by any frame from the peer */
    bool live_dropped;   /* told to close for silence (logged once) */
    uint64_t rx_at_ping; /* kernel's received-byte count when the ping went */

    /* agent (/connect) */
    bool ext;   /* a clawlink agent: announced sessions or sent offsets, so it
                 * understands ack and replay */
    bool skill; /* the PrivaClaw OpenClaw skill: hello with meta.kind "openclaw"
                 * and no proto; node requests go in its shape (nodes.c) */
    char device_id[CL_ID_MAX + 1];
    char project_id[CL_UUID_LEN + 1];
    uint32_t stdin_window; /* the input window its hello granted (it sends stdin_ack);
                            * 0: none (an older agent, a PrivaClaw connector) */
    int chat;              /* the chat family version its hello declared (chat.c sends
                            * chat requests only when >= 1); 0: no chat API */
    UT_hash_handle hh;     /* hub->agents, keyed by device_id */
    uint64_t rcv_tuned_at; /* uv_now() when its receive window was last clamped */
    uint64_t rcv_window;   /* the clamp then (0: none yet) */

    /* browser (/session) */
    char user_id[CL_UUID_LEN + 1];
    uint8_t auth_hash[CL_HASH_LEN]; /* the token it authenticated with: checked again when
                                     * its user's tokens are revoked */
    char session_id[CL_ID_MAX + 1];
    uint64_t viewer_id;             /* the hub's id for it: what its queued input is credited by */
    struct cl_viewer_session *live; /* the session it views (hub_viewer.c) */
    struct cl_conn *viewer_next, *viewer_prev;
    uint64_t sent;      /* stream offset of the next byte this viewer should get */
    uint64_t acked;     /* consumed up to here */
    bool gap_aware;     /* gave resume_offset or sent ack: understands gap */
    bool explicit_acks; /* has sent ack: the relay no longer acks as it drains */
    bool lagging;       /* its queue overflowed: gets nothing until it drains */
    bool view_only;     /* shared view-only: no stdin, resize or session_end */
    bool starter;       /* the user who started the session */
    bool peer_closed;   /* the peer sent a close frame (a clean goodbye) */
    /* input flow control (hub_viewer.c): bytes of stdin accepted from this
     * viewer, of those passed to the agent, and as last told to it
     * (stdin_ack, when auth_ok granted it a window: in_flow) */
    uint64_t in_recv, in_fwd, in_ack_sent;
    size_t in_cost; /* what its messages still queued cost (inq.h) */
    bool in_flow;
    bool in_refusing; /* input refused: refuse the rest until the session's queue drains */

    /* /session and /events: the hash of the session cookie the upgrade
     * request carried with a same-origin Origin (webauth.c), which auth
     * without a token uses; the raw cookie is never kept */
    bool cookie_ok;
    uint8_t cookie_hash[CL_HASH_LEN];

    /* dashboard events (/events): its subscription once authenticated */
    struct cl_events_sub *ev;

    struct cl_http_state http;
};

/* Writes c's head frame (from its WRITEABLE callback, or cl_conn_wake);
 * 0, or -1 if the socket failed. */
int cl_conn_write_head(struct cl_conn *c);
/* After queueing for c: writes the frame at once if it is the only one and
 * the connection is idle (no POLLOUT round trip), else asks lws for a
 * WRITEABLE callback. */
void cl_conn_wake(struct cl_conn *c);
/* Queues a binary frame for c (copying it); as cl_conn_send. */
int cl_conn_send_binary(struct cl_conn *c, const void *data, size_t len);
/* Queues a text frame for c (copying it). Over CL_WS_SENDQ_MAX the peer is
 * closed with 1008 "send queue overflow" and CL_ELIMIT is returned. */
int cl_conn_send(struct cl_conn *c, const char *text, size_t len);
/* Queues an error frame {"type":"error","data":{code,message[,session_id]}}. */
void cl_conn_send_error(struct cl_conn *c, const char *code, const char *message,
                        const char *session_id);
/* Logs a bad or unknown message from c at info, with the peer, its device
 * or user and the reason; past CL_BAD_MSG_LOG_MAX per connection, at
 * debug (a peer cannot flood the log). */
static inline void cl_conn_log_bad(struct cl_conn *c, const char *comp, const char *code,
                                   const char *why)
{
    bool loud = c->bad_msgs++ < CL_BAD_MSG_LOG_MAX;
    char clean[256];
    size_t i = 0;
    /* the reason may quote the peer's bytes: one log line, no quotes */
    for (; why[i] && i < sizeof clean - 1; i++)
        clean[i] = (unsigned char)why[i] < 0x20 || why[i] == '"' || why[i] == 0x7f ? '?' : why[i];
    clean[i] = '\0';
    cl_log(loud ? CL_LOG_INFO : CL_LOG_DEBUG, comp, "bad message from a peer",
           "peer=%s device=%s user=%s code=%s reason=\"%s\"%s", c->peer,
           c->device_id[0] ? c->device_id : "-", c->user_id[0] ? c->user_id : "-", code, clean,
           c->bad_msgs == CL_BAD_MSG_LOG_MAX ? " (more from this peer at debug)" : "");
}

/* Asks lws to close c from its next WRITEABLE callback (after flushing
 * what is queued), with the given close code and reason. */
void cl_conn_close(struct cl_conn *c, int code, const char *reason);

#endif
