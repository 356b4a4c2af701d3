/*
 * hub_agent: the hub's agent half. Agents by device id, their hello and
 * replacement, grace periods, the live sessions (every one has an entry
 * here): each one's produced offset, acks and replay requests to the
 * agent, the agent's stdin window and the session's input queue, titles
 * and the idle backstop. It reaches a session's viewers only through the
 * router (decision 70), and answers the router's entries toward the agent
 * (cl_hub_agent_*, called by router_local.c).
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
#include "relay/relay.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

int cl_hub_take(struct cl_hub *h, const struct cl_agent_taker *t, void *ctx,
                const enum cl_msg_type *types, size_t ntypes)
{
    if (h->ntakers == CL_HUB_AGENT_TAKERS_MAX)
        return CL_ELIMIT;
    for (size_t i = 0; i < ntypes; i++)
        if (types[i] <= CL_MSG_UNKNOWN || types[i] >= CL_MSG__COUNT || h->by_type[types[i]])
            return CL_ESTATE;
    h->takers[h->ntakers].t = t;
    h->takers[h->ntakers].ctx = ctx;
    h->ntakers++;
    for (size_t i = 0; i < ntypes; i++)
        h->by_type[types[i]] = (uint8_t)h->ntakers;
    return 0;
}

/* The link hooks of every taker, in registration order. */
static void cl__takers_hello(struct cl_hub *h, struct cl_conn *c)
{
    for (size_t i = 0; i < h->ntakers; i++)
        if (h->takers[i].t->on_hello)
            h->takers[i].t->on_hello(h->takers[i].ctx, c);
}

static void cl__takers_replaced(struct cl_hub *h, const char *device_id)
{
    for (size_t i = 0; i < h->ntakers; i++)
        if (h->takers[i].t->on_replaced)
            h->takers[i].t->on_replaced(h->takers[i].ctx, device_id);
}

static void cl__takers_gone(struct cl_hub *h, const char *device_id)
{
    for (size_t i = 0; i < h->ntakers; i++)
        if (h->takers[i].t->on_gone)
            h->takers[i].t->on_gone(h->takers[i].ctx, device_id);
}

struct cl_conn *cl_hub_agent_find(struct cl_hub *h, const char *device_id)
{
    struct cl_conn *a;
    HASH_FIND_STR(h->agents, device_id, a);
    return a;
}

/* ---- live sessions: this half's table -------------------------------- */

static void cl__title_store(struct cl_hub *h, struct cl_agent_session *ls);
static void cl__ack_send(struct cl_hub *h, struct cl_agent_session *ls, bool now);
static void cl__grace_start(struct cl_hub *h, const char *device_id);

struct cl_agent_session *cl_hub_agent_session(struct cl_hub *h, const char *id)
{
    struct cl_agent_session *ls;
    HASH_FIND_STR(h->sessions, id, ls);
    return ls;
}

static void cl__session_free(uv_handle_t *t)
{
    struct cl_agent_session *ls = t->data;
    if (--ls->open_handles == 0)
        free(ls);
}

/* Forgets ls here (the viewer's half is told by the caller). */
static void cl__session_remove(struct cl_hub *h, struct cl_agent_session *ls)
{
    if (ls->title_dirty)
        cl__title_store(h, ls);
    cl_inq_clear(&ls->inq);
    HASH_DEL(h->sessions, ls);
    uv_timer_stop(&ls->idle);
    uv_close((uv_handle_t *)&ls->idle, cl__session_free);
    uv_timer_stop(&ls->ack_timer);
    uv_close((uv_handle_t *)&ls->ack_timer, cl__session_free);
}

/* Ends a live session everywhere: store, agent (if told), viewers (through
 * the router), dashboards. */
static void cl__session_close(struct cl_hub *h, struct cl_agent_session *ls, enum cl_end_reason why,
                              bool tell_agent)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_store *s = &h->relay->store;
    struct cl_router *rt = &h->relay->router;
    struct cl_conn *agent = tell_agent ? cl_hub_agent_find(h, ls->device_id) : NULL;
    s->ops->session_end(s, ls->id, cl_now(), reason, false, 0);
    if (agent)
        cl_hub_send_end(agent, ls->id, why);
    rt->ops->session_closed(rt, ls->id, why, true);
    cl_info("hub", "session ended", "session=%s reason=%s", ls->id, reason);
    cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
    cl__session_remove(h, ls);
}

static void cl__idle_fired(uv_timer_t *t)
{
    struct cl_agent_session *ls = t->data;
    struct cl_hub *h = ls->hub;
    struct cl_conn *agent = cl_hub_agent_find(h, ls->device_id);
    if (agent && agent->ext)
        return; /* a clawlink agent runs its own --idle-grace */
    cl_info("hub", "session idle: ending", "session=%s", ls->id);
    cl__session_close(h, ls, CL_END_IDLE, true);
}

