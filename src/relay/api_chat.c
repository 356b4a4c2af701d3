/*
 * api_chat: the agent's chat API through the relay,
 * /api/v1/devices/:id/chat/... (docs/chat.md, "The chat API").
 *
 * Every route checks the policy (chat.use: whoever may start a terminal
 * session on the device, policy.c) and forwards the request to the
 * device's agent as a chat_request (chat.c): the method, the path below
 * /chat, the query string, the user {id, display name}, and the JSON body
 * (at most CL_HTTP_MAX_BODY, 413 above it, like every API body). The
 * agent's chat_response becomes the HTTP response (its status, its JSON
 * body; none with 204); chat_events become server-sent events (200
 * text/event-stream, `event: NAME` and one `data:` line), and the
 * chat_response that ends them a last event `done` (status below 400) or
 * `error` (its body).
 *
 * The relay reads nothing of the conversation and keeps nothing of it:
 * the log line of a request says method, route pattern, device, user and
 * status, never its path's values beyond ids, its query, body or events.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/urlq.h"
#include "relay/chat.h"
#include "relay/http.h"
#include "relay/hub.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One API call waiting on the agent. Freed when the request ends, or when
 * the connection goes first (then the request is cancelled). */
struct cl__ccall {
    struct cl_conn *conn;
    struct cl_relay *relay;
    uint64_t handle;
    bool streaming; /* the event stream has begun */
    const char *route;
    char method[8];
    char device_id[CL_UUID_LEN + 1];
    char user_id[CL_UUID_LEN + 1];
};

static void cl__log_end(const struct cl__ccall *call, int status, const char *how)
{
    cl_info("api", "chat request", "device=%s user=%s method=%s route=%s status=%d%s%s",
            call->device_id, call->user_id, call->method, call->route, status, how ? " end=" : "",
            how ? how : "");
}

static void cl__gone(void *arg)
{
    struct cl__ccall *call = arg;
    cl__log_end(call, call->streaming ? 200 : 499, "caller_left");
    cl_chat_cancel(call->relay->chat, call->handle);
    free(call);
}

/* The request has ended: the call no longer waits on the connection. */
static void cl__finish(struct cl__ccall *call)
{
    cl_http_on_gone(call->conn, NULL, NULL);
    free(call);
}

/* Queues one server-sent event: `event: NAME` and one data line (json is
 * one line: the agent's compact JSON). CL_ELIMIT when the caller has
 * CL_HTTP_STREAM_MAX bytes unread: http.c has ended the stream. */
static int cl__sse(struct cl__ccall *call, const char *event, const char *json, size_t len)
{
    size_t elen = strlen(event), n = 7 + elen + 7 + len + 2;
    char *buf;
    int rc;

    if (!json || !len) {
        json = "{}";
        len = 2;
        n = 7 + elen + 7 + len + 2;
    }
    if (!call->streaming) {
        cl_http_stream_begin(call->conn, 200, "text/event-stream");
        call->streaming = true;
    }
    buf = malloc(n);
    if (!buf)
        abort();
    memcpy(buf, "event: ", 7);
    memcpy(buf + 7, event, elen);
    memcpy(buf + 7 + elen, "\ndata: ", 7);
    memcpy(buf + 14 + elen, json, len);
    memcpy(buf + 14 + elen + len, "\n\n", 2);
    rc = cl_http_stream_write(call->conn, buf, n); /* whole, or not at all */
    free(buf);
    return rc;
}

