/*
 * wsclient: the agent's WebSocket clients — one libwebsockets context on
 * the agent's libuv loop (a "foreign" loop to lws), many clients on it.
 *
 * A client is one connection that keeps coming back: its URL is parsed
 * once; it connects, tells its owner (a small table of callbacks) when the
 * socket is upgraded, hands up whole messages (reassembled by wsrx, capped:
 * one over the cap is dropped and the connection closed with 1009), and
 * when the connection is gone asks the owner how long to wait before the
 * next attempt (the client's backoff, 1 s .. 30 s with jitter, is there to
 * ask). Until the owner says its own handshake is done (cl_wsc_ready) a
 * deadline runs; after, an optional silence limit drops a connection that
 * received nothing for that long, and lws pings one that was idle for
 * ping_s (any message counts as alive). Outgoing frames go through the
 * client's bounded queue (cl_wsc_send), or through the owner's own
 * on_writable. The relay link (link.c) and the OpenClaw gateway client
 * (gateway.c) are clients; each keeps its protocol logic.
 *
 * Lifetime: clients belong to the context. cl_wsc_close stops one; the
 * context is destroyed in stages as lws 4.1 on a foreign loop needs
 * (cl_wsc_ctx_destroy, run the loop, again until cl_wsc_ctx_destroyed),
 * then cl_wsc_ctx_free frees it and every client. No callback runs after
 * the first cl_wsc_ctx_destroy.
 */
#ifndef CL_AGENT_WSCLIENT_H
#define CL_AGENT_WSCLIENT_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/limits.h"
#include "core/wsq.h"

struct cl_wsc_ctx;
struct cl_wsc;

/* Where a client connects, parsed from its URL once. */
struct cl_wsc_url {
    char address[256];
    char host_hdr[300]; /* host, or host:port when not the scheme's default */
    char path[CL_URL_MAX + 16];
    int port;
    bool tls;
};

/* Parses url (ws:// or wss://). what names the setting in error messages
 * ("relay_url"). With suffix NULL the path is kept as given ("/" if
 * none); otherwise trailing slashes are dropped and suffix appended, so
 * "wss://h/base/" and "wss://h/base" both give /base/connect. Returns 0,
 * or CL_EINVAL with a message in err. */
int cl_wsc_parse_url(const char *url, const char *what, const char *suffix, struct cl_wsc_url *out,
                     char *err, size_t errlen);

/* The context: tls starts OpenSSL (only when some client speaks wss://:
 * it costs about 4 MiB of RSS); ca_file (PEM, may be NULL) then replaces
 * the system CAs for every wss:// client. Returns 0 with *out set, or
 * CL_EIO (lws) with a message in err. */
int cl_wsc_ctx_new(uv_loop_t *loop, bool tls, const char *ca_file, struct cl_wsc_ctx **out,
                   char *err, size_t errlen);
void cl_wsc_ctx_destroy(struct cl_wsc_ctx *x);
/* The lws context itself, for a server on the same loop (chat_http.c adds
 * its listening vhost to it). */
struct lws_context *cl_wsc_ctx_lws(struct cl_wsc_ctx *x);
bool cl_wsc_ctx_destroyed(const struct cl_wsc_ctx *x);
void cl_wsc_ctx_free(struct cl_wsc_ctx *x);

/* Why a connection ended, for on_close. */
struct cl_wsc_close {
    const char *why;    /* lws's connection error, or "connection closed" */
    bool error;         /* it failed before or while upgrading */
    int code;           /* the peer's close code, 0 if none */
    const char *reason; /* the peer's close reason, loggable ("" if none) */
    bool was_ready;     /* cl_wsc_ready was called on this connection */
    uint64_t up_ms;     /* since the upgrade (0 if it never was) */
    bool final;         /* after cl_wsc_close: no further attempt */
};

enum cl_wsc_timeout {
    CL_WSC_TIMEOUT_HANDSHAKE, /* no cl_wsc_ready within handshake_ms */
    CL_WSC_TIMEOUT_SILENCE,   /* nothing received for the silence limit */
};

