/*
 * hub_viewer: the hub's viewer half. Viewers by session, what each was
 * sent and acked, lagging viewers, ghosts, gaps, each chunk's frame encoded
 * once per protocol, and the auth of /session. It reaches a session's
 * agent only through the router (decision 70), and answers the router's
 * entries toward the viewers (cl_hub_viewers_*, called by router_local.c).
 *
 * Per viewer it keeps `sent`, the stream offset of the next byte it should
 * get: a chunk is delivered only past it, cut where it overlaps, and
 * preceded by a gap notice where bytes are missing. Replays from the
 * agent's ring are therefore safe to broadcast: viewers that already have
 * the bytes skip them (docs/protocol.md, "Lossless resume and flow
 * control").
 */
#include "relay/hub.h"
#include "relay/hub_internal.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/log.h"
#include "core/proto.h"
#include "core/secret.h"
#include "relay/admission.h"
#include "relay/metrics.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

/* ---- live sessions: this half's table -------------------------------- */

struct cl_viewer_session *cl_hub_viewer_session(struct cl_hub *h, const char *id)
{
    struct cl_viewer_session *ls;
    HASH_FIND_STR(h->watched, id, ls);
    return ls;
}

/* The session's entry here, made when a viewer (or a held place) first
 * comes for it. */
static struct cl_viewer_session *cl__session_get(struct cl_hub *h, const char *id)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, id);
    if (ls)
        return ls;
    ls = calloc(1, sizeof *ls);
    if (!ls)
        abort();
    snprintf(ls->id, sizeof ls->id, "%s", id);
    ls->hub = h;
    uv_timer_init(h->relay->loop, &ls->ghost_timer);
    ls->ghost_timer.data = ls;
    HASH_ADD_STR(h->watched, id, ls);
    return ls;
}

static void cl__session_free(uv_handle_t *t)
{
    free(t->data);
}

/* Forgets ls: its viewers view nothing any more (they were told). */
static void cl__session_remove(struct cl_hub *h, struct cl_viewer_session *ls)
{
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        v->live = NULL;
    ls->viewers = NULL;
    HASH_DEL(h->watched, ls);
    uv_timer_stop(&ls->ghost_timer);
    uv_close((uv_handle_t *)&ls->ghost_timer, cl__session_free);
}

/* Asks the session's agent for its output again from offset (it does,
 * if it has produced past it). */
static void cl__replay(struct cl_hub *h, struct cl_viewer_session *ls, uint64_t offset)
{
    struct cl_router *rt = &h->relay->router;
    rt->ops->session_replay(rt, ls->id, offset);
}

/* Tells the agent's half the viewers' best ack (the fastest viewer's, or
 * the ghost's), their count (the ghost's place counts) and how many are
 * attached, when any changed: what its acks to the agent are made of, and
 * whether its idle backstop runs. */
static void cl__acked(struct cl_hub *h, struct cl_viewer_session *ls)
{
    struct cl_router *rt = &h->relay->router;
    uint64_t best = ls->ghost ? ls->ghost_acked : 0;
    int n = (int)ls->nviewers + (ls->ghost ? 1 : 0);
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        if (v->acked > best)
            best = v->acked;
    if (ls->told && best == ls->told_acked && n == ls->told_count &&
        (int)ls->nviewers == ls->told_attached)
        return;
    ls->told = true;
    ls->told_acked = best;
    ls->told_count = n;
    ls->told_attached = (int)ls->nviewers;
    rt->ops->session_acked(rt, ls->id, best, n, (int)ls->nviewers);
}

/* One piece of a session's output on its way to the viewers. The frame
 * for the whole chunk is encoded at most once per protocol and shared by
 * every viewer that speaks it; a viewer that needs only a tail gets a
 * frame of its own. */
struct cl_chunk {
    const char *session_id;
    uint64_t o;          /* offset of data[0] */
    const uint8_t *data; /* NULL until needed when it came as base64 (b64) */
    size_t n;
    const char *b64; /* a v1 agent's payload, still encoded (cl_msg_peek_stdout) */
    size_t b64_len;
    uint8_t *decoded;     /* data, once decoded from b64 */
    const void *frame[3]; /* [1] JSON text, [2] binary: the whole chunk with its offset */
    size_t frame_len[3];
    void *owned[3]; /* what this chunk encoded itself */
};