static struct cl_agent_session *cl__session_add(struct cl_hub *h, const char *id,
                                                const char *device_id)
{
    struct cl_agent_session *ls = calloc(1, sizeof *ls);
    if (!ls)
        abort();
    snprintf(ls->id, sizeof ls->id, "%s", id);
    snprintf(ls->device_id, sizeof ls->device_id, "%s", device_id);
    ls->hub = h;
    ls->viewers_sent = -1;
    uv_timer_init(h->relay->loop, &ls->idle);
    ls->idle.data = ls;
    uv_timer_init(h->relay->loop, &ls->ack_timer);
    ls->ack_timer.data = ls;
    ls->open_handles = 2;
    /* no viewer yet: the idle backstop runs until one attaches */
    uv_timer_start(&ls->idle, cl__idle_fired, (uint64_t)CL_SESSION_IDLE_GRACE_S * 1000, 0);
    HASH_ADD_STR(h->sessions, id, ls);
    return ls;
}

static void cl__grace_at_start(const struct cl_session *sess, void *ctx)
{
    cl__grace_start(ctx, sess->device_id); /* once per device: it skips a running one */
}

void cl_hub_agents_start(struct cl_hub *h)
{
    struct cl_store *s = &h->relay->store;
    /* After a restart every device with sessions the store holds as active
     * gets the grace a disconnect would give it: its hello cancels it, and
     * if it leaves again a fresh grace starts from then (one timer per
     * device, never one for the whole relay that would end the sessions
     * of a device that came back and was merely between two connections
     * when it fired). */
    s->ops->session_list_active(s, NULL, cl__grace_at_start, h);
}

/* Writes the live title of ls to the store. */
static void cl__title_store(struct cl_hub *h, struct cl_agent_session *ls)
{
    struct cl_store *s = &h->relay->store;
    int rc = s->ops->session_set_title(s, ls->id, ls->title);
    if (rc && rc != CL_ENOTFOUND) /* not found: its device was just deleted */
        cl_warn("hub", "storing a session title failed", "session=%s err=%s", ls->id,
                cl_strerror(rc));
    ls->title_dirty = false;
    ls->title_stored_ms = uv_now(h->relay->loop);
}

/* session_title from the agent: kept with the live session, stored (or
 * marked to be), and told to the project's dashboards. */
static void cl__live_title(struct cl_hub *h, struct cl_agent_session *ls, const char *title)
{
    if (strcmp(ls->title, title) == 0)
        return;
    snprintf(ls->title, sizeof ls->title, "%s", title);
    if (ls->title_stored_ms &&
        uv_now(h->relay->loop) - ls->title_stored_ms < CL_SESSION_TITLE_STORE_MS)
        ls->title_dirty = true;
    else
        cl__title_store(h, ls);
    cl_events_session_title(h->relay->events, ls->device_id, ls->id, ls->title);
}

/* The live session for an agent message: from memory, or (after a relay
 * restart) from the store if it is still active there and on this device. */
static struct cl_agent_session *cl__live_for_agent(struct cl_hub *h, struct cl_conn *agent,
                                                   const char *id)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, id);
    struct cl_session row;
    struct cl_store *s = &h->relay->store;
    if (ls)
        return strcmp(ls->device_id, agent->device_id) == 0 ? ls : NULL;
    if (s->ops->session_get(s, id, &row) != 0 || !row.active ||
        strcmp(row.device_id, agent->device_id) != 0)
        return NULL;
    ls = cl__session_add(h, row.id, row.device_id);
    ls->start_sent = ls->started = true; /* the agent knows it */
    snprintf(ls->title, sizeof ls->title, "%s", row.title);
    return ls;
}

/* ---- flow control ------------------------------------------------------ */

static void cl__ack_delay_fired(uv_timer_t *t)
{
    struct cl_agent_session *ls = t->data;
    cl__ack_send(ls->hub, ls, true);
}

/* Tells a clawlink agent how far the fastest viewer has consumed and how
 * many viewers there are, when either changed enough to matter: at once
 * for a step of CL_ACK_STEP or a new viewer count; CL_ACK_DELAY_MS later
 * (or with the next step) when the viewers have merely caught up. */
static void cl__ack_send(struct cl_hub *h, struct cl_agent_session *ls, bool now)
{
    struct cl_conn *agent = cl_hub_agent_find(h, ls->device_id);
    uint64_t best = ls->viewers_acked; /* as the viewers' half last said */
    int n = ls->viewers_count;
    if (!agent || !agent->ext)
        return;
    if (best < ls->ack_sent)
        best = ls->ack_sent; /* acks never move back */
    if (n == ls->viewers_sent && best < ls->ack_sent + CL_ACK_STEP) {
        if (best == ls->ack_sent || best < ls->produced)
            return;
        if (!now) { /* caught up: say so a little later */
            if (!uv_is_active((uv_handle_t *)&ls->ack_timer))
                uv_timer_start(&ls->ack_timer, cl__ack_delay_fired, CL_ACK_DELAY_MS, 0);
            return;
        }
    }
    uv_timer_stop(&ls->ack_timer);
    ls->ack_sent = best;
    ls->viewers_sent = n;
    cl_hub_send_offset(agent, CL_MSG_ACK, ls->id, best, n);
}

static void cl__ack_update(struct cl_hub *h, struct cl_agent_session *ls)
{
    cl__ack_send(h, ls, false);
}

/* Asks the agent to send the session's output again from offset. */
static void cl__request_replay(struct cl_hub *h, struct cl_agent_session *ls, uint64_t offset)
{
    struct cl_conn *agent = cl_hub_agent_find(h, ls->device_id);
    if (!agent || !agent->ext || !ls->started || offset >= ls->produced)
        return;
    cl_debug("hub", "replay requested", "session=%s offset=%llu produced=%llu", ls->id,
             (unsigned long long)offset, (unsigned long long)ls->produced);
    cl_hub_send_offset(agent, CL_MSG_REPLAY, ls->id, offset, -1);
}

