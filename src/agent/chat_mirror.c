/*
 * chat_mirror: the gateway's sessions into the chat store, imported then
 * followed (chat_mirror.h has the contract, docs/chat.md "Import and
 * follow" the reasons).
 *
 * One request to the gateway at a time: a pass is a small state machine
 * (subscribe, list pages, then per queued session: subscribe to its
 * messages, catch up page by page), so a gateway with thousands of
 * sessions is imported one session after the other without holding more
 * than one answer. Live events are stored as they come; whatever they
 * cannot place (an unknown session, a new incarnation of a known one) is
 * queued for import.
 */
#include "agent/chat_mirror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/chat_api.h"
#include "agent/chat_gw.h"
#include "core/err.h"
#include "core/log.h"

enum cl__step {
    CL__IDLE,
    CL__SUBSCRIBE_ALL,
    CL__LIST,
    CL__MSG_SUBSCRIBE,
    CL__HISTORY,
};

struct cl__item {
    char key[CL_CHAT_KEY_MAX + 1];
    char title[CL_CHAT_TITLE_MAX + 1];
};

struct cl_chat_mirror {
    struct cl_gw *gw;
    struct cl_chat_store *cs;
    struct cl_chat_mirror_hooks h;
    bool online;
    bool again;         /* redo the whole pass when this one ends */
    uint64_t gaps_seen; /* cl_gw_seq_gaps when last looked */
    enum cl__step step;
    bool req_pending;
    uint64_t req;
    /* the session keys whose messages this connection subscribed to */
    char (*subs)[CL_CHAT_KEY_MAX + 1];
    size_t nsubs, capsubs;
    /* sessions to import, in order */
    struct cl__item *queue;
    size_t qhead, qn;
    long long list_offset;
    /* the import in progress */
    struct cl__item cur;
    int64_t thread_id;
    struct cl_chat_sync sync; /* as stored before this import */
    char session_id[CL_CHAT_KEY_MAX + 1];
    char *new_cursor; /* the first page's (newest) delta cursor */
    long long offset;
    bool delta_mode, first_page, imported_new;
    int64_t seq_base;
};

static void cl__next(struct cl_chat_mirror *m);

/* ---- helpers ----------------------------------------------------------------------- */

static bool cl__subscribed(const struct cl_chat_mirror *m, const char *key)
{
    for (size_t i = 0; i < m->nsubs; i++)
        if (strcmp(m->subs[i], key) == 0)
            return true;
    return false;
}

static void cl__add_sub(struct cl_chat_mirror *m, const char *key)
{
    if (cl__subscribed(m, key))
        return;
    if (m->nsubs == m->capsubs) {
        size_t cap = m->capsubs ? m->capsubs * 2 : 64;
        void *p = realloc(m->subs, cap * sizeof *m->subs);
        if (!p)
            return;
        m->subs = p;
        m->capsubs = cap;
    }
    snprintf(m->subs[m->nsubs++], sizeof m->subs[0], "%s", key);
}

/* Queues key (once; its title updated) for import. */
static void cl__enqueue(struct cl_chat_mirror *m, const char *key, const char *title)
{
    if (!key || !*key || strlen(key) > CL_CHAT_KEY_MAX)
        return;
    for (size_t i = m->qhead; i < m->qn; i++)
        if (strcmp(m->queue[i].key, key) == 0) {
            if (title && *title)
                snprintf(m->queue[i].title, sizeof m->queue[i].title, "%s", title);
            return;
        }
    if (m->qn - m->qhead >= CL_CHAT_MIRROR_SESSIONS_MAX) {
        cl_warn("chat",
                "too many sessions to import in one pass; the rest waits for its next change",
                "max=%d", CL_CHAT_MIRROR_SESSIONS_MAX);
        return;
    }
    if (m->qhead > 0 && m->qhead == m->qn)
        m->qhead = m->qn = 0;
    void *p = realloc(m->queue, (m->qn + 1) * sizeof *m->queue);
    if (!p)
        return;
    m->queue = p;
    memset(&m->queue[m->qn], 0, sizeof m->queue[0]);
    snprintf(m->queue[m->qn].key, sizeof m->queue[0].key, "%s", key);
    if (title && strlen(title) <= CL_CHAT_TITLE_MAX)
        snprintf(m->queue[m->qn].title, sizeof m->queue[0].title, "%s", title);
    m->qn++;
}

