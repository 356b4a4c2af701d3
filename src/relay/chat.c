/*
 * chat: the pending chat requests (at most CL_CHAT_RELAY_MAX_PENDING per
 * device, in a pending.h list). Apart from nodes.c because a chat answer
 * is opaque to the relay (status, event name, JSON text), a stream gets
 * keepalives, and a cancelled request is told to the agent.
 */
#include "relay/chat.h"
#include "core/err.h"
#include "core/log.h"
#include "relay/hub.h"
#include "relay/pending.h"
#include "relay/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl__creq {
    struct cl_pending_req base; /* first: the list links it */
    char method[8];
    bool streaming;        /* a chat_event came: the stream's idle limit applies */
    uint64_t keepalive_at; /* a stream: when its caller gets a keepalive */
    const struct cl_chat_handler *h;
    void *ctx;
};

struct cl_chat {
    struct cl_relay *relay;
    struct cl_pending pending;
};

static void cl__tick(void *owner, struct cl_pending_req *base, uint64_t now);
static bool cl__agent_message(void *ctx, struct cl_conn *c, const struct cl_msg *m);
static void cl__agent_gone(void *ctx, const char *device_id);

/* What chat.c takes from agents (cl_hub_take). */
static const struct cl_agent_taker cl__taker = {
    .on_message = cl__agent_message,
    .on_replaced = cl__agent_gone,
    .on_gone = cl__agent_gone,
};
static const enum cl_msg_type cl__taken[] = {CL_MSG_CHAT_RESPONSE, CL_MSG_CHAT_EVENT};

struct cl_chat *cl_chat_new(struct cl_relay *r)
{
    struct cl_chat *ch = calloc(1, sizeof *ch);
    if (!ch)
        abort();
    ch->relay = r;
    cl_pending_init(&ch->pending, r->loop, "ch", cl__tick, ch);
    if (cl_hub_take(r->hub, &cl__taker, ch, cl__taken, sizeof cl__taken / sizeof cl__taken[0]))
        abort(); /* a type taken twice: a bug at start-up */
    return ch;
}

/* Unlinks and frees r (its handler has run, or must not). */
static void cl__req_remove(struct cl_chat *ch, struct cl__creq *r)
{
    cl_pending_remove(&ch->pending, &r->base);
    free(r);
}

static void cl__req_fail(struct cl_chat *ch, struct cl__creq *r, int status, const char *code,
                         const char *message)
{
    const struct cl_chat_handler *h = r->h;
    void *ctx = r->ctx;
    cl__req_remove(ch, r);
    if (h->on_error)
        h->on_error(ctx, status, code, message);
}

/* Tells the device's agent that nobody waits for request_id any more (the
 * agent stops sending; what the request started goes on). */
static void cl__send_cancel(struct cl_chat *ch, const struct cl__creq *r)
{
    struct cl_router *rt = &ch->relay->router;
    struct cl_router_agent agent;
    struct cl_msg m;
    size_t len = 0;
    char *text;

    if (!rt->ops->agent_find(rt, r->base.device_id, &agent) || agent.chat < 1)
        return;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_CHAT_CANCEL;
    snprintf(m.request_id, sizeof m.request_id, "%s", r->base.request_id);
    text = cl_msg_encode(&m, &len);
    if (text)
        rt->ops->agent_send(rt, r->base.device_id, text, len);
    free(text);
    cl_debug("chat", "chat_cancel sent", "device=%s request=%s", r->base.device_id,
             r->base.request_id);
}

static void cl__free_chat(void *owner)
{
    free(owner);
}

void cl_chat_free(struct cl_chat *ch)
{
    struct cl_pending_req *r;
    if (!ch)
        return;
    while ((r = cl_pending_first(&ch->pending)))
        cl__req_fail(ch, (struct cl__creq *)r, 503, "relay_stopping", "the relay is shutting down");
    cl_pending_close(&ch->pending, cl__free_chat);
}

/* The sweep, for each pending request: a quiet stream's keepalive, or the
 * end of its time. */
static void cl__tick(void *owner, struct cl_pending_req *base, uint64_t now)
{
    struct cl_chat *ch = owner;
    struct cl__creq *r = (struct cl__creq *)base;

    if (r->streaming && now >= r->keepalive_at && now < base->deadline) {
        r->keepalive_at = now + CL_CHAT_RELAY_KEEPALIVE_MS;
        if (r->h->on_keepalive && r->h->on_keepalive(r->ctx) != 0) {
            cl__send_cancel(ch, r);
            cl__req_remove(ch, r);
        }
        return;
    }
    if (now < base->deadline)
        return;
    cl_warn("chat", "chat request timed out", "device=%s request=%s method=%s stream=%s",
            base->device_id, base->request_id, r->method, r->streaming ? "yes" : "no");
    cl__send_cancel(ch, r);
    cl__req_fail(ch, r, 504, "timeout",
                 r->streaming ? "the device's agent sent nothing for too long"
                              : "the device's agent did not answer in time");
}

/* A chat answer from the agent of c->device_id (chat_response,
 * chat_event): true if handled here. */
