/*
 * hub: agent and browser WebSocket routing, live sessions, per-viewer
 * offsets (lossless resume), flow control and grace periods.
 *
 * This file holds what is neither half's: the hub's life cycle, the send
 * helpers, the decoding of a message from either kind of connection (then
 * handed to its half), and the control-plane calls that span both. The
 * agent's half is hub_agent.c, the viewer's half hub_viewer.c; they talk
 * to each other only through the router (router.h, decision 70).
 */
#include "relay/hub.h"
#include "relay/hub_internal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/proto.h"
#include "relay/relay.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct cl_hub *cl_hub_new(struct cl_relay *r)
{
    struct cl_hub *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    h->relay = r;
    cl_hub_agents_start(h);
    return h;
}

/* ---- sending helpers --------------------------------------------------- */

void cl_hub_send_msg(struct cl_conn *c, const struct cl_msg *m)
{
    size_t len;
    char *text = cl_msg_encode(m, &len);
    if (!text)
        abort();
    cl_conn_send(c, text, len);
    free(text);
}

void cl_hub_send_simple(struct cl_conn *c, enum cl_msg_type type, const char *session_id)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    if (session_id)
        snprintf(m.session_id, sizeof m.session_id, "%s", session_id);
    cl_hub_send_msg(c, &m);
}

/* hello_ok / auth_ok; a peer that asked for a protocol version is told
 * which one it got (silence means v1 to a PrivaClaw peer), and a
 * stdin_window (0: none) is the input window honoured or granted. */
void cl_hub_send_accepted(struct cl_conn *c, enum cl_msg_type type, int asked,
                          uint32_t stdin_window)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.proto = asked ? c->proto : 0;
    m.stdin_window = stdin_window;
    cl_hub_send_msg(c, &m);
}

/* A session_end the relay itself decides (an agent's own is forwarded as
 * it came): no exit code. */
void cl_hub_send_end(struct cl_conn *c, const char *session_id, enum cl_end_reason why)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_SESSION_END;
    snprintf(m.session_id, sizeof m.session_id, "%s", session_id);
    snprintf(m.reason, sizeof m.reason, "%s", cl_end_reason_name(why));
    cl_hub_send_msg(c, &m);
}

void cl_hub_send_offset(struct cl_conn *c, enum cl_msg_type type, const char *session_id,
                        uint64_t offset, int viewers)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    snprintf(m.session_id, sizeof m.session_id, "%s", session_id);
    m.offset = offset;
    m.has_viewers = viewers >= 0;
    m.viewers = viewers;
    cl_hub_send_msg(c, &m);
}

/* ---- entry points ----------------------------------------------------- */

static void cl__on_open(struct cl_conn *c)
{
    cl_debug("hub", "websocket open", "kind=%s peer=%s",
             c->kind == CL_CONN_AGENT ? "agent" : "browser", c->peer);
}

static void cl__on_message(struct cl_conn *c, const char *data, size_t len, bool binary,
                           struct cl_frame **owned)
{
    struct cl_hub *h = c->relay->hub;
    struct cl_msg m;
    char err[200];
    int rc;

    if (c->close_pending)
        return;
    if (binary && c->proto < 2) {
        cl_conn_log_bad(c, "hub", "bad_message", "a binary frame without protocol v2");
        cl_conn_send_error(
            c, "bad_message",
            "binary frames need protocol v2 (ask with \"proto\": 2 in hello or auth)", NULL);
        return;
    }
    if (binary)
        rc = cl_bin_decode((const uint8_t *)data, len, &m, err, sizeof err);
    else if (c->kind == CL_CONN_AGENT && c->authed && cl_msg_peek_stdout(data, len, &m) == 0)
        rc = 0; /* a v1 agent's output: read without JSON, decoded only if needed */
    else if (c->kind == CL_CONN_BROWSER && c->authed && cl_msg_peek_stdin(data, len, &m) == 0)
        rc = 0; /* a v1 browser's typing: read without JSON */
    else
        rc = cl_msg_decode(data, len, &m, err, sizeof err);
    if (rc) {
        const char *code = "bad_message";
        if (rc == CL_EPROTO)
            code = "unknown_type";
        else if (strncmp(err, "malformed JSON", 14) == 0 ||
                 strncmp(err, "expected a JSON object", 22) == 0)
            code = "bad_json";
        cl_conn_log_bad(c, "hub", code, err);
        if (!c->authed) {
            char why[300];
            snprintf(why, sizeof why, "%s refused: %s", c->kind == CL_CONN_AGENT ? "hello" : "auth",
                     err);
            cl_conn_send_error(c, code, why, NULL);
            /* a hello (auth) the relay cannot read: refused, never left
             * open unauthenticated */
            cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                          c->kind == CL_CONN_AGENT ? "bad hello" : "bad auth");
        } else {
            cl_conn_send_error(c, code, err, NULL);
        }
        cl_msg_clear(&m);
        return;
    }
    if (!c->authed) {
        enum cl_msg_type want = c->kind == CL_CONN_AGENT ? CL_MSG_HELLO : CL_MSG_AUTH;
        if (m.type != want) {
            cl_conn_log_bad(c, "hub", "not_authenticated",
                            c->kind == CL_CONN_AGENT ? "a message before hello"
                                                     : "a message before auth");
            cl_conn_send_error(c, "not_authenticated",
                               c->kind == CL_CONN_AGENT ? "send hello first" : "send auth first",
                               NULL);
            cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "not authenticated");
        } else if (c->kind == CL_CONN_AGENT) {
            cl_hub_agent_hello(h, c, &m);
        } else {
            cl_hub_browser_auth(h, c, &m);
        }
    } else if (c->kind == CL_CONN_AGENT) {
        if (m.type == CL_MSG_HELLO)
            cl_conn_send_error(c, "bad_message", "already authenticated", NULL);
        else
            cl_hub_agent_message(h, c, &m, data, len, binary, owned);
    } else {
        if (m.type == CL_MSG_AUTH)
            cl_conn_send_error(c, "bad_message", "already authenticated", NULL);
        else
            cl_hub_browser_message(h, c, &m, data, len, binary);
    }
    cl_msg_clear(&m);
}

