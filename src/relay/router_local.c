/*
 * router_local: the router's entries as the hub's lookups (hub.h) and, for
 * the entries between the hub's halves, a direct call of the other half
 * (hub_internal.h: cl_hub_agent_* toward the agent, cl_hub_viewers_*
 * toward the viewers; decisions 65 and 66). Each entry is one call: the
 * data path costs an indirect call, no copy and no queue.
 */
#include "relay/router_local.h"
#include "core/err.h"
#include "relay/conn.h"
#include "relay/hub.h"
#include "relay/hub_internal.h"

static struct cl_hub *cl__hub(struct cl_router *rt)
{
    return rt->impl;
}

static bool cl__agent_online(struct cl_router *rt, const char *device_id)
{
    return cl_hub_device_online(cl__hub(rt), device_id);
}

static bool cl__agent_find(struct cl_router *rt, const char *device_id, struct cl_router_agent *out)
{
    struct cl_conn *c = cl_hub_agent(cl__hub(rt), device_id);
    if (!c)
        return false;
    if (out) {
        out->skill = c->skill;
        out->chat = c->chat;
    }
    return true;
}

static int cl__agent_send(struct cl_router *rt, const char *device_id, const char *text, size_t len)
{
    struct cl_conn *c = cl_hub_agent(cl__hub(rt), device_id);
    return c ? cl_conn_send(c, text, len) : CL_ENOTFOUND;
}

static void cl__device_removed(struct cl_router *rt, const char *device_id, enum cl_end_reason why)
{
    cl_hub_device_removed(cl__hub(rt), device_id, why);
}

static void cl__session_opened(struct cl_router *rt, const struct cl_session *s)
{
    cl_hub_session_opened(cl__hub(rt), s);
}

static bool cl__session_live(struct cl_router *rt, const char *session_id, char *title, size_t cap,
                             size_t *viewers)
{
    return cl_hub_session_live(cl__hub(rt), session_id, title, cap, viewers);
}

static void cl__session_end(struct cl_router *rt, const char *session_id, enum cl_end_reason why)
{
    cl_hub_session_end(cl__hub(rt), session_id, why);
}

static void cl__session_viewers(struct cl_router *rt, const char *session_id, cl_viewer_cb cb,
                                void *ctx)
{
    cl_hub_viewers(cl__hub(rt), session_id, cb, ctx);
}

static void cl__share_changed(struct cl_router *rt, const char *session_id, const char *user_id,
                              enum cl_share_mode mode)
{
    cl_hub_share_changed(cl__hub(rt), session_id, user_id, mode);
}

static void cl__user_recheck(struct cl_router *rt, const char *user_id)
{
    cl_hub_recheck_user(cl__hub(rt), user_id);
}

static void cl__session_output(struct cl_router *rt, const struct cl_router_output *out)
{
    cl_hub_viewers_output(cl__hub(rt), out);
}

static void cl__session_forward(struct cl_router *rt, const char *session_id, const char *text,
                                size_t len)
{
    cl_hub_viewers_forward(cl__hub(rt), session_id, text, len);
}

static void cl__session_notice(struct cl_router *rt, const char *session_id, const char *code,
                               const char *message)
{
    cl_hub_viewers_notice(cl__hub(rt), session_id, code, message);
}

static void cl__session_hold(struct cl_router *rt, const char *session_id, uint64_t acked)
{
    cl_hub_viewers_hold(cl__hub(rt), session_id, acked);
}

static void cl__session_resume(struct cl_router *rt, const char *session_id)
{
    cl_hub_viewers_resume(cl__hub(rt), session_id);
}

static void cl__session_closed(struct cl_router *rt, const char *session_id, enum cl_end_reason why,
                               bool tell)
{
    cl_hub_viewers_closed(cl__hub(rt), session_id, why, tell);
}

static void cl__session_attach(struct cl_router *rt, const char *session_id, const char *device_id)
{
    cl_hub_agent_attach(cl__hub(rt), session_id, device_id);
}

static void cl__session_acked(struct cl_router *rt, const char *session_id, uint64_t acked,
                              int viewers, int attached)
{
    cl_hub_agent_acked(cl__hub(rt), session_id, acked, viewers, attached);
}

static void cl__session_replay(struct cl_router *rt, const char *session_id, uint64_t offset)
{
    cl_hub_agent_replay(cl__hub(rt), session_id, offset);
}

static void cl__viewer_credit(struct cl_router *rt, const char *session_id, uint64_t viewer,
                              size_t n, bool done)
{
    cl_hub_viewers_credit(cl__hub(rt), session_id, viewer, n, done);
}

static bool cl__session_produced(struct cl_router *rt, const char *session_id, uint64_t *produced)
{
    return cl_hub_agent_produced(cl__hub(rt), session_id, produced);
}

static int cl__session_control(struct cl_router *rt, const char *session_id, const struct cl_msg *m,
                               const char *text, size_t len, bool *started)
{
    return cl_hub_agent_control(cl__hub(rt), session_id, m, text, len, started);
}

static enum cl_router_stdin_result cl__session_stdin(struct cl_router *rt,
                                                     const struct cl_router_stdin *in)
{
    return cl_hub_agent_stdin(cl__hub(rt), in);
}

static void cl__viewer_left(struct cl_router *rt, const char *session_id, uint64_t viewer)
{
    cl_hub_agent_viewer_left(cl__hub(rt), session_id, viewer);
}

static const struct cl_router_ops cl__local_ops = {
    .agent_online = cl__agent_online,
    .agent_find = cl__agent_find,
    .agent_send = cl__agent_send,
    .device_removed = cl__device_removed,
    .session_opened = cl__session_opened,
    .session_live = cl__session_live,
    .session_end = cl__session_end,
    .session_viewers = cl__session_viewers,
    .share_changed = cl__share_changed,
    .user_recheck = cl__user_recheck,
    .session_output = cl__session_output,
    .session_forward = cl__session_forward,
    .session_notice = cl__session_notice,
    .session_hold = cl__session_hold,
    .session_resume = cl__session_resume,
    .session_closed = cl__session_closed,
    .session_attach = cl__session_attach,
    .session_acked = cl__session_acked,
    .session_replay = cl__session_replay,
    .viewer_credit = cl__viewer_credit,
    .session_produced = cl__session_produced,
    .session_control = cl__session_control,
    .session_stdin = cl__session_stdin,
    .viewer_left = cl__viewer_left,
};

void cl_router_local_init(struct cl_router *rt, struct cl_hub *h)
{
    rt->ops = &cl__local_ops;
    rt->impl = h;
}