/* Callbacks into a client's owner; ud is passed back. Only on_close is
 * required. */
struct cl_wsc_handler {
    void *ud;
    /* Upgraded. Return 0, or nonzero to drop the connection. */
    int (*on_open)(void *ud);
    /* A whole message; buf is valid only during the call. */
    void (*on_message)(void *ud, const void *buf, size_t len, bool binary);
    /* The connection is gone (or never came). Returns the delay in ms
     * before the next attempt (ignored when c->final). */
    uint32_t (*on_close)(void *ud, const struct cl_wsc_close *c);
    /* The socket takes one frame. NULL: the client's queue is written.
     * Return -1 to drop the connection. */
    int (*on_writable)(void *ud, struct lws *wsi);
    /* A deadline passed; the connection is dropped after the call. */
    void (*on_timeout)(void *ud, enum cl_wsc_timeout which);
    /* A message went over max_message; 1009 follows. */
    void (*on_too_big)(void *ud);
};

struct cl_wsc_config {
    const char *log_area; /* for the client's own log lines ("link") */
    size_t max_message;   /* largest message accepted */
    size_t sendq_max;     /* cap of the client's send queue (cl_wsc_send) */
    uint32_t backoff_min_ms, backoff_max_ms;
    uint32_t handshake_ms; /* from connecting to cl_wsc_ready */
    unsigned ping_s;       /* lws pings after this long idle, hangs up after 2x + slack (0: none) */
    unsigned ping_hangup_s;
    const char *user_agent; /* User-Agent header, or NULL */
    bool send_origin;       /* Origin: the Host header */
};

/* A client of x for the parsed url (copied) with cfg and h (copied). Does
 * not connect: cl_wsc_start. */
struct cl_wsc *cl_wsc_new(struct cl_wsc_ctx *x, const struct cl_wsc_url *url,
                          const struct cl_wsc_config *cfg, const struct cl_wsc_handler *h);

/* The first attempt, on the next loop iteration. */
void cl_wsc_start(struct cl_wsc *c);

/* The owner's handshake is done: the deadline stops; with silence_ms > 0
 * a connection with nothing received for that long is dropped. */
void cl_wsc_ready(struct cl_wsc *c, uint64_t silence_ms);

/* Upgraded and not closing. */
bool cl_wsc_open(const struct cl_wsc *c);
/* Inside one of the context's lws callbacks (then a frame is not written
 * directly, only asked for with cl_wsc_want_write). */
bool cl_wsc_in_callback(const struct cl_wsc *c);
/* The current connection (NULL if none): for owners writing themselves. */
struct lws *cl_wsc_wsi(const struct cl_wsc *c);
/* ms since the last message arrived. */
uint64_t cl_wsc_silent_ms(const struct cl_wsc *c);
const struct cl_wsc_url *cl_wsc_url(const struct cl_wsc *c);

/* Binary messages are dropped whole (default false). */
void cl_wsc_set_drop_binary(struct cl_wsc *c, bool drop);

/* The backoff schedule, for on_close. */
uint32_t cl_wsc_backoff_next(struct cl_wsc *c);
void cl_wsc_backoff_reset(struct cl_wsc *c);
uint32_t cl_wsc_backoff_max(const struct cl_wsc *c);

/* Asks lws for a WRITEABLE callback (nothing if not connected). */
void cl_wsc_want_write(struct cl_wsc *c);
/* Queues a frame (takes ownership of f) on the client's queue and asks to
 * write it. CL_ELIMIT (f freed) over sendq_max unless force. The queue is
 * emptied when a connection ends. */
int cl_wsc_send(struct cl_wsc *c, struct cl_frame *f, bool force);

/* Drops the current connection (sync outside lws callbacks, async inside,
 * where lws may still be parsing it); on_close follows. */
void cl_wsc_drop(struct cl_wsc *c);

/* Stops reconnecting and closes with code and reason. Returns true if
 * there was no connection (nothing follows); otherwise on_close runs with
 * final set once it is gone. */
bool cl_wsc_close(struct cl_wsc *c, int code, const char *reason);

#endif
