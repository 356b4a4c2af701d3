/*
 * wsclient: one lws context, many reconnecting clients — connect, upgrade,
 * reassembly, the 1009 close, deadlines, backoff.
 *
 * A client's states: IDLE (no connection; its timer counts down to the next
 * attempt), CONNECTING (TCP/TLS/upgrade), OPEN (upgraded; `ready` once the
 * owner's handshake is done). One uv_timer_t per client serves as the
 * reconnect delay (IDLE), the handshake deadline (CONNECTING, OPEN before
 * ready) and the silence limit (ready). lws finds the client of a wsi in
 * its opaque user data.
 */
#include "agent/wsclient.h"
#include "agent/wsrx.h"
#include "core/backoff.h"
#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reassembly buffer kept between messages; a bigger one is released. */
#define CL__RX_KEEP (64 * 1024)

enum cl__state { CL__IDLE, CL__CONNECTING, CL__OPEN };

struct cl_wsc {
    struct cl_wsc *next;
    struct cl_wsc_ctx *x;
    struct cl_wsc_url url;
    struct cl_wsc_config cfg;
    char log_area[16];
    char user_agent[64];
    struct cl_wsc_handler h;

    struct lws *wsi; /* the current connection, or NULL */
    enum cl__state state;
    bool ready;
    uint64_t silence_ms;
    uint64_t connected_at, last_rx;
    int peer_close;
    char peer_reason[128];

    struct cl_wsq q;
    struct cl_wsrx rx;
    bool drop_binary;
    bool rx_refused; /* a message went over max_message: close 1009 at WRITEABLE */
    bool close_sent; /* that close frame is out */

    struct cl_backoff backoff;
    lws_retry_bo_t idle_policy; /* pings; lws keeps a pointer to it */
    uv_timer_t timer;
    bool closing;
};

struct cl_wsc_ctx {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct cl_wsc *clients;
    int cb_depth; /* > 0 inside one of the context's lws callbacks */
    bool destroyed;
};

static void cl__connect(struct cl_wsc *c);
static void cl__on_timer(uv_timer_t *t);

/* Copies a peer-supplied string for a log line: printable, no quotes. */
static void cl__loggable(const char *in, size_t len, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < len && in[i] && j + 1 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[j++] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char)ch : '?';
    }
    out[j] = 0;
}

int cl_wsc_parse_url(const char *url, const char *what, const char *suffix, struct cl_wsc_url *out,
                     char *err, size_t errlen)
{
    char copy[CL_URL_MAX + 1];
    const char *prot, *ads, *path;
    size_t plen;
    int port;

    memset(out, 0, sizeof *out);
    if (strlen(url) > CL_URL_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "%s too long", what);
    snprintf(copy, sizeof copy, "%s", url);
    if (lws_parse_uri(copy, &prot, &ads, &port, &path) != 0 || !ads[0])
        return cl_seterr(err, errlen, CL_EINVAL, "%s is not a URL", what);
    if (strcmp(prot, "wss") == 0)
        out->tls = true;
    else if (strcmp(prot, "ws") == 0)
        out->tls = false;
    else
        return cl_seterr(err, errlen, CL_EINVAL, "%s must start with ws:// or wss://", what);
    if (strlen(ads) >= sizeof out->address)
        return cl_seterr(err, errlen, CL_EINVAL, "%s host too long", what);
    snprintf(out->address, sizeof out->address, "%s", ads);
    out->port = port;
    if ((out->tls && port == 443) || (!out->tls && port == 80))
        snprintf(out->host_hdr, sizeof out->host_hdr, "%s", ads);
    else
        snprintf(out->host_hdr, sizeof out->host_hdr, "%s:%d", ads, port);
    /* lws_parse_uri gives "/" for no path and drops the leading '/' of
     * others */
    if (!suffix) {
        snprintf(out->path, sizeof out->path, "%s%s", path[0] == '/' ? "" : "/", path);
        return 0;
    }
    plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    if (plen)
        snprintf(out->path, sizeof out->path, "/%.*s%s", (int)plen, path, suffix);
    else
        snprintf(out->path, sizeof out->path, "%s", suffix);
    return 0;
}

/* ---- accessors ------------------------------------------------------------ */

bool cl_wsc_open(const struct cl_wsc *c)
{
    return c->state == CL__OPEN && !c->closing;
}

bool cl_wsc_in_callback(const struct cl_wsc *c)
{
    return c->x->cb_depth > 0;
}

struct lws *cl_wsc_wsi(const struct cl_wsc *c)
{
    return c->wsi;
}

uint64_t cl_wsc_silent_ms(const struct cl_wsc *c)
{
    return uv_now(c->x->loop) - c->last_rx;
}

