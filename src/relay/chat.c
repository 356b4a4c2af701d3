/*
 * chat: the pending chat requests (a short list: at most
 * CL_CHAT_RELAY_MAX_PENDING per device), swept by one timer for their
 * deadlines while any is pending. Modelled on nodes.c; kept apart because
 * a chat answer is opaque to the relay (status, event name, JSON text) and
 * a cancelled request is told to the agent.
 */
#include "relay/chat.h"
#include "core/err.h"
#include "core/log.h"
#include "relay/hub.h"
#include "relay/relay.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL__SWEEP_MS 250

struct cl__creq {
    struct cl__creq *next;
    uint64_t handle;
    char request_id[CL_ID_MAX + 1];
    char device_id[CL_ID_MAX + 1];
    char method[8];
    bool streaming;        /* a chat_event came: the stream's idle limit applies */
    uint64_t deadline;     /* uv_now */
    uint64_t keepalive_at; /* a stream: when its caller gets a keepalive */
    const struct cl_chat_handler *h;
    void *ctx;
};

struct cl_chat {
    struct cl_relay *relay;
    struct cl__creq *reqs;
    uint64_t next_handle;
    char prefix[17]; /* random per process: request ids never repeat */
    uv_timer_t timer;
};

struct cl_chat *cl_chat_new(struct cl_relay *r)
{
    struct cl_chat *ch = calloc(1, sizeof *ch);
    uint8_t rnd[8];
    if (!ch)
        abort();
    ch->relay = r;
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(ch->prefix, sizeof ch->prefix, rnd, sizeof rnd);
    uv_timer_init(r->loop, &ch->timer);
    ch->timer.data = ch;
    return ch;
}

/* Unlinks and frees r (its handler has run, or must not). */
static void cl__req_remove(struct cl_chat *ch, struct cl__creq *r)
{
    for (struct cl__creq **p = &ch->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
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
    struct cl_conn *agent = cl_hub_agent(ch->relay->hub, r->device_id);
    struct cl_msg m;
    size_t len = 0;
    char *text;

    if (!agent || agent->chat < 1)
        return;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_CHAT_CANCEL;
    snprintf(m.request_id, sizeof m.request_id, "%s", r->request_id);
    text = cl_msg_encode(&m, &len);
    if (text)
        cl_conn_send(agent, text, len);
    free(text);
    cl_debug("chat", "chat_cancel sent", "device=%s request=%s", r->device_id, r->request_id);
}

static void cl__closed(uv_handle_t *t)
{
    free(t->data);
}

void cl_chat_free(struct cl_chat *ch)
{
    if (!ch)
        return;
    while (ch->reqs)
        cl__req_fail(ch, ch->reqs, 503, "relay_stopping", "the relay is shutting down");
    uv_timer_stop(&ch->timer);
    uv_close((uv_handle_t *)&ch->timer, cl__closed);
}

static void cl__sweep(uv_timer_t *t)
{
    struct cl_chat *ch = t->data;
    uint64_t now = uv_now(ch->relay->loop);
    struct cl__creq *r = ch->reqs, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->streaming && now >= r->keepalive_at && now < r->deadline) {
            r->keepalive_at = now + CL_CHAT_RELAY_KEEPALIVE_MS;
            if (r->h->on_keepalive && r->h->on_keepalive(r->ctx) != 0) {
                cl__send_cancel(ch, r);
                cl__req_remove(ch, r);
            }
            continue;
        }
        if (now < r->deadline)
            continue;
        cl_warn("chat", "chat request timed out", "device=%s request=%s method=%s stream=%s",
                r->device_id, r->request_id, r->method, r->streaming ? "yes" : "no");
        cl__send_cancel(ch, r);
        cl__req_fail(ch, r, 504, "timeout",
                     r->streaming ? "the device's agent sent nothing for too long"
                                  : "the device's agent did not answer in time");
    }
    if (!ch->reqs)
        uv_timer_stop(&ch->timer); /* runs only while something waits */
}

static struct cl__creq *cl__req_find(struct cl_chat *ch, const char *device_id,
                                     const char *request_id)
{
    for (struct cl__creq *r = ch->reqs; r; r = r->next)
        if (strcmp(r->request_id, request_id) == 0 && strcmp(r->device_id, device_id) == 0)
            return r;
    return NULL;
}

