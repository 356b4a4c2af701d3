/*
 * chat_api: the chat API's handlers (chat_api.h; the contract is
 * docs/chat.md, "The chat API").
 *
 * Reads answer at once from the chat store. What needs the gateway or a
 * memory provider is a call that lives until its answer: a send (the
 * user's message stored, chat.send, then the reply's deltas and its end as
 * the mirror stores them), a stop (chat.abort), a delete (archive then
 * delete the OpenClaw session, then the local thread), a memory operation.
 * GET /events is a call that lives until the caller leaves.
 *
 * A call is freed once it has ended (or was cancelled) and nothing it
 * started is still in flight (pending): a gateway answer or a memory
 * callback always finds its call.
 */
#include "agent/chat_api.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/chat_files.h"
#include "agent/chat_mirror.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/log.h"
#include "core/proto.h"
#include "core/secret.h"

enum cl__kind {
    CL__ONESHOT,
    CL__SEND,
    CL__EVENTS,
    CL__STOP,
    CL__DELETE, /* a thread, or a workspace's threads one by one */
    CL__MEMORY,
};

/* A delete's steps on the gateway. */
enum cl__del_step { CL__DEL_HISTORY, CL__DEL_PATCH, CL__DEL_DELETE };

struct cl__ctx_note {
    int64_t id;
    int hits;
    char *text;
};

struct cl_chat_call {
    struct cl_chat_api *api;
    const struct cl_chat_reply *r;
    void *ctx;
    struct cl_chat_call *prev, *next;
    enum cl__kind kind;
    bool ended, cancelled, in_handle;
    int pending; /* gateway requests and memory operations in flight */
    bool gw_pending;
    uint64_t gw_req;

    int64_t thread_id;
    char key[CL_CHAT_KEY_MAX + 1];
    char run_id[64];

    /* send and events: the streaming reply this caller was last told of,
     * and how many bytes of it it has (SIZE_MAX: a cut copy), so a delta
     * can carry only what was appended (docs/chat.md "Streams") */
    char delta_run[64];
    size_t delta_sent;

    /* send */
    char *content; /* what the user typed */
    struct cl__ctx_note notes[CL_CHAT_MEMORY_WORDS * CL_CHAT_MEMORY_NOTES];
    size_t nnotes;
    char words[CL_CHAT_MEMORY_WORDS][64];
    size_t nwords, iword;

    /* delete */
    enum cl__del_step del_step;
    char session_id[CL_CHAT_KEY_MAX + 1];
    int64_t ws_id; /* a workspace being deleted (0: one thread) */
    int64_t *ids;  /* its threads */
    size_t nids, iid;

    /* memory */
    int64_t note_id;
    json_t *note; /* POST /memory: the note as added */

    /* send with attachments: what is recorded with the user's message, and
     * what chat.send carries */
    struct cl__att {
        char name[CL_CHAT_ATTACH_NAME_MAX + 1];
        const char *mime;
        int64_t size;
        uint8_t sha256[32];
    } atts[CL_CHAT_ATTACH_COUNT_MAX];
    size_t natts;
    json_t *att_gw;
};

struct cl_chat_api {
    struct cl_chat_api_cfg cfg;
    struct cl_chat_mirror *mirror;
    struct cl_chat_call *calls;
    size_t followers;
    uv_timer_t *ping;
    struct cl_files *files; /* NULL: no files capability, or no usable home */
};

/* ---- calls and replies ----------------------------------------------------------------- */

static int64_t cl__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cl__call_free(struct cl_chat_call *c)
{
    struct cl_chat_api *api = c->api;
    if (c->prev)
        c->prev->next = c->next;
    else
        api->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->kind == CL__EVENTS && api->followers)
        api->followers--;
    for (size_t i = 0; i < c->nnotes; i++)
        free(c->notes[i].text);
    free(c->content);
    free(c->ids);
    json_decref(c->note);
    json_decref(c->att_gw);
    free(c);
}

/* Frees c when it can answer no more and waits for nothing. */
static void cl__release(struct cl_chat_call *c)
{
    if ((c->ended || c->cancelled) && c->pending == 0 && !c->in_handle)
        cl__call_free(c);
}

static bool cl__live(const struct cl_chat_call *c)
{
    return !c->ended && !c->cancelled;
}

/* Sends one event (takes data). */
static void cl__event(struct cl_chat_call *c, const char *name, json_t *data)
{
    if (cl__live(c))
        c->r->event(c->ctx, name, data);
    json_decref(data);
}

/* Ends c (takes body, NULL for none). */
static void cl__end(struct cl_chat_call *c, int status, json_t *body)
{
    if (cl__live(c)) {
        c->ended = true;
        c->r->end(c->ctx, status, body);
    }
    c->ended = true;
    json_decref(body);
    cl__release(c);
}

static void cl__fail(struct cl_chat_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cl__fail(struct cl_chat_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cl__end(c, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* A store or provider error as the API's answer; what names the value. */
static void cl__fail_rc(struct cl_chat_call *c, int rc, const char *what)
{
    switch (rc) {
    case CL_ENOTFOUND:
        cl__fail(c, 404, "not_found", "%s not found", what);
        break;
    case CL_EINVAL:
        cl__fail(c, 400, "bad_request", "%s is missing or malformed", what);
        break;
    case CL_ELIMIT:
        cl__fail(c, 413, "too_large", "%s is over its limit (docs/chat.md, \"Limits\")", what);
        break;
    case CL_EIO:
        cl__fail(c, 502, "memory_unreachable", "the memory provider cannot be reached");
        break;
    default:
        cl__fail(c, 500, "internal", "the chat store failed (%s)", cl_strerror(rc));
        break;
    }
}

/* ---- bounded JSON ----------------------------------------------------------------------- */

static size_t cl__size(json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

/* The largest prefix of s within n bytes that does not split a UTF-8
 * character. */
static size_t cl__utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Sets obj[key] to text, cut (and obj.truncated = true) so that obj stays
 * within budget bytes as compact JSON. */
static void cl__set_text_within(json_t *obj, const char *key, const char *text, size_t len,
                                size_t budget)
{
    json_object_set_new(obj, key, json_stringn(text, len));
    size_t sz = cl__size(obj);
    while (sz > budget && len > 0) {
        /* escaping makes JSON up to 6 times the text: scale, then trim */
        size_t keep = (size_t)((double)len * ((double)budget / (double)sz));
        keep = keep > 64 ? keep - 64 : 0;
        len = cl__utf8_cut(text, keep < len ? keep : len - 1);
        json_object_set_new(obj, key, json_stringn(text, len));
        json_object_set_new(obj, "truncated", json_true());
        sz = cl__size(obj);
    }
}

/* ---- shapes ------------------------------------------------------------------------------ */

static json_t *cl__str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *cl__id_or_null(int64_t id)
{
    return id > 0 ? json_integer(id) : json_null();
}

static int cl__ws_json(const struct cl_chat_workspace *w, void *arg)
{
    json_t *o = json_pack("{s:I, s:s, s:o, s:o, s:I, s:I}", "id", (json_int_t)w->id, "name",
                          w->name, "default_agent", cl__str_or_null(w->default_agent), "folder",
                          cl__str_or_null(w->folder), "created_at", (json_int_t)w->created_at,
                          "updated_at", (json_int_t)w->updated_at);
    if (json_is_array((json_t *)arg))
        json_array_append_new(arg, o);
    else
        json_object_set_new(arg, "workspace", o);
    return 0;
}

static json_t *cl__thread_obj(const struct cl_chat_thread *t)
{
    return json_pack("{s:I, s:o, s:s, s:s, s:b, s:I, s:I, s:I, s:b}", "id", (json_int_t)t->id,
                     "workspace_id", cl__id_or_null(t->workspace_id), "session_key", t->session_key,
                     "title", t->title, "title_set_by_user", t->title_set_by_user, "created_at",
                     (json_int_t)t->created_at, "updated_at", (json_int_t)t->updated_at,
                     "last_message_at", (json_int_t)t->last_message_at, "memory", t->memory_on);
}

static int cl__thread_one(const struct cl_chat_thread *t, void *arg)
{
    *(json_t **)arg = cl__thread_obj(t);
    return 0;
}

static json_t *cl__parse_json_text(const char *s)
{
    return s && *s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
}

/* A message within budget bytes (its content cut, truncated: true, when
 * it would not fit). */
static int cl__att_one(const struct cl_chat_attachment *a, void *arg)
{
    json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)a->id, "name",
                                         a->name, "mime", a->mime, "size", (json_int_t)a->size));
    return 0;
}

static json_t *cl__message_obj(struct cl_chat_store *cs, const struct cl_chat_message *m,
                               size_t budget)
{
    json_t *tc = cl__parse_json_text(m->tool_calls), *us = cl__parse_json_text(m->usage);
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:I, s:I, s:[]}",
                          "id", (json_int_t)m->id, "thread_id", (json_int_t)m->thread_id,
                          "gateway_id", m->gateway_id, "role", m->role, "content", "", "run_id",
                          cl__str_or_null(m->run_id), "state", cl_chat_state_name(m->state),
                          "tool_calls", tc ? tc : json_null(), "usage", us ? us : json_null(),
                          "sender_user_id", cl__str_or_null(m->sender_user_id), "created_at",
                          (json_int_t)m->created_at, "seq", (json_int_t)m->seq, "attachments");
    cl__set_text_within(o, "content", m->content_md, m->content_len, budget);
    if (cs && o)
        cl_chat_attachment_list(cs, m->id, cl__att_one, json_object_get(o, "attachments"));
    return o;
}