/* ---- grace periods ------------------------------------------------------ */

static void cl__grace_free(uv_handle_t *t)
{
    free(t->data);
}

static void cl__grace_cancel(struct cl_hub *h, const char *device_id)
{
    struct cl_grace *g;
    HASH_FIND_STR(h->graces, device_id, g);
    if (!g)
        return;
    HASH_DEL(h->graces, g);
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, cl__grace_free);
}

struct cl__end_ctx {
    struct cl_hub *hub;
    enum cl_end_reason why;
    int n;
};

/* Ends a stored active session that is not (or no longer) running. */
static void cl__end_stored(const struct cl_session *sess, void *ctx)
{
    struct cl__end_ctx *e = ctx;
    struct cl_agent_session *ls = cl_hub_agent_session(e->hub, sess->id);
    if (ls) {
        cl__session_close(e->hub, ls, e->why, false);
    } else {
        struct cl_store *s = &e->hub->relay->store;
        const char *reason = cl_end_reason_name(e->why);
        s->ops->session_end(s, sess->id, cl_now(), reason, false, 0);
        cl_info("hub", "session ended", "session=%s reason=%s", sess->id, reason);
        cl_events_session_ended(e->hub->relay->events, sess->device_id, sess->id, reason);
    }
    e->n++;
}

static void cl__grace_fired(uv_timer_t *t)
{
    struct cl_grace *g = t->data;
    struct cl_hub *h = g->hub;
    struct cl_store *s = &h->relay->store;
    struct cl__end_ctx e = {h, CL_END_AGENT_LOST, 0};
    char device_id[CL_ID_MAX + 1];
    snprintf(device_id, sizeof device_id, "%s", g->device_id);
    cl__grace_cancel(h, device_id);
    if (cl_hub_agent_find(h, device_id))
        return;
    s->ops->session_list_active(s, device_id, cl__end_stored, &e);
    if (e.n)
        cl_info("hub", "agent did not come back: sessions ended", "device=%s sessions=%d",
                device_id, e.n);
}

static void cl__grace_start(struct cl_hub *h, const char *device_id)
{
    struct cl_grace *g;
    HASH_FIND_STR(h->graces, device_id, g);
    if (g)
        return;
    g = calloc(1, sizeof *g);
    if (!g)
        abort();
    snprintf(g->device_id, sizeof g->device_id, "%s", device_id);
    g->hub = h;
    uv_timer_init(h->relay->loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, cl__grace_fired, (uint64_t)h->relay->opts.agent_grace_s * 1000, 0);
    HASH_ADD_STR(h->graces, device_id, g);
}

/* ---- agents ----------------------------------------------------------- */

struct cl__reconcile_ctx {
    struct cl_hub *hub;
    const struct cl_msg *hello;
};

/* After a hello: a stored active session of this device that the agent did
 * not announce is not running there any more (unless it was created and
 * its shell is still to be started). The device is back, so the reason is
 * not agent_lost but not_resumed: it came back without the session (its
 * agent restarted, or a PrivaClaw connector, which keeps no shell across a
 * reconnect). */
static void cl__reconcile(const struct cl_session *sess, void *ctx)
{
    struct cl__reconcile_ctx *r = ctx;
    struct cl_agent_session *ls = cl_hub_agent_session(r->hub, sess->id);
    struct cl__end_ctx e = {r->hub, CL_END_NOT_RESUMED, 0};
    for (size_t i = 0; i < r->hello->nsessions; i++)
        if (strcmp(r->hello->sessions[i].session_id, sess->id) == 0)
            return;
    /* A viewer that came back to a restarted relay before the agent did
     * makes a live entry too: only one start-session made here is spared. */
    if (ls && ls->fresh && !ls->start_sent)
        return;
    cl__end_stored(sess, &e);
}

static void cl__stdin_discard(struct cl_hub *h, struct cl_agent_session *ls, uint64_t lost);
static void cl__stdin_pump(struct cl_hub *h, struct cl_agent_session *ls);

static void cl__agent_announce(struct cl_hub *h, struct cl_conn *c, const struct cl_msg *m)
{
    struct cl_store *s = &h->relay->store;
    struct cl__reconcile_ctx r = {h, m};
    struct cl_router *rt = &h->relay->router;
    for (size_t i = 0; i < m->nsessions; i++) {
        const struct cl_msg_session *a = &m->sessions[i];
        struct cl_agent_session *ls = cl__live_for_agent(h, c, a->session_id);
        if (!ls) {
            cl_hub_send_end(c, a->session_id, CL_END_UNKNOWN_SESSION);
            continue;
        }
        ls->start_sent = ls->started = true;
        if (a->offset > ls->produced)
            ls->produced = a->offset;
        /* the agent's own count of this session's input: what it wrote
         * and still holds. Input that was in flight to a dead connection
         * is gone; what waits here would then run with a hole before it,
         * so it is not sent either (its senders are told). */
        if (c->stdin_window && ls->in_fwd > a->stdin_acked + a->stdin_pending)
            cl__stdin_discard(h, ls, ls->in_fwd - (a->stdin_acked + a->stdin_pending));
        ls->in_acked = a->stdin_acked;
        ls->in_fwd = a->stdin_acked + a->stdin_pending;
    }
    s->ops->session_list_active(s, c->device_id, cl__reconcile, &r);
    for (size_t i = 0; i < m->nsessions; i++) {
        const struct cl_msg_session *a = &m->sessions[i];
        struct cl_agent_session *ls = cl_hub_agent_session(h, a->session_id);
        if (!ls)
            continue;
        ls->viewers_sent = -1; /* a new connection: tell it the viewer count */
        /* It had viewers when the agent lost its relay (this relay may
         * have just restarted): their place is held, so the shell waits
         * for them to come back instead of running past their offset. */
        if (a->viewers > 0)
            rt->ops->session_hold(rt, ls->id, a->acked);
        cl__ack_update(h, ls);
        rt->ops->session_resume(rt, ls->id);
    }
}

