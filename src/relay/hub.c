/*
 * hub: agent and browser WebSocket routing, live sessions, per-viewer
 * offsets (lossless resume), flow control and grace periods.
 *
 * This file holds what both halves share: the hub's life cycle, the table
 * of live sessions, the send helpers and the decoding of a message from
 * either kind of connection. The agent's half is hub_agent.c, the
 * viewer's half hub_viewer.c (hub_internal.h: their shared state).
 *
 * Per viewer the hub keeps `sent`, the stream offset of the next byte it
 * should get: a stdout chunk is forwarded only past it, cut where it
 * overlaps, and preceded by a gap notice where bytes are missing. Replays
 * from the agent's ring are therefore safe to broadcast: viewers that
 * already have the bytes skip them. See docs/protocol.md, "Lossless resume
 * and flow control".
 */
#include "relay/hub.h"
#include "relay/hub_internal.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proto.h"
#include "core/secret.h"
#include "core/sockinfo.h"
#include "relay/admission.h"
#include "relay/events.h"
#include "relay/inq.h"
#include "relay/metrics.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

static void cl__grace_at_start(const struct cl_session *sess, void *ctx)
{
    cl_hub_grace_start(ctx, sess->device_id); /* once per device: it skips a running one */
}

struct cl_hub *cl_hub_new(struct cl_relay *r)
{
    struct cl_hub *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    h->relay = r;
    /* After a restart every device with sessions the store holds as active
     * gets the grace a disconnect would give it: its hello cancels it, and
     * if it leaves again a fresh grace starts from then (one timer per
     * device, never one for the whole relay that would end the sessions
     * of a device that came back and was merely between two connections
     * when it fired). */
    r->store.ops->session_list_active(&r->store, NULL, cl__grace_at_start, h);
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

/* ---- live sessions ---------------------------------------------------- */

static void cl__free_live(uv_handle_t *t)
{
    struct cl_live_session *ls = t->data;
    if (--ls->open_handles == 0)
        free(ls);
}

void cl_hub_live_remove(struct cl_hub *h, struct cl_live_session *ls)
{
    if (ls->title_dirty)
        cl_hub_title_store(h, ls);
    cl_inq_clear(&ls->inq);
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        v->live = NULL;
    ls->viewers = NULL;
    HASH_DEL(h->sessions, ls);
    uv_timer_stop(&ls->idle);
    uv_close((uv_handle_t *)&ls->idle, cl__free_live);
    uv_timer_stop(&ls->ghost_timer);
    uv_close((uv_handle_t *)&ls->ghost_timer, cl__free_live);
    uv_timer_stop(&ls->ack_timer);
    uv_close((uv_handle_t *)&ls->ack_timer, cl__free_live);
}

/* Ends a live session everywhere: store, viewers, agent (if told). */
void cl_hub_live_end(struct cl_hub *h, struct cl_live_session *ls, enum cl_end_reason why,
                     bool tell_agent)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_store *s = &h->relay->store;
    struct cl_conn *agent = tell_agent ? cl_hub_agent_find(h, ls->device_id) : NULL;
    s->ops->session_end(s, ls->id, cl_now(), reason, false, 0);
    if (agent)
        cl_hub_send_end(agent, ls->id, why);
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        cl_hub_send_end(v, ls->id, why);
    cl_info("hub", "session ended", "session=%s reason=%s", ls->id, reason);
    cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
    cl_hub_live_remove(h, ls);
}

void cl_hub_idle_fired(uv_timer_t *t)
{
    struct cl_live_session *ls = t->data;
    struct cl_hub *h = ls->hub;
    struct cl_conn *agent = cl_hub_agent_find(h, ls->device_id);
    if (agent && agent->ext)
        return; /* a clawlink agent runs its own --idle-grace */
    cl_info("hub", "session idle: ending", "session=%s", ls->id);
    cl_hub_live_end(h, ls, CL_END_IDLE, true);
}

struct cl_live_session *cl_hub_live_add(struct cl_hub *h, const char *id, const char *device_id)
{
    struct cl_live_session *ls = calloc(1, sizeof *ls);
    if (!ls)
        abort();
    snprintf(ls->id, sizeof ls->id, "%s", id);
    snprintf(ls->device_id, sizeof ls->device_id, "%s", device_id);
    ls->hub = h;
    ls->viewers_sent = -1;
    uv_timer_init(h->relay->loop, &ls->idle);
    ls->idle.data = ls;
    uv_timer_init(h->relay->loop, &ls->ghost_timer);
    ls->ghost_timer.data = ls;
    uv_timer_init(h->relay->loop, &ls->ack_timer);
    ls->ack_timer.data = ls;
    ls->open_handles = 3;
    uv_timer_start(&ls->idle, cl_hub_idle_fired, (uint64_t)CL_SESSION_IDLE_GRACE_S * 1000, 0);
    HASH_ADD_STR(h->sessions, id, ls);
    return ls;
}