struct cl__msg_one {
    json_t *obj;
    size_t budget;
    struct cl_chat_store *cs;
};

static int cl__message_one(const struct cl_chat_message *m, void *arg)
{
    struct cl__msg_one *o = arg;
    o->obj = cl__message_obj(o->cs, m, o->budget);
    return 0;
}

/* Message id as JSON within budget, or NULL. */
static json_t *cl__message_get(struct cl_chat_api *api, int64_t id, size_t budget)
{
    struct cl__msg_one o = {NULL, budget, api->cfg.cs};
    cl_chat_message_get(api->cfg.cs, id, cl__message_one, &o);
    return o.obj;
}

static json_t *cl__thread_get(struct cl_chat_api *api, int64_t id)
{
    json_t *t = NULL;
    cl_chat_thread_get(api->cfg.cs, id, cl__thread_one, &t);
    return t;
}

static bool cl__thread_exists(struct cl_chat_api *api, int64_t id)
{
    json_t *t = cl__thread_get(api, id);
    json_decref(t);
    return t != NULL;
}

/* ---- followers (GET /events) ------------------------------------------------------------ */

static void cl__broadcast(struct cl_chat_api *api, const char *name, json_t *data)
{
    for (struct cl_chat_call *c = api->calls, *next; c; c = next) {
        next = c->next;
        if (c->kind == CL__EVENTS && cl__live(c))
            c->r->event(c->ctx, name, data);
    }
    json_decref(data);
}

static void cl__broadcast_thread(struct cl_chat_api *api, int64_t id)
{
    json_t *t = api->followers ? cl__thread_get(api, id) : NULL;
    if (t)
        cl__broadcast(api, "thread", json_pack("{s:o}", "thread", t));
}

static void cl__broadcast_message(struct cl_chat_api *api, int64_t id)
{
    json_t *m = api->followers ? cl__message_get(api, id, CL_CHAT_FRAME_MAX - 64) : NULL;
    if (m)
        cl__broadcast(api, "message", json_pack("{s:o}", "message", m));
}

static void cl__on_ping(uv_timer_t *t)
{
    struct cl_chat_api *api = t->data;
    if (api->followers)
        cl__broadcast(api, "ping", json_object());
}

/* ---- the mirror's hooks ----------------------------------------------------------------- */

static void cl__hook_thread(void *ud, int64_t id)
{
    cl__broadcast_thread(ud, id);
}

static void cl__hook_message(void *ud, int64_t id)
{
    cl__broadcast_message(ud, id);
}

/* One caller's delta event (takes base: run_id, and thread_id for
 * /events): only what was appended when the reply grew from what the
 * caller has (from > 0 bytes kept, and the caller has exactly those), else
 * the whole text so far. A reply's text is sent once, not once per delta. */
static void cl__delta_to(struct cl_chat_call *c, json_t *base, const char *run_id, const char *text,
                         size_t len, size_t from)
{
    bool grew = from > 0 && from <= len && c->delta_sent == from &&
                strncmp(c->delta_run, run_id, sizeof c->delta_run) == 0;
    if (grew) {
        json_object_set_new(base, "append", json_stringn(text + from, len - from));
        grew = cl__size(base) <= CL_CHAT_FRAME_MAX - 64;
        if (!grew)
            json_object_del(base, "append");
    }
    if (!grew)
        cl__set_text_within(base, "text", text, len, CL_CHAT_FRAME_MAX - 64);
    c->delta_sent = json_object_get(base, "truncated") ? SIZE_MAX : len;
    snprintf(c->delta_run, sizeof c->delta_run, "%s", run_id);
    cl__event(c, "delta", base);
}

static void cl__hook_delta(void *ud, int64_t thread_id, const char *run_id, const char *text,
                           size_t from)
{
    struct cl_chat_api *api = ud;
    size_t len = strlen(text);

    for (struct cl_chat_call *c = api->calls, *next; c; c = next) {
        next = c->next;
        if (!cl__live(c))
            continue;
        if (c->kind == CL__SEND && strcmp(c->run_id, run_id) == 0)
            cl__delta_to(c, json_pack("{s:s}", "run_id", run_id), run_id, text, len, from);
        else if (c->kind == CL__EVENTS)
            cl__delta_to(
                c, json_pack("{s:I, s:s}", "thread_id", (json_int_t)thread_id, "run_id", run_id),
                run_id, text, len, from);
    }
}

static void cl__hook_run_end(void *ud, int64_t thread_id, const char *run_id, int64_t message_id)
{
    struct cl_chat_api *api = ud;
    (void)thread_id;
    for (struct cl_chat_call *c = api->calls, *next; c; c = next) {
        next = c->next;
        if (c->kind == CL__SEND && cl__live(c) && strcmp(c->run_id, run_id) == 0) {
            json_t *m = cl__message_get(api, message_id, CL_CHAT_FRAME_MAX - 64);
            cl__end(c, 200, json_pack("{s:o}", "message", m ? m : json_null()));
        }
    }
}

static void cl__hook_state(void *ud, bool online)
{
    struct cl_chat_api *api = ud;
    if (online)
        return;
    /* a reply being generated is imported when the gateway is back; the
     * caller waiting for it is told now */
    for (struct cl_chat_call *c = api->calls, *next; c; c = next) {
        next = c->next;
        if (c->kind == CL__SEND && cl__live(c) && c->run_id[0])
            cl__fail(c, 409, "gateway_offline",
                     "the OpenClaw gateway went away; the reply is imported when it is back");
    }
}

/* ---- request parsing --------------------------------------------------------------------- */

/* The value of name in the raw query q, percent-decoded into out; false
 * when absent. */
