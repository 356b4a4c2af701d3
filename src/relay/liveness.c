/* liveness: one timer pings quiet WebSocket peers and drops silent ones. */
#include "relay/liveness.h"
#include "core/log.h"
#include "core/sockinfo.h"
#include "relay/conn.h"
#include "relay/metrics.h"
#include "relay/relay.h"

#include <stdlib.h>

struct cl_liveness {
    uv_loop_t *loop;
    uv_timer_t timer;
    uint64_t ping_ms, hangup_ms, auth_ms;
    struct cl_conn *head; /* every watched connection */
    size_t count;
};

/* The kernel's count of bytes received on c's socket; 0 if it cannot say
 * (then only what lws hands up counts). */
static uint64_t cl__liveness_rx_bytes(struct cl_conn *c)
{
    uint64_t n = 0;
    if (cl_sock_rx_bytes(lws_get_socket_fd(c->wsi), &n) != 0)
        return 0;
    return n;
}

/* Sends c's due ping. On an idle connection (nothing queued, nothing lws
 * holds back) it goes at once: asking lws for a WRITEABLE callback first
 * costs four epoll_ctl calls (libuv's uv_poll_start removes the descriptor
 * from epoll and adds it again, once to ask and once to stop asking),
 * which was most of an idle relay's CPU with 10,000 agents. Anything else
 * waits for the WRITEABLE callback, which writes the ping first. */
static void cl__liveness_ping(struct cl_conn *c)
{
    if ((c->kind == CL_CONN_AGENT || c->kind == CL_CONN_BROWSER) && cl_wsq_empty(&c->q) &&
        !lws_partial_buffered(c->wsi)) {
        if (cl_liveness_write_ping(c, c->wsi) >= 0)
            return;
        cl_warn("liveness", "ping failed: dropping peer", "peer=%s", c->peer);
        c->live_dropped = true;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_callback_on_writable(c->wsi);
}

static void cl__liveness_sweep(uv_timer_t *t)
{
    struct cl_liveness *lv = t->data;
    uint64_t now = uv_now(lv->loop);

    for (struct cl_conn *c = lv->head; c; c = c->live_next) {
        if (c->close_pending || c->live_dropped)
            continue; /* its close handshake has its own timeout */
        if (!c->authed && now - c->opened_at >= lv->auth_ms) {
            cl_metrics.rejected[CL_REJECT_AUTH_TIMEOUT]++;
            cl_info("liveness", "peer did not authenticate in time: closing",
                    "peer=%s after_ms=%llu", c->peer, (unsigned long long)(now - c->opened_at));
            cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "authentication timeout");
            continue;
        }
        /* Bytes that reached the socket after our ping and that lws did not
         * hand up (an empty pong) prove the peer alive as a pong would. */
        if (c->ping_sent && cl__liveness_rx_bytes(c) != c->rx_at_ping) {
            cl_liveness_seen(lv, c);
            continue;
        }
        uint64_t quiet = now - c->last_rx;
        if (quiet >= lv->hangup_ms) {
            cl_info("liveness", "peer silent: dropping it", "peer=%s silent_ms=%llu", c->peer,
                    (unsigned long long)quiet);
            c->live_dropped = true;
            cl_metrics.ping_drops++;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        } else if (quiet >= lv->ping_ms && !c->ping_sent && !c->ping_due) {
            c->ping_due = true;
            cl__liveness_ping(c);
        }
    }
}

struct cl_liveness *cl_liveness_new(uv_loop_t *loop, unsigned ping_s, unsigned auth_s)
{
    struct cl_liveness *lv = calloc(1, sizeof *lv);
    if (!lv)
        abort();
    lv->loop = loop;
    lv->ping_ms = (uint64_t)(ping_s ? ping_s : 1) * 1000;
    lv->hangup_ms = 2 * lv->ping_ms + CL_LIVENESS_SLACK_S * 1000;
    lv->auth_ms = (uint64_t)auth_s * 1000;
    uv_timer_init(loop, &lv->timer);
    lv->timer.data = lv;
    uv_timer_start(&lv->timer, cl__liveness_sweep, 1000, 1000);
    uv_unref((uv_handle_t *)&lv->timer); /* never what keeps the loop alive */
    return lv;
}

static void cl__free_cb(uv_handle_t *h)
{
    free(h->data);
}

void cl_liveness_free(struct cl_liveness *lv)
{
    if (!lv)
        return;
    uv_timer_stop(&lv->timer);
    uv_close((uv_handle_t *)&lv->timer, cl__free_cb);
}

void cl_liveness_add(struct cl_liveness *lv, struct cl_conn *c)
{
    c->last_rx = c->opened_at = uv_now(lv->loop);
    c->live_prev = NULL;
    c->live_next = lv->head;
    if (lv->head)
        lv->head->live_prev = c;
    lv->head = c;
    c->live_tracked = true;
    lv->count++;
}

void cl_liveness_remove(struct cl_liveness *lv, struct cl_conn *c)
{
    if (!c->live_tracked)
        return;
    if (c->live_prev)
        c->live_prev->live_next = c->live_next;
    else
        lv->head = c->live_next;
    if (c->live_next)
        c->live_next->live_prev = c->live_prev;
    c->live_next = c->live_prev = NULL;
    c->live_tracked = false;
    lv->count--;
}

void cl_liveness_seen(struct cl_liveness *lv, struct cl_conn *c)
{
    c->last_rx = uv_now(lv->loop);
    c->ping_sent = false;
}

int cl_liveness_write_ping(struct cl_conn *c, struct lws *wsi)
{
    /* The payload only has to be non-empty for the echo to reach us. It is
     * ASCII (the send time in hex): lws 4.1 checks a pong's payload for
     * UTF-8 when the peer's last message was text, and closes with 1007
     * on anything else. */
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[LWS_PRE + CL_LIVENESS_PING_LEN];
    uint64_t now = uv_now(c->relay->loop);

    if (!c->ping_due)
        return 0;
    c->ping_due = false;
    c->ping_sent = true;
    for (int i = 0; i < CL_LIVENESS_PING_LEN; i++)
        buf[LWS_PRE + i] = (unsigned char)hex[(now >> (4 * (CL_LIVENESS_PING_LEN - 1 - i))) & 0xf];
    c->rx_at_ping = cl__liveness_rx_bytes(c);
    if (lws_write(wsi, buf + LWS_PRE, CL_LIVENESS_PING_LEN, LWS_WRITE_PING) < 0)
        return -1;
    return 1;
}

size_t cl_liveness_count(const struct cl_liveness *lv)
{
    return lv->count;
}

void cl_liveness_each(const struct cl_liveness *lv, void (*fn)(const struct cl_conn *c, void *ctx),
                      void *ctx)
{
    for (const struct cl_conn *c = lv->head; c; c = c->live_next)
        fn(c, ctx);
}