/* The chunk's bytes, decoded from base64 the first time a viewer needs
 * them (a cut, or the other protocol); NULL if that fails. */
static const uint8_t *cl__chunk_bytes(struct cl_chunk *ch)
{
    long got;
    if (ch->data || !ch->b64)
        return ch->data;
    ch->decoded = malloc(ch->n ? ch->n : 1);
    if (!ch->decoded)
        abort();
    got = cl_b64_decode(ch->b64, ch->b64_len, ch->decoded, ch->n ? ch->n : 1);
    if (got != (long)ch->n) {
        cl_warn("hub", "agent output is not the base64 it was checked to be", "session=%s",
                ch->session_id);
        return NULL;
    }
    ch->data = ch->decoded;
    return ch->data;
}

/* Encodes [o + skip, o + n) of ch for protocol proto into a new frame. */
static struct cl_frame *cl__chunk_encode(struct cl_chunk *ch, int proto, size_t skip)
{
    size_t n = ch->n - skip;
    struct cl_frame *f;
    if (proto >= 2 && skip == 0 && !ch->data && ch->b64) {
        /* a v1 agent's whole chunk for v2 viewers (a PrivaClaw connector
         * and the web app): decoded straight into the frame, no copy */
        size_t h = cl_bin_header_len(strlen(ch->session_id));
        f = cl_frame_new(h + n);
        cl_bin_write_header(cl_frame_payload(f), CL_MSG_STDOUT, ch->session_id, ch->o);
        if (cl_b64_decode(ch->b64, ch->b64_len, cl_frame_payload(f) + h, n) != (long)n) {
            free(f);
            cl_warn("hub", "agent output is not the base64 it was checked to be", "session=%s",
                    ch->session_id);
            return NULL;
        }
        f->len = h + n;
        f->binary = true;
        return f;
    }
    if (!cl__chunk_bytes(ch))
        return NULL;
    if (proto >= 2) {
        size_t h = cl_bin_header_len(strlen(ch->session_id));
        f = cl_frame_new(h + n);
        cl_bin_write_header(cl_frame_payload(f), CL_MSG_STDOUT, ch->session_id, ch->o + skip);
        memcpy(cl_frame_payload(f) + h, ch->data + skip, n);
        f->len = h + n;
        f->binary = true;
    } else {
        size_t cap = cl_msg_data_encoded_max(strlen(ch->session_id), n);
        long w;
        f = cl_frame_new(cap);
        w = cl_msg_encode_data(CL_MSG_STDOUT, ch->session_id, ch->data + skip, n,
                               (int64_t)(ch->o + skip), (char *)cl_frame_payload(f), cap);
        f->len = w > 0 ? (size_t)w : 0;
    }
    return f;
}

/* A frame of the whole chunk for protocol proto: a copy of the encoding
 * made (or received) once. */
static struct cl_frame *cl__chunk_frame(struct cl_chunk *ch, int proto)
{
    struct cl_frame *f;
    int p = proto >= 2 ? 2 : 1;
    if (!ch->frame[p]) {
        f = cl__chunk_encode(ch, p, 0);
        if (!f)
            return NULL;
        ch->owned[p] = f; /* kept as the template; freed with the chunk */
        ch->frame[p] = cl_frame_payload(f);
        ch->frame_len[p] = f->len;
    }
    f = cl_frame_new(ch->frame_len[p]);
    memcpy(cl_frame_payload(f), ch->frame[p], ch->frame_len[p]);
    f->len = ch->frame_len[p];
    f->binary = p == 2;
    return f;
}

static void cl__chunk_free(struct cl_chunk *ch)
{
    free(ch->owned[1]);
    free(ch->owned[2]);
    free(ch->decoded);
}

/* Delivers a chunk to one viewer: skips what it has, cuts an overlap,
 * announces a hole. give, when not NULL, holds the agent's own frame of
 * the chunk for this viewer to take instead of a copy (it speaks the
 * frame's protocol and needs all of it). */
static void cl__deliver(struct cl_viewer_session *ls, struct cl_conn *v, struct cl_chunk *ch,
                        struct cl_frame **give)
{
    uint64_t o = ch->o, end = ch->o + ch->n;
    struct cl_frame *f;