static bool cl__suffix(const char *s, const char *suffix, char *prefix, size_t cap)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n <= k || strcmp(s + n - k, suffix) != 0 || n - k >= cap)
        return false;
    memcpy(prefix, s, n - k);
    prefix[n - k] = 0;
    return true;
}

static enum cl_chat_state cl__state(enum cl_chat_gw_state s)
{
    switch (s) {
    case CL_CHAT_GW_ABORTED:
        return CL_CHAT_ABORTED;
    case CL_CHAT_GW_ERROR:
        return CL_CHAT_ERROR;
    case CL_CHAT_GW_FINAL:
        return CL_CHAT_FINAL;
    default:
        return CL_CHAT_STREAMING;
    }
}

/* Stores one transcript entry of thread_id (its seq after seq_base).
 * A provisional row (our own user message "run:<key>:user", a streamed
 * reply "run:<runId>") first takes the gateway's id, so an entry is never
 * two rows. *id is the row; *was_new tells whether it did not exist. */
static int cl__store_entry(struct cl_chat_mirror *m, int64_t thread_id, int64_t seq_base,
                           const struct cl_chat_gw_msg *e, int64_t *id, bool *was_new)
{
    char run[CL_CHAT_GW_ID_MAX + 1], prov[CL_CHAT_KEY_MAX + 16];
    int64_t have = 0;
    int rc;

    *id = 0;
    *was_new = false;
    if (!e->id[0])
        return CL_EINVAL;
    snprintf(run, sizeof run, "%s", e->run_id);
    if (strcmp(e->role, "user") == 0 && cl__suffix(e->idem_key, ":user", run, sizeof run)) {
        snprintf(prov, sizeof prov, "run:%s:user", run);
        cl_chat_message_rekey(m->cs, thread_id, prov, e->id);
    } else if (strcmp(e->role, "assistant") == 0) {
        if (!run[0])
            cl__suffix(e->idem_key, ":assistant", run, sizeof run);
        if (run[0]) {
            snprintf(prov, sizeof prov, "run:%s", run);
            cl_chat_message_rekey(m->cs, thread_id, prov, e->id);
        }
    }
    *was_new = cl_chat_message_find(m->cs, thread_id, e->id, &have) == CL_ENOTFOUND;
    /* the memory block the bridge prepended is not what the user typed */
    const char *text = e->text;
    if (strcmp(e->role, "user") == 0 &&
        strncmp(text, CL_CHAT_MEMORY_OPEN, strlen(CL_CHAT_MEMORY_OPEN)) == 0) {
        const char *end = strstr(text, "\n" CL_CHAT_MEMORY_CLOSE);
        if (end)
            text = end + 1 + strlen(CL_CHAT_MEMORY_CLOSE);
    }
    struct cl_chat_message_in in = {
        .gateway_id = e->id,
        .role = e->role,
        .content_md = text,
        .run_id = run[0] ? run : NULL,
        .state = cl__state(e->state),
        .tool_calls = e->tool_calls,
        .usage = e->usage,
        .created_at = e->timestamp_ms,
        .seq = e->seq > 0 ? seq_base + e->seq : 0,
    };
    rc = cl_chat_message_upsert(m->cs, thread_id, &in, id);
    if (rc)
        cl_warn("chat", "cannot store a message from the gateway", "id=%s error=%s", e->id,
                cl_strerror(rc));
    return rc;
}

/* ---- requests ------------------------------------------------------------------------ */

static void cl__on_reply(void *ctx, bool ok, json_t *payload, const char *message);

static void cl__request(struct cl_chat_mirror *m, const char *method, json_t *params)
{
    int rc =
        cl_gw_request(m->gw, method, params, CL_CHAT_MIRROR_TIMEOUT_MS, cl__on_reply, m, &m->req);
    if (rc) {
        cl_warn("chat", "cannot ask the gateway; the import waits for the next connection",
                "method=%s error=%s", method, cl_strerror(rc));
        m->step = CL__IDLE;
        return;
    }
    m->req_pending = true;
}

