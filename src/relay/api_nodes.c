/*
 * api_nodes: a device's OpenClaw node through the HTTP API
 * (/api/v1/devices/:id/{prompt,status,restart,workflows[/:name]}).
 *
 * Each route checks the policy (members prompt, read status and run
 * workflows; owners restart), hands the request to nodes.c and answers when
 * the node does: the prompt as server-sent events (event: token, then done
 * or error), the others as JSON. A request the relay can refuse at once
 * (device offline, not a node, gateway not online) gets 409 JSON; one the
 * agent refuses before any token (capability not declared: 403) gets JSON
 * with the status that fits; every request ends within the node timeouts.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "relay/http.h"
#include "relay/router.h"
#include "relay/nodes.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One API call waiting on a node. Freed when the node answers, or when
 * the connection goes first (then the node request is cancelled). */
struct cl__call {
    struct cl_conn *conn;
    struct cl_relay *relay;
    uint64_t handle;
    enum cl_msg_type type;
    bool streaming; /* prompt: the event stream has begun */
    char device_id[CL_UUID_LEN + 1];
};

static void cl__gone(void *arg)
{
    struct cl__call *call = arg;
    cl_debug("api", "node request abandoned by its caller", "device=%s type=%s", call->device_id,
             cl_msg_type_name(call->type));
    cl_nodes_cancel(call->relay->nodes, call->handle);
    free(call);
}

/* The node has answered: the call no longer waits on the connection. */
static void cl__finish(struct cl__call *call)
{
    cl_http_on_gone(call->conn, NULL, NULL);
    free(call);
}

/* Writes one server-sent event: `event: NAME` and one JSON data line. */
static void cl__sse(struct cl__call *call, const char *event, json_t *data)
{
    size_t len = 0;
    char *json = cl_json_dump(data, &len);
    json_decref(data);
    if (!json)
        abort();
    if (!call->streaming) {
        cl_http_stream_begin(call->conn, 200, "text/event-stream");
        call->streaming = true;
    }
    cl_http_stream_write(call->conn, "event: ", 7);
    cl_http_stream_write(call->conn, event, strlen(event));
    cl_http_stream_write(call->conn, "\ndata: ", 7);
    cl_http_stream_write(call->conn, json, len);
    cl_http_stream_write(call->conn, "\n\n", 2);
    free(json);
}

static void cl__on_token(void *ctx, const char *content, size_t len)
{
    struct cl__call *call = ctx;
    cl__sse(call, "token", json_pack("{s:s%}", "content", content, len));
}

static void cl__on_done(void *ctx, json_t *result)
{
    struct cl__call *call = ctx;
    if (call->type == CL_MSG_PROMPT) {
        cl__sse(call, "done", json_object());
        cl_http_stream_end(call->conn);
    } else if (call->type == CL_MSG_RESTART) {
        json_t *body = result ? json_deep_copy(result) : json_object();
        json_object_set_new(body, "ok", json_true());
        cl_http_reply_json(call->conn, 200, body);
    } else {
        cl_http_reply_json(call->conn, 200, result ? json_deep_copy(result) : json_object());
    }
    cl__finish(call);
}

static json_t *cl__health_json(const struct cl_msg *m)
{
    json_t *caps = json_array();
    for (unsigned bit = 1; bit & CL_CAP__ALL; bit <<= 1)
        if (m->caps & bit)
            json_array_append_new(caps, json_string(cl_cap_name(bit)));
    json_t *o =
        json_pack("{s:s, s:I, s:i, s:s, s:o}", "node_id", m->device_id, "uptime",
                  (json_int_t)m->uptime, "active_tasks", m->active_tasks, "connection_state",
                  cl_node_state_name(m->node_state), "capabilities", caps);
    json_object_set_new(o, "last_error",
                        m->has_last_error ? json_string(m->last_error) : json_null());
    return o;
}

static void cl__on_status(void *ctx, const struct cl_msg *m)
{
    struct cl__call *call = ctx;
    struct cl_router *rt = &call->relay->router;
    struct cl_router_agent agent;
    bool found = rt->ops->agent_find(rt, call->device_id, &agent);
    json_t *st = cl__health_json(m);
    /* a PrivaClaw skill has no workflow list: say so, so nobody asks */
    json_object_set_new(st, "workflow_list", json_boolean(!(found && agent.skill)));
    cl_http_reply_json(call->conn, 200, json_pack("{s:o}", "status", st));
    cl__finish(call);
}

