/*
 * hub: agent and browser WebSocket routing, live sessions, per-viewer
 * offsets (lossless resume), flow control and grace periods.
 *
 * Per viewer the hub keeps `sent`, the stream offset of the next byte it
 * should get: a stdout chunk is forwarded only past it, cut where it
 * overlaps, and preceded by a gap notice where bytes are missing. Replays
 * from the agent's ring are therefore safe to broadcast: viewers that
 * already have the bytes skip them. See docs/protocol.md, "Lossless resume
 * and flow control".
 */
#include "relay/admission.h"
#include "relay/hub.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proto.h"
#include "core/secret.h"
#include "core/sockinfo.h"
#include "relay/events.h"
#include "relay/inq.h"
#include "relay/metrics.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct cl_live_session {
    char id[CL_ID_MAX + 1];
    char device_id[CL_ID_MAX + 1];
    bool start_sent;      /* session_start forwarded to the agent */
    bool fresh;           /* made by start-session in this relay process, not found in the
                           * store after a restart: its shell may still be to start */
    bool started;         /* the agent answered session_started (or announced it) */
    uint64_t produced;    /* stream offset after the newest byte seen */
    uint64_t ack_sent;    /* last ack offset told to the agent */
    int viewers_sent;     /* viewer count in that ack; -1 = none sent yet */
    uv_timer_t ack_timer; /* a caught-up ack waiting CL_ACK_DELAY_MS */
    struct cl_conn *viewers;
    size_t nviewers;
    /* A viewer that vanished without a close (network stall, ping timeout)
     * is held as a ghost for --agent-grace: it still counts for flow
     * control, so the shell stays paused until it comes back and resumes. */
    bool ghost;
    uint64_t ghost_acked;
    uv_timer_t ghost_timer;
    int open_handles;
    uv_timer_t idle; /* runs while nviewers == 0: backstop for v1 agents */
    /* The agent's latest session_title; stored at most every
     * CL_SESSION_TITLE_STORE_MS (title_dirty: newer than the store's). */
    char title[CL_SESSION_TITLE_MAX + 1];
    bool title_dirty;
    uint64_t title_stored_ms; /* loop time of the last store; 0 = never */
    /* Input flow control (docs/protocol.md, "Input flow control"): stdin
     * waiting for the agent's window, and the agent's count of this
     * session's stdin: passed to it, and written (its stdin_ack). */
    struct cl_inq inq;
    uint64_t in_fwd, in_acked;
    struct cl_hub *hub;
    UT_hash_handle hh;
};

/* A disconnected agent's grace period. */
struct cl_grace {
    char device_id[CL_ID_MAX + 1];
    uv_timer_t timer;
    struct cl_hub *hub;
    UT_hash_handle hh;
};

struct cl_hub {
    struct cl_relay *relay;
    struct cl_conn *agents;           /* by device_id */
    struct cl_live_session *sessions; /* by id */
    struct cl_grace *graces;          /* by device_id */
    size_t browsers;
    /* agent messages other modules take (cl_hub_take): by_type holds a
     * taker's index + 1, 0 for the hub's own */
    struct {
        const struct cl_agent_taker *t;
        void *ctx;
    } takers[CL_HUB_AGENT_TAKERS_MAX];
    size_t ntakers;
    uint8_t by_type[CL_MSG__COUNT];
};

static void cl__grace_start(struct cl_hub *h, const char *device_id);

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

static void cl__grace_at_start(const struct cl_session *sess, void *ctx)
{
    cl__grace_start(ctx, sess->device_id); /* once per device: it skips a running one */
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

static void cl__send_msg(struct cl_conn *c, const struct cl_msg *m)
{
    size_t len;
    char *text = cl_msg_encode(m, &len);
    if (!text)
        abort();
    cl_conn_send(c, text, len);
    free(text);
}

static void cl__send_simple(struct cl_conn *c, enum cl_msg_type type, const char *session_id)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    if (session_id)
        snprintf(m.session_id, sizeof m.session_id, "%s", session_id);
    cl__send_msg(c, &m);
}