static bool cl__query(const char *q, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = q;

    while (p && *p) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;
            for (const char *s = p + nlen + 1; s < end && o + 1 < cap; s++) {
                if (*s == '+') {
                    out[o++] = ' ';
                } else if (*s == '%' && end - s >= 3 && isxdigit((unsigned char)s[1]) &&
                           isxdigit((unsigned char)s[2])) {
                    char hex[3] = {s[1], s[2], 0};
                    out[o++] = (char)strtol(hex, NULL, 16);
                    s += 2;
                } else {
                    out[o++] = *s;
                }
            }
            out[o] = 0;
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

/* A positive decimal id. */
static bool cl__parse_id(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (!s || !*s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

/* ?name= as an id (0 when absent); false (and a 400 sent) when malformed. */
static bool cl__query_id(struct cl_chat_call *c, const char *q, const char *name, int64_t *out)
{
    char buf[32];
    *out = 0;
    if (!cl__query(q, name, buf, sizeof buf))
        return true;
    if (cl__parse_id(buf, out))
        return true;
    cl__fail(c, 400, "bad_request", "%s must be a positive integer", name);
    return false;
}

static bool cl__query_limit(struct cl_chat_call *c, const char *q, int def, int max, int *out)
{
    int64_t v;
    if (!cl__query_id(c, q, "limit", &v))
        return false;
    *out = v == 0 ? def : v > max ? max : (int)v;
    return true;
}

/* body[key] as an optional string: absent -> *out NULL; null -> "" when
 * nullable; anything else -> 400. */
static bool cl__body_str(struct cl_chat_call *c, json_t *body, const char *key, bool nullable,
                         const char **out)
{
    json_t *v = body ? json_object_get(body, key) : NULL;
    *out = NULL;
    if (!v)
        return true;
    if (json_is_null(v) && nullable) {
        *out = "";
        return true;
    }
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return true;
    }
    cl__fail(c, 400, "bad_request", "%s must be a string", key);
    return false;
}

/* body[key] as an optional id: absent -> false in *given; null -> 0. */
static bool cl__body_id(struct cl_chat_call *c, json_t *body, const char *key, bool *given,
                        int64_t *out)
{
    json_t *v = body ? json_object_get(body, key) : NULL;
    *given = v != NULL;
    *out = 0;
    if (!v || json_is_null(v))
        return true;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = json_integer_value(v);
        return true;
    }
    cl__fail(c, 400, "bad_request", "%s must be a positive integer or null", key);
    return false;
}

static bool cl__body_object(struct cl_chat_call *c, json_t *body, bool required)
{
    if ((!body && !required) || json_is_object(body))
        return true;
    cl__fail(c, 400, "bad_request", "the body must be a JSON object");
    return false;
}

/* A value over its limit, named. */
static bool cl__over(struct cl_chat_call *c, const char *field, const char *s, size_t max,
                     const char *limit)
{
    if (!s || strlen(s) <= max)
        return false;
    cl__fail(c, 413, "too_large", "%s is over %s (%zu bytes)", field, limit, max);
    return true;
}

/* ---- workspaces ---------------------------------------------------------------------------- */

static void cl__ws_list(struct cl_chat_call *c)
{
    json_t *arr = json_array();
    int rc = cl_chat_workspace_list(c->api->cfg.cs, cl__ws_json, arr);
    if (rc) {
        json_decref(arr);
        cl__fail_rc(c, rc, "workspaces");
        return;
    }
    cl__end(c, 200, json_pack("{s:o}", "workspaces", arr));
}

static void cl__ws_answer(struct cl_chat_call *c, int64_t id, int status)
{
    json_t *o = json_object();
    int rc = cl_chat_workspace_get(c->api->cfg.cs, id, cl__ws_json, o);
    if (rc) {
        json_decref(o);
        cl__fail_rc(c, rc, "workspace");
        return;
    }
    json_t *w = json_incref(json_object_get(o, "workspace"));
    json_decref(o);
    cl__end(c, status, w);
}

static void cl__ws_create(struct cl_chat_call *c, json_t *body)
{
    const char *name, *agent, *folder;
    int64_t id;
    int rc;

    if (!cl__body_object(c, body, true) || !cl__body_str(c, body, "name", false, &name) ||
        !cl__body_str(c, body, "default_agent", true, &agent) ||
        !cl__body_str(c, body, "folder", true, &folder))
        return;
    if (!name || !*name) {
        cl__fail(c, 400, "bad_request", "name is required");
        return;
    }
    if (cl__over(c, "name", name, CL_NAME_MAX, "CL_NAME_MAX") ||
        cl__over(c, "default_agent", agent, CL_ID_MAX, "CL_ID_MAX") ||
        cl__over(c, "folder", folder, CL_CHAT_FOLDER_MAX, "CL_CHAT_FOLDER_MAX"))
        return;
    rc = cl_chat_workspace_create(c->api->cfg.cs, name, agent, folder, &id);
    if (rc) {
        cl__fail_rc(c, rc, "workspace");
        return;
    }
    cl__ws_answer(c, id, 201);
}

static void cl__ws_patch(struct cl_chat_call *c, int64_t id, json_t *body)
{
    const char *name, *agent, *folder;
    int rc;

    if (!cl__body_object(c, body, true) || !cl__body_str(c, body, "name", false, &name) ||
        !cl__body_str(c, body, "default_agent", true, &agent) ||
        !cl__body_str(c, body, "folder", true, &folder))
        return;
    if (name && !*name) {
        cl__fail(c, 400, "bad_request", "name must not be empty");
        return;
    }
    if (cl__over(c, "name", name, CL_NAME_MAX, "CL_NAME_MAX") ||
        cl__over(c, "default_agent", agent, CL_ID_MAX, "CL_ID_MAX") ||
        cl__over(c, "folder", folder, CL_CHAT_FOLDER_MAX, "CL_CHAT_FOLDER_MAX"))
        return;
    rc = cl_chat_workspace_update(c->api->cfg.cs, id, name, agent, folder);
    if (rc) {
        cl__fail_rc(c, rc, "workspace");
        return;
    }
    cl__ws_answer(c, id, 200);
}

/* ---- threads ------------------------------------------------------------------------------- */

struct cl__page {
    json_t *arr;
    size_t bytes, budget;
    int want;  /* rows the caller asked for */
    int n;     /* rows taken */
    bool more; /* rows remain past the page */
    int64_t last_at, last_id;
    bool newest_first_reverse; /* messages before: rows come newest first */
    struct cl_chat_store *cs;  /* messages: their attachments */
};

static int cl__page_thread(const struct cl_chat_thread *t, void *arg)
{
    struct cl__page *p = arg;
    json_t *o;
    size_t sz;

    if (p->n == p->want) {
        p->more = true;
        return 1;
    }
    o = cl__thread_obj(t);
    sz = cl__size(o) + 1;
    if (p->bytes + sz > p->budget) {
        json_decref(o);
        p->more = true;
        return 1;
    }
    p->bytes += sz;
    json_array_append_new(p->arr, o);
    p->n++;
    p->last_at = t->last_message_at;
    p->last_id = t->id;
    return 0;
}

static void cl__th_list(struct cl_chat_call *c, const char *q)
{
    struct cl__page p = {.budget = CL_CHAT_FRAME_MAX - 256};
    struct cl_chat_cursor cur = {0, 0};
    int64_t ws;
    char cs[64];
    int rc;

    if (!cl__query_id(c, q, "workspace_id", &ws) ||
        !cl__query_limit(c, q, CL_CHAT_PAGE_DEFAULT, CL_CHAT_PAGE_MAX, &p.want))
        return;
    if (cl__query(q, "cursor", cs, sizeof cs) && cs[0]) {
        long long at, id;
        char tail;
        if (sscanf(cs, "%lld.%lld%c", &at, &id, &tail) != 2 || id <= 0) {
            cl__fail(c, 400, "bad_request", "cursor is malformed");
            return;
        }
        cur.at = at;
        cur.id = id;
    }
    p.arr = json_array();
    rc = cl_chat_thread_list(c->api->cfg.cs, ws, cur.id ? &cur : NULL, p.want + 1, cl__page_thread,
                             &p);
    if (rc < 0) {
        json_decref(p.arr);
        cl__fail_rc(c, rc, "threads");
        return;
    }
    json_t *next = json_null();
    if (p.more && p.n > 0) {
        snprintf(cs, sizeof cs, "%" PRId64 ".%" PRId64, p.last_at, p.last_id);
        next = json_string(cs);
    }
    cl__end(c, 200, json_pack("{s:o, s:o}", "threads", p.arr, "next_cursor", next));
}

/* [a-z0-9_-], 1..CL_ID_MAX: an OpenClaw agent id. */
static bool cl__agent_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CL_ID_MAX)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
            return false;
    return true;
}

static int cl__ws_agent(const struct cl_chat_workspace *w, void *arg)
{
    snprintf(arg, CL_ID_MAX + 1, "%s", w->default_agent);
    return 0;
}

static void cl__th_create(struct cl_chat_call *c, json_t *body, const char *user_id)
{
    struct cl_chat_store *cs = c->api->cfg.cs;
    const char *title, *agent;
    char ws_agent[CL_ID_MAX + 1] = "", key[CL_CHAT_KEY_MAX + 1], rnd[40];
    int64_t ws, id;
    bool given;
    int rc;

    (void)user_id;
    if (!cl__body_object(c, body, false) || !cl__body_str(c, body, "title", false, &title) ||
        !cl__body_str(c, body, "agent_id", false, &agent) ||
        !cl__body_id(c, body, "workspace_id", &given, &ws))
        return;
    if (cl__over(c, "title", title, CL_CHAT_TITLE_MAX, "CL_CHAT_TITLE_MAX"))
        return;
    if (ws && (rc = cl_chat_workspace_get(cs, ws, cl__ws_agent, ws_agent)) != 0) {
        cl__fail_rc(c, rc, "workspace");
        return;
    }
    if (!agent || !*agent)
        agent = ws_agent[0] ? ws_agent : "main";
    if (!cl__agent_ok(agent)) {
        cl__fail(c, 400, "bad_request", "agent_id must be 1..%d of [a-z0-9_-]", CL_ID_MAX);
        return;
    }
    cl_uuid_new(rnd);
    snprintf(key, sizeof key, "agent:%s:clawlink-%.8s%.4s%.4s", agent, rnd, rnd + 9, rnd + 14);
    rc = cl_chat_thread_upsert(cs, ws, key, NULL, &id);
    if (rc == 0 && title && *title)
        rc = cl_chat_thread_rename(cs, id, title);
    if (rc == 0 && json_is_true(json_object_get(body, "memory")))
        rc = cl_chat_thread_set_memory(cs, id, true);
    if (rc) {
        cl__fail_rc(c, rc, "thread");
        return;
    }
    cl__broadcast_thread(c->api, id);
    cl__end(c, 201, cl__thread_get(c->api, id));
}

static void cl__th_get(struct cl_chat_call *c, int64_t id)
{
    json_t *t = cl__thread_get(c->api, id);
    if (!t)
        cl__fail(c, 404, "not_found", "thread not found");
    else
        cl__end(c, 200, t);
}

static void cl__th_patch(struct cl_chat_call *c, int64_t id, json_t *body)
{
    struct cl_chat_store *cs = c->api->cfg.cs;
    const char *title;
    int64_t ws;
    bool given;
    json_t *mem = body ? json_object_get(body, "memory") : NULL;
    int rc = 0;

    if (!cl__body_object(c, body, true) || !cl__body_str(c, body, "title", false, &title) ||
        !cl__body_id(c, body, "workspace_id", &given, &ws))
        return;
    if (mem && !json_is_boolean(mem)) {
        cl__fail(c, 400, "bad_request", "memory must be true or false");
        return;
    }
    if (title && !*title) {
        cl__fail(c, 400, "bad_request", "title must not be empty");
        return;
    }
    if (cl__over(c, "title", title, CL_CHAT_TITLE_MAX, "CL_CHAT_TITLE_MAX"))
        return;
    if (!cl__thread_exists(c->api, id)) {
        cl__fail(c, 404, "not_found", "thread not found");
        return;
    }
    if (title)
        rc = cl_chat_thread_rename(cs, id, title);
    if (rc == 0 && given) {
        rc = cl_chat_thread_move(cs, id, ws);
        if (rc == CL_ENOTFOUND) {
            cl__fail(c, 404, "not_found", "workspace not found");
            return;
        }
    }
    if (rc == 0 && mem)
        rc = cl_chat_thread_set_memory(cs, id, json_is_true(mem));
    if (rc) {
        cl__fail_rc(c, rc, "thread");
        return;
    }
    cl__broadcast_thread(c->api, id);
    cl__end(c, 200, cl__thread_get(c->api, id));
}

