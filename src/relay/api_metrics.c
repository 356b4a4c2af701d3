/*
 * api_metrics: GET /metrics, the Prometheus exposition (metrics.h).
 *
 * Off unless the relay was started with --metrics-token-file: then a
 * request with "Authorization: Bearer <that token>" gets the text, any
 * other 401 and nothing else; off, the path answers 404 like any unknown
 * one. The token is read once at start-up, kept only as its hash, and
 * compared in constant time (docs/security.md, docs/decisions.md). It is
 * a credential of its own: a user's sign-in token does not open it.
 */
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/accounts.h"
#include "relay/consent.h"
#include "relay/admission.h"
#include "relay/api_metrics.h"
#include "relay/bus.h"
#include "relay/http.h"
#include "relay/hub.h"
#include "relay/liveness.h"
#include "relay/metrics.h"
#include "relay/ratelimit.h"
#include "relay/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int cl_metrics_token_load(struct cl_relay *r, const char *path, char *err, size_t errlen)
{
    char buf[CL_TOKEN_MAX + 2];
    struct stat st;
    ssize_t n;
    size_t len;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cl_seterr(err, errlen, CL_EIO, "cannot open --metrics-token-file %s: %s", path,
                         strerror(errno));
    if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
        cl_warn("metrics", "the metrics token file is readable by others: chmod 600 it",
                "path=%s mode=%03o", path, (unsigned)(st.st_mode & 0777));
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return cl_seterr(err, errlen, CL_EIO, "cannot read --metrics-token-file %s", path);
    len = (size_t)n;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = 0;
    if (len < CL_METRICS_TOKEN_MIN || len > CL_TOKEN_MAX || strpbrk(buf, " \t\r\n"))
        rc = cl_seterr(err, errlen, CL_EINVAL,
                       "metrics token in %s must be %d to %d bytes without spaces (try: "
                       "openssl rand -hex 32)",
                       path, CL_METRICS_TOKEN_MIN, CL_TOKEN_MAX);
    else {
        cl_hash_str(buf, r->metrics_token_hash);
        r->metrics_on = true;
    }
    cl_wipe(buf, sizeof buf);
    return rc;
}

void cl_metrics_register_limiters(struct cl_relay *r)
{
    cl_metrics_limiter("pair_addr", r->rl_pair_addr);
    cl_metrics_limiter("pair_code", r->rl_pair_code);
    cl_metrics_limiter("pair_global", r->rl_pair_global);
    if (r->accounts) {
        static const char *const addr[CL_RATE__COUNT] = {[CL_RATE_LOGIN] = "login_addr",
                                                         [CL_RATE_SIGNUP] = "signup_addr",
                                                         [CL_RATE_RESET] = "reset_addr"};
        static const char *const pair[CL_RATE__COUNT] = {[CL_RATE_LOGIN] = "login_addr_account",
                                                         [CL_RATE_SIGNUP] = "signup_addr_account",
                                                         [CL_RATE_RESET] = "reset_addr_account"};
        static const char *const account[CL_RATE__COUNT] = {[CL_RATE_LOGIN] = "login_account",
                                                            [CL_RATE_SIGNUP] = "signup_account",
                                                            [CL_RATE_RESET] = "reset_account"};
        for (int k = 0; k < CL_RATE__COUNT; k++) {
            cl_metrics_limiter(addr[k], r->accounts->per_addr[k]);
            cl_metrics_limiter(pair[k], r->accounts->per_addr_account[k]);
            cl_metrics_limiter(account[k], r->accounts->per_account[k]);
        }
    }
    if (r->consent) {
        cl_metrics_limiter("verify_send", r->consent->verify_send);
        cl_metrics_limiter("verify_confirm", r->consent->verify_confirm);
        cl_metrics_limiter("invite_user", r->consent->invite_per_user);
        cl_metrics_limiter("invite_project", r->consent->invite_per_project);
    }
}