/* hello_ok / auth_ok; a peer that asked for a protocol version is told
 * which one it got (silence means v1 to a PrivaClaw peer), and a
 * stdin_window (0: none) is the input window honoured or granted. */
static void cl__send_accepted(struct cl_conn *c, enum cl_msg_type type, int asked,
                              uint32_t stdin_window)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.proto = asked ? c->proto : 0;
    m.stdin_window = stdin_window;
    cl__send_msg(c, &m);
}

/* A session_end the relay itself decides (an agent's own is forwarded as
 * it came): no exit code. */
static void cl__send_end(struct cl_conn *c, const char *session_id, enum cl_end_reason why)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_SESSION_END;
    snprintf(m.session_id, sizeof m.session_id, "%s", session_id);
    snprintf(m.reason, sizeof m.reason, "%s", cl_end_reason_name(why));
    cl__send_msg(c, &m);
}

static void cl__send_offset(struct cl_conn *c, enum cl_msg_type type, const char *session_id,
                            uint64_t offset, int viewers)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    snprintf(m.session_id, sizeof m.session_id, "%s", session_id);
    m.offset = offset;
    m.has_viewers = viewers >= 0;
    m.viewers = viewers;
    cl__send_msg(c, &m);
}

static struct cl_conn *cl__agent_find(struct cl_hub *h, const char *device_id)
{
    struct cl_conn *a;
    HASH_FIND_STR(h->agents, device_id, a);
    return a;
}

/* ---- live sessions ---------------------------------------------------- */

static void cl__free_live(uv_handle_t *t)
{
    struct cl_live_session *ls = t->data;
    if (--ls->open_handles == 0)
        free(ls);
}

/* Writes the live title of ls to the store. */
static void cl__title_store(struct cl_hub *h, struct cl_live_session *ls)
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
static void cl__live_title(struct cl_hub *h, struct cl_live_session *ls, const char *title)
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

static void cl__live_remove(struct cl_hub *h, struct cl_live_session *ls)
{
    if (ls->title_dirty)
        cl__title_store(h, ls);
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
static void cl__live_end(struct cl_hub *h, struct cl_live_session *ls, enum cl_end_reason why,
                         bool tell_agent)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_store *s = &h->relay->store;
    struct cl_conn *agent = tell_agent ? cl__agent_find(h, ls->device_id) : NULL;
    s->ops->session_end(s, ls->id, cl_now(), reason, false, 0);
    if (agent)
        cl__send_end(agent, ls->id, why);
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        cl__send_end(v, ls->id, why);
    cl_info("hub", "session ended", "session=%s reason=%s", ls->id, reason);
    cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
    cl__live_remove(h, ls);
}

static void cl__idle_fired(uv_timer_t *t)
{
    struct cl_live_session *ls = t->data;
    struct cl_hub *h = ls->hub;
    struct cl_conn *agent = cl__agent_find(h, ls->device_id);
    if (agent && agent->ext)
        return; /* a clawlink agent runs its own --idle-grace */
    cl_info("hub", "session idle: ending", "session=%s", ls->id);
    cl__live_end(h, ls, CL_END_IDLE, true);
}

static struct cl_live_session *cl__live_add(struct cl_hub *h, const char *id, const char *device_id)
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
    uv_timer_start(&ls->idle, cl__idle_fired, (uint64_t)CL_SESSION_IDLE_GRACE_S * 1000, 0);
    HASH_ADD_STR(h->sessions, id, ls);
    return ls;
}

static struct cl_live_session *cl__live_find(struct cl_hub *h, const char *id)
{
    struct cl_live_session *ls;
    HASH_FIND_STR(h->sessions, id, ls);
    return ls;
}

/* The live session for an agent message: from memory, or (after a relay
 * restart) from the store if it is still active there and on this device. */
static struct cl_live_session *cl__live_for_agent(struct cl_hub *h, struct cl_conn *agent,
                                                  const char *id)
{
    struct cl_live_session *ls = cl__live_find(h, id);
    struct cl_session row;
    struct cl_store *s = &h->relay->store;
    if (ls)
        return strcmp(ls->device_id, agent->device_id) == 0 ? ls : NULL;
    if (s->ops->session_get(s, id, &row) != 0 || !row.active ||
        strcmp(row.device_id, agent->device_id) != 0)
        return NULL;
    ls = cl__live_add(h, row.id, row.device_id);
    ls->start_sent = ls->started = true; /* the agent knows it */
    snprintf(ls->title, sizeof ls->title, "%s", row.title);
    return ls;
}