static void cl__ask_history(struct cl_chat_mirror *m)
{
    json_t *p =
        json_pack("{s:s, s:i}", "sessionKey", m->cur.key, "maxBytes", CL_CHAT_MIRROR_MAX_BYTES);
    if (m->delta_mode) {
        json_object_set_new(p, "cursor", json_string(m->sync.cursor));
    } else {
        json_object_set_new(p, "limit", json_integer(CL_CHAT_MIRROR_HISTORY_PAGE));
        if (m->offset > 0)
            json_object_set_new(p, "offset", json_integer(m->offset));
    }
    m->step = CL__HISTORY;
    cl__request(m, "chat.history", p);
}

/* Starts importing the next queued session, or ends the pass. */
static void cl__next(struct cl_chat_mirror *m)
{
    free(m->new_cursor);
    m->new_cursor = NULL;
    if (!m->online) {
        m->step = CL__IDLE;
        return;
    }
    if (m->qhead == m->qn) {
        m->qhead = m->qn = 0;
        m->step = CL__IDLE;
        if (m->again) {
            m->again = false;
            m->step = CL__SUBSCRIBE_ALL;
            cl__request(m, "sessions.subscribe", json_object());
        }
        return;
    }
    m->cur = m->queue[m->qhead++];
    if (cl_chat_thread_upsert(m->cs, 0, m->cur.key, m->cur.title[0] ? m->cur.title : NULL,
                              &m->thread_id) != 0 ||
        cl_chat_thread_sync_get(m->cs, m->thread_id, &m->sync) != 0) {
        cl_warn("chat", "cannot keep a session's thread; skipped", "key=%s", m->cur.key);
        cl__next(m);
        return;
    }
    m->imported_new = false;
    m->offset = 0;
    m->first_page = true;
    m->session_id[0] = 0;
    m->seq_base = m->sync.seq_base;
    m->delta_mode = m->sync.cursor[0] != 0 && m->sync.session_id[0] != 0;
    if (!cl__subscribed(m, m->cur.key)) {
        m->step = CL__MSG_SUBSCRIBE;
        cl__request(m, "sessions.messages.subscribe", json_pack("{s:s}", "key", m->cur.key));
        return;
    }
    cl__ask_history(m);
}

/* The session's catch-up is complete: keep where it stands. */
static void cl__finish(struct cl_chat_mirror *m, const char *cursor)
{
    struct cl_chat_sync s = {.seq_base = m->seq_base};
    snprintf(s.session_id, sizeof s.session_id, "%s",
             m->session_id[0] ? m->session_id : m->sync.session_id);
    if (cursor && strlen(cursor) <= CL_CHAT_CURSOR_MAX)
        snprintf(s.cursor, sizeof s.cursor, "%s", cursor);
    cl_chat_thread_sync_set(m->cs, m->thread_id, &s);
    if (m->imported_new && m->h.thread)
        m->h.thread(m->h.ud, m->thread_id);
    cl__next(m);
}

static void cl__on_history(struct cl_chat_mirror *m, json_t *payload)
{
    struct cl_chat_gw_history h;
    char why[160] = "";
    size_t known = 0;

    if (cl_chat_gw_history(payload, &h, why, sizeof why) != 0) {
        cl_warn("chat", "unreadable history from the gateway; session skipped", "key=%s why=\"%s\"",
                m->cur.key, why);
        cl__next(m);
        return;
    }
    if (h.skipped)
        cl_warn("chat", "history entries skipped", "key=%s count=%zu why=\"%s\"", m->cur.key,
                h.skipped, why);
    if (h.delta && h.reset) {
        /* the cursor gave up (compaction, reset, too far behind): pages */
        m->delta_mode = false;
        cl_chat_gw_history_clear(&h);
        cl__ask_history(m);
        return;
    }
    if (!h.delta && m->first_page) {
        m->first_page = false;
        snprintf(m->session_id, sizeof m->session_id, "%s", h.session_id);
        if (m->sync.session_id[0] && h.session_id[0] &&
            strcmp(m->sync.session_id, h.session_id) != 0) {
            /* a new incarnation: its seqs start again at 1, after the old ones */
            int64_t max = 0;
            cl_chat_message_max_seq(m->cs, m->thread_id, &max);
            m->seq_base = max;
            cl_info("chat", "a session was reset on the gateway; its new transcript follows",
                    "key=%s", m->cur.key);
        }
        free(m->new_cursor);
        m->new_cursor = h.delta_cursor ? strdup(h.delta_cursor) : NULL;
    }
    for (size_t i = 0; i < h.n; i++) {
        int64_t id;
        bool was_new;
        if (cl__store_entry(m, m->thread_id, m->seq_base, &h.msgs[i], &id, &was_new) != 0)
            continue;
        if (!was_new) {
            known++;
        } else {
            m->imported_new = true;
            if (m->h.message)
                m->h.message(m->h.ud, id);
        }
    }
    if (h.delta) {
        cl__finish(m, h.delta_cursor ? h.delta_cursor : m->sync.cursor);
    } else if (!h.has_more || h.n == 0 || known == h.n || h.next_offset <= 0) {
        char *c = m->new_cursor;
        m->new_cursor = NULL;
        cl__finish(m, c);
        free(c);
    } else {
        m->offset = h.next_offset;
        cl_chat_gw_history_clear(&h);
        cl__ask_history(m);
        return;
    }
    cl_chat_gw_history_clear(&h);
}

