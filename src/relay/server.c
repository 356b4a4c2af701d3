/* server: the glue to libwebsockets: the lws context, the protocol
 * callback, which chooses each connection's handler table (conn.h) when
 * it is established and calls through it after. */
#include "relay/server.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/proto.h"
#include "relay/conn.h"
#include "relay/events.h"
#include "relay/http.h"
#include "relay/hub.h"
#include "relay/admission.h"
#include "relay/proxy.h"
#include "relay/liveness.h"
#include "relay/metrics.h"
#include "relay/webauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- WebSocket plumbing ----------------------------------------------- */

/* The WebSocket endpoints, and whose handler table each gets. */
static const struct {
    const char *path;
    const struct cl_conn_ops *ops;
} cl__ws_routes[] = {
    {"/connect", &cl_hub_agent_ops},
    {"/session", &cl_hub_viewer_ops},
    {"/events", &cl_events_conn_ops},
};

static const struct cl_conn_ops *cl__ws_ops(struct lws *wsi)
{
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return NULL;
    for (size_t i = 0; i < sizeof cl__ws_routes / sizeof cl__ws_routes[0]; i++)
        if (strcmp(uri, cl__ws_routes[i].path) == 0)
            return cl__ws_routes[i].ops;
    return NULL;
}

static int cl__ws_writeable(struct cl_conn *c, struct lws *wsi)
{
    int ping = cl_liveness_write_ping(c, wsi);
    if (ping) {
        if (ping > 0 && (!cl_wsq_empty(&c->q) || c->close_pending))
            lws_callback_on_writable(wsi);
        return ping < 0 ? -1 : 0;
    }
    if (!cl_wsq_empty(&c->q))
        return cl_conn_write_head(c);
    if (c->close_pending && !c->close_sent) {
        /* Close handshake: send ours, keep reading (and discarding) until
         * the peer answers, so unread input never turns into a TCP reset
         * that would lose the close frame. lws closes on the peer's reply,
         * or after CL__CLOSE_ACK_TIMEOUT_S. */
        cl_ws_send_close(wsi, c->close_code, c->close_reason);
        c->close_sent = true;
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, CL_WS_CLOSE_ACK_TIMEOUT_S);
    }
    return 0;
}

/* Collects a message and hands it to c's handler: straight from lws's
 * buffer when it arrived in one piece, else from a frame of its exact size
 * that the handler may keep (the hub queues it for a viewer without
 * copying it again). */
static int cl__ws_receive(struct cl_conn *c, struct lws *wsi, const char *in, size_t len)
{
    size_t remaining = lws_remaining_packet_payload(wsi);
    bool complete = lws_is_final_fragment(wsi) && remaining == 0;
    bool binary = lws_frame_is_binary(wsi);
    size_t have = c->rx ? c->rx->len : 0;
    struct cl_frame *f;

    if (c->close_pending)
        return 0; /* closing: discard */
    if (have + len + remaining > c->ops->max_message) {
        cl_warn("server", "message too big: closing peer", "peer=%s", c->peer);
        free(c->rx);
        c->rx = NULL;
        cl_conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
        return 0;
    }
    if (complete && !c->rx) {
        c->ops->on_message(c, in, len, binary, NULL); /* the common case: no copy */
        return 0;
    }
    /* sized for what lws says remains of this WebSocket frame; grown if
     * the message continues in another frame */
    if (!c->rx)
        c->rx = cl_frame_new(len + remaining);
    else if (have + len > c->rx->cap)
        c->rx = cl_frame_grow(c->rx, have + len + remaining);
    memcpy(cl_frame_payload(c->rx) + have, in, len);
    c->rx->len = have + len;
    if (complete) {
        f = c->rx;
        c->rx = NULL;
        f->binary = binary;
        c->ops->on_message(c, (const char *)cl_frame_payload(f), f->len, binary, &f);
        free(f); /* NULL if the handler kept it */
    }
    return 0;
}