static int cl__on_event(void *ctx, const char *event, const char *json, size_t len)
{
    struct cl__ccall *call = ctx;
    if (event && cl__sse(call, event, json, len) == 0)
        return 0;
    /* the caller does not read: CL_HTTP_STREAM_MAX bytes wait for it. The
     * stream is cut now (what is queued is dropped with the connection),
     * and chat.c tells the agent to stop. */
    cl_warn("api", "chat stream cut: the caller does not read", "device=%s user=%s route=%s",
            call->device_id, call->user_id, call->route);
    lws_set_timeout(call->conn->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
    cl__log_end(call, 200, "slow_reader");
    cl__finish(call);
    return -1;
}

/* A stream quiet for CL_CHAT_RELAY_KEEPALIVE_MS: an SSE comment line,
 * which EventSource ignores. lws does not read a connection while its
 * reply is going (a caller that left is seen only when a write fails), and
 * proxies cut a silent response: this write finds the one and keeps the
 * other. */
static int cl__on_keepalive(void *ctx)
{
    struct cl__ccall *call = ctx;
    if (cl_http_stream_write(call->conn, ":\n\n", 3) == 0)
        return 0;
    return cl__on_event(ctx, NULL, NULL, 0);
}

static void cl__on_response(void *ctx, int status, const char *json, size_t len)
{
    struct cl__ccall *call = ctx;
    if (call->streaming) {
        cl__sse(call, status < 400 ? "done" : "error", json, len);
        cl_http_stream_end(call->conn);
    } else if (status < 200) {
        /* an informational status cannot end an HTTP exchange */
        cl_http_reply_error(call->conn, 502, "bad_answer",
                            "the device's agent answered with status %d", status);
        status = 502;
    } else if (status == 204 || status == 304 || !json || !len) {
        cl_http_reply_empty(call->conn, status);
    } else {
        struct cl_http_body b = {
            .status = status, .content_type = "application/json", .data = json, .len = len};
        cl_http_reply_body(call->conn, &b);
    }
    cl__log_end(call, status, call->streaming ? "stream" : NULL);
    cl__finish(call);
}

static void cl__on_error(void *ctx, int status, const char *code, const char *message)
{
    struct cl__ccall *call = ctx;
    if (call->streaming) {
        json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
        size_t len = 0;
        char *text = cl_json_dump(e, &len);
        json_decref(e);
        if (!text)
            abort();
        cl__sse(call, "error", text, len);
        free(text);
        cl_http_stream_end(call->conn);
    } else {
        if (status == 429)
            cl_http_set_retry_after(call->conn, 1);
        cl_http_reply_error(call->conn, status, code, "%s", message);
    }
    cl__log_end(call, status, code);
    cl__finish(call);
}

static const struct cl_chat_handler cl__handler = {cl__on_event, cl__on_keepalive, cl__on_response,
                                                   cl__on_error};

/* The request's query string for the agent, rebuilt from lws's parts
 * (core/urlq.h). 0, or CL_ELIMIT over CL_CHAT_QSTR_MAX bytes. */
static int cl__query(struct lws *wsi, char *out, size_t cap)
{
    char frag[4096];
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0;; i++) {
        int len = lws_hdr_copy_fragment(wsi, frag, (int)sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len < 0) {
            if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0)
                return CL_ELIMIT; /* a part longer than frag */
            return 0;
        }
        if (cl_urlq_add(out, cap, &n, frag, (size_t)len))
            return CL_ELIMIT;
    }
}

/* A path the chat_request can carry: printable ASCII, no spaces. */
static bool cl__urlish(const char *s)
{
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f)
            return false;
    return true;
}