static const char *cl__row_title(json_t *row)
{
    static const char *const keys[] = {"label", "displayName", "derivedTitle"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *t = json_string_value(json_object_get(row, keys[i]));
        /* a title the gateway derived from a message we sent with memory
         * context would be the block's first line: ours stays */
        if (t && *t && strncmp(t, "[clawlink memory", 16) != 0)
            return t;
    }
    return NULL;
}

static void cl__ask_list(struct cl_chat_mirror *m)
{
    json_t *p =
        json_pack("{s:i, s:b}", "limit", CL_CHAT_MIRROR_LIST_PAGE, "includeDerivedTitles", 1);
    if (m->list_offset > 0)
        json_object_set_new(p, "offset", json_integer(m->list_offset));
    m->step = CL__LIST;
    cl__request(m, "sessions.list", p);
}

static void cl__on_reply(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl_chat_mirror *m = ctx;
    size_t i;
    json_t *row;

    m->req_pending = false;
    if (!m->online) {
        m->step = CL__IDLE;
        return;
    }
    if (!ok) {
        cl_warn("chat", "the gateway refused a mirror request", "step=%d message=\"%s\"", m->step,
                message ? message : "");
        if (m->step == CL__MSG_SUBSCRIBE || m->step == CL__HISTORY) {
            cl__next(m); /* this session waits for the next pass */
        } else if (m->step == CL__SUBSCRIBE_ALL) {
            m->list_offset = 0; /* no sessions.changed: the import still runs */
            cl__ask_list(m);
        } else {
            m->step = CL__IDLE;
        }
        return;
    }
    switch (m->step) {
    case CL__SUBSCRIBE_ALL:
        m->list_offset = 0;
        cl__ask_list(m);
        break;
    case CL__LIST:
        json_array_foreach(json_object_get(payload, "sessions"), i, row)
        {
            cl__enqueue(m, json_string_value(json_object_get(row, "key")), cl__row_title(row));
        }
        if (json_is_true(json_object_get(payload, "hasMore")) &&
            json_is_integer(json_object_get(payload, "nextOffset")) &&
            json_integer_value(json_object_get(payload, "nextOffset")) > m->list_offset &&
            m->qn - m->qhead < CL_CHAT_MIRROR_SESSIONS_MAX) {
            m->list_offset = json_integer_value(json_object_get(payload, "nextOffset"));
            cl__ask_list(m);
        } else {
            cl__next(m);
        }
        break;
    case CL__MSG_SUBSCRIBE:
        cl__add_sub(m, m->cur.key);
        cl__ask_history(m);
        break;
    case CL__HISTORY:
        cl__on_history(m, payload);
        break;
    case CL__IDLE:
        break;
    }
}

/* Runs a pass now, or after the one running. */
static void cl__pass(struct cl_chat_mirror *m)
{
    if (!m->online)
        return;
    if (m->step != CL__IDLE) {
        m->again = true;
        return;
    }
    m->step = CL__SUBSCRIBE_ALL;
    cl__request(m, "sessions.subscribe", json_object());
}

/* ---- live events ------------------------------------------------------------------------ */

/* The thread of key, created when unknown (and queued for import). */
static int64_t cl__thread_of(struct cl_chat_mirror *m, const char *key)
{
    int64_t id = 0;
    if (!key || !*key)
        return 0;
    if (cl_chat_thread_find(m->cs, key, &id) == 0)
        return id;
    if (cl_chat_thread_upsert(m->cs, 0, key, NULL, &id) != 0)
        return 0;
    if (m->h.thread)
        m->h.thread(m->h.ud, id);
    cl_chat_mirror_enqueue(m, key);
    return id;
}