    if (v->lagging || v->close_pending || end <= v->sent)
        return;
    if (o > v->sent) {
        if (v->gap_aware) {
            struct cl_msg g;
            memset(&g, 0, sizeof g);
            g.type = CL_MSG_GAP;
            snprintf(g.session_id, sizeof g.session_id, "%s", ls->id);
            g.gap_from = v->sent;
            g.gap_to = o;
            cl_hub_send_msg(v, &g);
        }
        cl_metrics.gaps++;
        cl_info("hub", "viewer missed output", "session=%s from=%llu to=%llu peer=%s", ls->id,
                (unsigned long long)v->sent, (unsigned long long)o, v->peer);
        v->sent = o;
    }
    if (o == v->sent && give && *give) {
        f = *give; /* the agent's frame itself: no copy */
        *give = NULL;
        f->next = NULL;
        f->owner = NULL;
        f->start_offset = 0;
    } else if (o == v->sent)
        f = cl__chunk_frame(ch, v->proto);
    else
        f = cl__chunk_encode(ch, v->proto, (size_t)(v->sent - o));
    if (!f)
        return; /* cannot happen: checked base64 */
    f->end_offset = end;
    if (v->q.bytes + f->len > CL_VIEWER_QUEUE_MAX) {
        free(f);
        v->lagging = true;
        cl_metrics.lag_events++;
        cl_info("hub", "viewer lagging: output held back", "session=%s sent=%llu peer=%s", ls->id,
                (unsigned long long)v->sent, v->peer);
        return;
    }
    cl_metrics.fwd_frames[CL_DIR_AGENT_TO_VIEWERS]++;
    cl_metrics.fwd_bytes[CL_DIR_AGENT_TO_VIEWERS] += end - v->sent;
    cl_wsq_push(&v->q, f, true);
    v->sent = end;
    cl_conn_wake(v);
}

/* ---- viewers ----------------------------------------------------------- */

static void cl__ghost_fired(uv_timer_t *t)
{
    struct cl_viewer_session *ls = t->data;
    cl_info("hub", "vanished viewer did not come back", "session=%s", ls->id);
    ls->ghost = false;
    cl__acked(ls->hub, ls);
}

static void cl__viewer_attach(struct cl_hub *h, struct cl_viewer_session *ls, struct cl_conn *v)
{
    v->live = ls;
    v->viewer_prev = NULL;
    v->viewer_next = ls->viewers;
    if (ls->viewers)
        ls->viewers->viewer_prev = v;
    ls->viewers = v;
    ls->nviewers++;
    if (ls->ghost) {
        ls->ghost = false; /* whoever vanished is back, or someone is watching */
        uv_timer_stop(&ls->ghost_timer);
    }
    cl__acked(h, ls);
}

static void cl__viewer_detach(struct cl_hub *h, struct cl_conn *v)
{
    struct cl_viewer_session *ls = v->live;
    if (!ls)
        return;
    if (v->viewer_prev)
        v->viewer_prev->viewer_next = v->viewer_next;
    else
        ls->viewers = v->viewer_next;
    if (v->viewer_next)
        v->viewer_next->viewer_prev = v->viewer_prev;
    v->viewer_next = v->viewer_prev = NULL;
    v->live = NULL;
    h->relay->router.ops->viewer_left(&h->relay->router, ls->id, v->viewer_id);
    if (v->gap_aware && !v->peer_closed && !v->close_pending && !h->relay->stopping) {
        if (!ls->ghost || v->acked < ls->ghost_acked)
            ls->ghost_acked = v->acked;
        ls->ghost = true;
        uv_timer_start(&ls->ghost_timer, cl__ghost_fired,
                       (uint64_t)h->relay->opts.agent_grace_s * 1000, 0);
        cl_info("hub", "viewer vanished: holding its place", "session=%s acked=%llu peer=%s",
                ls->id, (unsigned long long)v->acked, v->peer);
    } else {
        cl_info("hub", "viewer left", "session=%s peer=%s", ls->id, v->peer);
    }
    ls->nviewers--;
    cl__acked(h, ls);
}