/* ---- messages ------------------------------------------------------------------------------- */

static int cl__page_message(const struct cl_chat_message *m, void *arg)
{
    struct cl__page *p = arg;
    json_t *o;
    size_t sz;

    if (p->n == p->want) {
        p->more = true;
        return 1;
    }
    /* one message never takes the whole page: a huge one is cut */
    o = cl__message_obj(p->cs, m, p->budget / 2);
    sz = cl__size(o) + 1;
    if (p->n > 0 && p->bytes + sz > p->budget) {
        json_decref(o);
        p->more = true;
        return 1;
    }
    p->bytes += sz;
    json_array_append_new(p->arr, o);
    p->n++;
    return 0;
}

static void cl__msg_list(struct cl_chat_call *c, int64_t thread_id, const char *q)
{
    struct cl__page p = {.budget = CL_CHAT_FRAME_MAX - 256, .cs = c->api->cfg.cs};
    int64_t before, after;
    int rc;

    if (!cl__query_id(c, q, "before", &before) || !cl__query_id(c, q, "after", &after) ||
        !cl__query_limit(c, q, CL_CHAT_PAGE_DEFAULT, CL_CHAT_PAGE_MAX, &p.want))
        return;
    if (before && after) {
        cl__fail(c, 400, "bad_request", "give before or after, not both");
        return;
    }
    if (!cl__thread_exists(c->api, thread_id)) {
        cl__fail(c, 404, "not_found", "thread not found");
        return;
    }
    p.arr = json_array();
    if (after) {
        rc = cl_chat_message_list(c->api->cfg.cs, thread_id, after, p.want + 1, cl__page_message,
                                  &p);
    } else {
        rc = cl_chat_message_list_before(c->api->cfg.cs, thread_id, before, p.want + 1,
                                         cl__page_message, &p);
        /* newest first from the store: the page is in order */
        size_t n = json_array_size(p.arr);
        for (size_t i = 0; i < n / 2; i++) {
            json_t *a = json_incref(json_array_get(p.arr, i));
            json_array_set(p.arr, i, json_array_get(p.arr, n - 1 - i));
            json_array_set_new(p.arr, n - 1 - i, a);
        }
    }
    if (rc < 0) {
        json_decref(p.arr);
        cl__fail_rc(c, rc, "messages");
        return;
    }
    cl__end(c, 200, json_pack("{s:o, s:b}", "messages", p.arr, "has_more", p.more));
}

/* ---- send ------------------------------------------------------------------------------------ */

struct cl__thread_info {
    char key[CL_CHAT_KEY_MAX + 1];
    char title[CL_CHAT_TITLE_MAX + 1];
    bool title_set_by_user, memory_on;
};

static int cl__on_thread_info(const struct cl_chat_thread *t, void *arg)
{
    struct cl__thread_info *i = arg;
    snprintf(i->key, sizeof i->key, "%s", t->session_key);
    snprintf(i->title, sizeof i->title, "%s", t->title);
    i->title_set_by_user = t->title_set_by_user;
    i->memory_on = t->memory_on;
    return 0;
}

/* A title from a first message: its first line, at most 60 bytes (not
 * splitting a character), "…" when cut. */
static void cl__title_from(const char *text, char *out, size_t cap)
{
    while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '#')
        text++;
    size_t n = strcspn(text, "\r\n");
    bool cut = n > 60;
    if (cut)
        n = cl__utf8_cut(text, 60);
    snprintf(out, cap, "%.*s%s", (int)n, text, cut ? "…" : "");
}

static void cl__on_sent(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl_chat_call *c = ctx;
    (void)payload;
    c->gw_pending = false;
    c->pending--;
    if (!ok) {
        cl__fail(c, 502, "gateway_error", "chat.send: %s", message ? message : "refused");
        return;
    }
    cl__release(c); /* still streaming: the mirror's hooks end it */
}

/* The message for the gateway: the memory block (notes found), then what
 * the user typed. */
static char *cl__with_context(struct cl_chat_call *c)
{
    size_t order[sizeof c->notes / sizeof c->notes[0]], n = 0, used, cap;
    char *block;

    if (!c->nnotes)
        return strdup(c->content);
    for (size_t i = 0; i < c->nnotes; i++)
        order[n++] = i;
    /* most words matched first, then as found (the first word's best first) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && c->notes[order[j]].hits > c->notes[order[j - 1]].hits; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    cap = CL_CHAT_MEMORY_CONTEXT_MAX + 1;
    block = malloc(cap + strlen(c->content));
    if (!block)
        return NULL;
    used = (size_t)snprintf(block, cap, "%s", CL_CHAT_MEMORY_OPEN);
    size_t closelen = strlen(CL_CHAT_MEMORY_CLOSE), sent = 0;
    for (size_t i = 0; i < n && sent < CL_CHAT_MEMORY_NOTES; i++) {
        const char *t = c->notes[order[i]].text;
        size_t room = CL_CHAT_MEMORY_CONTEXT_MAX - used - closelen;
        size_t len = strcspn(t, ""); /* whole note, newlines kept inside one item */
        if (room < 16)
            break;
        if (len + 3 > room)
            len = cl__utf8_cut(t, room - 3);
        used += (size_t)snprintf(block + used, cap - used, "- %.*s\n", (int)len, t);
        sent++;
    }
    used += (size_t)snprintf(block + used, cap - used, "%s", CL_CHAT_MEMORY_CLOSE);
    strcpy(block + used, c->content);
    return block;
}

static void cl__send_to_gateway(struct cl_chat_call *c)
{
    struct cl_chat_api *api = c->api;
    char *text = cl__with_context(c);
    int rc;

    if (!text) {
        cl__fail(c, 500, "internal", "out of memory");
        return;
    }
    if (!api->cfg.gw) {
        free(text);
        cl__fail(c, 409, "gateway_offline", "the OpenClaw gateway is not connected");
        return;
    }
    /* the idempotency key is the run id (docs/chat.md, "chat.send") */
    {
        json_t *params = json_pack("{s:s, s:s, s:s}", "sessionKey", c->key, "message", text,
                                   "idempotencyKey", c->run_id);
        if (c->att_gw)
            json_object_set(params, "attachments", c->att_gw);
        rc = cl_gw_request(api->cfg.gw, "chat.send", params, CL_CHAT_GW_TIMEOUT_MS, cl__on_sent, c,
                           &c->gw_req);
    }
    free(text);
    if (rc) {
        cl__fail(c, 409, "gateway_offline", "the OpenClaw gateway is not connected");
        return;
    }
    c->gw_pending = true;
    c->pending++;
}

static void cl__next_word(struct cl_chat_call *c);

static void cl__on_context_hits(void *ctx, int rc, const struct cl_memory_hit *hits, size_t n)
{
    struct cl_chat_call *c = ctx;
    c->pending--;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t k;
        for (k = 0; k < c->nnotes && c->notes[k].id != hits[i].id; k++)
            ;
        if (k < c->nnotes) {
            c->notes[k].hits++;
        } else if (c->nnotes < sizeof c->notes / sizeof c->notes[0]) {
            c->notes[c->nnotes].id = hits[i].id;
            c->notes[c->nnotes].hits = 1;
            c->notes[c->nnotes].text = strdup(hits[i].text ? hits[i].text : "");
            if (c->notes[c->nnotes].text)
                c->nnotes++;
        }
    }
    if (rc)
        cl_warn("chat", "memory search failed; the message goes without context", "error=%s",
                cl_strerror(rc));
    cl__next_word(c);
}

/* Searches the memory for the next word, or sends when all were. A
 * cancelled send still goes: the caller leaving does not unsay it. */
static void cl__next_word(struct cl_chat_call *c)
{
    struct cl_memory *mem = c->api->cfg.mem;
    if (c->iword >= c->nwords || !mem) {
        cl__send_to_gateway(c);
        return;
    }
    c->pending++;
    mem->ops->search(mem->self, c->words[c->iword++], "", "", CL_CHAT_MEMORY_NOTES,
                     cl__on_context_hits, c);
}

/* The words of the message the memory is searched for: 4 bytes or longer,
 * each once (ASCII letters compared without case), at most
 * CL_CHAT_MEMORY_WORDS, longest first. */
