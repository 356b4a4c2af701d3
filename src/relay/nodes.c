/*
 * nodes: per-device node health (a hash by device id) and the pending
 * node requests (a handful per node at most, in a pending.h list).
 */
#include "relay/nodes.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "relay/hub.h"
#include "relay/pending.h"
#include "relay/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct cl__node {
    char device_id[CL_ID_MAX + 1];
    struct cl_node_info info;
    bool kind_recorded; /* devices.kind set to openclaw for this connection */
    bool skill;         /* a PrivaClaw skill: its heartbeats name no capabilities */
    UT_hash_handle hh;
};

struct cl__preq {
    struct cl_pending_req base; /* first: the list links it */
    enum cl_msg_type type;
    const struct cl_node_handler *h;
    void *ctx;
};

struct cl_nodes {
    struct cl_relay *relay;
    struct cl__node *nodes;
    struct cl_pending pending;
};

static void cl__tick(void *owner, struct cl_pending_req *base, uint64_t now);
static bool cl__agent_message(void *ctx, struct cl_conn *c, const struct cl_msg *m);
static void cl__agent_hello(void *ctx, struct cl_conn *c);
static void cl__agent_gone(void *ctx, const char *device_id);

/* What nodes.c takes from agents (cl_hub_take). */
static const struct cl_agent_taker cl__taker = {
    .on_message = cl__agent_message,
    .on_hello = cl__agent_hello,
    .on_gone = cl__agent_gone,
};
static const enum cl_msg_type cl__taken[] = {CL_MSG_HEARTBEAT, CL_MSG_TOKEN, CL_MSG_DONE,
                                             CL_MSG_STATUS, CL_MSG_ERROR};

struct cl_nodes *cl_nodes_new(struct cl_relay *r)
{
    struct cl_nodes *n = calloc(1, sizeof *n);
    if (!n)
        abort();
    n->relay = r;
    cl_pending_init(&n->pending, r->loop, "rq", cl__tick, n);
    if (cl_hub_take(r->hub, &cl__taker, n, cl__taken, sizeof cl__taken / sizeof cl__taken[0]))
        abort(); /* a type taken twice: a bug at start-up */
    return n;
}

/* Unlinks and frees r (its handler has run, or must not). */
static void cl__req_remove(struct cl_nodes *n, struct cl__preq *r)
{
    cl_pending_remove(&n->pending, &r->base);
    free(r);
}

static void cl__req_fail(struct cl_nodes *n, struct cl__preq *r, int status, const char *code,
                         const char *message)
{
    const struct cl_node_handler *h = r->h;
    void *ctx = r->ctx;
    cl__req_remove(n, r);
    if (h->on_error)
        h->on_error(ctx, status, code, message);
}

static void cl__free_nodes(void *owner)
{
    free(owner);
}

void cl_nodes_free(struct cl_nodes *n)
{
    struct cl__node *node, *tmp;
    struct cl_pending_req *r;
    if (!n)
        return;
    while ((r = cl_pending_first(&n->pending)))
        cl__req_fail(n, (struct cl__preq *)r, 503, "relay_stopping", "the relay is shutting down");
    HASH_ITER(hh, n->nodes, node, tmp)
    {
        HASH_DEL(n->nodes, node);
        free(node);
    }
    cl_pending_close(&n->pending, cl__free_nodes);
}

/* The sweep, for each pending request: the end of its time. */
static void cl__tick(void *owner, struct cl_pending_req *base, uint64_t now)
{
    struct cl_nodes *n = owner;
    struct cl__preq *r = (struct cl__preq *)base;
    if (now < base->deadline)
        return;
    cl_warn("nodes", "request timed out", "device=%s request=%s type=%s", base->device_id,
            base->request_id, cl_msg_type_name(r->type));
    cl__req_fail(n, r, 504, "timeout", "the node did not answer in time");
}

/* The HTTP status for an agent's error code. */
static int cl__status_for(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"capability_denied", 403},
        {"openclaw_not_configured", 409},
        {"gateway_unavailable", 409},
        {"cancelled", 409},
        {"aborted", 409},
        {"busy", 429},
        {"workflow_not_found", 404},
        {"bad_params", 400},
        {"bad_message", 400},
        {"timeout", 504},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].code, code) == 0)
            return map[i].status;
    return 502;
}

static void cl__health_from(struct cl_node_info *info, const struct cl_msg *m, bool skill)
{
    info->state = m->node_state;
    info->caps = skill && !m->caps ? CL_CAP_SKILL : m->caps;
    info->uptime = m->uptime;
    info->active_tasks = m->active_tasks;
    info->has_last_error = m->has_last_error;
    snprintf(info->last_error, sizeof info->last_error, "%s", m->last_error);
    info->last_heartbeat = cl_now();
}