static void cl__on_close(struct cl_conn *c)
{
    struct cl_hub *h = c->relay->hub;
    if (c->kind == CL_CONN_AGENT)
        cl_hub_agent_closed(h, c);
    else if (c->kind == CL_CONN_BROWSER)
        cl_hub_viewer_closed(h, c);
    c->authed = false;
}

const struct cl_conn_ops cl_hub_agent_ops = {
    .kind = CL_CONN_AGENT,
    .max_message = CL_WS_MAX_MESSAGE,
    .direct_write = true,
    .on_open = cl__on_open,
    .on_rx = cl_hub_agent_rx,
    .on_message = cl__on_message,
    .on_close = cl__on_close,
};

const struct cl_conn_ops cl_hub_viewer_ops = {
    .kind = CL_CONN_BROWSER,
    .max_message = CL_WS_MAX_MESSAGE,
    .direct_write = true,
    .cookie_auth = true,
    .on_open = cl__on_open,
    .on_message = cl__on_message,
    .on_written = cl_hub_viewer_written,
    .on_close = cl__on_close,
};

void cl_hub_device_removed(struct cl_hub *h, const char *device_id, enum cl_end_reason why)
{
    cl_hub_agent_device_removed(h, device_id, why);
}

bool cl_hub_session_live(struct cl_hub *h, const char *session_id, char *title, size_t cap,
                         size_t *viewers)
{
    struct cl_agent_session *as = cl_hub_agent_session(h, session_id);
    struct cl_viewer_session *vs;
    if (!as)
        return false;
    if (title && cap)
        snprintf(title, cap, "%s", as->title);
    if (viewers) {
        vs = cl_hub_viewer_session(h, session_id);
        *viewers = vs ? vs->nviewers : 0;
    }
    return true;
}

void cl_hub_session_opened(struct cl_hub *h, const struct cl_session *s)
{
    cl_hub_agent_session_opened(h, s);
}

void cl_hub_session_end(struct cl_hub *h, const char *session_id, enum cl_end_reason why)
{
    cl_hub_agent_session_end(h, session_id, why);
}

void cl_hub_shutdown(struct cl_hub *h)
{
    struct cl_conn *a, *tmp;
    struct cl_viewer_session *ls, *ltmp;
    HASH_ITER(hh, h->agents, a, tmp)
    {
        cl_hub_send_simple(a, CL_MSG_RESTARTING, NULL);
        cl_conn_close(a, LWS_CLOSE_STATUS_GOINGAWAY, "relay restarting");
    }
    HASH_ITER(hh, h->watched, ls, ltmp)
    {
        for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next) {
            cl_hub_send_simple(v, CL_MSG_RESTARTING, NULL);
            cl_conn_close(v, LWS_CLOSE_STATUS_GOINGAWAY, "relay restarting");
        }
    }
}

void cl_hub_free(struct cl_hub *h)
{
    if (!h)
        return;
    cl_hub_viewers_free(h);
    cl_hub_agents_free(h);
    free(h);
}

void cl_hub_stats(const struct cl_hub *h, struct cl_hub_stats *out)
{
    const struct cl_agent_session *as, *atmp;
    const struct cl_viewer_session *vs, *vtmp;
    out->agents = HASH_COUNT(h->agents);
    out->sessions = HASH_COUNT(h->sessions);
    out->browsers = h->browsers;
    out->viewers = out->sessions_started = 0;
    HASH_ITER(hh, h->sessions, as, atmp)
    out->sessions_started += as->started;
    HASH_ITER(hh, h->watched, vs, vtmp)
    out->viewers += vs->nviewers;
}