static bool cl__agent_message(void *self, struct cl_conn *c, const struct cl_msg *m)
{
    struct cl_chat *ch = self;
    struct cl__creq *r;
    const struct cl_chat_handler *h;
    void *ctx;
    size_t len = m->json ? strlen(m->json) : 0;

    if (m->type != CL_MSG_CHAT_RESPONSE && m->type != CL_MSG_CHAT_EVENT)
        return false;
    r = (struct cl__creq *)cl_pending_find(&ch->pending, c->device_id, m->request_id);
    if (!r) {
        cl_debug("chat", "answer to no pending request (timed out or cancelled)",
                 "device=%s request=%s type=%s", c->device_id, m->request_id,
                 cl_msg_type_name(m->type));
        return true;
    }
    h = r->h;
    ctx = r->ctx;
    if (m->type == CL_MSG_CHAT_EVENT) {
        r->streaming = true;
        r->base.deadline = uv_now(ch->relay->loop) + CL_CHAT_RELAY_STREAM_IDLE_MS;
        r->keepalive_at = uv_now(ch->relay->loop) + CL_CHAT_RELAY_KEEPALIVE_MS;
        if (h->on_event && h->on_event(ctx, m->event, m->json, len) != 0) {
            /* the caller's stream was cut (it does not read): stop the agent */
            cl__send_cancel(ch, r);
            cl__req_remove(ch, r);
        }
        return true;
    }
    cl_info("chat", "chat answer", "device=%s request=%s method=%s status=%d stream=%s",
            c->device_id, r->base.request_id, r->method, m->status, r->streaming ? "yes" : "no");
    cl__req_remove(ch, r);
    if (h->on_response)
        h->on_response(ctx, m->status, m->json, len);
    return true;
}

/* The agent of device_id disconnected (or was replaced by a newer
 * connection): its pending requests fail, 502 device_offline. */
static void cl__agent_gone(void *ctx, const char *device_id)
{
    struct cl_chat *ch = ctx;
    struct cl_pending_req *r;
    while ((r = cl_pending_first_of(&ch->pending, device_id))) {
        cl_info("chat", "chat request cut: the agent disconnected", "device=%s request=%s",
                device_id, r->request_id);
        cl__req_fail(ch, (struct cl__creq *)r, 502, "device_offline",
                     "the device disconnected before it answered");
    }
}

size_t cl_chat_pending(struct cl_chat *ch, const char *device_id)
{
    return cl_pending_count(&ch->pending, device_id);
}

int cl_chat_reachable(struct cl_chat *ch, const char *device_id, const char **code, char *message,
                      size_t msglen)
{
    struct cl_router *rt = &ch->relay->router;
    struct cl_router_agent agent;

    if (!rt->ops->agent_find(rt, device_id, &agent)) {
        *code = "device_offline";
        snprintf(message, msglen, "the device is offline (no agent connected)");
        return 409;
    }
    if (agent.chat < 1) {
        *code = "no_chat_bridge";
        snprintf(message, msglen,
                 "the device's agent does not serve the chat API (its hello declared no chat "
                 "version; a PrivaClaw connector or skill, or an older clawlink)");
        return 501;
    }
    return 0;
}

int cl_chat_request(struct cl_chat *ch, const char *device_id, struct cl_msg *req,
                    const struct cl_chat_handler *h, void *ctx, uint64_t *handle, const char **code,
                    char *message, size_t msglen)
{
    struct cl_router *rt = &ch->relay->router;
    struct cl__creq *r;
    size_t len = 0;
    char *text;
    int rc = cl_chat_reachable(ch, device_id, code, message, msglen);

    if (rc)
        return rc;
    if (cl_chat_pending(ch, device_id) >= CL_CHAT_RELAY_MAX_PENDING) {
        *code = "busy";
        snprintf(message, msglen, "%d chat requests to this device are already in flight",
                 CL_CHAT_RELAY_MAX_PENDING);
        return 429;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        abort();
    cl_pending_prepare(&ch->pending, &r->base, device_id, CL_CHAT_RELAY_ANSWER_MS);
    snprintf(r->method, sizeof r->method, "%s", req->method);
    r->h = h;
    r->ctx = ctx;
    req->type = CL_MSG_CHAT_REQUEST;
    snprintf(req->request_id, sizeof req->request_id, "%s", r->base.request_id);
    text = cl_msg_encode(req, &len);
    if (!text || rt->ops->agent_send(rt, device_id, text, len) != 0) {
        free(text);
        free(r);
        *code = "device_offline";
        snprintf(message, msglen, "the device's agent cannot take the request");
        return 409;
    }
    free(text);
    cl_pending_link(&ch->pending, &r->base);
    *handle = r->base.handle;
    return 0;
}

void cl_chat_cancel(struct cl_chat *ch, uint64_t handle)
{
    struct cl__creq *r = (struct cl__creq *)cl_pending_by_handle(&ch->pending, handle);
    if (!r)
        return;
    cl_info("chat", "chat request abandoned by its caller", "device=%s request=%s",
            r->base.device_id, r->base.request_id);
    cl__send_cancel(ch, r);
    cl__req_remove(ch, r);
}