const struct cl_wsc_url *cl_wsc_url(const struct cl_wsc *c)
{
    return &c->url;
}

void cl_wsc_set_drop_binary(struct cl_wsc *c, bool drop)
{
    c->drop_binary = drop;
}

uint32_t cl_wsc_backoff_next(struct cl_wsc *c)
{
    return cl_backoff_next(&c->backoff);
}

void cl_wsc_backoff_reset(struct cl_wsc *c)
{
    cl_backoff_reset(&c->backoff);
}

uint32_t cl_wsc_backoff_max(const struct cl_wsc *c)
{
    return c->backoff.max_ms;
}

/* ---- sending -------------------------------------------------------------- */

void cl_wsc_want_write(struct cl_wsc *c)
{
    if (c->wsi && c->state == CL__OPEN)
        lws_callback_on_writable(c->wsi);
}

int cl_wsc_send(struct cl_wsc *c, struct cl_frame *f, bool force)
{
    int rc = cl_wsq_push(&c->q, f, force);
    if (rc == 0)
        cl_wsc_want_write(c);
    return rc;
}

void cl_wsc_drop(struct cl_wsc *c)
{
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
                        c->x->cb_depth > 0 ? LWS_TO_KILL_ASYNC : LWS_TO_KILL_SYNC);
}

/* ---- connection lifecycle ------------------------------------------------- */

static void cl__rx_reset(struct cl_wsc *c)
{
    cl_wsrx_reset(&c->rx);
    c->rx_refused = c->close_sent = false;
}

/* The connection is gone (error or close): forget it, ask the owner for
 * the delay, schedule the next attempt. Idempotent. */
static void cl__lost(struct cl_wsc *c, bool error, const char *why)
{
    uint64_t now = uv_now(c->x->loop);
    struct cl_wsc_close info = {
        .why = why,
        .error = error,
        .code = c->peer_close,
        .reason = c->peer_reason,
        .was_ready = c->ready,
        .up_ms = c->state == CL__OPEN ? now - c->connected_at : 0,
        .final = c->closing,
    };
    uint32_t delay;

    if (c->state == CL__IDLE)
        return;
    c->wsi = NULL;
    c->state = CL__IDLE;
    c->ready = false;
    cl_wsq_clear(&c->q);
    cl__rx_reset(c);
    uv_timer_stop(&c->timer);
    if (c->x->destroyed)
        return;
    delay = c->h.on_close(c->h.ud, &info);
    if (c->closing || c->x->destroyed)
        return;
    uv_timer_start(&c->timer, cl__on_timer, delay, 0);
}

static void cl__arm_silence(struct cl_wsc *c)
{
    uint64_t now = uv_now(c->x->loop), due = c->last_rx + c->silence_ms;
    uv_timer_start(&c->timer, cl__on_timer, due > now ? due - now : 0, 0);
}

static void cl__on_timer(uv_timer_t *t)
{
    struct cl_wsc *c = t->data;

    if (c->x->destroyed || c->closing)
        return;
    if (c->state == CL__IDLE) {
        cl__connect(c);
        return;
    }
    if (c->ready) {
        if (!c->silence_ms)
            return;
        if (cl_wsc_silent_ms(c) < c->silence_ms) {
            cl__arm_silence(c);
            return;
        }
        if (c->h.on_timeout)
            c->h.on_timeout(c->h.ud, CL_WSC_TIMEOUT_SILENCE);
    } else if (c->h.on_timeout) {
        c->h.on_timeout(c->h.ud, CL_WSC_TIMEOUT_HANDSHAKE);
    }
    /* cl__lost reschedules */
    cl_wsc_drop(c);
}

static void cl__connect(struct cl_wsc *c)
{
    struct lws_client_connect_info ci;
    struct lws *wsi;

    memset(&ci, 0, sizeof ci);
    ci.context = c->x->ctx;
    ci.address = c->url.address;
    ci.port = c->url.port;
    ci.path = c->url.path;
    ci.host = c->url.host_hdr;
    if (c->cfg.send_origin)
        ci.origin = c->url.host_hdr;
    ci.ssl_connection = c->url.tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = "cl-wsclient";
    if (c->cfg.ping_s)
        ci.retry_and_idle_policy = &c->idle_policy;
    ci.opaque_user_data = c;

    c->state = CL__CONNECTING;
    c->ready = false;
    c->peer_close = 0;
    c->peer_reason[0] = 0;
    c->connected_at = 0;
    cl_debug(c->log_area, "connecting", "address=%s port=%d path=%s tls=%d", c->url.address,
             c->url.port, c->url.path, c->url.tls);
    uv_timer_start(&c->timer, cl__on_timer, c->cfg.handshake_ms, 0);
    wsi = lws_client_connect_via_info(&ci);
    if (c->state != CL__CONNECTING)
        return; /* already failed inside the call; cl__lost has run */
    if (!wsi) {
        cl__lost(c, true, "connect failed");
        return;
    }
    c->wsi = wsi;
}