static void cl__to_viewers(struct cl_viewer_session *ls, const char *text, size_t len)
{
    struct cl_conn *v = ls->viewers, *next;
    for (; v; v = next) {
        next = v->viewer_next; /* cl_conn_send may close v, not unlink it */
        cl_conn_send(v, text, len);
    }
}

/* ---- browsers --------------------------------------------------------- */

void cl_hub_browser_auth(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m)
{
    struct cl_store *s = &h->relay->store;
    uint8_t hash[CL_HASH_LEN];
    char user_id[CL_UUID_LEN + 1];
    struct cl_session sess;
    struct cl_router *rt = &h->relay->router;
    struct cl_viewer_session *ls;
    uint64_t produced;
    enum cl_share_mode mode = CL_SHARE_NONE;
    int rc;

    if (!m->token[0] && !c->cookie_ok) {
        cl_warn("hub", "browser auth refused: no token", "peer=%s", c->peer);
        cl_conn_send_error(c, "auth_failed",
                           "auth needs a token (or the session cookie, from the relay's origin)",
                           NULL);
        cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "auth failed");
        return;
    }
    if (m->token[0])
        cl_hash_str(m->token, hash);
    else
        memcpy(hash, c->cookie_hash, sizeof hash); /* the upgrade's cookie (webauth.h) */
    if (s->ops->token_user(s, hash, cl_now(), user_id) != 0) {
        cl_warn("hub", "browser auth refused: bad token", "peer=%s", c->peer);
        cl_conn_send_error(c, "auth_failed", "invalid or expired token", NULL);
        cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "auth failed");
        return;
    }
    rc = cl_policy_session(s, user_id, CL_ACT_SESSION_ATTACH, m->session_id, &sess, NULL, &mode);
    if (rc == 0 && strcmp(sess.device_id, m->device_id) != 0)
        rc = CL_ENOTFOUND;
    if (rc) {
        cl_warn("hub", "browser auth refused", "peer=%s user=%s reason=%s", c->peer, user_id,
                cl_strerror(rc));
        cl_conn_send_error(c, rc == CL_EFORBIDDEN ? "forbidden" : "not_found",
                           rc == CL_EFORBIDDEN ? "you may not attach to this session"
                                               : "no such session on this device",
                           m->session_id);
        cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "auth failed");
        return;
    }
    if (!sess.active) {
        cl_conn_send_error(c, "session_ended", "this session has ended", sess.id);
        cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "session ended");
        return;
    }
    ls = cl__session_get(h, sess.id);
    rt->ops->session_attach(rt, sess.id, sess.device_id); /* the agent's half tracks it too */
    snprintf(c->user_id, sizeof c->user_id, "%s", user_id);
    snprintf(c->session_id, sizeof c->session_id, "%s", sess.id);
    c->viewer_id = ++h->viewer_ids;
    memcpy(c->auth_hash, hash, sizeof hash);
    c->authed = true;
    cl_admission_ws_authed(c->relay->admission, c->wsi);
    c->view_only = mode != CL_SHARE_CONTROL;
    c->starter = strcmp(sess.user_id, user_id) == 0;
    /* A browser that names where to resume gets exactly what it missed;
     * one that does not (a PrivaClaw browser, a reload) gets the recent
     * history the agent still holds, from offset 0 or the ring's oldest
     * byte. Only a browser that names an offset understands gap notices. */
    c->gap_aware = m->has_resume_offset;
    c->sent = m->has_resume_offset ? m->resume_offset : 0;
    if (rt->ops->session_produced(rt, ls->id, &produced) && c->sent > produced)
        c->sent = produced;
    c->acked = c->sent;
    c->proto = m->proto >= 2 ? CL_PROTO_MAX : 1;
    h->browsers++;
    /* a v2 browser is granted an input window and told as its input
     * leaves (stdin_ack); a PrivaClaw browser never sees either */
    c->in_flow = m->proto >= 2;
    cl_hub_send_accepted(c, CL_MSG_AUTH_OK, m->proto,
                         c->in_flow ? CL_RELAY_STDIN_VIEWER_WINDOW : 0);
    cl__viewer_attach(h, ls, c);
    cl_info("hub", "browser attached", "session=%s user=%s peer=%s resume=%llu", sess.id, user_id,
            c->peer, (unsigned long long)c->sent);
    cl__replay(h, ls, c->sent); /* if it is behind (the agent's half knows) */
}

