/*
 * link: the relay protocol on a wsclient connection — hello/hello_ok, the
 * send queue kept across reconnects, and the reconnect delays the relay
 * asks for (going away, replaced).
 *
 * States: IDLE (no connection, or one still upgrading: wsclient
 * reconnects), HELLO (upgraded, hello queued or sent, waiting for
 * hello_ok), READY. The handshake deadline, the pings, reassembly and the
 * 1009 close are wsclient's.
 */
#include "agent/link.h"
#include "agent/wsclient.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/sockinfo.h"
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

enum cl__state { CL__IDLE, CL__HELLO, CL__READY };

struct cl_agent_link {
    uv_loop_t *loop;
    struct cl_wsc *ws; /* the connection (owned by the WebSocket context) */
    enum cl__state state;
    struct cl_agent_link_handler h;

    char device_id[CL_ID_MAX + 1];
    char token[CL_TOKEN_MAX + 1]; /* secret */
    char name[CL_NAME_MAX + 1];
    char shell[CL_DEVICE_META_VALUE_MAX + 1]; /* told in hello's meta ("" = not told) */
    uint64_t started;                         /* uv_now at creation: the agent's uptime */

    struct cl_frame *hello; /* queued hello (holds the token), or NULL */
    struct cl_wsq q;        /* outgoing frames, kept across reconnects */
    struct cl_ws_masker mk; /* masking keys for the data frames we frame ourselves */
    bool throttled;         /* q went over CL_AGENT_SENDQ_HIGH */

    int proto_want;  /* the highest protocol to ask for (CL_PROTO_MAX) */
    int proto;       /* what this connection's hello_ok accepted: 1 or 2 */
    bool stdin_flow; /* this connection's hello_ok honours our stdin_window */

    bool restarting; /* the relay said `restarting` on this connection */
    int chat;        /* the chat family version told in hello (0: none) */