/* Whether the request carries the scraper's token (constant time). */
static bool cl__metrics_authorized(struct cl_http_req *req)
{
    char hdr[CL_TOKEN_MAX + 32];
    uint8_t hash[CL_HASH_LEN];
    const char *tok;
    bool ok = false;
    int n = lws_hdr_copy(req->conn->wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(hdr, "Bearer ", 7) == 0) {
        for (tok = hdr + 7; *tok == ' '; tok++)
            ;
        cl_hash_str(tok, hash);
        ok = cl_secret_equal(hash, req->relay->metrics_token_hash);
        cl_wipe(hash, sizeof hash);
    }
    cl_wipe(hdr, sizeof hdr);
    return ok;
}

static void cl__metrics_conn(const struct cl_conn *c, void *ctx)
{
    struct cl_metrics_gauges *g = ctx;
    uint64_t q = c->q.bytes;
    g->conns[c->kind == CL_CONN_AGENT     ? CL_KIND_AGENT
             : c->kind == CL_CONN_BROWSER ? CL_KIND_VIEWER
                                          : CL_KIND_EVENTS]++;
    g->queue_bytes += q;
    g->queue_frames += c->q.count;
    if (q > g->queue_max_bytes)
        g->queue_max_bytes = q;
    g->lagging_viewers += c->kind == CL_CONN_BROWSER && c->lagging;
}

static void cl__metrics(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_metrics_gauges g;
    struct cl_hub_stats hs;
    uint64_t ws;
    char *text;
    size_t len;

    if (!r->metrics_on) {
        cl_http_reply_error(req->conn, 404, "no_route", "no such endpoint");
        return;
    }
    if (!cl__metrics_authorized(req)) {
        cl_http_reply_error(req->conn, 401, "unauthorized",
                            "/metrics needs the metrics token (--metrics-token-file)");
        return;
    }
    memset(&g, 0, sizeof g);
    if (r->liveness)
        cl_liveness_each(r->liveness, cl__metrics_conn, &g);
    ws = g.conns[CL_KIND_AGENT] + g.conns[CL_KIND_VIEWER] + g.conns[CL_KIND_EVENTS];
    if (r->admission && cl_admission_count(r->admission) > ws)
        g.conns[CL_KIND_HTTP] = cl_admission_count(r->admission) - ws;
    cl_hub_stats(r->hub, &hs);
    g.agents = hs.agents;
    g.viewers = hs.viewers;
    g.sessions_running = hs.sessions_started;
    g.sessions_starting = hs.sessions - hs.sessions_started;
    if (r->bus) {
        struct cl_bus_stats bs;
        cl_bus_stats(r->bus, &bs);
        g.nats = true;
        g.nats_connected = cl_bus_state(r->bus) == CL_BUS_CONNECTED;
        g.nats_msgs_in = bs.msgs_in;
        g.nats_msgs_out = bs.msgs_out;
        g.nats_bytes_in = bs.bytes_in;
        g.nats_bytes_out = bs.bytes_out;
        g.nats_dropped = bs.dropped;
        g.nats_reconnects = bs.reconnects;
        g.nats_subs = bs.subs;
    }
    cl_metrics_process(&g);
    if (cl_metrics_write(&cl_metrics, &g, &text, &len)) {
        cl_http_reply_error(req->conn, 500, "internal", "the metrics do not fit their buffer");
        return;
    }
    struct cl_http_body b = {.status = 200,
                             .content_type = "text/plain; version=0.0.4; charset=utf-8",
                             .data = text,
                             .len = len};
    cl_http_reply_body(req->conn, &b);
    free(text);
}

const struct cl_route cl_routes_metrics[] = {
    /* public to the dispatcher: the handler checks its own token */
    {CL_HTTP_GET, "/metrics", CL_ROUTE_PUBLIC, cl__metrics, 0},
    {0, NULL, 0, NULL, 0},
};