void cl_hub_agent_hello(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m)
{
    struct cl_store *s = &h->relay->store;
    uint8_t want[CL_HASH_LEN], got[CL_HASH_LEN];
    struct cl_device d;
    struct cl_conn *old;

    cl_hash_str(m->token, got);
    if (s->ops->device_token_hash(s, m->device_id, want) != 0 || !cl_secret_equal(want, got) ||
        s->ops->device_get(s, m->device_id, &d) != 0) {
        cl_warn("hub", "agent hello refused", "peer=%s", c->peer);
        cl_conn_send_error(c, "auth_failed", "unknown device or wrong device token", NULL);
        cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "auth failed");
        return;
    }
    old = cl_hub_agent_find(h, d.id);
    if (old) {
        HASH_DEL(h->agents, old);
        old->authed = false;
        cl_info("hub", "agent replaced by a newer connection", "device=%s peer=%s", d.id,
                old->peer);
        cl_conn_close(old, 4001, "replaced by a newer connection");
        /* its requests were for the old link: the new one never heard
         * of them (chat.c's) */
        cl__takers_replaced(h, d.id);
    }
    snprintf(c->device_id, sizeof c->device_id, "%s", d.id);
    snprintf(c->project_id, sizeof c->project_id, "%s", d.project_id);
    c->authed = true;
    cl_admission_ws_authed(c->relay->admission, c->wsi);
    c->ext = m->nsessions > 0 || m->proto >= 2;
    c->proto = m->proto >= 2 ? CL_PROTO_MAX : 1;
    c->stdin_window = m->stdin_window;
    /* PrivaClaw's OpenClaw skill: meta.kind "openclaw" and none of our
     * extensions (a clawlink agent asks for proto 2 and sends no kind) */
    c->skill = strcmp(m->kind, CL_DEVICE_KIND_OPENCLAW) == 0 && !c->ext;
    /* the chat API's version it serves (docs/protocol.md "Chat") */
    c->chat = c->skill ? 0 : m->chat;
    HASH_ADD_STR(h->agents, device_id, c);
    cl__grace_cancel(h, d.id);
    s->ops->device_set_online(s, d.id, true, cl_now());
    /* what it says about itself replaces what an earlier connection said;
     * a hello that says nothing (a PrivaClaw connector's: it sends
     * meta_update later) keeps it */
    s->ops->device_set_info(s, d.id, m->json, c->peer, cl_now());
    if (strcmp(m->kind, CL_DEVICE_KIND_OPENCLAW) == 0 &&
        strcmp(d.kind, CL_DEVICE_KIND_OPENCLAW) != 0)
        s->ops->device_set_kind(s, d.id, CL_DEVICE_KIND_OPENCLAW); /* as PrivaClaw's relay */
    cl__takers_hello(h, c);
    cl_info("hub", "agent online", "device=%s project=%s peer=%s sessions=%zu chat=%d%s", d.id,
            d.project_id, c->peer, m->nsessions, c->chat, c->skill ? " skill=privaclaw" : "");
    cl_events_device_status(h->relay->events, d.project_id, d.id, true);
    /* acks and replays for the announced sessions go before hello_ok: the
     * agent sends nothing until hello_ok, so it resumes each session from
     * where the viewers need it, not from where the old connection died */
    cl__agent_announce(h, c, m);
    cl_hub_send_accepted(c, CL_MSG_HELLO_OK, m->proto, c->stdin_window);
    /* input that waited for the agent goes on (it takes stdin only
     * after hello_ok) */
    for (size_t i = 0; i < m->nsessions; i++) {
        struct cl_agent_session *ls = cl_hub_agent_session(h, m->sessions[i].session_id);
        if (ls && strcmp(ls->device_id, c->device_id) == 0)
            cl__stdin_pump(h, ls);
    }
}

/* A chunk of output: to the session's viewers through the router (one
 * call, decision 70), then the produced offset and the ack it may move. */
static void cl__agent_stdout(struct cl_hub *h, struct cl_conn *c, struct cl_agent_session *ls,
                             struct cl_msg *m, const char *frame, size_t len, bool binary,
                             struct cl_frame **owned)
{
    struct cl_router *rt = &h->relay->router;
    struct cl_router_output out = {
        .session_id = ls->id,
        .offset = m->has_offset ? m->offset : ls->produced,
        .n = m->data_len,
        .data = m->data,
        .b64 = m->b64,
        .b64_len = m->b64_len,
    };

