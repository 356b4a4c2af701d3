/*
 * link: lws client on a foreign libuv loop, hello/hello_ok, fragment
 * reassembly, the send queue, and reconnecting with backoff.
 *
 * States: IDLE (no connection; the timer counts down to the next attempt),
 * CONNECTING (TCP/TLS/upgrade in progress), HELLO (upgraded, hello queued
 * or sent, waiting for hello_ok), READY. One uv_timer_t serves both as the
 * reconnect delay (IDLE) and as the handshake deadline (CONNECTING, HELLO).
 */
#include "agent/link.h"
#include "agent/wsrx.h"
#include "core/backoff.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/wsframe.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

/* lws per-read buffer; larger messages arrive in several callbacks. */
/* Receive buffer kept between messages; a bigger one is released. */
#define CL__RX_KEEP (64 * 1024) /* reassembly buffer kept between messages */

enum cl__state { CL__IDLE, CL__CONNECTING, CL__HELLO, CL__READY };

struct cl_agent_link {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws *wsi; /* the current connection, or NULL */
    enum cl__state state;
    struct cl_agent_link_handler h;

    /* where to connect: parsed from relay_url once */
    char address[256];
    char host_hdr[300];
    char path[CL_URL_MAX + 16];
    int port;
    bool tls;

    char device_id[CL_ID_MAX + 1];
    char token[CL_TOKEN_MAX + 1]; /* secret */
    char name[CL_NAME_MAX + 1];
    char shell[CL_DEVICE_META_VALUE_MAX + 1]; /* told in hello's meta ("" = not told) */
    uint64_t started;                         /* uv_now at creation: the agent's uptime */

    struct cl_frame *hello; /* queued hello (holds the token), or NULL */
    struct cl_wsq q;        /* outgoing frames, kept across reconnects */
    struct cl_ws_masker mk; /* masking keys for the data frames we frame ourselves */
    bool throttled;         /* q went over CL_AGENT_SENDQ_HIGH */
    int cb_depth;           /* > 0 inside one of the link's lws callbacks */

    struct cl_wsrx rx; /* reassembly of one incoming message */
    bool close_sent;   /* our close frame for it is out */
    bool rx_refused;   /* one went over CL_WS_MAX_MESSAGE: close 1009 at WRITEABLE */
    int proto_want;    /* the highest protocol to ask for (CL_PROTO_MAX) */
    int proto;         /* what this connection's hello_ok accepted: 1 or 2 */
    bool stdin_flow;   /* this connection's hello_ok honours our stdin_window */

    struct cl_backoff backoff;
    uv_timer_t timer;
    uint64_t connected_at;      /* uv_now when upgraded */
    int peer_close;             /* close code the relay sent, 0 if none */
    bool restarting;            /* the relay said `restarting` on this connection */
    lws_retry_bo_t idle_policy; /* pings; lws keeps a pointer to it */

    bool closing;   /* cl_agent_link_close was called: no more reconnects */
    bool destroyed; /* cl_agent_link_destroy was called: no more callbacks */
};

static void cl__connect(struct cl_agent_link *l);

/* Copies a peer-supplied string for a log line: printable, no quotes. */
static void cl__loggable(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    out[j] = 0;
}

bool cl_agent_link_ready(const struct cl_agent_link *l)
{
    return l->state == CL__READY && !l->closing;
}

bool cl_agent_link_stdin_flow(const struct cl_agent_link *l)
{
    return cl_agent_link_ready(l) && l->stdin_flow;
}

bool cl_agent_link_can_accept(const struct cl_agent_link *l)
{
    return cl_agent_link_ready(l) && l->q.bytes <= CL_AGENT_SENDQ_HIGH;
}

size_t cl_agent_link_queued(const struct cl_agent_link *l)
{
    return l->q.bytes;
}

static int cl__write_one(struct cl_agent_link *l, struct lws *wsi);

/* After queueing: a frame that is the only one on an idle connection is
 * written at once (no POLLOUT round trip: two epoll_ctl and a loop
 * iteration), unless we are inside one of the link's own lws callbacks;
 * otherwise lws is asked for a WRITEABLE callback. One frame is at most a
 * chunk, far below CL_AGENT_SENDQ_HIGH, so this never owes an on_flow. */