/* Tells viewer c how much of its input went on to the agent, if it was
 * granted a window: at once when its queued input has drained (queued:
 * it came through the session's queue), else every CL_STDIN_ACK_STEP
 * (typing, which goes at once, costs no extra messages). */
static void cl__stdin_ack_viewer(struct cl_conn *c, bool queued)
{
    bool drained = queued && c->in_fwd == c->in_recv;
    if (!c->in_flow || c->in_fwd <= c->in_ack_sent || c->close_pending)
        return;
    if (!drained && c->in_fwd - c->in_ack_sent < CL_STDIN_ACK_STEP)
        return;
    cl_hub_send_offset(c, CL_MSG_STDIN_ACK, c->session_id, c->in_fwd, -1);
    c->in_ack_sent = c->in_fwd;
}

/* A viewer's stdin, through the agent's input window (the agent's half,
 * through the router, says how it went). What it sent is counted as
 * queued before the call: the agent's half may credit some of it at once. */
static void cl__browser_stdin(struct cl_hub *h, struct cl_conn *c, struct cl_viewer_session *ls,
                              const struct cl_msg *m, const char *frame, size_t len, bool binary)
{
    struct cl_router *rt = &h->relay->router;
    size_t n = m->data_len, cost = n + CL_INQ_MSG_COST;
    struct cl_router_stdin in = {
        .session_id = ls->id,
        .viewer = c->viewer_id,
        .data = m->data,
        .n = n,
        .frame = frame,
        .frame_len = len,
        .binary = binary,
        .cost = c->in_cost,
        .refusing = c->in_refusing,
    };
    char why[256];

    if (!n)
        return;
    c->in_recv += n;
    c->in_cost += cost;
    switch (rt->ops->session_stdin(rt, &in)) {
    case CL_ROUTER_STDIN_SENT:
        c->in_refusing = false;
        c->in_cost -= cost;
        c->in_fwd += n;
        cl__stdin_ack_viewer(c, false);
        break;
    case CL_ROUTER_STDIN_QUEUED:
        c->in_refusing = false;
        break;
    case CL_ROUTER_STDIN_BUSY:
        c->in_recv -= n;
        c->in_cost -= cost;
        c->in_refusing = true;
        snprintf(why, sizeof why,
                 "terminal busy: its program is not reading input; this input (%zu bytes) was "
                 "refused whole and nothing of it was sent",
                 n);
        cl_conn_send_error(c, "input_busy", why, ls->id);
        break;
    case CL_ROUTER_STDIN_OFFLINE:
        c->in_recv -= n;
        c->in_cost -= cost;
        cl_conn_send_error(c, "device_offline", "the device is offline", c->session_id);
        break;
    }
}

/* The starter ended the session while its agent is offline: it ends here
 * and now (store, viewers, dashboards); the agent's half is told through
 * the router as the API would. */