    if (m->has_offset && !c->ext) {
        c->ext = true;
        ls->viewers_sent = -1;
    }
    if (m->has_offset) {
        /* the agent's own frame says exactly this: forwarded as it is */
        out.frame = frame;
        out.frame_len = len;
        out.binary = binary;
        out.owned = owned;
    }
    rt->ops->session_output(rt, &out);
    if (out.offset + m->data_len > ls->produced)
        ls->produced = out.offset + m->data_len;
    cl__ack_update(h, ls);
}

/* meta_update: the fields it names replace the device's, the others stay
 * (a connector may send its probe in parts); the whole stays within
 * CL_DEVICE_META_FIELDS fields, the newest kept first. */
static void cl__agent_meta(struct cl_hub *h, struct cl_conn *c, const struct cl_msg *m)
{
    struct cl_store *s = &h->relay->store;
    struct cl_device_info *info = calloc(1, sizeof *info);
    json_t *now_meta = m->json ? json_loads(m->json, 0, NULL) : json_object();
    json_t *old = NULL, *v;
    const char *k;
    char *text;

    if (!info || !now_meta)
        abort();
    if (s->ops->device_get_info(s, c->device_id, info) == 0 && info->meta[0])
        old = json_loads(info->meta, 0, NULL);
    json_object_foreach(old, k, v)
    {
        if (json_object_size(now_meta) >= CL_DEVICE_META_FIELDS)
            break;
        if (!json_object_get(now_meta, k))
            json_object_set(now_meta, k, v);
    }
    text = json_object_size(now_meta) ? cl_json_dump(now_meta, NULL) : NULL;
    if (text && strlen(text) > CL_DEVICE_META_MAX) {
        free(text); /* older fields do not fit beside the new: the new alone */
        text = m->json ? strdup(m->json) : NULL;
    }
    if (text && strcmp(text, info->meta) != 0) {
        s->ops->device_set_info(s, c->device_id, text, NULL, cl_now());
        cl_info("hub", "device metadata updated", "device=%s fields=%zu", c->device_id,
                json_object_size(now_meta));
    } else {
        cl_debug("hub", "device metadata unchanged", "device=%s", c->device_id);
    }
    free(text);
    json_decref(old);
    json_decref(now_meta);
    free(info);
}

void cl_hub_agent_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m, const char *text,
                          size_t len, bool binary, struct cl_frame **owned)
{
    struct cl_store *s = &h->relay->store;
    struct cl_agent_session *ls;

    unsigned taker = m->type < CL_MSG__COUNT ? h->by_type[m->type] : 0;

    /* OpenClaw node traffic, chat answers: whoever registered the type */
    if (taker && h->takers[taker - 1].t->on_message(h->takers[taker - 1].ctx, c, m))
        return;
    if (m->type == CL_MSG_ERROR) {
        cl_warn("hub", "agent reported an error", "device=%s code=%s", c->device_id, m->code);
        return;
    }
    if (m->type == CL_MSG_META_UPDATE) {
        cl__agent_meta(h, c, m);
        return;
    }
    if (m->type != CL_MSG_SESSION_STARTED && m->type != CL_MSG_STDOUT &&
        m->type != CL_MSG_SESSION_END && m->type != CL_MSG_SESSION_TITLE &&
        m->type != CL_MSG_STDIN_ACK) {
        cl_conn_log_bad(c, "hub", "bad_message", "message type not valid from an agent");
        cl_conn_send_error(c, "bad_message", "message type not valid from an agent", NULL);
        return;
    }
    ls = cl__live_for_agent(h, c, m->session_id);
    if (!ls) {
        if (m->type != CL_MSG_SESSION_END) {
            /* Not a session of this device, or one that has ended: tell
             * the agent to hang it up. */
            cl_hub_send_end(c, m->session_id, CL_END_UNKNOWN_SESSION);
        }
        return;
    }
    switch (m->type) {
    case CL_MSG_SESSION_STARTED:
        ls->started = ls->start_sent = true;
        h->relay->router.ops->session_forward(&h->relay->router, ls->id, text, len);
        break;
    case CL_MSG_STDOUT:
        cl__agent_stdout(h, c, ls, m, text, len, binary, owned);
        break;
    case CL_MSG_SESSION_TITLE:
        cl__live_title(h, ls, m->title);
        break;
    case CL_MSG_STDIN_ACK:
        /* never back, never past what was passed to it */
        if (m->offset > ls->in_acked)
            ls->in_acked = m->offset < ls->in_fwd ? m->offset : ls->in_fwd;
        cl__stdin_pump(h, ls);
        break;
    case CL_MSG_SESSION_END: {
        /* the agent's reason as it came (a peer may have its own), "exit"
         * when it gave none */
        const char *reason = m->reason[0] ? m->reason : cl_end_reason_name(CL_END_EXIT);
        s->ops->session_end(s, ls->id, cl_now(), reason, m->has_exit_code, m->exit_code);
        cl_info("hub", "session ended by agent", "session=%s reason=%s exit_code=%d", ls->id,
                reason, m->has_exit_code ? m->exit_code : -1);
        /* the viewers get the agent's own message, then forget the session */
        h->relay->router.ops->session_forward(&h->relay->router, ls->id, text, len);
        h->relay->router.ops->session_closed(&h->relay->router, ls->id, CL_END_EXIT, false);
        cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
        cl__session_remove(h, ls);
        break;
    }
    default:
        break;
    }
}