void cl_wsc_start(struct cl_wsc *c)
{
    if (c->state == CL__IDLE && !c->closing)
        uv_timer_start(&c->timer, cl__on_timer, 0, 0);
}

void cl_wsc_ready(struct cl_wsc *c, uint64_t silence_ms)
{
    c->ready = true;
    c->silence_ms = silence_ms;
    uv_timer_stop(&c->timer);
    if (silence_ms)
        cl__arm_silence(c);
}

bool cl_wsc_close(struct cl_wsc *c, int code, const char *reason)
{
    c->closing = true;
    uv_timer_stop(&c->timer);
    if (c->state == CL__IDLE)
        return true;
    if (c->wsi && c->state == CL__OPEN)
        lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)reason,
                         strlen(reason));
    /* With a close reason set, closing makes lws send the close frame and
     * wait for the peer's answer before the wsi goes (WSI_DESTROY). lws
     * 4.1 drops the socket without a close frame when WRITEABLE returns
     * -1, and an ASYNC kill from outside its callbacks is not serviced
     * promptly on a foreign loop; a SYNC kill here is both. */
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    return false;
}

/* ---- lws callbacks ---------------------------------------------------------- */

/* One piece of an incoming message. Never returns nonzero (wsrx.h says
 * why): a message over max_message is dropped and the connection closed
 * with 1009 from the next WRITEABLE callback. */
static int cl__on_receive(struct cl_wsc *c, struct lws *wsi, const void *in, size_t len)
{
    bool first = lws_is_first_fragment(wsi), binary = lws_frame_is_binary(wsi) != 0;
    bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    const void *msg = NULL;
    size_t n = 0;

    c->last_rx = uv_now(c->x->loop);
    if (c->rx_refused)
        return 0; /* closing: whatever else arrives is dropped */
    if (first && binary && c->drop_binary)
        cl_warn(c->log_area, "ignoring a binary message (not negotiated)", "%s", "");
    switch (cl_wsrx_feed(&c->rx, first, final, binary, c->drop_binary, in, len, &msg, &n)) {
    case CL_WSRX_MESSAGE:
        binary = c->rx.binary;
        if (c->h.on_message)
            c->h.on_message(c->h.ud, msg, n, binary);
        cl_wsrx_reset(&c->rx);
        break;
    case CL_WSRX_TOO_BIG:
        if (c->h.on_too_big)
            c->h.on_too_big(c->h.ud);
        c->rx_refused = true;
        lws_callback_on_writable(wsi);
        break;
    default:
        break;
    }
    return 0;
}

static int cl__on_writeable(struct cl_wsc *c, struct lws *wsi)
{
    if (c->rx_refused) {
        /* Our close frame, then read and drop until the peer answers. */
        if (!c->close_sent) {
            c->close_sent = true;
            cl_ws_send_close(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
            lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, CL_WS_CLOSE_ACK_TIMEOUT_S);
        }
        return 0;
    }
    if (c->closing)
        return 0;
    if (c->h.on_writable)
        return c->h.on_writable(c->h.ud, wsi);
    return cl_wsq_write_one(&c->q, wsi) < 0 ? -1 : 0;
}