static void cl__on_session_message(struct cl_chat_mirror *m, json_t *p)
{
    const char *key = json_string_value(json_object_get(p, "sessionKey"));
    const char *sid = json_string_value(json_object_get(p, "sessionId"));
    struct cl_chat_gw_msg e;
    struct cl_chat_sync sync;
    char why[160];
    int64_t th = cl__thread_of(m, key), id;
    bool was_new;

    if (!th || cl_chat_thread_sync_get(m->cs, th, &sync) != 0)
        return;
    if (sync.session_id[0] && sid && *sid && strcmp(sid, sync.session_id) != 0) {
        cl_chat_mirror_enqueue(m, key); /* a new incarnation: the import places it */
        return;
    }
    if (cl_chat_gw_message(json_object_get(p, "message"), &e, why, sizeof why) != 0) {
        cl_warn("chat", "unreadable message from the gateway", "key=%s why=\"%s\"", key, why);
        return;
    }
    if (!e.id[0]) {
        const char *mid = json_string_value(json_object_get(p, "messageId"));
        if (mid && strlen(mid) <= CL_CHAT_GW_ID_MAX)
            snprintf(e.id, sizeof e.id, "%s", mid);
    }
    if (cl__store_entry(m, th, sync.seq_base, &e, &id, &was_new) == 0 && m->h.message)
        m->h.message(m->h.ud, id);
    cl_chat_gw_msg_clear(&e);
}

struct cl__found {
    int64_t id;
    bool adopted; /* the transcript's entry: no longer provisional */
    enum cl_chat_state state;
    size_t len; /* its text's length */
};

static int cl__on_found(const struct cl_chat_message *msg, void *arg)
{
    struct cl__found *f = arg;
    f->id = msg->id;
    f->adopted = strncmp(msg->gateway_id, "run:", 4) != 0;
    f->state = msg->state;
    f->len = msg->content_len;
    return 0;
}

static void cl__on_chat(struct cl_chat_mirror *m, json_t *p)
{
    struct cl_chat_gw_event ev;
    struct cl__found f = {0};
    char why[160], prov[CL_CHAT_KEY_MAX + 16];
    int64_t th;

    if (cl_chat_gw_event(p, &ev, why, sizeof why) != 0)
        return;
    if (ev.state == CL_CHAT_GW_STATUS || !(th = cl__thread_of(m, ev.session_key))) {
        cl_chat_gw_event_clear(&ev);
        return;
    }
    cl_chat_message_by_run(m->cs, th, ev.run_id, "assistant", cl__on_found, &f);
    const char *text = ev.text ? ev.text : "";
    if (ev.state == CL_CHAT_GW_ERROR && !*text && ev.error_message)
        text = ev.error_message;
    /* what came before this delta: the text less the increment the
     * gateway says it appended (deltaText), when the text ends with it */
    size_t tl = strlen(text), dl = ev.delta ? strlen(ev.delta) : 0, from = 0;
    if (ev.state == CL_CHAT_GW_STREAMING && ev.delta && !ev.replace && dl > 0 && dl <= tl &&
        memcmp(text + tl - dl, ev.delta, dl) == 0)
        from = tl - dl;
    snprintf(prov, sizeof prov, "run:%s", ev.run_id);
    if (from > 0 && f.id && !f.adopted && f.state == CL_CHAT_STREAMING && f.len == from &&
        cl_chat_message_append(m->cs, th, prov, text + from) == 0) {
        /* the row had exactly what came before: only the increment is
         * written, not the whole reply again on every delta */
    } else if (!f.adopted && (f.id == 0 || f.state == CL_CHAT_STREAMING)) {
        struct cl_chat_message_in in = {
            .gateway_id = prov,
            .role = "assistant",
            .content_md = text,
            .run_id = ev.run_id,
            .state = cl__state(ev.state),
            .usage = ev.usage,
        };
        snprintf(prov, sizeof prov, "run:%s", ev.run_id);
        if (cl_chat_message_upsert(m->cs, th, &in, &f.id) != 0)
            f.id = 0;
    }
    if (ev.state == CL_CHAT_GW_STREAMING) {
        if (m->h.delta)
            m->h.delta(m->h.ud, th, ev.run_id, text, from);
    } else if (f.id) {
        if (m->h.message)
            m->h.message(m->h.ud, f.id);
        if (m->h.run_end)
            m->h.run_end(m->h.ud, th, ev.run_id, f.id);
    }
    cl_chat_gw_event_clear(&ev);
}