/* ---- input flow control ------------------------------------------------
 * docs/protocol.md, "Input flow control". An agent that granted a window
 * (hello stdin_window) gets at most that much of a session's stdin beyond
 * its last stdin_ack; what does not fit waits in the session's inq, whole
 * messages only, bounded by cl_inq_admit; a message that does not fit is
 * refused whole (error input_busy). Input to an agent without a window
 * goes at once, as before. */

/* Sends n bytes of a session's stdin to the agent in its protocol: one
 * binary frame (v2), or base64 JSON in pieces of CL_RELAY_STDIN_PIECE
 * (v1: base64 makes it a third larger, and no message to the agent may
 * pass what it accepts, CL_WS_MAX_MESSAGE). */
static void cl__stdin_send(struct cl_conn *agent, const char *session_id, const uint8_t *p,
                           size_t n)
{
    if (agent->proto >= 2) {
        size_t h = cl_bin_header_len(strlen(session_id));
        struct cl_frame *f = cl_frame_new(h + n);
        cl_bin_write_header(cl_frame_payload(f), CL_MSG_STDIN, session_id, 0);
        memcpy(cl_frame_payload(f) + h, p, n);
        cl_conn_send_binary(agent, cl_frame_payload(f), h + n);
        free(f);
    } else {
        size_t piece = n < CL_RELAY_STDIN_PIECE ? n : CL_RELAY_STDIN_PIECE;
        size_t cap = cl_msg_data_encoded_max(strlen(session_id), piece);
        char *json = malloc(cap);
        if (!json)
            abort();
        for (size_t off = 0; off < n; off += piece) {
            size_t k = n - off < piece ? n - off : piece;
            long w = cl_msg_encode_data(CL_MSG_STDIN, session_id, p + off, k, -1, json, cap);
            if (w > 0)
                cl_conn_send(agent, json, (size_t)w);
        }
        free(json);
    }
}

/* Forwards a viewer's stdin to the agent: the viewer's own frame when
 * both speak the same protocol, else converted once. */
static void cl__forward_stdin(struct cl_conn *agent, const struct cl_router_stdin *in)
{
    cl_metrics.fwd_frames[CL_DIR_VIEWERS_TO_AGENT]++;
    cl_metrics.fwd_bytes[CL_DIR_VIEWERS_TO_AGENT] += in->n;
    if (in->binary && agent->proto >= 2)
        cl_conn_send_binary(agent, in->frame, in->frame_len);
    else if (!in->binary && agent->proto < 2)
        cl_conn_send(agent, in->frame, in->frame_len);
    else
        cl__stdin_send(agent, in->session_id, in->data, in->n);
}

/* Bytes of ls's stdin the agent's window takes now (unbounded without). */
static uint64_t cl__stdin_room(const struct cl_conn *agent, const struct cl_agent_session *ls)
{
    uint64_t inflight = ls->in_fwd - ls->in_acked;
    if (!agent->stdin_window)
        return UINT64_MAX;
    return inflight >= agent->stdin_window ? 0 : agent->stdin_window - inflight;
}

/* n bytes of a viewer's queued input left (or were dropped): its owner in
 * the queue is the viewer's id (0 once it left), credited through the
 * router. */
static void cl__stdin_credit(struct cl_hub *h, struct cl_agent_session *ls, void *owner, size_t n,
                             bool done)
{
    struct cl_router *rt = &h->relay->router;
    uint64_t viewer = (uint64_t)(uintptr_t)owner;
    if (viewer)
        rt->ops->viewer_credit(rt, ls->id, viewer, n, done);
}

/* Passes ls's queued input to its agent, oldest first, while the window
 * takes it (a message may go in pieces); credits each sender. */
static void cl__stdin_pump(struct cl_hub *h, struct cl_agent_session *ls)
{
    struct cl_conn *agent = cl_hub_agent_find(h, ls->device_id);

    if (!agent || !ls->start_sent)
        return;
    while (ls->inq.bytes && !agent->close_pending) {
        const uint8_t *p;
        void *owner;
        size_t n = cl_inq_peek(&ls->inq, &p, &owner);
        uint64_t room = cl__stdin_room(agent, ls);
        bool done;
        if (!room)
            break;
        if (n > room)
            n = (size_t)room;
        cl__stdin_send(agent, ls->id, p, n);
        cl_metrics.fwd_frames[CL_DIR_VIEWERS_TO_AGENT]++;
        cl_metrics.fwd_bytes[CL_DIR_VIEWERS_TO_AGENT] += n;
        done = cl_inq_take(&ls->inq, n);
        ls->in_fwd += n;
        cl__stdin_credit(h, ls, owner, n, done);
    }
}

/* The agent's link dropped with lost bytes of ls's input in flight:
 * drops what waits in the queue (sent after a hole, a paste would run
 * with its middle missing), credits its senders as if it had gone on,
 * and tells the session's viewers (error input_lost). */