static void cl__on_error(void *ctx, int status, const char *code, const char *message)
{
    struct cl__call *call = ctx;
    if (call->streaming) {
        cl__sse(call, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
        cl_http_stream_end(call->conn);
    } else {
        cl_http_reply_error(call->conn, status, code, "%s", message);
    }
    cl__finish(call);
}

static const struct cl_node_handler cl__handler = {cl__on_token, cl__on_done, cl__on_status,
                                                   cl__on_error};

/* Checks the policy for act on the device and sends m to its node; the
 * answer comes through cl__handler. */
static void cl__call(struct cl_http_req *req, enum cl_action act, struct cl_msg *m)
{
    struct cl_device d;
    struct cl__call *call;
    const char *code = "";
    char msg[300];
    int rc = cl_policy_device(&req->relay->store, req->user_id, act, req->params[0], &d);

    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    call = calloc(1, sizeof *call);
    if (!call)
        abort();
    call->conn = req->conn;
    call->relay = req->relay;
    call->type = m->type;
    snprintf(call->device_id, sizeof call->device_id, "%s", d.id);
    rc = cl_nodes_request(req->relay->nodes, d.id, m, &cl__handler, call, &call->handle, &code, msg,
                          sizeof msg);
    if (rc) {
        free(call);
        cl_http_reply_error(req->conn, rc, code, "%s", msg);
        return;
    }
    cl_info("api", "node request", "device=%s type=%s user=%s", d.id, cl_msg_type_name(m->type),
            req->user_id);
    cl_http_on_gone(req->conn, cl__gone, call);
    /* nodes.c bounds the wait; lws must not cut it shorter */
    lws_set_timeout(req->conn->wsi, NO_PENDING_TIMEOUT, 0);
}

/* A printable UTF-8 string of 1..max bytes with no control characters. */
static bool cl__clean(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static void cl__prompt(struct cl_http_req *req)
{
    const char *prompt = NULL, *key = NULL;
    char why[160];
    struct cl_msg m;
    int rc = cl_json_str(req->body, "body", "prompt", true, CL_NODE_PROMPT_MAX, &prompt, why,
                         sizeof why);
    if (!rc)
        rc = cl_json_str(req->body, "body", "session_key", false, CL_NODE_KEY_MAX, &key, why,
                         sizeof why);
    if (!rc && key && !cl__clean(key, CL_NODE_KEY_MAX))
        rc = cl_seterr(why, sizeof why, CL_EINVAL, "session_key has control characters");
    if (rc) {
        cl_http_reply_error(req->conn, 400, "bad_request", "%s", why);
        return;
    }
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_PROMPT;
    m.text = (char *)prompt; /* borrowed: not cleared */
    m.text_len = strlen(prompt);
    if (key)
        snprintf(m.key, sizeof m.key, "%s", key);
    cl__call(req, CL_ACT_NODE_PROMPT, &m);
}

static void cl__status(struct cl_http_req *req)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_STATUS;
    cl__call(req, CL_ACT_NODE_STATUS, &m);
}

static void cl__restart(struct cl_http_req *req)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_RESTART;
    cl__call(req, CL_ACT_NODE_RESTART, &m);
}

static void cl__workflows(struct cl_http_req *req)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_WORKFLOWS;
    cl__call(req, CL_ACT_NODE_WORKFLOW, &m);
}

static void cl__workflow_run(struct cl_http_req *req)
{
    json_t *params = json_object_get(req->body, "params");
    struct cl_msg m;

    if (!cl__clean(req->params[1], CL_NODE_KEY_MAX)) {
        cl_http_reply_error(req->conn, 400, "bad_request", "workflow name must be 1-%d bytes",
                            CL_NODE_KEY_MAX);
        return;
    }
    if (params && !json_is_null(params) && !json_is_object(params)) {
        cl_http_reply_error(req->conn, 400, "bad_request", "params must be an object");
        return;
    }
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_WORKFLOW;
    snprintf(m.key, sizeof m.key, "%s", req->params[1]);
    if (json_is_object(params))
        m.json = cl_json_dump(params, NULL);
    cl__call(req, CL_ACT_NODE_WORKFLOW, &m);
    free(m.json);
}

/* Policy actions:
 *   POST /api/v1/devices/:id/prompt            node.prompt   (member)
 *   GET  /api/v1/devices/:id/status            node.status   (member)
 *   POST /api/v1/devices/:id/restart           node.restart  (owner)
 *   GET  /api/v1/devices/:id/workflows         node.workflow (member)
 *   POST /api/v1/devices/:id/workflows/:name   node.workflow (member) */
const struct cl_route cl_routes_nodes[] = {
    {CL_HTTP_POST, "/api/v1/devices/:id/prompt", CL_ACT_NODE_PROMPT, cl__prompt, 0},
    {CL_HTTP_GET, "/api/v1/devices/:id/status", CL_ACT_NODE_STATUS, cl__status, 0},
    {CL_HTTP_POST, "/api/v1/devices/:id/restart", CL_ACT_NODE_RESTART, cl__restart, 0},
    {CL_HTTP_GET, "/api/v1/devices/:id/workflows", CL_ACT_NODE_WORKFLOW, cl__workflows, 0},
    {CL_HTTP_POST, "/api/v1/devices/:id/workflows/:name", CL_ACT_NODE_WORKFLOW, cl__workflow_run,
     0},
    {0, NULL, 0, NULL, 0},
};