static int cl__dispatch(struct cl_wsc *c, struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len)
{
    char safe[160];

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = (unsigned char **)in, *end = *p + len;
        if (c->user_agent[0] && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT,
                                                             (const unsigned char *)c->user_agent,
                                                             (int)strlen(c->user_agent), p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c->closing)
            return -1;
        c->wsi = wsi;
        c->state = CL__OPEN;
        c->connected_at = c->last_rx = uv_now(c->x->loop);
        cl__rx_reset(c);
        if (c->h.on_open && c->h.on_open(c->h.ud) != 0)
            return -1;
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        cl__loggable(in ? (const char *)in : "unknown", SIZE_MAX, safe, sizeof safe);
        if (c->wsi == wsi || c->state == CL__CONNECTING)
            cl__lost(c, true, safe);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        /* Anything from the peer proves the link alive: lws then pings only
         * a link that was silent for the whole ping interval. */
        lws_validity_confirmed(wsi);
        return cl__on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return cl__on_writeable(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *b = in;
            c->peer_close = (b[0] << 8) | b[1];
            cl__loggable((const char *)b + 2, len - 2, c->peer_reason, sizeof c->peer_reason);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        /* lws reports this before it sends our close frame; when we are
         * the ones closing, wait for WSI_DESTROY so the frame goes out. */
        if (!c->closing && c->wsi == wsi)
            cl__lost(c, false, "connection closed");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* Whatever path the wsi took to its end, it is gone now. */
        if (c->wsi == wsi)
            cl__lost(c, false, "connection closed");
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Every lws callback of the context, counted (owners do not write
 * directly from inside one). */
static int cl__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct lws_context *ctx = wsi ? lws_get_context(wsi) : NULL;
    struct cl_wsc_ctx *x = ctx ? lws_context_user(ctx) : NULL;
    struct cl_wsc *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    int rc;

    if (!x || !c || x->destroyed)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    x->cb_depth++;
    rc = cl__dispatch(c, wsi, reason, user, in, len);
    x->cb_depth--;
    return rc;
}

static const struct lws_protocols cl__protocols[] = {
    {"cl-wsclient", cl__callback, 0, CL_WS_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- context and clients ---------------------------------------------------- */

int cl_wsc_ctx_new(uv_loop_t *loop, bool tls, const char *ca_file, struct cl_wsc_ctx **out,
                   char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    void *loops[1] = {loop};
    struct cl_wsc_ctx *x;

    *out = NULL;
    x = calloc(1, sizeof *x);
    if (!x)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    x->loop = loop;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = cl__protocols;
    /* OpenSSL only for wss://: starting it costs a plain ws:// agent about
     * 4 MiB of RSS. With --ca-file, that file replaces the system's CAs (as
     * the usage says), it does not add to them. */
    info.options = LWS_SERVER_OPTION_LIBUV;
    if (tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (tls && ca_file)
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info.foreign_loops = loops;
    info.user = x;
    info.pcontext = &x->ctx; /* lws NULLs it once destruction completed */
    info.connect_timeout_secs = 10;
    info.timeout_secs = 15;
    /* what a request's headers may fill, for the loopback chat door too
     * (chat_http.c): lws's default, named */
    info.max_http_header_data = CL_CHAT_HTTP_HEADER_MAX;
    if (ca_file)
        info.client_ssl_ca_filepath = ca_file;
    x->ctx = lws_create_context(&info);
    if (!x->ctx) {
        free(x);
        return cl_seterr(err, errlen, CL_EIO, "cannot create the WebSocket client context");
    }
    *out = x;
    return 0;
}

struct lws_context *cl_wsc_ctx_lws(struct cl_wsc_ctx *x)
{
    return x->ctx;
}

struct cl_wsc *cl_wsc_new(struct cl_wsc_ctx *x, const struct cl_wsc_url *url,
                          const struct cl_wsc_config *cfg, const struct cl_wsc_handler *h)
{
    struct cl_wsc *c = calloc(1, sizeof *c);

    if (!c)
        abort(); /* small and bounded */
    c->x = x;
    c->url = *url;
    c->cfg = *cfg;
    snprintf(c->log_area, sizeof c->log_area, "%s", cfg->log_area ? cfg->log_area : "ws");
    snprintf(c->user_agent, sizeof c->user_agent, "%s", cfg->user_agent ? cfg->user_agent : "");
    c->cfg.log_area = c->log_area;
    c->cfg.user_agent = NULL;
    c->h = *h;
    c->idle_policy.secs_since_valid_ping = (uint16_t)cfg->ping_s;
    c->idle_policy.secs_since_valid_hangup = (uint16_t)cfg->ping_hangup_s;
    cl_wsq_init(&c->q, cfg->sendq_max);
    cl_wsrx_init(&c->rx, cfg->max_message, CL__RX_KEEP);
    cl_backoff_init(&c->backoff, cfg->backoff_min_ms, cfg->backoff_max_ms);
    uv_timer_init(x->loop, &c->timer);
    c->timer.data = c;
    c->next = x->clients;
    x->clients = c;
    return c;
}

void cl_wsc_ctx_destroy(struct cl_wsc_ctx *x)
{
    bool again = x->destroyed;

    x->destroyed = true;
    /* lws 4.1 on a foreign libuv loop destroys in stages: the first call
     * closes its handles, a call after the loop ran them down frees the
     * context (and NULLs x->ctx through info.pcontext). */
    if (x->ctx)
        lws_context_destroy(x->ctx);
    if (again)
        return;
    for (struct cl_wsc *c = x->clients; c; c = c->next) {
        c->wsi = NULL;
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, NULL);
    }
}

bool cl_wsc_ctx_destroyed(const struct cl_wsc_ctx *x)
{
    return x->ctx == NULL;
}

void cl_wsc_ctx_free(struct cl_wsc_ctx *x)
{
    if (!x)
        return;
    while (x->clients) {
        struct cl_wsc *c = x->clients;
        x->clients = c->next;
        cl_wsq_clear(&c->q);
        cl_wsrx_free(&c->rx);
        free(c);
    }
    free(x);
}