static int cl__dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct cl_conn *c = user;
    struct cl_relay *r = lws_context_user(lws_get_context(wsi));

    /* Admission (admission.h): before anything is read from a socket, and
     * its end whatever path it took. `user` is no cl_conn here. */
    if (r && r->admission) {
        if (reason == LWS_CALLBACK_FILTER_NETWORK_CONNECTION) {
            const struct lws_filter_network_conn_args *f = user;
            return f && cl_admission_accept(r->admission, (const struct sockaddr *)&f->cli_addr,
                                            f->clilen, (double)uv_now(r->loop) / 1000.0)
                       ? 0
                       : 1;
        }
        if (reason == LWS_CALLBACK_WSI_CREATE)
            cl_admission_created(r->admission, wsi);
        else if (reason == LWS_CALLBACK_WSI_DESTROY)
            cl_admission_destroyed(r->admission, wsi);
    }

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!c)
            return -1;
        c->relay = r;
        c->ops = &cl_http_conn_ops;
        return cl_http_on_request(c, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        return c && c->ops ? c->ops->on_body(c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return c && c->ops ? c->ops->on_body_complete(c) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c && c->ops ? c->ops->on_writeable(c) : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c && c->kind == CL_CONN_HTTP && c->ops)
            c->ops->on_close(c);
        break;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (r->stopping || !cl__ws_ops(wsi))
            return 1; /* refuse the upgrade */
        break;
    case LWS_CALLBACK_ESTABLISHED: {
        const struct cl_conn_ops *ops = cl__ws_ops(wsi);
        if (!ops)
            return -1; /* refused in FILTER_PROTOCOL_CONNECTION already */
        if (c->ops && c->ops->on_close)
            c->ops->on_close(c); /* nothing of an HTTP exchange carries over */
        memset(c, 0, sizeof *c);
        c->ops = ops;
        c->kind = ops->kind;
        c->proto = 1; /* until hello / auth asks for more */
        c->wsi = wsi;
        c->relay = r;
        cl_wsq_init(&c->q, CL_WS_SENDQ_MAX);
        cl_proxy_peer(r->opts.trusted_proxies, wsi, c->peer, sizeof c->peer);
        /* a browser's session cookie counts only from the relay's own
         * origin (webauth.h); the upgrade's headers are still readable
         * here and gone after */
        if (ops->cookie_auth && cl_webauth_cookie_hash(r, wsi, c->cookie_hash) == 0) {
            c->cookie_ok = cl_webauth_same_origin(r, wsi);
            if (!c->cookie_ok) {
                cl_wipe(c->cookie_hash, sizeof c->cookie_hash);
                cl_info("server", "session cookie ignored: cross-origin upgrade", "peer=%s",
                        c->peer);
            }
        }
        cl_metrics.ws_opened[c->kind == CL_CONN_AGENT     ? CL_KIND_AGENT
                             : c->kind == CL_CONN_BROWSER ? CL_KIND_VIEWER
                                                          : CL_KIND_EVENTS]++;
        cl_liveness_add(r->liveness, c);
        if (ops->on_open)
            ops->on_open(c);
        if (!cl_admission_client(r->admission, wsi, c->peer, (double)uv_now(r->loop) / 1000.0))
            cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                          "too many connections from this address");
        else if (!cl_admission_ws_open(r->admission, wsi, (double)uv_now(r->loop) / 1000.0))
            cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                          "too many unauthenticated connections from this address");
        break;
    }
    case LWS_CALLBACK_RECEIVE_PONG:
        cl_liveness_seen(r->liveness, c);
        break;
    case LWS_CALLBACK_RECEIVE:
        cl_liveness_seen(r->liveness, c);
        if (c->ops->on_rx)
            c->ops->on_rx(c, len);
        return cl__ws_receive(c, wsi, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        c->peer_closed = true;
        /* The peer's close answers the one we sent: lws would echo it, a
         * second close frame that browsers report as an error. Nonzero
         * here makes lws close without echoing. */
        if (c->close_sent)
            return -1;
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return cl__ws_writeable(c, wsi);
    case LWS_CALLBACK_CLOSED:
        cl_liveness_remove(r->liveness, c);
        if (c->ops && c->ops->on_close)
            c->ops->on_close(c);
        cl_wsq_clear(&c->q);
        free(c->rx);
        c->rx = NULL;
        cl_wipe(c->cookie_hash, sizeof c->cookie_hash);
        c->cookie_ok = false;
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Every lws callback, with r->cb_wsi naming its connection meanwhile
 * (cl_conn_wake does not write to a connection from its own callback). */
static int cl__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct cl_relay *r = lws_context_user(lws_get_context(wsi));
    struct lws *outer;
    int rc;

    if (!r)
        return cl__dispatch(wsi, reason, user, in, len);
    outer = r->cb_wsi;
    r->cb_wsi = wsi;
    rc = cl__dispatch(wsi, reason, user, in, len);
    r->cb_wsi = outer;
    return rc;
}