static void cl__stdin_discard(struct cl_hub *h, struct cl_agent_session *ls, uint64_t lost)
{
    size_t dropped = ls->inq.bytes;
    char why[256];

    while (ls->inq.bytes) {
        const uint8_t *p;
        void *owner;
        size_t n = cl_inq_peek(&ls->inq, &p, &owner);
        bool done = cl_inq_take(&ls->inq, n);
        cl__stdin_credit(h, ls, owner, n, done);
    }
    cl_warn("hub", "input lost with the agent's link; dropping what waited after it",
            "session=%s lost=%llu dropped=%zu", ls->id, (unsigned long long)lost, dropped);
    snprintf(why, sizeof why,
             "the device's connection dropped while input was on its way: %llu bytes were lost "
             "and the %zu bytes waiting after them were not sent",
             (unsigned long long)lost, dropped);
    h->relay->router.ops->session_notice(&h->relay->router, ls->id, "input_lost", why);
}

/* Some bytes came from an agent. Bounds what its connection holds in the
 * kernel ahead of the next message (an echo waits behind all of it) to the
 * link's bandwidth-delay product (limits.h, CL_LINK_RATE). At most once per
 * loop millisecond: the kernel's autotuning lifts the clamp whenever it
 * grows the buffer. A piece shorter than CL_LINK_RCV_CLAMP_MIN (a pong, a
 * heartbeat) is not bulk and does not pay for a TCP_INFO. */
void cl_hub_agent_rx(struct cl_conn *c, size_t len)
{
    uint64_t now, w = 0;

    if (!c->authed || len < CL_LINK_RCV_CLAMP_MIN)
        return;
    now = uv_now(c->relay->loop);
    if (c->rcv_tuned_at == now)
        return;
    c->rcv_tuned_at = now;
    if (cl_sock_clamp_rcv_window(lws_get_socket_fd(c->wsi), CL_LINK_RATE, CL_LINK_RCV_WINDOW_MIN,
                                 CL_LINK_RCV_LOCK_MAX, &w) != 0 ||
        w == 0)
        return;
    if (w > 2 * c->rcv_window || 2 * w < c->rcv_window)
        cl_debug("server", "agent link receive window", "device=%s window=%llu", c->device_id,
                 (unsigned long long)w);
    c->rcv_window = w;
}

bool cl_hub_device_online(struct cl_hub *h, const char *device_id)
{
    return cl_hub_agent_find(h, device_id) != NULL;
}

/* ---- OpenClaw nodes (nodes.c) ------------------------------------------ */

struct cl_conn *cl_hub_agent(struct cl_hub *h, const char *device_id)
{
    struct cl_conn *c = cl_hub_agent_find(h, device_id);
    return c && !c->close_pending ? c : NULL;
}

/* ---- the router's entries to the agent's half (decision 70) ------------- */

void cl_hub_agent_acked(struct cl_hub *h, const char *session_id, uint64_t acked, int viewers,
                        int attached)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, session_id);
    if (!ls)
        return;
    ls->viewers_acked = acked;
    ls->viewers_count = viewers;
    /* the idle backstop runs while no viewer is attached */
    if (attached && !ls->attached)
        uv_timer_stop(&ls->idle);
    else if (!attached && ls->attached)
        uv_timer_start(&ls->idle, cl__idle_fired, (uint64_t)CL_SESSION_IDLE_GRACE_S * 1000, 0);
    ls->attached = attached;
    cl__ack_update(h, ls);
}

void cl_hub_agent_attach(struct cl_hub *h, const char *session_id, const char *device_id)
{
    if (!cl_hub_agent_session(h, session_id))
        cl__session_add(h, session_id, device_id);
}

void cl_hub_agent_replay(struct cl_hub *h, const char *session_id, uint64_t offset)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, session_id);
    if (ls)
        cl__request_replay(h, ls, offset);
}

bool cl_hub_agent_produced(struct cl_hub *h, const char *session_id, uint64_t *produced)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, session_id);
    if (!ls || !ls->started)
        return false;
    *produced = ls->produced;
    return true;
}

int cl_hub_agent_control(struct cl_hub *h, const char *session_id, const struct cl_msg *m,
                         const char *text, size_t len, bool *started)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, session_id);
    struct cl_conn *agent = ls ? cl_hub_agent_find(h, ls->device_id) : NULL;

    *started = false;
    if (!agent)
        return CL_ENOTFOUND;
    if (m->type == CL_MSG_SESSION_START && ls->start_sent) {
        /* Already running (or being started): don't spawn twice. */
        struct cl_msg rs = *m;
        rs.data = NULL;
        rs.sessions = NULL;
        rs.type = CL_MSG_RESIZE;
        cl_hub_send_msg(agent, &rs);
        *started = ls->started;
        return 0;
    }
    if (m->type == CL_MSG_SESSION_START) {
        /* Re-encoded, so the size the decoder settled on (80x24 when the
         * browser sent none) reaches connectors that need cols and rows. */
        ls->start_sent = true;
        cl_hub_send_msg(agent, m);
        return 0;
    }
    cl_conn_send(agent, text, len);
    return 0;
}

/* ---- input flow control: a viewer's stdin --------------------------------
 * At once when nothing waits and the agent's window takes it whole (a
 * keystroke is never delayed), else queued whole if cl_inq_admit lets it,
 * else refused whole (the viewer is told input_busy). After a refusal the
 * viewer's later input is refused too until the session's queue has
 * drained, so a burst of messages (a paste in pieces) never runs with its
 * middle missing. */