/* ---- flow control ------------------------------------------------------ */

static void cl__ack_send(struct cl_hub *h, struct cl_live_session *ls, bool now);

static void cl__ack_delay_fired(uv_timer_t *t)
{
    struct cl_live_session *ls = t->data;
    cl__ack_send(ls->hub, ls, true);
}

/* Tells a clawlink agent how far the fastest viewer has consumed and how
 * many viewers there are, when either changed enough to matter: at once
 * for a step of CL_ACK_STEP or a new viewer count; CL_ACK_DELAY_MS later
 * (or with the next step) when the viewers have merely caught up. */
static void cl__ack_send(struct cl_hub *h, struct cl_live_session *ls, bool now)
{
    struct cl_conn *agent = cl__agent_find(h, ls->device_id);
    uint64_t best = ls->ghost ? ls->ghost_acked : 0;
    int n = (int)ls->nviewers + (ls->ghost ? 1 : 0);
    if (!agent || !agent->ext)
        return;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        if (v->acked > best)
            best = v->acked;
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
    cl__send_offset(agent, CL_MSG_ACK, ls->id, best, n);
}

static void cl__ack_update(struct cl_hub *h, struct cl_live_session *ls)
{
    cl__ack_send(h, ls, false);
}

/* Asks the agent to send the session's output again from offset. */
static void cl__request_replay(struct cl_hub *h, struct cl_live_session *ls, uint64_t offset)
{
    struct cl_conn *agent = cl__agent_find(h, ls->device_id);
    if (!agent || !agent->ext || !ls->started || offset >= ls->produced)
        return;
    cl_debug("hub", "replay requested", "session=%s offset=%llu produced=%llu", ls->id,
             (unsigned long long)offset, (unsigned long long)ls->produced);
    cl__send_offset(agent, CL_MSG_REPLAY, ls->id, offset, -1);
}