/* The node of c's device, made (offline, nothing declared) if new. */
static struct cl__node *cl__node_get(struct cl_nodes *n, struct cl_conn *c)
{
    struct cl__node *node;
    HASH_FIND_STR(n->nodes, c->device_id, node);
    if (!node) {
        node = calloc(1, sizeof *node);
        if (!node)
            abort();
        snprintf(node->device_id, sizeof node->device_id, "%s", c->device_id);
        node->info.state = CL_NODE_OFFLINE;
        HASH_ADD_STR(n->nodes, device_id, node);
    }
    node->skill = c->skill;
    return node;
}

/* c said hello. A PrivaClaw skill (c->skill) is a node at once — online,
 * answering CL_CAP_SKILL — without waiting for its first heartbeat; other
 * agents become nodes at their first. */
static void cl__agent_hello(void *ctx, struct cl_conn *c)
{
    struct cl_nodes *n = ctx;
    struct cl__node *node;
    if (!c->skill)
        return;
    node = cl__node_get(n, c);
    node->info.state = CL_NODE_ONLINE; /* the skill is the OpenClaw runtime itself */
    node->info.caps = CL_CAP_SKILL;
    node->info.last_heartbeat = cl_now();
    node->kind_recorded = true; /* the hub recorded meta.kind */
    cl_info("nodes", "PrivaClaw skill connected: a node at once", "device=%s", c->device_id);
}

static void cl__heartbeat(struct cl_nodes *n, struct cl_conn *c, const struct cl_msg *m)
{
    struct cl_store *s = &n->relay->store;
    struct cl__node *node = cl__node_get(n, c);
    enum cl_node_state before;

    before = node->info.state;
    cl__health_from(&node->info, m, node->skill);
    s->ops->device_heartbeat(s, c->device_id, node->info.last_heartbeat);
    if (!node->kind_recorded) {
        node->kind_recorded = true;
        s->ops->device_set_kind(s, c->device_id, CL_DEVICE_KIND_OPENCLAW);
    }
    if (before != node->info.state || m->type == CL_MSG_HEARTBEAT)
        cl_log(before != node->info.state ? CL_LOG_INFO : CL_LOG_DEBUG, "nodes", "heartbeat",
               "device=%s state=%s uptime=%llu active_tasks=%d", c->device_id,
               cl_node_state_name(node->info.state), (unsigned long long)node->info.uptime,
               node->info.active_tasks);
}

/* A node message from the agent of c->device_id (heartbeat, token, done,
 * status, or an error with a request_id): true if handled here. */
static bool cl__agent_message(void *self, struct cl_conn *c, const struct cl_msg *m)
{
    struct cl_nodes *n = self;
    struct cl__preq *r;
    const struct cl_node_handler *h;
    void *ctx;

    switch (m->type) {
    case CL_MSG_HEARTBEAT:
        cl__heartbeat(n, c, m);
        return true;
    case CL_MSG_TOKEN:
    case CL_MSG_DONE:
    case CL_MSG_STATUS:
        break;
    case CL_MSG_ERROR:
        if (!m->request_id[0])
            return false;
        break;
    default:
        return false;
    }
    r = (struct cl__preq *)cl_pending_find(&n->pending, c->device_id, m->request_id);
    if (!r) {
        cl_debug("nodes", "answer to no pending request (timed out or cancelled)",
                 "device=%s request=%s type=%s", c->device_id, m->request_id,
                 cl_msg_type_name(m->type));
        return true;
    }
    h = r->h;
    ctx = r->ctx;
    switch (m->type) {
    case CL_MSG_TOKEN:
        if (r->type != CL_MSG_PROMPT)
            return true;
        r->base.deadline = uv_now(n->relay->loop) + CL_NODE_IDLE_TIMEOUT_MS;
        if (h->on_token)
            h->on_token(ctx, m->text ? m->text : "", m->text_len);
        break;
    case CL_MSG_DONE: {
        json_t *result = m->json ? json_loads(m->json, 0, NULL) : NULL;
        cl__req_remove(n, r);
        if (h->on_done)
            h->on_done(ctx, result);
        json_decref(result);
        break;
    }
    case CL_MSG_STATUS:
        if (!m->has_health)
            return true;
        {
            struct cl__node *node;
            struct cl_msg st = *m; /* read only: shares m's buffers */
            HASH_FIND_STR(n->nodes, c->device_id, node);
            if (node)
                cl__health_from(&node->info, m, node->skill);
            if (c->skill && !st.caps)
                st.caps = CL_CAP_SKILL;
            cl__req_remove(n, r);
            if (h->on_status)
                h->on_status(ctx, &st);
        }
        break;
    default: /* error */
        cl_info("nodes", "request refused by the node", "device=%s request=%s code=%s",
                c->device_id, m->request_id, m->code);
        cl__req_fail(n, r, cl__status_for(m->code), m->code[0] ? m->code : "node_error",
                     m->message[0] ? m->message : "the node reported an error");
        break;
    }
    return true;
}