/* Every chat route: the policy, then the request to the agent. */
static void cl__forward(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    char query[CL_CHAT_QSTR_MAX + 1], msg[300], *body = NULL;
    const char *path, *code = "";
    struct cl_device d;
    struct cl_user u;
    struct cl__ccall *call;
    struct cl_msg m;
    size_t plen;
    int rc = cl_policy_device(s, req->user_id, CL_ACT_CHAT, req->params[0], &d);

    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (req->conn->http.method == CL_HTTP_HEAD) {
        /* the dispatcher runs GET routes for HEAD; an answer that turns
         * into a stream has no headers-only form. What GET would refuse
         * before asking the agent, HEAD refuses alike. */
        rc = cl_chat_reachable(req->relay->chat, d.id, &code, msg, sizeof msg);
        if (rc) {
            cl_http_reply_error(req->conn, rc, code, "%s", msg);
            return;
        }
        cl_http_reply_error(req->conn, 405, "method_not_allowed",
                            "HEAD is not served on the chat API; use GET");
        return;
    }
    /* the path below /chat, as the route matched it */
    plen = strlen("/api/v1/devices/") + strlen(req->params[0]) + strlen("/chat");
    path = strlen(req->path) > plen ? req->path + plen : "";
    if (path[0] != '/' || strlen(path) > CL_CHAT_PATH_MAX || !cl__urlish(path)) {
        cl_http_reply_error(req->conn, 400, "bad_request",
                            "the chat path must be printable ASCII without spaces");
        return;
    }
    if (cl__query(req->conn->wsi, query, sizeof query)) {
        cl_http_reply_error(req->conn, 400, "bad_request",
                            "the query string is longer than %d bytes", CL_CHAT_QSTR_MAX);
        return;
    }
    memset(&m, 0, sizeof m);
    snprintf(m.method, sizeof m.method, "%s", cl_http_method_name(req->method));
    m.path = (char *)path; /* borrowed: m is never cleared */
    m.query = query[0] ? query : NULL;
    snprintf(m.user_id, sizeof m.user_id, "%s", req->user_id);
    rc = s->ops->user_by_id(s, req->user_id, &u);
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    if (rc == 0 && cl_proto_label_valid(u.display_name))
        snprintf(m.user_name, sizeof m.user_name, "%s", u.display_name);
    if (req->body) {
        body = cl_json_dump(req->body, NULL);
        if (!body)
            abort();
        m.json = body;
    }
    call = calloc(1, sizeof *call);
    if (!call)
        abort();
    call->conn = req->conn;
    call->relay = req->relay;
    call->route = req->conn->http.route;
    snprintf(call->method, sizeof call->method, "%s", m.method);
    snprintf(call->device_id, sizeof call->device_id, "%s", d.id);
    snprintf(call->user_id, sizeof call->user_id, "%s", req->user_id);
    rc = cl_chat_request(req->relay->chat, d.id, &m, &cl__handler, call, &call->handle, &code, msg,
                         sizeof msg);
    free(body);
    if (rc) {
        if (rc == 429)
            cl_http_set_retry_after(req->conn, 1);
        cl_http_reply_error(req->conn, rc, code, "%s", msg);
        cl__log_end(call, rc, code);
        free(call);
        return;
    }
    cl_http_on_gone(req->conn, cl__gone, call);
    /* chat.c bounds the wait and the silence of a stream; lws must not cut
     * either shorter */
    lws_set_timeout(req->conn->wsi, NO_PENDING_TIMEOUT, 0);
}

/* The chat API's routes (docs/chat.md "Routes"), each listed: the relay
 * serves what the contract names and nothing else. One policy action for
 * all, reads included: reading a device's conversations is no less than
 * taking part in them (policy.c, docs/security.md "Chat"). */
#define CL__CHAT "/api/v1/devices/:id/chat"
const struct cl_route cl_routes_chat[] = {
    {CL_HTTP_GET, CL__CHAT "/workspaces", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_POST, CL__CHAT "/workspaces", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_PATCH, CL__CHAT "/workspaces/:ws", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_DELETE, CL__CHAT "/workspaces/:ws", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/threads", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_POST, CL__CHAT "/threads", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/threads/:thread", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_PATCH, CL__CHAT "/threads/:thread", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_DELETE, CL__CHAT "/threads/:thread", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/threads/:thread/messages", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_POST, CL__CHAT "/threads/:thread/messages", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_POST, CL__CHAT "/threads/:thread/stop", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/search", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/memory", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_POST, CL__CHAT "/memory", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/memory/search", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_DELETE, CL__CHAT "/memory/:note", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/events", CL_ACT_CHAT, cl__forward, 0},
    /* the files (docs/chat.md "Files"): the agent checks the paths and its
     * files capability; the relay carries chunks it never keeps */
    {CL_HTTP_GET, CL__CHAT "/files", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/files/stat", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_GET, CL__CHAT "/files/content", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_PUT, CL__CHAT "/files/content", CL_ACT_CHAT, cl__forward, 0},
    {CL_HTTP_POST, CL__CHAT "/files/mkdir", CL_ACT_CHAT, cl__forward, 0},
    {0, NULL, 0, NULL, 0},
};