static void cl__pick_words(struct cl_chat_call *c)
{
    const char *p = c->content;
    c->nwords = 0;
    while (*p) {
        while (*p && !(isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        const char *s = p;
        while (*p && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        size_t n = (size_t)(p - s);
        if (n < 4 || n >= sizeof c->words[0])
            continue;
        char w[64];
        for (size_t i = 0; i < n; i++)
            w[i] = (char)tolower((unsigned char)s[i]);
        w[n] = 0;
        size_t k;
        for (k = 0; k < c->nwords && strcmp(c->words[k], w) != 0; k++)
            ;
        if (k < c->nwords)
            continue;
        if (c->nwords < CL_CHAT_MEMORY_WORDS) {
            memcpy(c->words[c->nwords++], w, n + 1);
        } else {
            /* replace the shortest when this one is longer */
            size_t shortest = 0;
            for (k = 1; k < c->nwords; k++)
                if (strlen(c->words[k]) < strlen(c->words[shortest]))
                    shortest = k;
            if (strlen(c->words[shortest]) < n)
                memcpy(c->words[shortest], w, n + 1);
        }
    }
}

struct cl__user_msg {
    int64_t id;
};

/* ---- attachments (docs/chat.md "Attachments") --------------------------------------------- */

/* A type from the name's extension; the gateway sniffs the bytes anyway. */
static const char *cl__mime_of(const char *name)
{
    static const struct {
        const char *ext, *mime;
    } map[] = {
        {".txt", "text/plain"},        {".md", "text/markdown"},    {".csv", "text/csv"},
        {".json", "application/json"}, {".pdf", "application/pdf"}, {".png", "image/png"},
        {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},     {".gif", "image/gif"},
        {".webp", "image/webp"},       {".html", "text/html"},      {".log", "text/plain"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(dot, map[i].ext) == 0)
            return map[i].mime;
    return "application/octet-stream";
}

/* Keeps data as attachments/<hex> in dir (0700; the file 0600), written
 * beside and renamed into place; already there (the same bytes): nothing
 * to do. */
static int cl__attach_keep(const char *dir, const char *hex, const uint8_t *data, size_t n)
{
    char tmp[96];
    uint8_t rnd[8];
    struct stat st;
    size_t off = 0;
    int dfd, fd, rc = 0;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return CL_EIO;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return CL_EIO;
    if (fstatat(dfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        (size_t)st.st_size == n)
        goto out;
    randombytes_buf(rnd, sizeof rnd);
    snprintf(tmp, sizeof tmp, ".%s.%02x%02x%02x%02x%02x%02x%02x%02x", hex, rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = CL_EIO;
        goto out;
    }
    while (off < n && rc == 0) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = CL_EIO;
        else
            off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = CL_EIO;
    close(fd);
    if (rc == 0 && renameat(dfd, tmp, dfd, hex) != 0)
        rc = CL_EIO;
    if (rc)
        unlinkat(dfd, tmp, 0);
out:
    close(dfd);
    return rc;
}

/* body.attachments [{path}]: each file read through the files API's rules
 * (files.c), kept content-addressed beside the chat store, and readied for
 * chat.send. false when it failed (the call has ended). */
static bool cl__attachments(struct cl_chat_call *c, json_t *att)
{
    struct cl_chat_api *api = c->api;
    size_t idx, total = 0;
    json_t *it;

    if (!json_is_array(att)) {
        cl__fail(c, 400, "bad_request", "attachments must be an array of {path}");
        return false;
    }
    if (json_array_size(att) == 0)
        return true;
    if (json_array_size(att) > CL_CHAT_ATTACH_COUNT_MAX) {
        cl__fail(c, 413, "too_large", "more than CL_CHAT_ATTACH_COUNT_MAX (%d) attachments",
                 CL_CHAT_ATTACH_COUNT_MAX);
        return false;
    }
    if (!(api->cfg.caps & CL_CAP_FILES)) {
        cl__fail(c, 403, "capability_denied",
                 "attachments are files: files is not declared in this agent's capabilities");
        return false;
    }
    if (!api->files || !api->cfg.attach_dir) {
        cl__fail(c, 503, "files_unavailable", "the files API is off on this agent (see its log)");
        return false;
    }
    c->att_gw = json_array();
    json_array_foreach(att, idx, it)
    {
        json_t *pv = json_object_get(it, "path");
        const char *path = json_string_value(pv);
        char norm[CL_FILES_PATH_MAX + 1], why[512] = "", hex[65];
        size_t room = CL_CHAT_ATTACH_MAX - total, got = 0;
        int64_t size = 0, mtime = 0;
        struct cl__att *a = &c->atts[c->natts];
        uint8_t *buf;
        char *b64;
        int rc;

        if (!json_is_object(it) || !path) {
            cl__fail(c, 400, "bad_request", "attachments[%zu] must be {path}", idx);
            return false;
        }
        buf = malloc(room + 1);
        if (!buf)
            abort();
        rc = cl_files_read(api->files, path, json_string_length(pv), norm, 0, buf, room + 1, &got,
                           &size, &mtime, why, sizeof why);
        if (rc || got > room || got == 0) {
            free(buf);
            if (rc == CL_EINVAL)
                cl__fail(c, 400, "bad_path", "attachments[%zu]: %s", idx, why);
            else if (rc == CL_EFORBIDDEN)
                cl__fail(c, 403, "forbidden_path", "attachments[%zu]: %s", idx, why);
            else if (rc == CL_ENOTFOUND)
                cl__fail(c, 404, "not_found", "attachments[%zu]: %s", idx, why);
            else if (rc)
                cl__fail(c, 500, "io_error", "attachments[%zu]: %s", idx, why);
            else if (got == 0)
                cl__fail(c, 400, "bad_request", "attachments[%zu] is an empty file", idx);
            else
                cl__fail(c, 413, "too_large",
                         "the attachments are over CL_CHAT_ATTACH_MAX (%d bytes together)",
                         CL_CHAT_ATTACH_MAX);
            return false;
        }
        total += got;
        crypto_hash_sha256(a->sha256, buf, got);
        for (size_t i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", a->sha256[i]);
        if (cl__attach_keep(api->cfg.attach_dir, hex, buf, got) != 0) {
            free(buf);
            cl__fail(c, 500, "io_error", "cannot keep attachments[%zu] beside the chat store", idx);
            return false;
        }
        snprintf(a->name, sizeof a->name, "%.255s",
                 strrchr(norm, '/') ? strrchr(norm, '/') + 1 : norm);
        a->mime = cl__mime_of(a->name);
        a->size = (int64_t)got;
        c->natts++;
        b64 = malloc(cl_b64_encoded_size(got));
        if (!b64)
            abort();
        cl_b64_encode(buf, got, b64, cl_b64_encoded_size(got));
        free(buf);
        /* the shape chat.send takes (docs/chat.md "Attachments") */
        json_array_append_new(c->att_gw,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", "file",
                                        "mimeType", a->mime, "fileName", a->name, "content", b64,
                                        "origin", "file", "sizeBytes", (json_int_t)got));
        free(b64);
    }
    return true;
}

static void cl__send(struct cl_chat_call *c, int64_t thread_id, json_t *body, const char *user_id)
{
    struct cl_chat_api *api = c->api;
    struct cl__thread_info ti = {0};
    const char *content;
    char prov[CL_CHAT_KEY_MAX + 1], title[CL_CHAT_TITLE_MAX + 1];
    json_t *att;
    int64_t mid;
    int rc;

    if (!cl__body_object(c, body, true) || !cl__body_str(c, body, "content", false, &content))
        return;
    if (!content || !*content) {
        cl__fail(c, 400, "bad_request", "content is required");
        return;
    }
    if (cl__over(c, "content", content, CL_CHAT_MESSAGE_MAX - CL_CHAT_MEMORY_CONTEXT_MAX,
                 "CL_CHAT_MESSAGE_MAX less the memory block (CL_CHAT_MEMORY_CONTEXT_MAX)"))
        return;
    att = json_object_get(body, "attachments");
    rc = cl_chat_thread_get(api->cfg.cs, thread_id, cl__on_thread_info, &ti);
    if (rc) {
        cl__fail_rc(c, rc, "thread");
        return;
    }
    if (!api->cfg.gw || cl_gw_state(api->cfg.gw) != CL_NODE_ONLINE) {
        cl__fail(c, 409, "gateway_offline", "the OpenClaw gateway is not connected");
        return;
    }
    if (att && !json_is_null(att) && !cl__attachments(c, att))
        return;
    c->kind = CL__SEND;
    c->thread_id = thread_id;
    snprintf(c->key, sizeof c->key, "%s", ti.key);
    cl_uuid_new(c->run_id);
    c->content = strdup(content);
    if (!c->content) {
        cl__fail(c, 500, "internal", "out of memory");
        return;
    }
    snprintf(prov, sizeof prov, "run:%s:user", c->run_id);
    struct cl_chat_message_in in = {
        .gateway_id = prov,
        .role = "user",
        .content_md = content,
        .run_id = c->run_id,
        .state = CL_CHAT_FINAL,
        .sender_user_id = user_id && *user_id ? user_id : NULL,
    };
    rc = cl_chat_message_upsert(api->cfg.cs, thread_id, &in, &mid);
    if (rc) {
        cl__fail_rc(c, rc, "content");
        return;
    }
    for (size_t i = 0; i < c->natts; i++) {
        const struct cl__att *a = &c->atts[i];
        rc = cl_chat_attachment_add(api->cfg.cs, mid, a->name, a->mime, a->size, a->sha256, NULL);
        if (rc) {
            cl__fail_rc(c, rc, "an attachment");
            return;
        }
    }
    if (!ti.title[0] && !ti.title_set_by_user) {
        cl__title_from(content, title, sizeof title);
        if (title[0] && cl_chat_thread_upsert(api->cfg.cs, 0, ti.key, title, NULL) == 0)
            cl__broadcast_thread(api, thread_id);
    }
    json_t *m = cl__message_get(api, mid, CL_CHAT_FRAME_MAX - 64);
    cl__event(c, "message", json_pack("{s:o}", "message", m ? m : json_null()));
    cl__broadcast_message(api, mid);
    if (ti.memory_on && api->cfg.mem)
        cl__pick_words(c);
    cl__next_word(c);
}

/* ---- stop ------------------------------------------------------------------------------------ */

static void cl__on_aborted(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl_chat_call *c = ctx;
    c->gw_pending = false;
    c->pending--;
    if (!ok) {
        cl__fail(c, 502, "gateway_error", "chat.abort: %s", message ? message : "refused");
        return;
    }
    json_t *ids = json_object_get(payload, "runIds");
    cl__end(c, 200,
            json_pack("{s:b, s:O}", "aborted", json_is_true(json_object_get(payload, "aborted")),
                      "run_ids", json_is_array(ids) ? ids : json_array()));
}

static void cl__stop(struct cl_chat_call *c, int64_t thread_id)
{
    struct cl_chat_api *api = c->api;
    struct cl__thread_info ti = {0};
    int rc = cl_chat_thread_get(api->cfg.cs, thread_id, cl__on_thread_info, &ti);

    if (rc) {
        cl__fail_rc(c, rc, "thread");
        return;
    }
    c->kind = CL__STOP;
    if (!api->cfg.gw ||
        cl_gw_request(api->cfg.gw, "chat.abort", json_pack("{s:s}", "sessionKey", ti.key),
                      CL_CHAT_GW_TIMEOUT_MS, cl__on_aborted, c, &c->gw_req) != 0) {
        cl__fail(c, 409, "gateway_offline", "the OpenClaw gateway is not connected");
        return;
    }
    c->gw_pending = true;
    c->pending++;
}

/* ---- delete (docs/chat.md, "Deleting a session") ----------------------------------------------
 */

static void cl__delete_next(struct cl_chat_call *c);

static void cl__on_memory_forgot(void *ctx, int rc, int64_t id)
{
    struct cl_chat_call *c = ctx;
    (void)rc;
    (void)id;
    c->pending--;
    cl__delete_next(c);
}

/* The gateway's session is gone (or never was): the local thread goes. */
static void cl__delete_local(struct cl_chat_call *c)
{
    struct cl_chat_api *api = c->api;
    int rc = cl_chat_thread_delete(api->cfg.cs, c->thread_id);

    if (rc && rc != CL_ENOTFOUND) {
        cl__fail_rc(c, rc, "thread");
        return;
    }
    cl__broadcast(api, "thread_deleted", json_pack("{s:I}", "id", (json_int_t)c->thread_id));
    if (api->cfg.mem) {
        c->pending++;
        api->cfg.mem->ops->forget_thread(api->cfg.mem->self, c->thread_id, cl__on_memory_forgot, c);
        return;
    }
    cl__delete_next(c);
}

static void cl__on_delete_step(void *ctx, bool ok, json_t *payload, const char *message);

static int cl__delete_ask(struct cl_chat_call *c, const char *method, json_t *params)
{
    int rc = c->api->cfg.gw ? cl_gw_request(c->api->cfg.gw, method, params, CL_CHAT_GW_TIMEOUT_MS,
                                            cl__on_delete_step, c, &c->gw_req)
                            : (json_decref(params), CL_ESTATE);
    if (rc) {
        cl__fail(c, 409, "gateway_offline",
                 "the OpenClaw gateway is not connected: nothing was deleted");
        return rc;
    }
    c->gw_pending = true;
    c->pending++;
    return 0;
}

static void cl__on_delete_step(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl_chat_call *c = ctx;
    const char *sid;

    c->gw_pending = false;
    c->pending--;
    if (!ok) {
        cl__fail(c, 502, "gateway_error", "deleting %s: %s", c->key, message ? message : "refused");
        return;
    }
    switch (c->del_step) {
    case CL__DEL_HISTORY:
        sid = json_string_value(json_object_get(payload, "sessionId"));
        if (!sid || !*sid || strlen(sid) > CL_CHAT_KEY_MAX) {
            cl__delete_local(c); /* no session behind the key */
            return;
        }
        snprintf(c->session_id, sizeof c->session_id, "%s", sid);
        c->del_step = CL__DEL_PATCH;
        cl__delete_ask(c, "sessions.patch",
                       json_pack("{s:s, s:b, s:s}", "key", c->key, "archived", 1,
                                 "expectedSessionId", c->session_id));
        return;
    case CL__DEL_PATCH:
        c->del_step = CL__DEL_DELETE;
        cl__delete_ask(c, "sessions.delete",
                       json_pack("{s:s, s:b, s:b, s:s}", "key", c->key, "archivedOnly", 1,
                                 "deleteTranscript", 1, "expectedSessionId", c->session_id));
        return;
    case CL__DEL_DELETE:
        cl__delete_local(c);
        return;
    }
}

/* Starts deleting thread id (its key read from the store). */
static void cl__delete_thread_start(struct cl_chat_call *c, int64_t id)
{
    struct cl__thread_info ti = {0};
    int rc = cl_chat_thread_get(c->api->cfg.cs, id, cl__on_thread_info, &ti);

    if (rc) {
        if (rc == CL_ENOTFOUND && c->ws_id) {
            cl__delete_next(c); /* gone meanwhile */
            return;
        }
        cl__fail_rc(c, rc, "thread");
        return;
    }
    c->thread_id = id;
    snprintf(c->key, sizeof c->key, "%s", ti.key);
    c->del_step = CL__DEL_HISTORY;
    cl__delete_ask(
        c, "chat.history",
        json_pack("{s:s, s:i, s:i}", "sessionKey", c->key, "limit", 1, "maxBytes", 64 * 1024));
}

/* After a thread: the next of the workspace, the workspace, or done. */
static void cl__delete_next(struct cl_chat_call *c)
{
    if (!c->ws_id) {
        cl__end(c, 204, NULL);
        return;
    }
    if (c->iid < c->nids) {
        cl__delete_thread_start(c, c->ids[c->iid++]);
        return;
    }
    int rc = cl_chat_workspace_delete(c->api->cfg.cs, c->ws_id);
    if (rc && rc != CL_ENOTFOUND) {
        cl__fail_rc(c, rc, "workspace");
        return;
    }
    cl__end(c, 204, NULL);
}

static void cl__th_delete(struct cl_chat_call *c, int64_t id)
{
    c->kind = CL__DELETE;
    if (!cl__thread_exists(c->api, id)) {
        cl__fail(c, 404, "not_found", "thread not found");
        return;
    }
    if (!c->api->cfg.gw || cl_gw_state(c->api->cfg.gw) != CL_NODE_ONLINE) {
        cl__fail(c, 409, "gateway_offline",
                 "the OpenClaw gateway is not connected: nothing was deleted");
        return;
    }
    cl__delete_thread_start(c, id);
}

struct cl__ids {
    int64_t *ids;
    size_t n, cap;
    int64_t last_at, last_id;
    int page;
};

static int cl__collect_id(const struct cl_chat_thread *t, void *arg)
{
    struct cl__ids *s = arg;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        void *p = realloc(s->ids, cap * sizeof *s->ids);
        if (!p)
            return CL_ENOMEM;
        s->ids = p;
        s->cap = cap;
    }
    s->ids[s->n++] = t->id;
    s->last_at = t->last_message_at;
    s->last_id = t->id;
    s->page++;
    return 0;
}

static void cl__ws_delete(struct cl_chat_call *c, int64_t id)
{
    struct cl__ids s = {0};
    json_t *o = json_object();
    int rc = cl_chat_workspace_get(c->api->cfg.cs, id, cl__ws_json, o);

    json_decref(o);
    c->kind = CL__DELETE;
    if (rc) {
        cl__fail_rc(c, rc, "workspace");
        return;
    }
    do {
        struct cl_chat_cursor cur = {s.last_at, s.last_id};
        s.page = 0;
        rc = cl_chat_thread_list(c->api->cfg.cs, id, s.last_id ? &cur : NULL, CL_CHAT_PAGE_MAX,
                                 cl__collect_id, &s);
    } while (rc == 0 && s.page == CL_CHAT_PAGE_MAX);
    if (rc) {
        free(s.ids);
        cl__fail_rc(c, rc, "workspace");
        return;
    }
    if (s.n && (!c->api->cfg.gw || cl_gw_state(c->api->cfg.gw) != CL_NODE_ONLINE)) {
        free(s.ids);
        cl__fail(c, 409, "gateway_offline",
                 "the OpenClaw gateway is not connected: nothing was deleted");
        return;
    }
    c->ws_id = id;
    c->ids = s.ids;
    c->nids = s.n;
    cl__delete_next(c);
}

/* ---- search ------------------------------------------------------------------------------------
 */

struct cl__hits {
    json_t *arr;
    size_t bytes;
};

static int cl__on_msg_hit(const struct cl_chat_hit *h, void *arg)
{
    struct cl__hits *s = arg;
    json_t *o = json_pack("{s:s, s:I, s:I, s:o, s:o, s:s, s:I}", "kind", "message", "id",
                          (json_int_t)h->id, "thread_id", (json_int_t)h->thread_id, "thread_title",
                          json_null(), "role", cl__str_or_null(h->role), "snippet", h->snippet,
                          "created_at", (json_int_t)h->created_at);
    s->bytes += cl__size(o) + 1;
    if (s->bytes > CL_CHAT_FRAME_MAX - 1024) {
        json_decref(o);
        return 1;
    }
    json_array_append_new(s->arr, o);
    return 0;
}

static int cl__on_title(const struct cl_chat_thread *t, void *arg)
{
    json_object_set_new(arg, "thread_title", json_string(t->title));
    return 0;
}

/* Fills thread_title of every hit (after the search: the store's walk is
 * over). */
static void cl__hit_titles(struct cl_chat_api *api, json_t *arr)
{
    size_t i;
    json_t *h;
    json_array_foreach(arr, i, h)
    {
        json_t *tid = json_object_get(h, "thread_id");
        if (json_is_integer(tid))
            cl_chat_thread_get(api->cfg.cs, json_integer_value(tid), cl__on_title, h);
    }
}

static bool cl__query_q(struct cl_chat_call *c, const char *q, char *out, size_t cap)
{
    if (!cl__query(q, "q", out, cap) || !out[0]) {
        cl__fail(c, 400, "bad_request", "q is required");
        return false;
    }
    if (strlen(out) > CL_CHAT_QUERY_MAX) {
        cl__fail(c, 413, "too_large", "q is over CL_CHAT_QUERY_MAX (%d bytes)", CL_CHAT_QUERY_MAX);
        return false;
    }
    return true;
}

static void cl__search(struct cl_chat_call *c, const char *q)
{
    char query[CL_CHAT_QUERY_MAX * 3 + 2];
    struct cl__hits s = {0};
    int limit, rc;

    if (!cl__query_q(c, q, query, sizeof query) ||
        !cl__query_limit(c, q, 20, CL_CHAT_SEARCH_MAX, &limit))
        return;
    s.arr = json_array();
    rc = cl_chat_message_search(c->api->cfg.cs, query, "[[", "]]", limit, cl__on_msg_hit, &s);
    if (rc < 0) {
        json_decref(s.arr);
        cl__fail_rc(c, rc, "q");
        return;
    }
    cl__hit_titles(c->api, s.arr);
    cl__end(c, 200, json_pack("{s:o}", "hits", s.arr));
}

/* ---- memory ------------------------------------------------------------------------------------
 */

static json_t *cl__note_obj(const struct cl_memory_note *n)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:I, s:I}", "id", (json_int_t)n->id, "text", n->text,
                     "tags", n->tags ? n->tags : "", "source_thread_id",
                     cl__id_or_null(n->source_thread_id), "created_at", (json_int_t)n->created_at,
                     "updated_at", (json_int_t)n->updated_at);
}

static void cl__on_mem_list(void *ctx, int rc, const struct cl_memory_note *notes, size_t n,
                            bool has_more)
{
    struct cl_chat_call *c = ctx;
    json_t *arr = json_array();
    size_t bytes = 0;

    c->pending--;
    if (rc) {
        json_decref(arr);
        cl__fail_rc(c, rc, "memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = cl__note_obj(&notes[i]);
        bytes += cl__size(o) + 1;
        if (bytes > CL_CHAT_FRAME_MAX - 256) {
            json_decref(o);
            has_more = true;
            break;
        }
        json_array_append_new(arr, o);
    }
    cl__end(c, 200, json_pack("{s:o, s:b}", "notes", arr, "has_more", has_more));
}

static void cl__on_mem_added(void *ctx, int rc, int64_t id)
{
    struct cl_chat_call *c = ctx;
    c->pending--;
    if (rc) {
        cl__fail_rc(c, rc, rc == CL_ENOTFOUND ? "source_thread_id" : "text");
        return;
    }
    json_object_set_new(c->note, "id", json_integer(id));
    cl__end(c, 201, json_incref(c->note));
}

static void cl__on_mem_removed(void *ctx, int rc, int64_t id)
{
    struct cl_chat_call *c = ctx;
    (void)id;
    c->pending--;
    if (rc)
        cl__fail_rc(c, rc, "note");
    else
        cl__end(c, 204, NULL);
}

static void cl__on_mem_hits(void *ctx, int rc, const struct cl_memory_hit *hits, size_t n)
{
    struct cl_chat_call *c = ctx;
    json_t *arr = json_array();
    size_t bytes = 0;

    c->pending--;
    if (rc) {
        json_decref(arr);
        cl__fail_rc(c, rc, "q");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack(
            "{s:s, s:I, s:o, s:o, s:o, s:s, s:I}", "kind", "note", "id", (json_int_t)hits[i].id,
            "thread_id", cl__id_or_null(hits[i].source_thread_id), "thread_title", json_null(),
            "role", json_null(), "snippet", hits[i].snippet ? hits[i].snippet : "", "created_at",
            (json_int_t)hits[i].created_at);
        bytes += cl__size(o) + 1;
        if (bytes > CL_CHAT_FRAME_MAX - 1024) {
            json_decref(o);
            break;
        }
        json_array_append_new(arr, o);
    }
    cl__hit_titles(c->api, arr);
    cl__end(c, 200, json_pack("{s:o}", "hits", arr));
}

static void cl__memory(struct cl_chat_call *c, const char *method, const char *sub, const char *q,
                       json_t *body)
{
    struct cl_memory *mem = c->api->cfg.mem;
    int64_t id;

    c->kind = CL__MEMORY;
    if (!mem) {
        cl__fail(c, 503, "memory_unavailable", "no memory provider is configured");
        return;
    }
    if (!sub && strcmp(method, "GET") == 0) {
        int64_t before;
        int limit;
        if (!cl__query_id(c, q, "before", &before) ||
            !cl__query_limit(c, q, CL_CHAT_PAGE_DEFAULT, CL_CHAT_PAGE_MAX, &limit))
            return;
        c->pending++;
        mem->ops->list(mem->self, before, limit, cl__on_mem_list, c);
    } else if (!sub && strcmp(method, "POST") == 0) {
        const char *text, *tags;
        bool given;
        int64_t src;
        if (!cl__body_object(c, body, true) || !cl__body_str(c, body, "text", false, &text) ||
            !cl__body_str(c, body, "tags", true, &tags) ||
            !cl__body_id(c, body, "source_thread_id", &given, &src))
            return;
        if (!text || !*text) {
            cl__fail(c, 400, "bad_request", "text is required");
            return;
        }
        if (cl__over(c, "text", text, CL_CHAT_NOTE_MAX, "CL_CHAT_NOTE_MAX") ||
            cl__over(c, "tags", tags, CL_CHAT_TAGS_MAX, "CL_CHAT_TAGS_MAX"))
            return;
        /* threads live in the chat store: a remote provider cannot check
         * the source, so it is checked here for every provider */
        if (src && !cl__thread_exists(c->api, src)) {
            cl__fail(c, 404, "not_found", "source_thread_id not found");
            return;
        }
        int64_t now = cl__now_ms();
        c->note = json_pack("{s:I, s:s, s:s, s:o, s:I, s:I}", "id", (json_int_t)0, "text", text,
                            "tags", tags ? tags : "", "source_thread_id", cl__id_or_null(src),
                            "created_at", (json_int_t)now, "updated_at", (json_int_t)now);
        c->pending++;
        mem->ops->add(mem->self, text, tags ? tags : "", src, cl__on_mem_added, c);
    } else if (sub && strcmp(sub, "search") == 0 && strcmp(method, "GET") == 0) {
        char query[CL_CHAT_QUERY_MAX * 3 + 2];
        int limit;
        if (!cl__query_q(c, q, query, sizeof query) ||
            !cl__query_limit(c, q, 20, CL_CHAT_SEARCH_MAX, &limit))
            return;
        c->pending++;
        mem->ops->search(mem->self, query, "[[", "]]", limit, cl__on_mem_hits, c);
    } else if (sub && cl__parse_id(sub, &id) && strcmp(method, "DELETE") == 0) {
        c->pending++;
        mem->ops->remove(mem->self, id, cl__on_mem_removed, c);
    } else if (sub && !cl__parse_id(sub, &id) && strcmp(sub, "search") != 0) {
        cl__fail(c, 404, "not_found", "no such route");
    } else {
        cl__fail(c, 405, "method_not_allowed", "%s is not allowed here", method);
    }
}

/* ---- events -------------------------------------------------------------------------------------
 */

static void cl__events(struct cl_chat_call *c)
{
    if (c->api->followers >= CL_CHAT_FOLLOWERS_MAX) {
        cl__fail(c, 429, "too_many_followers",
                 "at most CL_CHAT_FOLLOWERS_MAX (%d) followers of /events at once",
                 CL_CHAT_FOLLOWERS_MAX);
        return;
    }
    c->kind = CL__EVENTS;
    c->api->followers++;
    /* opens the stream at once (through the relay: the 200 headers) */
    cl__event(c, "ping", json_object());
}

/* ---- routing
 * -------------------------------------------------------------------------------------- */

#define CL__SEGS 4

static void cl__route(struct cl_chat_call *c, const struct cl_chat_req *req)
{
    char path[CL_CHAT_PATH_MAX + 1], *seg[CL__SEGS + 1], *save = NULL;
    const char *m = req->method, *q = req->query;
    size_t n = 0;
    int64_t id = 0;

    if (!req->path || strlen(req->path) > CL_CHAT_PATH_MAX || req->path[0] != '/') {
        cl__fail(c, 404, "not_found", "no such route");
        return;
    }
    snprintf(path, sizeof path, "%s", req->path);
    for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == CL__SEGS) {
            cl__fail(c, 404, "not_found", "no such route");
            return;
        }
        seg[n++] = t;
    }
    seg[n] = NULL;
#define IS(i, s)  (n > (i) && strcmp(seg[i], s) == 0)
#define METHOD(s) (strcmp(m, s) == 0)
    if (n == 0)
        goto not_found;
    if (IS(0, "workspaces")) {
        if (n == 1 && METHOD("GET"))
            cl__ws_list(c);
        else if (n == 1 && METHOD("POST"))
            cl__ws_create(c, req->body);
        else if (n == 2 && cl__parse_id(seg[1], &id) && METHOD("PATCH"))
            cl__ws_patch(c, id, req->body);
        else if (n == 2 && cl__parse_id(seg[1], &id) && METHOD("DELETE"))
            cl__ws_delete(c, id);
        else if (n <= 2 && (n == 1 || cl__parse_id(seg[1], &id)))
            goto bad_method;
        else
            goto not_found;
        return;
    }
    if (IS(0, "threads")) {
        if (n == 1 && METHOD("GET"))
            cl__th_list(c, q);
        else if (n == 1 && METHOD("POST"))
            cl__th_create(c, req->body, req->user_id);
        else if (n == 1)
            goto bad_method;
        else if (!cl__parse_id(seg[1], &id))
            goto not_found;
        else if (n == 2 && METHOD("GET"))
            cl__th_get(c, id);
        else if (n == 2 && METHOD("PATCH"))
            cl__th_patch(c, id, req->body);
        else if (n == 2 && METHOD("DELETE"))
            cl__th_delete(c, id);
        else if (n == 2)
            goto bad_method;
        else if (n == 3 && IS(2, "messages") && METHOD("GET"))
            cl__msg_list(c, id, q);
        else if (n == 3 && IS(2, "messages") && METHOD("POST"))
            cl__send(c, id, req->body, req->user_id);
        else if (n == 3 && IS(2, "stop") && METHOD("POST"))
            cl__stop(c, id);
        else if (n == 3 && (IS(2, "messages") || IS(2, "stop")))
            goto bad_method;
        else
            goto not_found;
        return;
    }
    if (IS(0, "search") && n == 1) {
        if (METHOD("GET"))
            cl__search(c, q);
        else
            goto bad_method;
        return;
    }
    if (IS(0, "memory") && n <= 2) {
        cl__memory(c, m, n == 2 ? seg[1] : NULL, q, req->body);
        return;
    }
    if (IS(0, "files") && n <= 2) {
        /* the files routes (chat_files.c), behind their own capability */
        json_t *body = NULL;
        int status = 500;
        if (!(c->api->cfg.caps & CL_CAP_FILES))
            cl__fail(c, 403, "capability_denied",
                     "files is not declared in this agent's capabilities (config "
                     "\"capabilities\")");
        else if (!c->api->files)
            cl__fail(c, 503, "files_unavailable",
                     "the files API is off on this agent: no usable $HOME, or a malformed "
                     "files_read_roots (see its log)");
        else {
            cl_chat_files_handle(c->api->files, m, n == 2 ? seg[1] : NULL, q, req->body,
                                 req->user_id, &status, &body);
            cl__end(c, status, body);
        }
        return;
    }
    if (IS(0, "events") && n == 1) {
        if (METHOD("GET"))
            cl__events(c);
        else
            goto bad_method;
        return;
    }
not_found:
    cl__fail(c, 404, "not_found", "no such route");
    return;
bad_method:
    cl__fail(c, 405, "method_not_allowed", "%s is not allowed here", m);
#undef IS
#undef METHOD
}