/* The lowest `sent` among viewers that are behind what was produced. */
static void cl__replay_for_viewers(struct cl_hub *h, struct cl_live_session *ls)
{
    uint64_t lowest = UINT64_MAX;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        if (!v->lagging && v->sent < lowest)
            lowest = v->sent;
    if (lowest != UINT64_MAX)
        cl__request_replay(h, ls, lowest);
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
static void cl__deliver(struct cl_live_session *ls, struct cl_conn *v, struct cl_chunk *ch,
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
            cl__send_msg(v, &g);
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
    struct cl_live_session *ls = t->data;
    cl_info("hub", "vanished viewer did not come back", "session=%s", ls->id);
    ls->ghost = false;
    cl__ack_update(ls->hub, ls);
}

static void cl__viewer_attach(struct cl_hub *h, struct cl_live_session *ls, struct cl_conn *v)
{
    v->live = ls;
    v->viewer_prev = NULL;
    v->viewer_next = ls->viewers;
    if (ls->viewers)
        ls->viewers->viewer_prev = v;
    ls->viewers = v;
    if (ls->nviewers++ == 0)
        uv_timer_stop(&ls->idle);
    if (ls->ghost) {
        ls->ghost = false; /* whoever vanished is back, or someone is watching */
        uv_timer_stop(&ls->ghost_timer);
    }
    cl__ack_update(h, ls);
}

static void cl__viewer_detach(struct cl_hub *h, struct cl_conn *v)
{
    struct cl_live_session *ls = v->live;
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
    cl_inq_disown(&ls->inq, v); /* its queued input still goes, in order */
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
    if (--ls->nviewers == 0)
        uv_timer_start(&ls->idle, cl__idle_fired, (uint64_t)CL_SESSION_IDLE_GRACE_S * 1000, 0);
    cl__ack_update(h, ls);
}

static void cl__to_viewers(struct cl_live_session *ls, const char *text, size_t len)
{
    struct cl_conn *v = ls->viewers, *next;
    for (; v; v = next) {
        next = v->viewer_next; /* cl_conn_send may close v, not unlink it */
        cl_conn_send(v, text, len);
    }
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
    struct cl_live_session *ls = cl__live_find(e->hub, sess->id);
    if (ls) {
        cl__live_end(e->hub, ls, e->why, false);
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
    if (cl__agent_find(h, device_id))
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
    struct cl_live_session *ls = cl__live_find(r->hub, sess->id);
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

static void cl__stdin_discard(struct cl_hub *h, struct cl_live_session *ls, uint64_t lost);

static void cl__agent_announce(struct cl_hub *h, struct cl_conn *c, const struct cl_msg *m)
{
    struct cl_store *s = &h->relay->store;
    struct cl__reconcile_ctx r = {h, m};
    for (size_t i = 0; i < m->nsessions; i++) {
        const struct cl_msg_session *a = &m->sessions[i];
        struct cl_live_session *ls = cl__live_for_agent(h, c, a->session_id);
        if (!ls) {
            cl__send_end(c, a->session_id, CL_END_UNKNOWN_SESSION);
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
        if (a->viewers > 0 && ls->nviewers == 0 && !ls->ghost) {
            /* It had viewers when the agent lost its relay (this relay may
             * have just restarted): hold their place, so the shell waits
             * for them to come back instead of running past their offset. */
            ls->ghost = true;
            ls->ghost_acked = a->acked;
            uv_timer_start(&ls->ghost_timer, cl__ghost_fired,
                           (uint64_t)h->relay->opts.agent_grace_s * 1000, 0);
        }
    }
    s->ops->session_list_active(s, c->device_id, cl__reconcile, &r);
    for (size_t i = 0; i < m->nsessions; i++) {
        struct cl_live_session *ls = cl__live_find(h, m->sessions[i].session_id);
        if (!ls)
            continue;
        ls->viewers_sent = -1; /* a new connection: tell it the viewer count */
        cl__ack_update(h, ls);
        cl__replay_for_viewers(h, ls);
    }
}

static void cl__stdin_pump(struct cl_hub *h, struct cl_live_session *ls);

static void cl__agent_hello(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m)
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
    old = cl__agent_find(h, d.id);
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
    cl__send_accepted(c, CL_MSG_HELLO_OK, m->proto, c->stdin_window);
    /* input that waited for the agent goes on (it takes stdin only
     * after hello_ok) */
    for (size_t i = 0; i < m->nsessions; i++) {
        struct cl_live_session *ls = cl__live_find(h, m->sessions[i].session_id);
        if (ls && strcmp(ls->device_id, c->device_id) == 0)
            cl__stdin_pump(h, ls);
    }
}

static void cl__agent_stdout(struct cl_hub *h, struct cl_conn *c, struct cl_live_session *ls,
                             struct cl_msg *m, const char *frame, size_t len, bool binary,
                             struct cl_frame **owned)
{
    uint64_t o = m->has_offset ? m->offset : ls->produced;
    struct cl_conn *v, *next, *take = NULL;
    struct cl_chunk ch;

    if (m->has_offset && !c->ext) {
        c->ext = true;
        ls->viewers_sent = -1;
    }
    memset(&ch, 0, sizeof ch);
    ch.session_id = ls->id;
    ch.o = o;
    ch.data = m->data;
    ch.n = m->data_len;
    ch.b64 = m->b64;
    ch.b64_len = m->b64_len;
    if (m->has_offset) {
        /* the agent's own frame says exactly this: forwarded as it is */
        ch.frame[binary ? 2 : 1] = frame;
        ch.frame_len[binary ? 2 : 1] = len;
    }
    if (m->has_offset && owned && *owned) {
        /* one viewer that wants exactly this frame may have it; it goes
         * last, as the others copy from it */
        int p = binary ? 2 : 1;
        for (v = ls->viewers; v; v = v->viewer_next)
            if ((v->proto >= 2 ? 2 : 1) == p && v->sent == o && !v->lagging && !v->close_pending)
                take = v;
    }
    for (v = ls->viewers; v; v = next) {
        next = v->viewer_next;
        if (v != take)
            cl__deliver(ls, v, &ch, NULL);
    }
    if (take)
        cl__deliver(ls, take, &ch, owned);
    cl__chunk_free(&ch);
    if (o + m->data_len > ls->produced)
        ls->produced = o + m->data_len;
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

static void cl__agent_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m,
                              const char *text, size_t len, bool binary, struct cl_frame **owned)
{
    struct cl_store *s = &h->relay->store;
    struct cl_live_session *ls;

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
            cl__send_end(c, m->session_id, CL_END_UNKNOWN_SESSION);
        }
        return;
    }
    switch (m->type) {
    case CL_MSG_SESSION_STARTED:
        ls->started = ls->start_sent = true;
        cl__to_viewers(ls, text, len);
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
        cl__to_viewers(ls, text, len);
        cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
        cl__live_remove(h, ls);
        break;
    }
    default:
        break;
    }
}