static void cl__on_sessions_changed(struct cl_chat_mirror *m, json_t *p)
{
    const char *key = json_string_value(json_object_get(p, "sessionKey"));
    const char *reason = json_string_value(json_object_get(p, "reason"));
    const char *sid = json_string_value(json_object_get(p, "sessionId"));
    struct cl_chat_sync sync;
    int64_t th = 0;

    if (!key || !*key)
        return;
    if (reason && strcmp(reason, "delete") == 0) {
        /* gone on the gateway: the history stays here; a reuse of the key
         * is a new incarnation stored after it */
        if (cl_chat_thread_find(m->cs, key, &th) == 0 &&
            cl_chat_thread_sync_get(m->cs, th, &sync) == 0 && sync.session_id[0]) {
            struct cl_chat_sync none = {0};
            cl_chat_message_max_seq(m->cs, th, &none.seq_base);
            cl_chat_thread_sync_set(m->cs, th, &none);
        }
        return;
    }
    if (!cl__subscribed(m, key)) {
        cl__enqueue(m, key, cl__row_title(p));
    } else if (sid && *sid && cl_chat_thread_find(m->cs, key, &th) == 0 &&
               cl_chat_thread_sync_get(m->cs, th, &sync) == 0 && sync.session_id[0] &&
               strcmp(sync.session_id, sid) != 0) {
        cl__enqueue(m, key, NULL);
    } else {
        return;
    }
    if (m->step == CL__IDLE)
        cl__next(m);
}

static void cl__on_event(void *ctx, const char *event, json_t *payload)
{
    struct cl_chat_mirror *m = ctx;
    uint64_t gaps = cl_gw_seq_gaps(m->gw);

    if (gaps != m->gaps_seen) {
        m->gaps_seen = gaps;
        cl__pass(m);
    }
    if (!payload)
        return;
    if (strcmp(event, "session.message") == 0)
        cl__on_session_message(m, payload);
    else if (strcmp(event, "chat") == 0)
        cl__on_chat(m, payload);
    else if (strcmp(event, "sessions.changed") == 0)
        cl__on_sessions_changed(m, payload);
}

static void cl__on_state(void *ctx, enum cl_node_state state, const char *why)
{
    struct cl_chat_mirror *m = ctx;
    bool online = state == CL_NODE_ONLINE;

    (void)why;
    if (online == m->online)
        return;
    m->online = online;
    /* subscriptions and any request in flight belong to the old connection */
    if (m->req_pending) {
        cl_gw_cancel(m->gw, m->req);
        m->req_pending = false;
    }
    m->step = CL__IDLE;
    m->again = false;
    m->nsubs = 0;
    m->qhead = m->qn = 0;
    m->gaps_seen = cl_gw_seq_gaps(m->gw);
    if (m->h.state)
        m->h.state(m->h.ud, online);
    if (online)
        cl__pass(m);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int cl_chat_mirror_new(struct cl_gw *gw, struct cl_chat_store *cs,
                       const struct cl_chat_mirror_hooks *h, struct cl_chat_mirror **out)
{
    static const struct cl_gw_handler gh = {cl__on_state, cl__on_event};
    struct cl_chat_mirror *m = calloc(1, sizeof *m);
    int rc;

    *out = NULL;
    if (!m)
        return CL_ENOMEM;
    m->gw = gw;
    m->cs = cs;
    if (h)
        m->h = *h;
    rc = cl_gw_subscribe(gw, &gh, m);
    if (rc) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void cl_chat_mirror_enqueue(struct cl_chat_mirror *m, const char *session_key)
{
    cl__enqueue(m, session_key, NULL);
    if (m->online && m->step == CL__IDLE)
        cl__next(m);
}

bool cl_chat_mirror_busy(const struct cl_chat_mirror *m)
{
    return m->step != CL__IDLE;
}

void cl_chat_mirror_free(struct cl_chat_mirror *m)
{
    if (!m)
        return;
    if (m->req_pending)
        cl_gw_cancel(m->gw, m->req);
    cl_gw_unsubscribe(m->gw, m);
    free(m->new_cursor);
    free(m->subs);
    free(m->queue);
    free(m);
}