static void cl__end_offline(struct cl_hub *h, struct cl_viewer_session *ls)
{
    struct cl_store *s = &h->relay->store;
    struct cl_router *rt = &h->relay->router;
    const char *reason = cl_end_reason_name(CL_END_USER_DISCONNECT);
    char id[CL_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", ls->id); /* ls goes with the session */
    s->ops->session_end(s, id, cl_now(), reason, false, 0);
    cl_info("hub", "session ended", "session=%s reason=%s", id, reason);
    rt->ops->session_end(rt, id, CL_END_USER_DISCONNECT);
}

void cl_hub_browser_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m, const char *text,
                            size_t len, bool binary)
{
    struct cl_router *rt = &h->relay->router;
    struct cl_viewer_session *ls = c->live;
    bool started;

    switch (m->type) {
    case CL_MSG_PING:
        cl_hub_send_simple(c, CL_MSG_PONG, NULL);
        return;
    case CL_MSG_SESSION_START:
    case CL_MSG_STDIN:
    case CL_MSG_RESIZE:
    case CL_MSG_SESSION_END:
    case CL_MSG_ACK:
        break;
    default:
        cl_conn_log_bad(c, "hub", "bad_message", "message type not valid from a browser");
        cl_conn_send_error(c, "bad_message", "message type not valid from a browser", NULL);
        return;
    }
    if (strcmp(m->session_id, c->session_id) != 0) {
        cl_conn_send_error(c, "forbidden_session",
                           "this connection is authenticated for another session", m->session_id);
        return;
    }
    if (!ls) {
        cl_conn_send_error(c, "session_ended", "this session has ended", c->session_id);
        return;
    }
    if (m->type == CL_MSG_ACK) {
        uint64_t off = m->offset < c->sent ? m->offset : c->sent;
        c->gap_aware = c->explicit_acks = true;
        if (off > c->acked)
            c->acked = off;
        cl__acked(h, ls);
        return;
    }
    if (c->view_only) {
        cl_conn_send_error(c, "view_only", "this session is shared with you view-only",
                           c->session_id);
        return;
    }
    if (m->type == CL_MSG_SESSION_END && !c->starter) {
        cl_conn_send_error(c, "forbidden",
                           "only the user who started this session can end it; close the "
                           "connection to stop watching",
                           c->session_id);
        return;
    }
    if (m->type == CL_MSG_STDIN) {
        cl__browser_stdin(h, c, ls, m, text, len, binary);
        return;
    }
    if (rt->ops->session_control(rt, ls->id, m, text, len, &started) == CL_ENOTFOUND) {
        cl_conn_send_error(c, "device_offline", "the device is offline", c->session_id);
        if (m->type == CL_MSG_SESSION_END)
            cl__end_offline(h, ls);
        return;
    }
    if (started)
        cl_hub_send_simple(c, CL_MSG_SESSION_STARTED, ls->id);
}

/* A viewer's frame was written: acks for browsers that never ack, and a
 * lagging viewer catches up once its queue has drained. */
void cl_hub_viewer_written(struct cl_conn *c, uint64_t end_offset)
{
    struct cl_hub *h = c->relay->hub;
    struct cl_viewer_session *ls = c->live;
    if (!ls)
        return;
    if (end_offset && !c->explicit_acks && end_offset > c->acked) {
        c->acked = end_offset; /* a browser that never acks: acked as its socket drains */
        cl__acked(h, ls);
    }
    if (c->lagging && cl_wsq_empty(&c->q)) {
        c->lagging = false;
        cl_info("hub", "lagging viewer drained: catching up", "session=%s sent=%llu peer=%s",
                ls->id, (unsigned long long)c->sent, c->peer);
        cl__replay(h, ls, c->sent);
    }
}

void cl_hub_share_changed(struct cl_hub *h, const char *session_id, const char *user_id,
                          enum cl_share_mode mode)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, session_id);
    if (!ls)
        return;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next) {
        if (v->starter || strcmp(v->user_id, user_id) != 0)
            continue;
        if (mode == CL_SHARE_NONE) {
            cl_conn_send_error(v, "share_revoked", "this session is no longer shared with you",
                               session_id);
            cl_conn_close(v, 4003, "share revoked");
        } else {
            v->view_only = mode != CL_SHARE_CONTROL;
        }
    }
}

void cl_hub_recheck_user(struct cl_hub *h, const char *user_id)
{
    struct cl_store *s = &h->relay->store;
    struct cl_viewer_session *ls, *tmp;
    char uid[CL_UUID_LEN + 1];

    HASH_ITER(hh, h->watched, ls, tmp)
    {
        for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next) {
            if (v->close_pending || strcmp(v->user_id, user_id) != 0)
                continue;
            if (s->ops->token_user(s, v->auth_hash, cl_now(), uid) == 0 &&
                strcmp(uid, user_id) == 0)
                continue;
            cl_info("hub", "viewer's token revoked: closing", "session=%s user=%s peer=%s", ls->id,
                    user_id, v->peer);
            cl_conn_send_error(v, "auth_failed", "token revoked or expired", ls->id);
            cl_conn_close(v, LWS_CLOSE_STATUS_POLICY_VIOLATION, "token revoked");
        }
    }
}

void cl_hub_viewers(struct cl_hub *h, const char *session_id, cl_viewer_cb cb, void *ctx)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, session_id);
    if (!ls)
        return;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        if (!v->close_pending)
            cb(v->user_id, v->view_only, v->peer, ctx);
}