/* ---- browsers --------------------------------------------------------- */

static void cl__browser_auth(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m)
{
    struct cl_store *s = &h->relay->store;
    uint8_t hash[CL_HASH_LEN];
    char user_id[CL_UUID_LEN + 1];
    struct cl_session sess;
    struct cl_live_session *ls;
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
    ls = cl__live_find(h, sess.id);
    if (!ls)
        ls = cl__live_add(h, sess.id, sess.device_id);
    snprintf(c->user_id, sizeof c->user_id, "%s", user_id);
    snprintf(c->session_id, sizeof c->session_id, "%s", sess.id);
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
    if (ls->started && c->sent > ls->produced)
        c->sent = ls->produced;
    c->acked = c->sent;
    c->proto = m->proto >= 2 ? CL_PROTO_MAX : 1;
    h->browsers++;
    /* a v2 browser is granted an input window and told as its input
     * leaves (stdin_ack); a PrivaClaw browser never sees either */
    c->in_flow = m->proto >= 2;
    cl__send_accepted(c, CL_MSG_AUTH_OK, m->proto, c->in_flow ? CL_RELAY_STDIN_VIEWER_WINDOW : 0);
    cl__viewer_attach(h, ls, c);
    cl_info("hub", "browser attached", "session=%s user=%s peer=%s resume=%llu", sess.id, user_id,
            c->peer, (unsigned long long)c->sent);
    if (c->sent < ls->produced)
        cl__request_replay(h, ls, c->sent);
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

/* Forwards a browser's stdin message to the agent: the browser's own
 * frame when both speak the same protocol, else converted once. */
static void cl__forward_stdin(struct cl_conn *agent, const struct cl_msg *m, const char *frame,
                              size_t len, bool binary)
{
    cl_metrics.fwd_frames[CL_DIR_VIEWERS_TO_AGENT]++;
    cl_metrics.fwd_bytes[CL_DIR_VIEWERS_TO_AGENT] += m->data_len;
    if (binary && agent->proto >= 2)
        cl_conn_send_binary(agent, frame, len);
    else if (!binary && agent->proto < 2)
        cl_conn_send(agent, frame, len);
    else
        cl__stdin_send(agent, m->session_id, m->data, m->data_len);
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
    cl__send_offset(c, CL_MSG_STDIN_ACK, c->session_id, c->in_fwd, -1);
    c->in_ack_sent = c->in_fwd;
}

/* Bytes of ls's stdin the agent's window takes now (unbounded without). */
static uint64_t cl__stdin_room(const struct cl_conn *agent, const struct cl_live_session *ls)
{
    uint64_t inflight = ls->in_fwd - ls->in_acked;
    if (!agent->stdin_window)
        return UINT64_MAX;
    return inflight >= agent->stdin_window ? 0 : agent->stdin_window - inflight;
}

/* Passes ls's queued input to its agent, oldest first, while the window
 * takes it (a message may go in pieces); credits each sender. */
static void cl__stdin_pump(struct cl_hub *h, struct cl_live_session *ls)
{
    struct cl_conn *agent = cl__agent_find(h, ls->device_id);

    if (!agent || !ls->start_sent)
        return;
    while (ls->inq.bytes && !agent->close_pending) {
        const uint8_t *p;
        void *owner;
        size_t n = cl_inq_peek(&ls->inq, &p, &owner);
        uint64_t room = cl__stdin_room(agent, ls);
        struct cl_conn *o = owner;
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
        if (o) {
            o->in_fwd += n;
            o->in_cost -= n + (done ? CL_INQ_MSG_COST : 0);
            cl__stdin_ack_viewer(o, true);
        }
    }
}

/* The agent's link dropped with lost bytes of ls's input in flight:
 * drops what waits in the queue (sent after a hole, a paste would run
 * with its middle missing), credits its senders as if it had gone on,
 * and tells the session's viewers (error input_lost). */
static void cl__stdin_discard(struct cl_hub *h, struct cl_live_session *ls, uint64_t lost)
{
    size_t dropped = ls->inq.bytes;
    char why[256];
    (void)h;

    while (ls->inq.bytes) {
        const uint8_t *p;
        void *owner;
        size_t n = cl_inq_peek(&ls->inq, &p, &owner);
        bool done = cl_inq_take(&ls->inq, n);
        struct cl_conn *o = owner;
        if (o) {
            o->in_fwd += n;
            o->in_cost -= n + (done ? CL_INQ_MSG_COST : 0);
            cl__stdin_ack_viewer(o, true);
        }
    }
    cl_warn("hub", "input lost with the agent's link; dropping what waited after it",
            "session=%s lost=%llu dropped=%zu", ls->id, (unsigned long long)lost, dropped);
    snprintf(why, sizeof why,
             "the device's connection dropped while input was on its way: %llu bytes were lost "
             "and the %zu bytes waiting after them were not sent",
             (unsigned long long)lost, dropped);
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        cl_conn_send_error(v, "input_lost", why, ls->id);
}

/* A viewer's stdin: at once when nothing waits and the agent's window
 * takes it whole (a keystroke is never delayed), else queued whole if
 * cl_inq_admit lets it, else refused whole with error input_busy. After
 * a refusal the viewer's later input is refused too until the session's
 * queue has drained, so a burst of messages (a paste in pieces) never
 * runs with its middle missing. */
static void cl__browser_stdin(struct cl_hub *h, struct cl_conn *c, struct cl_live_session *ls,
                              struct cl_conn *agent, const struct cl_msg *m, const char *frame,
                              size_t len, bool binary)
{
    size_t n = m->data_len;
    char why[256];

    if (!n)
        return;
    if (!agent->stdin_window || !ls->start_sent) {
        /* no flow control: an older agent, a PrivaClaw connector (or a
         * session it does not know yet, which it ignores) */
        cl__forward_stdin(agent, m, frame, len, binary);
        c->in_recv += n;
        c->in_fwd += n;
        cl__stdin_ack_viewer(c, false);
        return;
    }
    if (c->in_refusing && ls->inq.bytes == 0)
        c->in_refusing = false;
    if (!c->in_refusing && ls->inq.bytes == 0 && n <= cl__stdin_room(agent, ls)) {
        cl__forward_stdin(agent, m, frame, len, binary);
        ls->in_fwd += n;
        c->in_recv += n;
        c->in_fwd += n;
        cl__stdin_ack_viewer(c, false);
        return;
    }
    if (c->in_refusing || !cl_inq_admit(ls->inq.cost, c->in_cost, n + CL_INQ_MSG_COST,
                                        CL_RELAY_STDIN_QUEUE_MAX, CL_RELAY_STDIN_VIEWER_COST)) {
        if (!c->in_refusing)
            cl_info("hub", "input refused: the terminal is busy",
                    "session=%s bytes=%zu queued=%zu peer=%s", ls->id, n, ls->inq.bytes, c->peer);
        c->in_refusing = true;
        snprintf(why, sizeof why,
                 "terminal busy: its program is not reading input; this input (%zu bytes) was "
                 "refused whole and nothing of it was sent",
                 n);
        cl_conn_send_error(c, "input_busy", why, ls->id);
        return;
    }
    cl_inq_push(&ls->inq, c, m->data, n);
    c->in_recv += n;
    c->in_cost += n + CL_INQ_MSG_COST;
    cl__stdin_pump(h, ls);
}

static void cl__browser_message(struct cl_hub *h, struct cl_conn *c, struct cl_msg *m,
                                const char *text, size_t len, bool binary)
{
    struct cl_live_session *ls = c->live;
    struct cl_conn *agent;

    switch (m->type) {
    case CL_MSG_PING:
        cl__send_simple(c, CL_MSG_PONG, NULL);
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
        cl__ack_update(h, ls);
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
    agent = cl__agent_find(h, ls->device_id);
    if (!agent) {
        cl_conn_send_error(c, "device_offline", "the device is offline", c->session_id);
        if (m->type == CL_MSG_SESSION_END)
            cl__live_end(h, ls, CL_END_USER_DISCONNECT, false);
        return;
    }
    if (m->type == CL_MSG_SESSION_START && ls->start_sent) {
        /* Already running (or being started): don't spawn twice. */
        struct cl_msg rs = *m;
        rs.data = NULL;
        rs.sessions = NULL;
        rs.type = CL_MSG_RESIZE;
        cl__send_msg(agent, &rs);
        if (ls->started)
            cl__send_simple(c, CL_MSG_SESSION_STARTED, ls->id);
        return;
    }
    if (m->type == CL_MSG_SESSION_START) {
        /* Re-encoded, so the size the decoder settled on (80x24 when the
         * browser sent none) reaches connectors that need cols and rows. */
        ls->start_sent = true;
        cl__send_msg(agent, m);
        return;
    }
    if (m->type == CL_MSG_STDIN)
        cl__browser_stdin(h, c, ls, agent, m, text, len, binary);
    else
        cl_conn_send(agent, text, len);
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
            cl__agent_hello(h, c, &m);
        } else {
            cl__browser_auth(h, c, &m);
        }
    } else if (c->kind == CL_CONN_AGENT) {
        if (m.type == CL_MSG_HELLO)
            cl_conn_send_error(c, "bad_message", "already authenticated", NULL);
        else
            cl__agent_message(h, c, &m, data, len, binary, owned);
    } else {
        if (m.type == CL_MSG_AUTH)
            cl_conn_send_error(c, "bad_message", "already authenticated", NULL);
        else
            cl__browser_message(h, c, &m, data, len, binary);
    }
    cl_msg_clear(&m);
}