/* The agent of device_id disconnected: its pending requests fail (502)
 * and its health is forgotten. */
static void cl__agent_gone(void *ctx, const char *device_id)
{
    struct cl_nodes *n = ctx;
    struct cl__node *node;
    struct cl_pending_req *r;

    HASH_FIND_STR(n->nodes, device_id, node);
    if (node) {
        HASH_DEL(n->nodes, node);
        free(node);
    }
    while ((r = cl_pending_first_of(&n->pending, device_id)))
        cl__req_fail(n, (struct cl__preq *)r, 502, "device_offline",
                     "the device disconnected before it answered");
}

bool cl_nodes_get(struct cl_nodes *n, const char *device_id, struct cl_node_info *out)
{
    struct cl__node *node;
    HASH_FIND_STR(n->nodes, device_id, node);
    if (!node)
        return false;
    if (out)
        *out = node->info;
    return true;
}

int cl_nodes_request(struct cl_nodes *n, const char *device_id, struct cl_msg *req,
                     const struct cl_node_handler *h, void *ctx, uint64_t *handle,
                     const char **code, char *message, size_t msglen)
{
    struct cl_router *rt = &n->relay->router;
    struct cl_router_agent agent;
    struct cl__node *node;
    struct cl__preq *r;
    size_t len = 0;
    char *text;

    if (!rt->ops->agent_find(rt, device_id, &agent)) {
        *code = "device_offline";
        snprintf(message, msglen, "the device is offline (no agent connected)");
        return 409;
    }
    HASH_FIND_STR(n->nodes, device_id, node);
    if (!node) {
        *code = "not_a_node";
        snprintf(message, msglen,
                 "the device's agent has not announced an OpenClaw gateway (no heartbeat)");
        return 409;
    }
    if (req->type == CL_MSG_WORKFLOWS && agent.skill) {
        *code = "not_supported";
        snprintf(message, msglen,
                 "this node is a PrivaClaw skill, which cannot list its workflows; run one by "
                 "name (POST .../workflows/NAME)");
        return 501;
    }
    if (req->type != CL_MSG_STATUS && node->info.state != CL_NODE_ONLINE) {
        *code = "node_offline";
        snprintf(message, msglen, "the device's OpenClaw gateway is %s%s%s",
                 cl_node_state_name(node->info.state), node->info.has_last_error ? ": " : "",
                 node->info.has_last_error ? node->info.last_error : "");
        return 409;
    }
    if (cl_pending_count(&n->pending, device_id) >= CL_NODE_MAX_PENDING) {
        *code = "busy";
        snprintf(message, msglen, "%d requests to this node are already waiting",
                 CL_NODE_MAX_PENDING);
        return 429;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        abort();
    cl_pending_prepare(&n->pending, &r->base, device_id,
                       req->type == CL_MSG_PROMPT ? CL_NODE_PROMPT_TIMEOUT_MS
                                                  : CL_NODE_IDLE_TIMEOUT_MS);
    r->type = req->type;
    r->h = h;
    r->ctx = ctx;
    snprintf(req->request_id, sizeof req->request_id, "%s", r->base.request_id);
    text = agent.skill ? cl_msg_encode_skill(req, &len) : cl_msg_encode(req, &len);
    if (!text || rt->ops->agent_send(rt, device_id, text, len) != 0) {
        free(text);
        free(r);
        *code = "device_offline";
        snprintf(message, msglen, "the device's agent cannot take the request");
        return 409;
    }
    free(text);
    cl_pending_link(&n->pending, &r->base);
    *handle = r->base.handle;
    cl_info("nodes", "request", "device=%s request=%s type=%s", device_id, r->base.request_id,
            cl_msg_type_name(r->type));
    return 0;
}

void cl_nodes_cancel(struct cl_nodes *n, uint64_t handle)
{
    struct cl__preq *r = (struct cl__preq *)cl_pending_by_handle(&n->pending, handle);
    if (r)
        cl__req_remove(n, r);
}