bool cl_chat_agent_message(struct cl_chat *ch, struct cl_conn *c, const struct cl_msg *m)
{
    struct cl__creq *r;
    const struct cl_chat_handler *h;
    void *ctx;
    size_t len = m->json ? strlen(m->json) : 0;

    if (m->type != CL_MSG_CHAT_RESPONSE && m->type != CL_MSG_CHAT_EVENT)
        return false;
    r = cl__req_find(ch, c->device_id, m->request_id);
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
        r->deadline = uv_now(ch->relay->loop) + CL_CHAT_RELAY_STREAM_IDLE_MS;
        r->keepalive_at = uv_now(ch->relay->loop) + CL_CHAT_RELAY_KEEPALIVE_MS;
        if (h->on_event && h->on_event(ctx, m->event, m->json, len) != 0) {
            /* the caller's stream was cut (it does not read): stop the agent */
            cl__send_cancel(ch, r);
            cl__req_remove(ch, r);
        }
        return true;
    }
    cl_info("chat", "chat answer", "device=%s request=%s method=%s status=%d stream=%s",
            c->device_id, r->request_id, r->method, m->status, r->streaming ? "yes" : "no");
    cl__req_remove(ch, r);
    if (h->on_response)
        h->on_response(ctx, m->status, m->json, len);
    return true;
}

void cl_chat_agent_gone(struct cl_chat *ch, const char *device_id)
{
    struct cl__creq *r, *next;
    for (r = ch->reqs; r; r = next) {
        next = r->next;
        if (strcmp(r->device_id, device_id) != 0)
            continue;
        cl_info("chat", "chat request cut: the agent disconnected", "device=%s request=%s",
                device_id, r->request_id);
        cl__req_fail(ch, r, 502, "device_offline", "the device disconnected before it answered");
    }
}

size_t cl_chat_pending(struct cl_chat *ch, const char *device_id)
{
    size_t n = 0;
    for (struct cl__creq *r = ch->reqs; r; r = r->next)
        n += strcmp(r->device_id, device_id) == 0;
    return n;
}

int cl_chat_reachable(struct cl_chat *ch, const char *device_id, const char **code, char *message,
                      size_t msglen)
{
    struct cl_conn *agent = cl_hub_agent(ch->relay->hub, device_id);

    if (!agent) {
        *code = "device_offline";
        snprintf(message, msglen, "the device is offline (no agent connected)");
        return 409;
    }
    if (agent->chat < 1) {
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
    struct cl_conn *agent = cl_hub_agent(ch->relay->hub, device_id);
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
    r->handle = ++ch->next_handle;
    snprintf(r->request_id, sizeof r->request_id, "ch-%s-%llu", ch->prefix,
             (unsigned long long)r->handle);
    snprintf(r->device_id, sizeof r->device_id, "%s", device_id);
    snprintf(r->method, sizeof r->method, "%s", req->method);
    r->deadline = uv_now(ch->relay->loop) + CL_CHAT_RELAY_ANSWER_MS;
    r->h = h;
    r->ctx = ctx;
    req->type = CL_MSG_CHAT_REQUEST;
    snprintf(req->request_id, sizeof req->request_id, "%s", r->request_id);
    text = cl_msg_encode(req, &len);
    if (!text || cl_conn_send(agent, text, len) != 0) {
        free(text);
        free(r);
        *code = "device_offline";
        snprintf(message, msglen, "the device's agent cannot take the request");
        return 409;
    }
    free(text);
    r->next = ch->reqs;
    ch->reqs = r;
    if (!uv_is_active((uv_handle_t *)&ch->timer))
        uv_timer_start(&ch->timer, cl__sweep, CL__SWEEP_MS, CL__SWEEP_MS);
    *handle = r->handle;
    return 0;
}

void cl_chat_cancel(struct cl_chat *ch, uint64_t handle)
{
    for (struct cl__creq *r = ch->reqs; r; r = r->next) {
        if (r->handle == handle) {
            cl_info("chat", "chat request abandoned by its caller", "device=%s request=%s",
                    r->device_id, r->request_id);
            cl__send_cancel(ch, r);
            cl__req_remove(ch, r);
            return;
        }
    }
}