struct cl_live_session *cl_hub_live_find(struct cl_hub *h, const char *id)
{
    struct cl_live_session *ls;
    HASH_FIND_STR(h->sessions, id, ls);
    return ls;
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
    struct cl_store *s = &h->relay->store;
    if (c->kind == CL_CONN_AGENT && c->authed && cl_hub_agent_find(h, c->device_id) == c) {
        struct cl_router *rt = &h->relay->router;
        struct cl_live_session *ls, *tmp;
        HASH_DEL(h->agents, c);
        s->ops->device_set_online(s, c->device_id, false, cl_now());
        cl_hub_takers_gone(h, c->device_id);
        cl_info("hub", "agent offline", "device=%s", c->device_id);
        cl_events_device_status(h->relay->events, c->project_id, c->device_id, false);
        if (!h->relay->stopping)
            cl_hub_grace_start(h, c->device_id);
        HASH_ITER(hh, h->sessions, ls, tmp)
        {
            if (strcmp(ls->device_id, c->device_id) != 0)
                continue;
            ls->viewers_sent = -1;
            rt->ops->session_notice(rt, ls->id, "device_offline",
                                    "the agent disconnected; the session resumes when it returns");
        }
    } else if (c->kind == CL_CONN_BROWSER && c->authed) {
        h->browsers--;
        cl_hub_viewer_detach(h, c);
    }
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
    const char *reason = cl_end_reason_name(why);
    struct cl_live_session *ls, *tmp;
    struct cl_conn *agent = cl_hub_agent_find(h, device_id);

    HASH_ITER(hh, h->sessions, ls, tmp)
    {
        if (strcmp(ls->device_id, device_id) != 0)
            continue;
        for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
            cl_hub_send_end(v, ls->id, why);
        cl_events_session_ended(h->relay->events, device_id, ls->id, reason); /* re-paired */
        cl_hub_live_remove(h, ls);
    }
    cl_hub_grace_cancel(h, device_id);
    if (agent) {
        HASH_DEL(h->agents, agent);
        agent->authed = false; /* its close changes nothing in the store */
        cl_info("hub", "device removed: closing its agent", "device=%s reason=%s", device_id,
                reason);
        cl_conn_close(agent, 4004, "device removed");
        cl_events_device_status(h->relay->events, NULL, device_id, false); /* re-paired */
    }
}

bool cl_hub_session_live(struct cl_hub *h, const char *session_id, char *title, size_t cap,
                         size_t *viewers)
{
    struct cl_live_session *ls = cl_hub_live_find(h, session_id);
    if (!ls)
        return false;
    if (title && cap)
        snprintf(title, cap, "%s", ls->title);
    if (viewers)
        *viewers = ls->nviewers;
    return true;
}

void cl_hub_session_opened(struct cl_hub *h, const struct cl_session *s)
{
    struct cl_live_session *ls = cl_hub_live_find(h, s->id);
    if (!ls)
        ls = cl_hub_live_add(h, s->id, s->device_id);
    ls->fresh = true;
    cl_events_session_started(h->relay->events, NULL, s);
}

void cl_hub_session_end(struct cl_hub *h, const char *session_id, enum cl_end_reason why)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_live_session *ls = cl_hub_live_find(h, session_id);
    struct cl_conn *agent;
    if (!ls)
        return;
    agent = cl_hub_agent_find(h, ls->device_id);
    if (agent)
        cl_hub_send_end(agent, ls->id, why);
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        cl_hub_send_end(v, ls->id, why);
    cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
    cl_hub_live_remove(h, ls);
}

void cl_hub_shutdown(struct cl_hub *h)
{
    struct cl_conn *a, *tmp;
    struct cl_live_session *ls, *ltmp;
    HASH_ITER(hh, h->agents, a, tmp)
    {
        cl_hub_send_simple(a, CL_MSG_RESTARTING, NULL);
        cl_conn_close(a, LWS_CLOSE_STATUS_GOINGAWAY, "relay restarting");
    }
    HASH_ITER(hh, h->sessions, ls, ltmp)
    {
        for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next) {
            cl_hub_send_simple(v, CL_MSG_RESTARTING, NULL);
            cl_conn_close(v, LWS_CLOSE_STATUS_GOINGAWAY, "relay restarting");
        }
    }
}

void cl_hub_free(struct cl_hub *h)
{
    struct cl_live_session *ls, *tmp;
    struct cl_grace *g, *gtmp;
    if (!h)
        return;
    HASH_ITER(hh, h->sessions, ls, tmp)
    cl_hub_live_remove(h, ls);
    HASH_ITER(hh, h->graces, g, gtmp)
    cl_hub_grace_cancel(h, g->device_id);
    HASH_CLEAR(hh, h->agents);
    free(h);
}

void cl_hub_stats(const struct cl_hub *h, struct cl_hub_stats *out)
{
    const struct cl_live_session *ls, *tmp;
    out->agents = HASH_COUNT(h->agents);
    out->sessions = HASH_COUNT(h->sessions);
    out->browsers = h->browsers;
    out->viewers = out->sessions_started = 0;
    HASH_ITER(hh, h->sessions, ls, tmp)
    {
        out->viewers += ls->nviewers;
        out->sessions_started += ls->started;
    }
}