struct cl_chat_call *cl_chat_api_handle(struct cl_chat_api *api, const struct cl_chat_req *req,
                                        const struct cl_chat_reply *r, void *ctx)
{
    struct cl_chat_call *c = calloc(1, sizeof *c);

    if (!c) {
        r->end(ctx, 500, NULL);
        return NULL;
    }
    c->api = api;
    c->r = r;
    c->ctx = ctx;
    c->in_handle = true;
    c->next = api->calls;
    if (api->calls)
        api->calls->prev = c;
    api->calls = c;
    if (!(api->cfg.caps & CL_CAP_CHAT))
        cl__fail(c, 403, "capability_denied",
                 "chat is not declared in this agent's capabilities (config \"capabilities\")");
    else if (!req->method)
        cl__fail(c, 405, "method_not_allowed", "no method");
    else
        cl__route(c, req);
    c->in_handle = false;
    if (c->ended || c->cancelled) {
        cl__release(c);
        return NULL;
    }
    return c;
}

void cl_chat_api_cancel(struct cl_chat_api *api, struct cl_chat_call *call)
{
    (void)api;
    if (!call || call->cancelled)
        return;
    call->cancelled = true;
    if (call->kind == CL__EVENTS && api->followers) {
        api->followers--;
        call->kind = CL__ONESHOT;
    }
    cl__release(call);
}