enum cl_router_stdin_result cl_hub_agent_stdin(struct cl_hub *h, const struct cl_router_stdin *in)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, in->session_id);
    struct cl_conn *agent = ls ? cl_hub_agent_find(h, ls->device_id) : NULL;
    bool refusing = in->refusing;

    if (!agent)
        return CL_ROUTER_STDIN_OFFLINE;
    if (!agent->stdin_window || !ls->start_sent) {
        /* no flow control: an older agent, a PrivaClaw connector (or a
         * session it does not know yet, which it ignores) */
        cl__forward_stdin(agent, in);
        return CL_ROUTER_STDIN_SENT;
    }
    if (refusing && ls->inq.bytes == 0)
        refusing = false;
    if (!refusing && ls->inq.bytes == 0 && in->n <= cl__stdin_room(agent, ls)) {
        cl__forward_stdin(agent, in);
        ls->in_fwd += in->n;
        return CL_ROUTER_STDIN_SENT;
    }
    if (refusing || !cl_inq_admit(ls->inq.cost, in->cost, in->n + CL_INQ_MSG_COST,
                                  CL_RELAY_STDIN_QUEUE_MAX, CL_RELAY_STDIN_VIEWER_COST)) {
        if (!in->refusing)
            cl_info("hub", "input refused: the terminal is busy", "session=%s bytes=%zu queued=%zu",
                    ls->id, in->n, ls->inq.bytes);
        return CL_ROUTER_STDIN_BUSY;
    }
    cl_inq_push(&ls->inq, (void *)(uintptr_t)in->viewer, in->data, in->n);
    cl__stdin_pump(h, ls);
    return CL_ROUTER_STDIN_QUEUED;
}

void cl_hub_agent_viewer_left(struct cl_hub *h, const char *session_id, uint64_t viewer)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, session_id);
    if (ls)
        cl_inq_disown(&ls->inq, (void *)(uintptr_t)viewer); /* its input still goes, in order */
}

/* ---- the agent's link closes; the control plane (hub.h, through hub.c) -- */

void cl_hub_agent_closed(struct cl_hub *h, struct cl_conn *c)
{
    struct cl_store *s = &h->relay->store;
    struct cl_router *rt = &h->relay->router;
    struct cl_agent_session *ls, *tmp;

    if (!c->authed || cl_hub_agent_find(h, c->device_id) != c)
        return;
    HASH_DEL(h->agents, c);
    s->ops->device_set_online(s, c->device_id, false, cl_now());
    cl__takers_gone(h, c->device_id);
    cl_info("hub", "agent offline", "device=%s", c->device_id);
    cl_events_device_status(h->relay->events, c->project_id, c->device_id, false);
    if (!h->relay->stopping)
        cl__grace_start(h, c->device_id);
    HASH_ITER(hh, h->sessions, ls, tmp)
    {
        if (strcmp(ls->device_id, c->device_id) != 0)
            continue;
        ls->viewers_sent = -1;
        rt->ops->session_notice(rt, ls->id, "device_offline",
                                "the agent disconnected; the session resumes when it returns");
    }
}

void cl_hub_agent_device_removed(struct cl_hub *h, const char *device_id, enum cl_end_reason why)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_router *rt = &h->relay->router;
    struct cl_agent_session *ls, *tmp;
    struct cl_conn *agent = cl_hub_agent_find(h, device_id);

    HASH_ITER(hh, h->sessions, ls, tmp)
    {
        if (strcmp(ls->device_id, device_id) != 0)
            continue;
        rt->ops->session_closed(rt, ls->id, why, true);
        cl_events_session_ended(h->relay->events, device_id, ls->id, reason); /* re-paired */
        cl__session_remove(h, ls);
    }
    cl__grace_cancel(h, device_id);
    if (agent) {
        HASH_DEL(h->agents, agent);
        agent->authed = false; /* its close changes nothing in the store */
        cl_info("hub", "device removed: closing its agent", "device=%s reason=%s", device_id,
                reason);
        cl_conn_close(agent, 4004, "device removed");
        cl_events_device_status(h->relay->events, NULL, device_id, false); /* re-paired */
    }
}

void cl_hub_agent_session_opened(struct cl_hub *h, const struct cl_session *s)
{
    struct cl_agent_session *ls = cl_hub_agent_session(h, s->id);
    if (!ls)
        ls = cl__session_add(h, s->id, s->device_id);
    ls->fresh = true;
    cl_events_session_started(h->relay->events, NULL, s);
}

void cl_hub_agent_session_end(struct cl_hub *h, const char *session_id, enum cl_end_reason why)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_router *rt = &h->relay->router;
    struct cl_agent_session *ls = cl_hub_agent_session(h, session_id);
    struct cl_conn *agent;
    if (!ls)
        return;
    agent = cl_hub_agent_find(h, ls->device_id);
    if (agent)
        cl_hub_send_end(agent, ls->id, why);
    rt->ops->session_closed(rt, ls->id, why, true);
    cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
    cl__session_remove(h, ls);
}

void cl_hub_agents_free(struct cl_hub *h)
{
    struct cl_agent_session *ls, *tmp;
    struct cl_grace *g, *gtmp;
    HASH_ITER(hh, h->sessions, ls, tmp)
    cl__session_remove(h, ls);
    HASH_ITER(hh, h->graces, g, gtmp)
    cl__grace_cancel(h, g->device_id);
    HASH_CLEAR(hh, h->agents);
}