    bool closing;   /* cl_agent_link_close was called: no more reconnects */
    bool destroyed; /* cl_agent_link_destroy was called: no more callbacks */
};

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
    struct lws *wsi = cl_wsc_wsi(l->ws);

    if (l->state != CL__READY || !wsi)
        return;
    if (l->q.count == 1 && !l->closing && !l->hello && !cl_wsc_in_callback(l->ws) &&
        !lws_partial_buffered(wsi)) {
        if (cl__write_one(l, wsi) == 0)
            return;
        cl_warn("link", "write to the relay failed; dropping the connection", "%s", "");
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    cl_wsc_want_write(l->ws);
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
    m.chat = l->chat;
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

/* CONNECTING or HELLO for too long: wsclient drops it and on_close
 * reschedules. The link sets no silence limit (lws's pings are its). */
static void cl__on_ws_timeout(void *ud, enum cl_wsc_timeout which)
{
    (void)ud;
    (void)which;
    cl_warn("link", "no hello_ok from the relay in time; reconnecting", "timeout_ms=%d",
            CL_AGENT_HANDSHAKE_TIMEOUT_MS);
}

static void cl__on_ws_too_big(void *ud)
{
    (void)ud;
    cl_warn("link", "message from relay too big; closing", "limit=%d", CL_WS_MAX_MESSAGE);
}

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

/* The connection is gone (error or close): forget it, tell the owner, and
 * return the delay before the next attempt. */
static uint32_t cl__on_ws_close(void *ud, const struct cl_wsc_close *c)
{
    struct cl_agent_link *l = ud;
    bool was_ready = l->state == CL__READY;
    uint64_t up_ms = c->up_ms;
    uint32_t delay;

    l->state = CL__IDLE;
    cl_wsq_drop_owned(&l->q, cl__output_dropped, l);
    cl__drop_hello(l);
    if (l->destroyed)
        return 0;
    if (c->final) {
        if (l->h.on_closed)
            l->h.on_closed(l->h.ud);
        return 0;
    }

    if (c->code == LWS_CLOSE_STATUS_GOINGAWAY || l->restarting) {
        /* A relay restart: come back soon, without growing the backoff. */
        delay = CL_AGENT_GOING_AWAY_MS + randombytes_uniform(CL_AGENT_GOING_AWAY_MS + 1);
    } else if (c->code == 4001) {
        /* Another agent with this device's credentials took over. Coming
         * straight back would evict it in turn; wait the longest delay. */
        cl_error("link",
                 "replaced by a newer connection for this device; is another agent "
                 "running with the same config?",
                 "device=%s", l->device_id);
        delay = cl_wsc_backoff_max(l->ws);
    } else {
        if (was_ready && up_ms >= CL_AGENT_HEALTHY_MS)
            cl_wsc_backoff_reset(l->ws);
        delay = cl_wsc_backoff_next(l->ws);
    }
    cl_warn("link", was_ready ? "disconnected from relay" : "cannot connect to relay",
            "why=\"%s\" close=%d restarting=%d up_ms=%llu retry_ms=%u", c->why, c->code,
            (int)l->restarting, (unsigned long long)up_ms, delay);
    if (was_ready && l->h.on_flow)
        l->h.on_flow(l->h.ud);
    return delay;
}

/* A complete message from the relay: JSON text, or a v2 binary frame. */
static void cl__on_ws_message(void *ud, const void *buf, size_t len, bool binary)
{
    struct cl_agent_link *l = ud;
    char err[200], safe[256], code[64];
    struct cl_msg m;
    int rc;

    if (binary)
        rc = cl_bin_decode(buf, len, &m, err, sizeof err);
    else if (cl_msg_peek_stdin(buf, len, &m) == 0)
        rc = 0; /* v1 typing: read without JSON */
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
        cl_wsc_ready(l->ws, 0);
        cl_wsc_set_drop_binary(l->ws, l->proto < 2);
        cl_info("link", "connected to relay",
                "device=%s address=%s port=%d proto=%d stdin_flow=%d queued=%zu", l->device_id,
                cl_wsc_url(l->ws)->address, cl_wsc_url(l->ws)->port, l->proto, (int)l->stdin_flow,
                l->q.bytes);
        if (!cl_wsq_empty(&l->q))
            cl_wsc_want_write(l->ws);
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
    case CL_MSG_CHAT_REQUEST: /* the chat API (main.c, chat_api.c) */
    case CL_MSG_CHAT_CANCEL:
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

/* Writes the head frame. Queued frames, binary (v2 output) and text (v1
 * output and every JSON message) alike, are framed and masked here
 * (core/wsframe.h: lws masks a byte at a time, which was a tenth of the
 * agent's CPU streaming v1 output) and handed to lws as raw bytes; lws
 * buffers what the socket does not take, as for its own frames. */
static int cl__write_one(struct cl_agent_link *l, struct lws *wsi)
{
    struct cl_frame *f = cl_wsq_pop(&l->q);
    uint8_t *frame;
    size_t len;
    int n;

    if (!f)
        return 0;
    frame = cl_ws_client_frame(f, f->binary ? 2 : 1, &l->mk, &len);
    n = lws_write(wsi, frame, len, LWS_WRITE_HTTP); /* raw: already a frame */
    free(f);
    if (n < 0)
        return -1;
    if (!cl_wsq_empty(&l->q))
        lws_callback_on_writable(wsi);
    return 0;
}

/* The socket takes a frame (wsclient has handled a 1009 close and a
 * closing client): the hello first, then the queue. */
static int cl__on_ws_writable(void *ud, struct lws *wsi)
{
    struct cl_agent_link *l = ud;

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

/* Upgraded: queue the hello for this connection. */
static int cl__on_ws_open(void *ud)
{
    struct cl_agent_link *l = ud;

    if (l->destroyed || l->closing)
        return -1;
    l->state = CL__HELLO;
    /* Unsent output waits in l->q, where an echo can pass it, not in the
     * kernel (limits.h). Without it the link still works, only slower to
     * echo under load. */
    if (cl_sock_notsent_lowat(lws_get_socket_fd(cl_wsc_wsi(l->ws)), CL_AGENT_NOTSENT_LOWAT) != 0)
        cl_debug("link", "cannot bound the unsent data in the kernel (TCP_NOTSENT_LOWAT)", "%s",
                 "");
    if (cl__queue_hello(l) != 0)
        return -1;
    cl_wsc_set_drop_binary(l->ws, true); /* v1 until hello_ok says more */
    cl_wsc_want_write(l->ws);
    return 0;
}

int cl_agent_link_new(uv_loop_t *loop, struct cl_wsc_ctx *wsc, const struct cl_agent_config *cfg,
                      unsigned ping_s, const struct cl_agent_link_handler *h,
                      struct cl_agent_link **out, char *err, size_t errlen)
{
    struct cl_wsc_config wcfg = {
        .log_area = "link",
        .max_message = CL_WS_MAX_MESSAGE,
        .backoff_min_ms = CL_AGENT_BACKOFF_MIN_MS,
        .backoff_max_ms = CL_AGENT_BACKOFF_MAX_MS,
        .handshake_ms = CL_AGENT_HANDSHAKE_TIMEOUT_MS,
        /* lws pings when nothing valid (a pong, or any message) was
         * received for ping_s, and hangs up after two missed pings */
        .ping_s = ping_s,
        .ping_hangup_s = 2 * ping_s + CL_AGENT_PING_SLACK_S,
        .user_agent = "clawlink/" CL_VERSION,
        .send_origin = true,
    };
    struct cl_wsc_handler wh = {
        .on_open = cl__on_ws_open,
        .on_message = cl__on_ws_message,
        .on_close = cl__on_ws_close,
        .on_writable = cl__on_ws_writable,
        .on_timeout = cl__on_ws_timeout,
        .on_too_big = cl__on_ws_too_big,
    };
    struct cl_wsc_url url;
    struct cl_agent_link *l;
    int rc;

    *out = NULL;
    if (ping_s < CL_AGENT_PING_MIN_S || ping_s > CL_AGENT_PING_MAX_S)
        return cl_seterr(err, errlen, CL_EINVAL, "ping interval must be %d to %d seconds",
                         CL_AGENT_PING_MIN_S, CL_AGENT_PING_MAX_S);
    rc = cl_wsc_parse_url(cfg->relay_url, "relay_url", "/connect", &url, err, errlen);
    if (rc)
        return rc;
    l = calloc(1, sizeof *l);
    if (!l)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    l->loop = loop;
    l->started = uv_now(loop);
    l->proto_want = CL_PROTO_MAX;
    l->proto = 1;
    l->h = *h;
    memcpy(l->device_id, cfg->device_id, sizeof l->device_id);
    memcpy(l->token, cfg->token, sizeof l->token);
    memcpy(l->name, cfg->name, sizeof l->name);
    cl_wsq_init(&l->q, CL_WS_SENDQ_MAX);
    wh.ud = l;
    l->ws = cl_wsc_new(wsc, &url, &wcfg, &wh);
    *out = l;
    return 0;
}

void cl_agent_link_start(struct cl_agent_link *l)
{
    if (!l->closing)
        cl_wsc_start(l->ws);
}

bool cl_agent_link_close(struct cl_agent_link *l)
{
    l->closing = true;
    return cl_wsc_close(l->ws, LWS_CLOSE_STATUS_GOINGAWAY, "going away");
}

void cl_agent_link_destroy(struct cl_agent_link *l)
{
    l->destroyed = true;
    cl__drop_hello(l);
}

void cl_agent_link_free(struct cl_agent_link *l)
{
    if (!l)
        return;
    cl_wsq_clear(&l->q);
    cl_wipe(l, sizeof *l);
    free(l);
}

void cl_agent_link_set_chat(struct cl_agent_link *l, int version)
{
    l->chat = version;
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