/* ---- lifecycle
 * -------------------------------------------------------------------------------------- */

static void cl__on_timer_closed(uv_handle_t *h)
{
    free(h);
}

int cl_chat_api_new(const struct cl_chat_api_cfg *cfg, struct cl_chat_api **out)
{
    static const struct cl_chat_mirror_hooks hooks_tpl = {
        .thread = cl__hook_thread,
        .message = cl__hook_message,
        .delta = cl__hook_delta,
        .run_end = cl__hook_run_end,
        .state = cl__hook_state,
    };
    struct cl_chat_api *api = calloc(1, sizeof *api);
    int rc;

    *out = NULL;
    if (!api)
        return CL_ENOMEM;
    api->cfg = *cfg;
    if (cfg->gw) {
        struct cl_chat_mirror_hooks h = hooks_tpl;
        h.ud = api;
        rc = cl_chat_mirror_new(cfg->gw, cfg->cs, &h, &api->mirror);
        if (rc) {
            free(api);
            return rc;
        }
    }
    api->ping = calloc(1, sizeof *api->ping);
    if (!api->ping) {
        cl_chat_mirror_free(api->mirror);
        free(api);
        return CL_ENOMEM;
    }
    if ((cfg->caps & CL_CAP_FILES) && !cfg->files_off) {
        struct cl_files_cfg fc = {
            .home = cfg->home ? cfg->home : getenv("HOME"),
            .read_roots = cfg->files_roots,
            .nroots = cfg->files_nroots,
        };
        char why[256];
        rc = cl_files_new(&fc, &api->files, why, sizeof why);
        if (rc == CL_ENOMEM) {
            cl_chat_mirror_free(api->mirror);
            free(api->ping);
            free(api);
            return rc;
        }
        if (rc)
            cl_warn("chat", "the files API is off", "why=\"%s\"", why);
    }
    uv_timer_init(cfg->loop, api->ping);
    api->ping->data = api;
    uv_timer_start(api->ping, cl__on_ping, CL_CHAT_PING_MS, CL_CHAT_PING_MS);
    uv_unref((uv_handle_t *)api->ping);
    *out = api;
    return 0;
}

void cl_chat_api_free(struct cl_chat_api *api)
{
    if (!api)
        return;
    cl_chat_mirror_free(api->mirror);
    cl_files_free(api->files);
    while (api->calls) {
        struct cl_chat_call *c = api->calls;
        if (c->gw_pending && api->cfg.gw)
            cl_gw_cancel(api->cfg.gw, c->gw_req);
        cl__call_free(c);
    }
    uv_timer_stop(api->ping);
    uv_close((uv_handle_t *)api->ping, cl__on_timer_closed);
    free(api);
}