/* A viewer's frame was written: acks for browsers that never ack, and a
 * lagging viewer catches up once its queue has drained. */
static void cl__viewer_written(struct cl_conn *c, uint64_t end_offset)
{
    struct cl_hub *h = c->relay->hub;
    struct cl_live_session *ls = c->live;
    if (!ls)
        return;
    if (end_offset && !c->explicit_acks && end_offset > c->acked) {
        c->acked = end_offset; /* a browser that never acks: acked as its socket drains */
        cl__ack_update(h, ls);
    }
    if (c->lagging && cl_wsq_empty(&c->q)) {
        c->lagging = false;
        cl_info("hub", "lagging viewer drained: catching up", "session=%s sent=%llu peer=%s",
                ls->id, (unsigned long long)c->sent, c->peer);
        cl__request_replay(h, ls, c->sent);
    }
}

static void cl__on_close(struct cl_conn *c)
{
    struct cl_hub *h = c->relay->hub;
    struct cl_store *s = &h->relay->store;
    if (c->kind == CL_CONN_AGENT && c->authed && cl__agent_find(h, c->device_id) == c) {
        struct cl_live_session *ls, *tmp;
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
            for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
                cl_conn_send_error(v, "device_offline",
                                   "the agent disconnected; the session resumes when it returns",
                                   ls->id);
        }
    } else if (c->kind == CL_CONN_BROWSER && c->authed) {
        h->browsers--;
        cl__viewer_detach(h, c);
    }
    c->authed = false;
}