static void cl__wake(struct cl_agent_link *l)
{
    if (l->state != CL__READY || !l->wsi)
        return;
    if (l->q.count == 1 && !l->closing && !l->hello && l->cb_depth == 0 &&
        !lws_partial_buffered(l->wsi)) {
        if (cl__write_one(l, l->wsi) == 0)
            return;
        cl_warn("link", "write to the relay failed; dropping the connection", "%s", "");
        lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_callback_on_writable(l->wsi);
}

int cl_agent_link_send(struct cl_agent_link *l, struct cl_frame *f, bool control)
{
    int rc = cl_wsq_push(&l->q, f, control);
    if (rc) {
        cl_error("link", "send queue full; frame dropped", "queued=%zu", l->q.bytes);
        return rc;
    }
    if (l->q.bytes > CL_AGENT_SENDQ_HIGH)
        l->throttled = true;
    cl__wake(l);
    return 0;
}

void cl_agent_link_send_urgent(struct cl_agent_link *l, struct cl_frame *f)
{
    cl_wsq_push_urgent(&l->q, f);
    if (l->q.bytes > CL_AGENT_SENDQ_HIGH)
        l->throttled = true;
    cl__wake(l);
}

int cl_agent_link_send_msg(struct cl_agent_link *l, const struct cl_msg *m)
{
    size_t len = 0;
    char *text = cl_msg_encode(m, &len);
    struct cl_frame *f;

    if (!text)
        return CL_ENOMEM;
    f = cl_frame_new(len);
    memcpy(cl_frame_payload(f), text, len);
    f->len = len;
    free(text);
    return cl_agent_link_send(l, f, true);
}

/* What the agent tells about its machine in hello's meta (docs/protocol.md,
 * "Device information"): hostname, OS, architecture, its version, its
 * shell, its uptime and the machine's. Compact JSON text (malloc'd), or
 * NULL. Each value is cut to CL_DEVICE_META_VALUE_MAX bytes. */
static char *cl__device_meta(const struct cl_agent_link *l)
{
    struct utsname u;
    struct sysinfo si;
    char host[256], os[2 * sizeof u.release + 2];
    json_t *o = json_object();
    char *text;

    if (uname(&u) == 0) {
        snprintf(os, sizeof os, "%s %s", u.sysname, u.release);
        json_object_set_new(o, "os", json_string(os));
        json_object_set_new(o, "arch", json_string(u.machine));
    }
    if (gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        json_object_set_new(o, "hostname", json_string(host));
    }
    json_object_set_new(o, "agent_version", json_string(CL_VERSION));
    if (l->shell[0])
        json_object_set_new(o, "shell", json_string(l->shell));
    json_object_set_new(o, "uptime",
                        json_integer((json_int_t)((uv_now(l->loop) - l->started) / 1000)));
    if (sysinfo(&si) == 0)
        json_object_set_new(o, "system_uptime", json_integer((json_int_t)si.uptime));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* Queues the hello for this connection, announcing the owner's live
 * sessions and how far each has produced. The token lives in two places
 * briefly (the JSON text and the frame); both are wiped after use. */
static int cl__queue_hello(struct cl_agent_link *l)
{
    struct cl_msg_session live[CL_AGENT_MAX_SESSIONS];
    struct cl_msg m;
    size_t len = 0;
    char *text;

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_HELLO;
    memcpy(m.device_id, l->device_id, sizeof m.device_id);
    memcpy(m.token, l->token, sizeof m.token);
    memcpy(m.name, l->name, sizeof m.name);
    m.json = cl__device_meta(l); /* freed below (m is not cl_msg_clear'ed) */
    m.proto = l->proto_want > 1 ? l->proto_want : 0;
    m.stdin_window = CL_AGENT_STDIN_WINDOW;
    l->proto = 1; /* until this connection's hello_ok says more */
    l->stdin_flow = false;
    if (l->h.on_hello) {
        m.nsessions = l->h.on_hello(l->h.ud, live, CL_AGENT_MAX_SESSIONS);
        m.sessions = m.nsessions ? live : NULL; /* not cl_msg_clear'ed: on the stack */
    }
    text = cl_msg_encode(&m, &len);
    cl_wipe(m.token, sizeof m.token);
    free(m.json);
    if (!text)
        return CL_ENOMEM;
    if (l->hello) {
        cl_wipe(l->hello, sizeof *l->hello + LWS_PRE + l->hello->cap);
        free(l->hello);
    }
    l->hello = cl_frame_new(len);
    memcpy(cl_frame_payload(l->hello), text, len);
    l->hello->len = len;
    cl_wipe(text, len);
    free(text);
    return 0;
}

static void cl__drop_hello(struct cl_agent_link *l)
{
    if (!l->hello)
        return;
    cl_wipe(l->hello, sizeof *l->hello + LWS_PRE + l->hello->cap);
    free(l->hello);
    l->hello = NULL;
}

static void cl__rx_reset(struct cl_agent_link *l)
{
    cl_wsrx_reset(&l->rx);
    l->rx_refused = l->close_sent = false;
}

static void cl__on_timer(uv_timer_t *t)
{
    struct cl_agent_link *l = t->data;

    if (l->destroyed || l->closing)
        return;
    if (l->state == CL__IDLE) {
        cl__connect(l);
        return;
    }
    /* CONNECTING or HELLO for too long: drop it; cl__lost reschedules. */
    cl_warn("link", "no hello_ok from the relay in time; reconnecting", "timeout_ms=%d",
            CL_AGENT_HANDSHAKE_TIMEOUT_MS);
    if (l->wsi)
        lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* The connection is gone (error or close): forget it, tell the owner, and
 * schedule the next attempt. Idempotent. */
static void cl__output_dropped(void *owner, uint64_t start_offset, void *ctx)
{
    struct cl_agent_link *l = ctx;
    if (l->h.on_output_dropped && !l->destroyed)
        l->h.on_output_dropped(l->h.ud, owner, start_offset);
}

void cl_agent_link_disown(struct cl_agent_link *l, const void *owner)
{
    cl_wsq_disown(&l->q, owner);
}

static void cl__lost(struct cl_agent_link *l, const char *why)
{
    bool was_ready = l->state == CL__READY;
    uint64_t up_ms = 0;
    uint32_t delay;

    if (l->state == CL__IDLE)
        return;
    if (l->state == CL__READY || l->state == CL__HELLO)
        up_ms = uv_now(l->loop) - l->connected_at;
    l->wsi = NULL;
    l->state = CL__IDLE;
    cl_wsq_drop_owned(&l->q, cl__output_dropped, l);
    cl__drop_hello(l);
    cl__rx_reset(l);
    uv_timer_stop(&l->timer);
    if (l->destroyed)
        return;
    if (l->closing) {
        if (l->h.on_closed)
            l->h.on_closed(l->h.ud);
        return;
    }

    if (l->peer_close == LWS_CLOSE_STATUS_GOINGAWAY || l->restarting) {
        /* A relay restart: come back soon, without growing the backoff. */
        delay = CL_AGENT_GOING_AWAY_MS + randombytes_uniform(CL_AGENT_GOING_AWAY_MS + 1);
    } else if (l->peer_close == 4001) {
        /* Another agent with this device's credentials took over. Coming
         * straight back would evict it in turn; wait the longest delay. */
        cl_error("link",
                 "replaced by a newer connection for this device; is another agent "
                 "running with the same config?",
                 "device=%s", l->device_id);
        delay = l->backoff.max_ms;
    } else {
        if (was_ready && up_ms >= CL_AGENT_HEALTHY_MS)
            cl_backoff_reset(&l->backoff);
        delay = cl_backoff_next(&l->backoff);
    }
    cl_warn("link", was_ready ? "disconnected from relay" : "cannot connect to relay",
            "why=\"%s\" close=%d restarting=%d up_ms=%llu retry_ms=%u", why, l->peer_close,
            (int)l->restarting, (unsigned long long)up_ms, delay);
    uv_timer_start(&l->timer, cl__on_timer, delay, 0);
    if (was_ready && l->h.on_flow)
        l->h.on_flow(l->h.ud);
}

static void cl__connect(struct cl_agent_link *l)
{
    struct lws_client_connect_info ci;
    struct lws *wsi;

    memset(&ci, 0, sizeof ci);
    ci.context = l->ctx;
    ci.address = l->address;
    ci.port = l->port;
    ci.path = l->path;
    ci.host = l->host_hdr;
    ci.origin = l->host_hdr;
    ci.ssl_connection = l->tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = "clawlink";
    ci.retry_and_idle_policy = &l->idle_policy;

    l->state = CL__CONNECTING;
    l->peer_close = 0;
    l->restarting = false;
    cl_debug("link", "connecting", "address=%s port=%d path=%s tls=%d", l->address, l->port,
             l->path, l->tls);
    uv_timer_start(&l->timer, cl__on_timer, CL_AGENT_HANDSHAKE_TIMEOUT_MS, 0);
    wsi = lws_client_connect_via_info(&ci);
    if (l->state != CL__CONNECTING)
        return; /* already failed inside the call; cl__lost has run */
    if (!wsi) {
        cl__lost(l, "connect failed");
        return;
    }
    l->wsi = wsi;
}

/* A complete message from the relay: JSON text, or a v2 binary frame. */
static void cl__on_message(struct cl_agent_link *l, const void *buf, size_t len)
{
    char err[200], safe[256], code[64];
    struct cl_msg m;
    int rc;

    if (l->rx.binary)
        rc = cl_bin_decode(buf, len, &m, err, sizeof err);
    else
        rc = cl_msg_decode(buf, len, &m, err, sizeof err);
    if (rc) {
        cl__loggable(err, safe, sizeof safe);
        cl_warn("link", "ignoring a malformed message from the relay", "type=%s error=\"%s\"",
                cl_msg_type_name(m.type) ? cl_msg_type_name(m.type) : "?", safe);
        return;
    }
    switch (m.type) {
    case CL_MSG_HELLO_OK:
        if (l->state != CL__HELLO) {
            cl_debug("link", "ignoring a duplicate hello_ok", "%s", "");
            break;
        }
        l->state = CL__READY;
        l->proto = m.proto >= 2 && l->proto_want >= 2 ? 2 : 1;
        /* An old relay does not answer stdin_window: it may send more
         * input than the window, and gets no stdin_ack it would not know. */
        l->stdin_flow = m.stdin_window == CL_AGENT_STDIN_WINDOW;
        uv_timer_stop(&l->timer);
        cl_info("link", "connected to relay",
                "device=%s address=%s port=%d proto=%d stdin_flow=%d queued=%zu", l->device_id,
                l->address, l->port, l->proto, (int)l->stdin_flow, l->q.bytes);
        if (!cl_wsq_empty(&l->q))
            lws_callback_on_writable(l->wsi);
        if (l->h.on_flow)
            l->h.on_flow(l->h.ud);
        break;
    case CL_MSG_ERROR:
        cl__loggable(m.message, safe, sizeof safe);
        cl__loggable(m.code, code, sizeof code);
        if (strcmp(m.code, "auth_failed") == 0) {
            cl_error("link",
                     "the relay rejected this device's credentials; re-pair with "
                     "`clawlink pair CODE --api URL` (retrying with backoff)",
                     "device=%s code=%s message=\"%s\"", l->device_id, code, safe);
        } else {
            cl_error("link", "error from relay", "code=%s message=\"%s\" session=%s", code, safe,
                     m.session_id);
        }
        break;
    case CL_MSG_RESTARTING:
        /* The relay closes (1001) right after; come straight back then. */
        cl_info("link", "relay is restarting; will reconnect at once", "%s", "");
        l->restarting = true;
        break;
    case CL_MSG_SESSION_END:
    case CL_MSG_ACK:
    case CL_MSG_REPLAY:
        /* A relay sends these for the sessions a hello announced before
         * its hello_ok, so the cursors are where its viewers need them
         * before anything is sent (nothing is sent until hello_ok). */
        if (l->state == CL__HELLO) {
            if (l->h.on_message)
                l->h.on_message(l->h.ud, &m);
            break;
        }
        /* fall through */
    case CL_MSG_SESSION_START:
    case CL_MSG_STDIN:
    case CL_MSG_RESIZE:
    case CL_MSG_PROMPT: /* OpenClaw node requests (openclaw.c) */
    case CL_MSG_STATUS:
    case CL_MSG_RESTART:
    case CL_MSG_WORKFLOW:
    case CL_MSG_WORKFLOWS:
        if (l->state != CL__READY) {
            cl_warn("link", "ignoring a session message before hello_ok", "type=%s",
                    cl_msg_type_name(m.type));
            break;
        }
        if (l->h.on_message)
            l->h.on_message(l->h.ud, &m);
        break;
    default:
        cl_debug("link", "ignoring a message not meant for agents", "type=%s",
                 cl_msg_type_name(m.type));
        break;
    }
    cl_msg_clear(&m);
}

/* One piece of an incoming message. Never returns nonzero (wsrx.h says
 * why): a message over CL_WS_MAX_MESSAGE is dropped and the connection
 * closed with 1009 from the next WRITEABLE callback. */
static int cl__on_receive(struct cl_agent_link *l, struct lws *wsi, const void *in, size_t len)
{
    bool first = lws_is_first_fragment(wsi), binary = lws_frame_is_binary(wsi) != 0;
    bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    const void *msg = NULL;
    size_t n = 0;

    if (l->rx_refused)
        return 0; /* closing: whatever else arrives is dropped */
    if (first && binary && l->proto < 2)
        cl_warn("link", "ignoring a binary message (not negotiated: protocol v1)", "%s", "");
    switch (cl_wsrx_feed(&l->rx, first, final, binary, l->proto < 2, in, len, &msg, &n)) {
    case CL_WSRX_MESSAGE:
        cl__on_message(l, msg, n);
        cl_wsrx_reset(&l->rx);
        break;
    case CL_WSRX_TOO_BIG:
        cl_warn("link", "message from relay too big; closing", "limit=%d", CL_WS_MAX_MESSAGE);
        l->rx_refused = true;
        lws_callback_on_writable(wsi);
        break;
    default:
        break;
    }
    return 0;
}

/* Writes the head frame. Binary (output) frames are framed and masked
 * here (core/wsframe.h: lws masks a byte at a time) and handed to lws as
 * raw bytes; lws buffers what the socket does not take, as for its own
 * frames. Text frames go through lws_write as usual. */
static int cl__write_one(struct cl_agent_link *l, struct lws *wsi)
{
    struct cl_frame *f = cl_wsq_pop(&l->q);
    int n;

    if (!f)
        return 0;
    if (f->binary) {
        size_t len;
        uint8_t *frame = cl_ws_client_frame(f, 2, &l->mk, &len);
        n = lws_write(wsi, frame, len, LWS_WRITE_HTTP); /* raw: already a frame */
    } else {
        n = lws_write(wsi, cl_frame_payload(f), f->len, LWS_WRITE_TEXT);
    }
    free(f);
    if (n < 0)
        return -1;
    if (!cl_wsq_empty(&l->q))
        lws_callback_on_writable(wsi);
    return 0;
}

static int cl__on_writeable(struct cl_agent_link *l, struct lws *wsi)
{
    if (l->rx_refused) {
        /* Our close frame, then read and drop until the relay answers. */
        if (!l->close_sent) {
            l->close_sent = true;
            cl_ws_send_close(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
            lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, CL_WS_CLOSE_ACK_TIMEOUT_S);
        }
        return 0;
    }
    if (l->hello) {
        int n = lws_write(wsi, cl_frame_payload(l->hello), l->hello->len, LWS_WRITE_TEXT);
        cl__drop_hello(l);
        return n < 0 ? -1 : 0;
    }
    if (l->state != CL__READY || l->closing)
        return 0;
    if (cl__write_one(l, wsi) < 0)
        return -1;
    if (l->throttled && l->q.bytes <= CL_AGENT_SENDQ_HIGH) {
        l->throttled = false;
        if (l->h.on_flow)
            l->h.on_flow(l->h.ud);
    }
    return 0;
}

static int cl__dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct lws_context *ctx = wsi ? lws_get_context(wsi) : NULL;
    struct cl_agent_link *l = ctx ? lws_context_user(ctx) : NULL;
    char safe[160];

    if (!l)
        return lws_callback_http_dummy(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = (unsigned char **)in, *end = *p + len;
        static const char ua[] = "clawlink/" CL_VERSION;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT, (const unsigned char *)ua,
                                         (int)sizeof ua - 1, p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (l->destroyed)
            return -1;
        l->wsi = wsi;
        l->state = CL__HELLO;
        l->connected_at = uv_now(l->loop);
        cl__rx_reset(l);
        if (l->closing || cl__queue_hello(l) != 0)
            return -1;
        lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        cl__loggable(in ? (const char *)in : "unknown", safe, sizeof safe);
        cl__lost(l, safe);
        return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        /* Anything from the relay proves the link alive: lws then pings only
         * a link that was silent for the whole ping interval. */
        lws_validity_confirmed(wsi);
        return cl__on_receive(l, wsi, in, len);

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return cl__on_writeable(l, wsi);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *b = in;
            l->peer_close = (b[0] << 8) | b[1];
        }
        return 0;

    case LWS_CALLBACK_CLIENT_CLOSED:
        /* lws reports this before it sends our close frame; when we are
         * the ones closing, wait for WSI_DESTROY so the frame goes out. */
        if (!l->closing && l->wsi == wsi)
            cl__lost(l, "connection closed");
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        /* Whatever path the wsi took to its end, it is gone now. */
        if (l->wsi == wsi)
            cl__lost(l, "connection closed");
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Every lws callback of the link, counted (cl__wake does not write from
 * inside one). */
static int cl__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct lws_context *ctx = wsi ? lws_get_context(wsi) : NULL;
    struct cl_agent_link *l = ctx ? lws_context_user(ctx) : NULL;
    int rc;

    if (l)
        l->cb_depth++;
    rc = cl__dispatch(wsi, reason, user, in, len);
    if (l)
        l->cb_depth--;
    return rc;
}

static const struct lws_protocols cl__protocols[] = {
    {"clawlink", cl__callback, 0, CL_WS_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Splits relay_url into address, port, Host header and the /connect path. */
static int cl__parse_url(struct cl_agent_link *l, const char *relay_url, char *err, size_t errlen)
{
    char copy[CL_URL_MAX + 1];
    const char *prot, *ads, *path;
    size_t plen;
    int port;

    if (strlen(relay_url) > CL_URL_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "relay_url too long");
    snprintf(copy, sizeof copy, "%s", relay_url);
    if (lws_parse_uri(copy, &prot, &ads, &port, &path) != 0 || !ads[0])
        return cl_seterr(err, errlen, CL_EINVAL, "relay_url is not a URL");
    if (strcmp(prot, "wss") == 0)
        l->tls = true;
    else if (strcmp(prot, "ws") == 0)
        l->tls = false;
    else
        return cl_seterr(err, errlen, CL_EINVAL, "relay_url must start with ws:// or wss://");
    if (strlen(ads) >= sizeof l->address)
        return cl_seterr(err, errlen, CL_EINVAL, "relay_url host too long");
    snprintf(l->address, sizeof l->address, "%s", ads);
    l->port = port;
    if ((l->tls && port == 443) || (!l->tls && port == 80))
        snprintf(l->host_hdr, sizeof l->host_hdr, "%s", ads);
    else
        snprintf(l->host_hdr, sizeof l->host_hdr, "%s:%d", ads, port);
    /* lws_parse_uri drops the leading '/' of the path; drop a trailing one
     * too so "wss://h/base/" and "wss://h/base" both give /base/connect. */
    plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    if (plen)
        snprintf(l->path, sizeof l->path, "/%.*s/connect", (int)plen, path);
    else
        snprintf(l->path, sizeof l->path, "/connect");
    return 0;
}

int cl_agent_link_new(uv_loop_t *loop, const struct cl_agent_config *cfg, const char *ca_file,
                      unsigned ping_s, const struct cl_agent_link_handler *h,
                      struct cl_agent_link **out, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    struct cl_agent_link *l;
    void *loops[1] = {loop};
    int rc;

    *out = NULL;
    if (ping_s < CL_AGENT_PING_MIN_S || ping_s > CL_AGENT_PING_MAX_S)
        return cl_seterr(err, errlen, CL_EINVAL, "ping interval must be %d to %d seconds",
                         CL_AGENT_PING_MIN_S, CL_AGENT_PING_MAX_S);
    l = calloc(1, sizeof *l);
    if (!l)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    rc = cl__parse_url(l, cfg->relay_url, err, errlen);
    if (rc)
        goto out_free;
    /* lws pings when nothing valid (a pong, or any message: see
     * CLIENT_RECEIVE) was received for secs_since_valid_ping, and hangs up
     * after secs_since_valid_hangup: two missed pings. */
    l->idle_policy.secs_since_valid_ping = (uint16_t)ping_s;
    l->idle_policy.secs_since_valid_hangup = (uint16_t)(2 * ping_s + CL_AGENT_PING_SLACK_S);
    l->loop = loop;
    l->started = uv_now(loop);
    l->proto_want = CL_PROTO_MAX;
    cl_wsrx_init(&l->rx, CL_WS_MAX_MESSAGE, CL__RX_KEEP);
    l->proto = 1;
    l->h = *h;
    memcpy(l->device_id, cfg->device_id, sizeof l->device_id);
    memcpy(l->token, cfg->token, sizeof l->token);
    memcpy(l->name, cfg->name, sizeof l->name);
    cl_wsq_init(&l->q, CL_WS_SENDQ_MAX);
    cl_backoff_init(&l->backoff, CL_AGENT_BACKOFF_MIN_MS, CL_AGENT_BACKOFF_MAX_MS);

    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = cl__protocols;
    /* OpenSSL only for a wss:// relay: starting it costs a plain ws://
     * agent about 4 MiB of RSS. With --ca-file, that file replaces the
     * system's CAs (as the usage says), it does not add to them. */
    info.options = LWS_SERVER_OPTION_LIBUV;
    if (l->tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (l->tls && ca_file)
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info.foreign_loops = loops;
    info.user = l;
    info.pcontext = &l->ctx; /* lws NULLs it once destruction completed */
    info.connect_timeout_secs = 10;
    info.timeout_secs = 15;
    if (ca_file)
        info.client_ssl_ca_filepath = ca_file;
    l->ctx = lws_create_context(&info);
    if (!l->ctx) {
        rc = cl_seterr(err, errlen, CL_EIO, "cannot create the WebSocket client context");
        goto out_free;
    }
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    *out = l;
    return 0;

out_free:
    cl_wipe(l->token, sizeof l->token);
    free(l);
    return rc;
}

void cl_agent_link_start(struct cl_agent_link *l)
{
    if (l->state == CL__IDLE && !l->closing)
        cl__connect(l);
}

bool cl_agent_link_close(struct cl_agent_link *l)
{
    l->closing = true;
    uv_timer_stop(&l->timer);
    if (l->state == CL__IDLE)
        return true;
    if (l->wsi && l->state != CL__CONNECTING)
        lws_close_reason(l->wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"going away", 10);
    /* With a close reason set, closing makes lws send the close frame and
     * wait for the relay's answer before the wsi goes (WSI_DESTROY). lws
     * 4.1 drops the socket without a close frame when WRITEABLE returns
     * -1, and an ASYNC kill from outside its callbacks is not serviced
     * promptly on a foreign loop; a SYNC kill here is both. */
    if (l->wsi)
        lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    return false;
}

void cl_agent_link_destroy(struct cl_agent_link *l)
{
    bool again = l->destroyed;

    l->destroyed = true;
    /* lws 4.1 on a foreign libuv loop destroys in stages: the first call
     * closes its handles, a call after the loop ran them down frees the
     * context (and NULLs l->ctx through info.pcontext). */
    if (l->ctx)
        lws_context_destroy(l->ctx);
    if (again)
        return;
    l->wsi = NULL;
    cl__drop_hello(l);
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, NULL);
}

bool cl_agent_link_destroyed(const struct cl_agent_link *l)
{
    return l->ctx == NULL;
}

void cl_agent_link_free(struct cl_agent_link *l)
{
    if (!l)
        return;
    cl_wsq_clear(&l->q);
    cl_wsrx_free(&l->rx);
    cl_wipe(l, sizeof *l);
    free(l);
}

void cl_agent_link_set_shell(struct cl_agent_link *l, const char *shell)
{
    snprintf(l->shell, sizeof l->shell, "%s", shell ? shell : "");
}

void cl_agent_link_set_proto(struct cl_agent_link *l, int proto)
{
    l->proto_want = proto < 1 ? 1 : proto > CL_PROTO_MAX ? CL_PROTO_MAX : proto;
}

int cl_agent_link_proto(const struct cl_agent_link *l)
{
    return l->proto;
}