static const struct lws_protocols cl__protocols[] = {
    {"clawlink", cl__callback, sizeof(struct cl_conn), CL_RELAY_RX_BUFFER, 0, NULL,
     CL_RELAY_TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Whether addr:port can be bound now. lws 4.1 carries on without its
 * vhost when the port cannot be bound (taken, or an address this machine
 * does not have), even with LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND:
 * the relay would run and serve nothing. So the relay tries first, with
 * the options lws uses (SO_REUSEADDR). */
static int cl__can_listen(const char *addr, int port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    int one = 1, fd, rc = 0;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return cl_seterr(err, errlen, CL_EINVAL, "--listen address '%s' is not an IPv4 address",
                         addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cl_seterr(err, errlen, CL_EIO, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        rc = cl_seterr(err, errlen, CL_EIO, "cannot listen on %s:%d: %s", addr, port,
                       strerror(errno));
    close(fd);
    return rc;
}

int cl_server_start(struct cl_relay *r, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    void *loops[1] = {r->loop};
    /* Liveness is ours (liveness.c: one sweep a second); lws's own
     * validity timers are off (a hangup time of 0 disables them). */
    static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};

    if (cl__can_listen(r->opts.listen_addr, r->opts.port, err, errlen))
        return CL_EIO;
    memset(&info, 0, sizeof info);
    info.port = r->opts.port;
    info.iface = r->opts.listen_addr;
    info.protocols = cl__protocols;
    info.user = r;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(r->opts.listen_addr, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.pt_serv_buf_size = CL_RELAY_SERV_BUFFER;
    info.max_http_header_pool = CL_RELAY_HEADER_POOL;
    info.pcontext = &r->lws; /* lws NULLs it when destruction has completed */
    info.retry_and_idle_policy = &no_validity;
    if (r->opts.tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = r->opts.tls_cert;
        info.ssl_private_key_filepath = r->opts.tls_key;
        info.alpn = "http/1.1"; /* WebSocket upgrades stay on HTTP/1.1 */
        /* TLS 1.2 and 1.3 only; in 1.2 only ECDHE key exchange with an AEAD
         * cipher (forward secrecy: a stolen key does not open recorded
         * traffic). OpenSSL's 1.3 suites are all of that kind. */
        info.ssl_cipher_list = CL_RELAY_TLS12_CIPHERS;
        info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                               SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
    }
    r->liveness = cl_liveness_new(r->loop, r->opts.ping_interval_s, CL_RELAY_AUTH_DEADLINE_S);
    r->lws = lws_create_context(&info);
    if (!r->lws)
        return cl_seterr(err, errlen, CL_EIO, "cannot listen on %s:%d (in use? bad TLS files?)",
                         r->opts.listen_addr, r->opts.port);
    /* Only if the port was taken between cl__can_listen and here: lws has
     * no vhost, and destroying that half-made context on a foreign loop
     * crashes lws 4.1, so this start ends the process. */
    if (!lws_get_vhost_by_name(r->lws, "default")) {
        cl_error("server", "cannot listen", "addr=%s port=%d", r->opts.listen_addr, r->opts.port);
        _exit(1);
    }
    return 0;
}

void cl_server_stop(struct cl_relay *r)
{
    /* lws 4.1 on a foreign libuv loop destroys in stages: the first call
     * closes its handles; once the loop has run them down, a second call
     * frees the context (and NULLs r->lws through info.pcontext). */
    for (int i = 0; i < 3 && r->lws; i++) {
        lws_context_destroy(r->lws);
        for (int n = 0; n < 10000 && uv_run(r->loop, UV_RUN_NOWAIT); n++)
            ;
    }
    cl_liveness_free(r->liveness); /* every connection is closed: none tracked */
    r->liveness = NULL;
    uv_run(r->loop, UV_RUN_NOWAIT);
}