/* Some bytes came from an agent. Bounds what its connection holds in the
 * kernel ahead of the next message (an echo waits behind all of it) to the
 * link's bandwidth-delay product (limits.h, CL_LINK_RATE). At most once per
 * loop millisecond: the kernel's autotuning lifts the clamp whenever it
 * grows the buffer. A piece shorter than CL_LINK_RCV_CLAMP_MIN (a pong, a
 * heartbeat) is not bulk and does not pay for a TCP_INFO. */
static void cl__agent_rx(struct cl_conn *c, size_t len)
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

const struct cl_conn_ops cl_hub_agent_ops = {
    .kind = CL_CONN_AGENT,
    .max_message = CL_WS_MAX_MESSAGE,
    .direct_write = true,
    .on_open = cl__on_open,
    .on_rx = cl__agent_rx,
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
    .on_written = cl__viewer_written,
    .on_close = cl__on_close,
};

void cl_hub_device_removed(struct cl_hub *h, const char *device_id, enum cl_end_reason why)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_live_session *ls, *tmp;
    struct cl_conn *agent = cl__agent_find(h, device_id);

    HASH_ITER(hh, h->sessions, ls, tmp)
    {
        if (strcmp(ls->device_id, device_id) != 0)
            continue;
        for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
            cl__send_end(v, ls->id, why);
        cl_events_session_ended(h->relay->events, device_id, ls->id, reason); /* re-paired */
        cl__live_remove(h, ls);
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

void cl_hub_share_changed(struct cl_hub *h, const char *session_id, const char *user_id,
                          enum cl_share_mode mode)
{
    struct cl_live_session *ls = cl__live_find(h, session_id);
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
    struct cl_live_session *ls, *tmp;
    char uid[CL_UUID_LEN + 1];

    HASH_ITER(hh, h->sessions, ls, tmp)
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
    struct cl_live_session *ls = cl__live_find(h, session_id);
    if (!ls)
        return;
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        if (!v->close_pending)
            cb(v->user_id, v->view_only, v->peer, ctx);
}

bool cl_hub_device_online(struct cl_hub *h, const char *device_id)
{
    return cl__agent_find(h, device_id) != NULL;
}

bool cl_hub_session_live(struct cl_hub *h, const char *session_id, char *title, size_t cap,
                         size_t *viewers)
{
    struct cl_live_session *ls = cl__live_find(h, session_id);
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
    struct cl_live_session *ls = cl__live_find(h, s->id);
    if (!ls)
        ls = cl__live_add(h, s->id, s->device_id);
    ls->fresh = true;
    cl_events_session_started(h->relay->events, NULL, s);
}

void cl_hub_session_end(struct cl_hub *h, const char *session_id, enum cl_end_reason why)
{
    const char *reason = cl_end_reason_name(why);
    struct cl_live_session *ls = cl__live_find(h, session_id);
    struct cl_conn *agent;
    if (!ls)
        return;
    agent = cl__agent_find(h, ls->device_id);
    if (agent)
        cl__send_end(agent, ls->id, why);
    for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next)
        cl__send_end(v, ls->id, why);
    cl_events_session_ended(h->relay->events, ls->device_id, ls->id, reason);
    cl__live_remove(h, ls);
}

void cl_hub_shutdown(struct cl_hub *h)
{
    struct cl_conn *a, *tmp;
    struct cl_live_session *ls, *ltmp;
    HASH_ITER(hh, h->agents, a, tmp)
    {
        cl__send_simple(a, CL_MSG_RESTARTING, NULL);
        cl_conn_close(a, LWS_CLOSE_STATUS_GOINGAWAY, "relay restarting");
    }
    HASH_ITER(hh, h->sessions, ls, ltmp)
    {
        for (struct cl_conn *v = ls->viewers; v; v = v->viewer_next) {
            cl__send_simple(v, CL_MSG_RESTARTING, NULL);
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
    cl__live_remove(h, ls);
    HASH_ITER(hh, h->graces, g, gtmp)
    cl__grace_cancel(h, g->device_id);
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

/* ---- OpenClaw nodes (nodes.c) ------------------------------------------ */

struct cl_conn *cl_hub_agent(struct cl_hub *h, const char *device_id)
{
    struct cl_conn *c = cl__agent_find(h, device_id);
    return c && !c->close_pending ? c : NULL;
}