/* ---- the router's entries to a session's viewers (decision 70) ---------- */

void cl_hub_viewers_output(struct cl_hub *h, const struct cl_router_output *out)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, out->session_id);
    struct cl_conn *v, *next, *take = NULL;
    struct cl_chunk ch;

    if (!ls)
        return;
    memset(&ch, 0, sizeof ch);
    ch.session_id = ls->id;
    ch.o = out->offset;
    ch.data = out->data;
    ch.n = out->n;
    ch.b64 = out->b64;
    ch.b64_len = out->b64_len;
    if (out->frame) {
        /* the agent's own frame says exactly this: forwarded as it is */
        ch.frame[out->binary ? 2 : 1] = out->frame;
        ch.frame_len[out->binary ? 2 : 1] = out->frame_len;
    }
    if (out->frame && out->owned && *out->owned) {
        /* one viewer that wants exactly this frame may have it; it goes
         * last, as the others copy from it */
        int p = out->binary ? 2 : 1;
        for (v = ls->viewers; v; v = v->viewer_next)
            if ((v->proto >= 2 ? 2 : 1) == p && v->sent == ch.o && !v->lagging && !v->close_pending)
                take = v;
    }
    for (v = ls->viewers; v; v = next) {
        next = v->viewer_next;
        if (v != take)
            cl__deliver(ls, v, &ch, NULL);
    }
    if (take)
        cl__deliver(ls, take, &ch, out->owned);
    cl__chunk_free(&ch);
}

void cl_hub_viewers_forward(struct cl_hub *h, const char *session_id, const char *text, size_t len)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, session_id);
    if (ls)
        cl__to_viewers(ls, text, len);
}

void cl_hub_viewers_notice(struct cl_hub *h, const char *session_id, const char *code,
                           const char *message)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, session_id);
    if (!ls)
        return;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        cl_conn_send_error(v, code, message, session_id);
}

void cl_hub_viewers_hold(struct cl_hub *h, const char *session_id, uint64_t acked)
{
    struct cl_viewer_session *ls = cl__session_get(h, session_id);
    if (ls->nviewers || ls->ghost)
        return; /* someone is watching, or a place is held already */
    ls->ghost = true;
    ls->ghost_acked = acked;
    uv_timer_start(&ls->ghost_timer, cl__ghost_fired, (uint64_t)h->relay->opts.agent_grace_s * 1000,
                   0);
    cl__acked(h, ls);
}

/* The lowest `sent` among viewers that are not lagging: the agent replays
 * from there (those ahead skip what they have). */
void cl_hub_viewers_resume(struct cl_hub *h, const char *session_id)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, session_id);
    uint64_t lowest = UINT64_MAX;
    if (!ls)
        return;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        if (!v->lagging && v->sent < lowest)
            lowest = v->sent;
    if (lowest != UINT64_MAX)
        cl__replay(h, ls, lowest);
}

void cl_hub_viewers_credit(struct cl_hub *h, const char *session_id, uint64_t viewer, size_t n,
                           bool done)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, session_id);
    if (!ls)
        return;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        if (v->viewer_id == viewer) {
            v->in_fwd += n;
            v->in_cost -= n + (done ? CL_INQ_MSG_COST : 0);
            cl__stdin_ack_viewer(v, true);
            return;
        }
}

void cl_hub_viewers_closed(struct cl_hub *h, const char *session_id, enum cl_end_reason why,
                           bool tell)
{
    struct cl_viewer_session *ls = cl_hub_viewer_session(h, session_id);
    if (!ls)
        return;
    if (tell)
        for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
            cl_hub_send_end(v, ls->id, why);
    cl__session_remove(h, ls);
}

void cl_hub_viewer_closed(struct cl_hub *h, struct cl_conn *c)
{
    if (!c->authed)
        return;
    h->browsers--;
    cl__viewer_detach(h, c);
}

void cl_hub_viewers_free(struct cl_hub *h)
{
    struct cl_viewer_session *ls, *tmp;
    HASH_ITER(hh, h->watched, ls, tmp)
    cl__session_remove(h, ls);
}
