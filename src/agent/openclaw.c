/*
 * openclaw: relay requests -> gateway calls, streamed replies, tasks and
 * heartbeats.
 *
 * Each request in progress is a task in a list; a task waiting on a
 * gateway request holds its id so that freeing the task first cancels the
 * callback. Prompts are matched to the gateway's `chat` events by run id
 * (chat.send's idempotencyKey, which the gateway uses as the run id).
 */
#include "agent/openclaw.h"
#include "agent/gateway.h"
#include "agent/gateway_identity.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"

#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL__TICK_MS 1000
/* What a prompt remembers of the text it streamed, to send what the final
 * answer adds; past this it stops comparing. */
#define CL__STREAMED_MAX (1024 * 1024)
/* One token message carries at most this much of a delta. */
#define CL__TOKEN_CHUNK (32 * 1024)

enum cl__kind { CL__PROMPT, CL__RESTART, CL__WORKFLOWS, CL__WORKFLOW };

struct cl__task {
    struct cl__task *next;
    struct cl_oc_node *n;
    enum cl__kind kind;
    char request_id[CL_ID_MAX + 1];
    char run_id[80];
    char session_key[CL_NODE_KEY_MAX + 1];
    char name[CL_NODE_KEY_MAX + 1]; /* workflow */
    char mode[16];                  /* workflow: cron.run mode */
    char *streamed;                 /* prompt: text sent so far */
    size_t streamed_len;
    bool streamed_overflow;
    bool accepted; /* prompt: chat.send answered ok */
    uint64_t deadline;
    uint64_t gw_req;
    bool gw_pending;
};

struct cl_oc_node {
    uv_loop_t *loop;
    struct cl_agent_link *link;
    struct cl_gw *gw; /* main.c's; NULL when not configured */
    struct cl_gw_settings set;
    char device_id[CL_ID_MAX + 1];
    uv_timer_t timer;
    bool timer_open;
    uint64_t started_at;
    uint64_t last_heartbeat;
    struct cl__task *tasks;
    size_t ntasks;
    char last_error[256];
    bool closing;
};

/* ---- replies to the relay -------------------------------------------------- */

static bool cl__can_send(struct cl_oc_node *n)
{
    return !n->closing && cl_agent_link_ready(n->link);
}

static void cl__send_error(struct cl_oc_node *n, const char *request_id, const char *code,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void cl__send_error(struct cl_oc_node *n, const char *request_id, const char *code,
                           const char *fmt, ...)
{
    struct cl_msg m;
    va_list ap;

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_ERROR;
    snprintf(m.request_id, sizeof m.request_id, "%s", request_id);
    snprintf(m.code, sizeof m.code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(m.message, sizeof m.message, fmt, ap);
    va_end(ap);
    if (strcmp(code, "capability_denied") != 0)
        snprintf(n->last_error, sizeof n->last_error, "%s", m.message);
    if (cl__can_send(n))
        cl_agent_link_send_msg(n->link, &m);
}

static void cl__send_token(struct cl_oc_node *n, const char *request_id, const char *text,
                           size_t len)
{
    struct cl_msg m;

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_TOKEN;
    snprintf(m.request_id, sizeof m.request_id, "%s", request_id);
    while (len > 0 && cl__can_send(n)) {
        size_t k = len;
        if (k > CL__TOKEN_CHUNK) {
            /* cut on a UTF-8 character boundary */
            k = CL__TOKEN_CHUNK;
            while (k > 0 && ((unsigned char)text[k] & 0xc0) == 0x80)
                k--;
        }
        char *piece = malloc(k + 1);
        if (!piece)
            abort();
        memcpy(piece, text, k);
        piece[k] = 0;
        m.text = piece;
        m.text_len = k;
        cl_agent_link_send_msg(n->link, &m);
        free(piece);
        text += k;
        len -= k;
    }
}

/* done {request_id, result?}; takes the reference to result (may be NULL). */
static void cl__send_done(struct cl_oc_node *n, const char *request_id, json_t *result)
{
    struct cl_msg m;

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_DONE;
    snprintf(m.request_id, sizeof m.request_id, "%s", request_id);
    if (result)
        m.json = cl_json_dump(result, NULL);
    json_decref(result);
    if (cl__can_send(n))
        cl_agent_link_send_msg(n->link, &m);
    free(m.json);
}

static enum cl_node_state cl__state(const struct cl_oc_node *n)
{
    return n->gw ? cl_gw_state(n->gw) : CL_NODE_OFFLINE;
}

/* The health payload of heartbeat and status. */
static void cl__health(struct cl_oc_node *n, struct cl_msg *m)
{
    const char *gw_err = n->gw ? cl_gw_last_error(n->gw) : "OpenClaw is not configured";
    const char *err = gw_err && gw_err[0] ? gw_err : n->last_error;

    snprintf(m->device_id, sizeof m->device_id, "%s", n->device_id);
    m->has_health = true;
    m->uptime = (uv_now(n->loop) - n->started_at) / 1000;
    m->active_tasks = (int)n->ntasks;
    m->has_last_error = err[0] != 0;
    snprintf(m->last_error, sizeof m->last_error, "%s", err);
    m->node_state = cl__state(n);
    m->caps = n->set.caps;
}

static void cl__heartbeat(struct cl_oc_node *n)
{
    struct cl_msg m;
    if (!n->gw || !cl__can_send(n))
        return;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_HEARTBEAT;
    cl__health(n, &m);
    cl_agent_link_send_msg(n->link, &m);
    n->last_heartbeat = uv_now(n->loop);
}

/* ---- tasks ----------------------------------------------------------------- */

static struct cl__task *cl__task_new(struct cl_oc_node *n, enum cl__kind kind,
                                     const char *request_id)
{
    struct cl__task *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->n = n;
    t->kind = kind;
    snprintf(t->request_id, sizeof t->request_id, "%s", request_id);
    t->deadline = uv_now(n->loop) + CL_OC_PROMPT_TIMEOUT_MS;
    t->next = n->tasks;
    n->tasks = t;
    n->ntasks++;
    return t;
}

static void cl__task_free(struct cl__task *t)
{
    struct cl_oc_node *n = t->n;
    for (struct cl__task **p = &n->tasks; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            n->ntasks--;
            break;
        }
    }
    if (t->gw_pending && n->gw)
        cl_gw_cancel(n->gw, t->gw_req);
    free(t->streamed);
    free(t);
}

static struct cl__task *cl__task_by_run(struct cl_oc_node *n, const char *run_id)
{
    for (struct cl__task *t = n->tasks; t; t = t->next)
        if (t->kind == CL__PROMPT && strcmp(t->run_id, run_id) == 0)
            return t;
    return NULL;
}

static bool cl__has_request(struct cl_oc_node *n, const char *request_id)
{
    for (struct cl__task *t = n->tasks; t; t = t->next)
        if (strcmp(t->request_id, request_id) == 0)
            return true;
    return false;
}

/* Sends a gateway request on behalf of t; on failure to send, answers the
 * relay with an error and frees t. */
static bool cl__task_call(struct cl__task *t, const char *method, json_t *params, cl_gw_reply_fn fn)
{
    struct cl_oc_node *n = t->n;
    int rc = cl_gw_request(n->gw, method, params, CL_OC_REQUEST_TIMEOUT_MS, fn, t, &t->gw_req);
    if (rc) {
        cl__send_error(n, t->request_id, "gateway_unavailable", "the OpenClaw gateway is %s%s%s",
                       cl_node_state_name(cl__state(n)), cl_gw_last_error(n->gw)[0] ? ": " : "",
                       cl_gw_last_error(n->gw));
        cl__task_free(t);
        return false;
    }
    t->gw_pending = true;
    return true;
}

static const char *cl__gw_error_code(json_t *error)
{
    const char *c = json_string_value(json_object_get(error, "code"));
    return c ? c : "gateway_error";
}

/* ---- prompt ----------------------------------------------------------------- */

static void cl__streamed_add(struct cl__task *t, const char *s, size_t len)
{
    if (t->streamed_overflow)
        return;
    if (t->streamed_len + len > CL__STREAMED_MAX) {
        t->streamed_overflow = true;
        return;
    }
    char *nb = realloc(t->streamed, t->streamed_len + len + 1);
    if (!nb)
        abort();
    memcpy(nb + t->streamed_len, s, len);
    t->streamed = nb;
    t->streamed_len += len;
    nb[t->streamed_len] = 0;
}

static void cl__prompt_token(struct cl__task *t, const char *s, size_t len)
{
    if (!len)
        return;
    cl__streamed_add(t, s, len);
    cl__send_token(t->n, t->request_id, s, len);
}

/* Text that extends what was streamed: the part not yet sent. */
static void cl__prompt_catch_up(struct cl__task *t, const char *full)
{
    size_t flen = strlen(full);
    if (t->streamed_overflow)
        return;
    if (flen > t->streamed_len &&
        memcmp(full, t->streamed ? t->streamed : "", t->streamed_len) == 0)
        cl__prompt_token(t, full + t->streamed_len, flen - t->streamed_len);
}

/* The text of a chat message {content: [{type:"text", text}...] | "..."}. */
static char *cl__message_text(json_t *msg)
{
    json_t *content = json_object_get(msg, "content"), *e;
    size_t i, len = 0;
    char *out;

    if (json_is_string(content))
        return strdup(json_string_value(content));
    if (!json_is_array(content))
        return NULL;
    json_array_foreach(content, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *text = json_object_get(e, "text");
        if (type && strcmp(type, "text") == 0 && json_is_string(text))
            len += json_string_length(text);
    }
    out = malloc(len + 1);
    if (!out)
        abort();
    len = 0;
    json_array_foreach(content, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *text = json_object_get(e, "text");
        if (type && strcmp(type, "text") == 0 && json_is_string(text)) {
            memcpy(out + len, json_string_value(text), json_string_length(text));
            len += json_string_length(text);
        }
    }
    out[len] = 0;
    return out;
}

static void cl__on_chat_event(struct cl_oc_node *n, json_t *payload)
{
    const char *run = json_string_value(json_object_get(payload, "runId"));
    const char *state = json_string_value(json_object_get(payload, "state"));
    struct cl__task *t;

    if (!run || !state || !(t = cl__task_by_run(n, run)))
        return;
    if (strcmp(state, "delta") == 0) {
        json_t *dt = json_object_get(payload, "deltaText");
        if (!json_is_string(dt))
            return;
        if (json_is_true(json_object_get(payload, "replace")))
            cl__prompt_catch_up(t, json_string_value(dt));
        else
            cl__prompt_token(t, json_string_value(dt), json_string_length(dt));
    } else if (strcmp(state, "final") == 0) {
        char *full = cl__message_text(json_object_get(payload, "message"));
        if (full)
            cl__prompt_catch_up(t, full);
        free(full);
        cl_info("openclaw", "prompt answered", "request=%s run=%s bytes=%zu", t->request_id,
                t->run_id, t->streamed_len);
        cl__send_done(n, t->request_id, NULL);
        cl__task_free(t);
    } else if (strcmp(state, "aborted") == 0 || strcmp(state, "error") == 0) {
        const char *why = json_string_value(json_object_get(payload, "errorMessage"));
        bool aborted = state[0] == 'a';
        cl_warn("openclaw",
                aborted ? "prompt aborted on the gateway" : "prompt failed on the gateway",
                "request=%s run=%s", t->request_id, t->run_id);
        cl__send_error(n, t->request_id, aborted ? "aborted" : "model_error", "%s",
                       why       ? why
                       : aborted ? "the run was aborted"
                                 : "the run failed");
        cl__task_free(t);
    }
}

static void cl__on_chat_send(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl__task *t = ctx;
    t->gw_pending = false;
    if (!ok) {
        cl__send_error(t->n, t->request_id, payload ? cl__gw_error_code(payload) : "gateway_error",
                       "chat.send failed: %s", message);
        cl__task_free(t);
        return;
    }
    t->accepted = true;
    /* the gateway uses the idempotency key as the run id; follow it if not */
    const char *run = json_string_value(json_object_get(payload, "runId"));
    if (run && strlen(run) < sizeof t->run_id)
        snprintf(t->run_id, sizeof t->run_id, "%s", run);
}

static void cl__prompt(struct cl_oc_node *n, const struct cl_msg *m)
{
    uint8_t rnd[12];
    char hex[sizeof rnd * 2 + 1];
    struct cl__task *t;
    json_t *params;

    if (n->ntasks >= CL_OC_MAX_TASKS) {
        cl__send_error(n, m->request_id, "busy", "%d requests are already running",
                       CL_OC_MAX_TASKS);
        return;
    }
    t = cl__task_new(n, CL__PROMPT, m->request_id);
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(t->run_id, sizeof t->run_id, "clawlink-%s", hex);
    snprintf(t->session_key, sizeof t->session_key, "%s", m->key[0] ? m->key : n->set.session_key);
    params = json_pack("{s:s, s:s, s:s}", "sessionKey", t->session_key, "message",
                       m->text ? m->text : "", "idempotencyKey", t->run_id);
    cl_info("openclaw", "prompt", "request=%s session_key=%s run=%s bytes=%zu", t->request_id,
            t->session_key, t->run_id, m->text_len);
    cl__task_call(t, "chat.send", params, cl__on_chat_send);
}

/* ---- restart ---------------------------------------------------------------- */

static void cl__on_restart(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl__task *t = ctx;
    struct cl_oc_node *n = t->n;
    t->gw_pending = false;
    if (!ok) {
        cl__send_error(n, t->request_id, payload ? cl__gw_error_code(payload) : "gateway_error",
                       "gateway.restart.request failed: %s", message);
    } else {
        json_t *status = json_object_get(payload, "status");
        cl_info("openclaw", "gateway restart requested", "request=%s status=%s", t->request_id,
                json_is_string(status) ? json_string_value(status) : "?");
        /* the cancelled list was put in the task's streamed buffer as JSON */
        json_t *cancelled = t->streamed ? json_loads(t->streamed, 0, NULL) : json_array();
        cl__send_done(n, t->request_id,
                      json_pack("{s:o, s:O}", "cancelled", cancelled ? cancelled : json_array(),
                                "restart", payload ? payload : json_null()));
    }
    cl__task_free(t);
}

static void cl__restart(struct cl_oc_node *n, const struct cl_msg *m)
{
    json_t *cancelled = json_array();
    struct cl__task *t, *next;
    char *text;

    if (!n->gw || cl_gw_state(n->gw) != CL_NODE_ONLINE) {
        cl__send_error(n, m->request_id, "gateway_unavailable",
                       "the OpenClaw gateway is %s; cannot restart it",
                       cl_node_state_name(cl__state(n)));
        json_decref(cancelled);
        return;
    }
    /* Cancel what runs, report each to its requester, then restart. */
    for (t = n->tasks; t; t = next) {
        next = t->next;
        if (t->kind != CL__PROMPT)
            continue;
        if (t->accepted)
            cl_gw_request(n->gw, "chat.abort",
                          json_pack("{s:s, s:s}", "sessionKey", t->session_key, "runId", t->run_id),
                          CL_OC_REQUEST_TIMEOUT_MS, NULL, NULL, NULL);
        cl__send_error(n, t->request_id, "cancelled", "cancelled: the gateway is restarting");
        json_array_append_new(cancelled, json_string(t->request_id));
        cl__task_free(t);
    }
    t = cl__task_new(n, CL__RESTART, m->request_id);
    text = json_dumps(cancelled, JSON_COMPACT);
    json_decref(cancelled);
    t->streamed = text;
    cl_warn("openclaw", "restarting the OpenClaw gateway at the relay's request",
            "request=%s cancelled=%s", m->request_id, text ? text : "[]");
    cl__task_call(t, "gateway.restart.request",
                  json_pack("{s:s}", "reason", "clawlink: restart requested through the relay"),
                  cl__on_restart);
}

/* ---- workflows ----------------------------------------------------------------- */

/* A workflow as the relay shows it, from an OpenClaw cron job. */
static json_t *cl__workflow_json(json_t *job)
{
    json_t *o = json_object();
    const char *keys[][2] = {{"id", "id"},
                             {"name", "name"},
                             {"displayName", "display_name"},
                             {"description", "description"},
                             {"enabled", "enabled"},
                             {"schedule", "schedule"},
                             {"nextRunAtMs", "next_run_at_ms"},
                             {"lastRunAtMs", "last_run_at_ms"},
                             {"lastRunStatus", "last_run_status"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(job, keys[i][0]);
        if (v)
            json_object_set(o, keys[i][1], v);
    }
    if (!json_object_get(o, "next_run_at_ms")) {
        json_t *v = json_object_get(json_object_get(job, "state"), "nextRunAtMs");
        if (v)
            json_object_set(o, "next_run_at_ms", v);
    }
    return o;
}

static void cl__on_cron_run(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl__task *t = ctx;
    t->gw_pending = false;
    if (!ok)
        cl__send_error(t->n, t->request_id, payload ? cl__gw_error_code(payload) : "gateway_error",
                       "cron.run failed: %s", message);
    else {
        cl_info("openclaw", "workflow started", "request=%s name=%s", t->request_id, t->name);
        cl__send_done(t->n, t->request_id,
                      json_pack("{s:s, s:s, s:O}", "name", t->name, "job_id", t->run_id, "run",
                                payload ? payload : json_null()));
    }
    cl__task_free(t);
}

static void cl__on_cron_list(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct cl__task *t = ctx;
    struct cl_oc_node *n = t->n;
    json_t *jobs = json_object_get(payload, "jobs"), *job, *list;
    size_t i;

    t->gw_pending = false;
    if (!ok) {
        cl__send_error(n, t->request_id, payload ? cl__gw_error_code(payload) : "gateway_error",
                       "cron.list failed: %s", message);
        cl__task_free(t);
        return;
    }
    if (t->kind == CL__WORKFLOWS) {
        list = json_array();
        json_array_foreach(jobs, i, job) json_array_append_new(list, cl__workflow_json(job));
        cl__send_done(n, t->request_id, json_pack("{s:o}", "workflows", list));
        cl__task_free(t);
        return;
    }
    /* run: find the job by name, display name or id */
    json_array_foreach(jobs, i, job)
    {
        const char *keys[] = {"name", "displayName", "id"};
        for (size_t k = 0; k < 3; k++) {
            const char *v = json_string_value(json_object_get(job, keys[k]));
            const char *id = json_string_value(json_object_get(job, "id"));
            if (v && id && strcmp(v, t->name) == 0 && strlen(id) < sizeof t->run_id) {
                json_t *params = json_pack("{s:s}", "id", id);
                snprintf(t->run_id, sizeof t->run_id, "%s", id);
                json_object_set_new(params, "mode", json_string(t->mode[0] ? t->mode : "force"));
                cl__task_call(t, "cron.run", params, cl__on_cron_run);
                return;
            }
        }
    }
    cl__send_error(n, t->request_id, "workflow_not_found",
                   "no OpenClaw scheduled task named \"%.64s\"", t->name);
    cl__task_free(t);
}

static void cl__workflow(struct cl_oc_node *n, const struct cl_msg *m)
{
    struct cl__task *t;
    json_t *params = NULL;

    if (m->type == CL_MSG_WORKFLOW && m->json) {
        const char *key;
        json_t *v;
        params = json_loads(m->json, 0, NULL);
        json_object_foreach(params, key, v)
        {
            const char *s = json_string_value(v);
            if (strcmp(key, "mode") != 0 || !s ||
                (strcmp(s, "force") && strcmp(s, "due") && strcmp(s, "if-enabled"))) {
                cl__send_error(n, m->request_id, "bad_params",
                               "OpenClaw runs a scheduled task with one parameter, mode "
                               "(force, due or if-enabled); \"%.40s\" is not accepted",
                               key);
                json_decref(params);
                return;
            }
        }
    }
    t = cl__task_new(n, m->type == CL_MSG_WORKFLOW ? CL__WORKFLOW : CL__WORKFLOWS, m->request_id);
    if (m->type == CL_MSG_WORKFLOW) {
        const char *mode = json_string_value(json_object_get(params, "mode"));
        snprintf(t->name, sizeof t->name, "%s", m->key);
        snprintf(t->mode, sizeof t->mode, "%s", mode ? mode : "");
    }
    json_decref(params);
    cl__task_call(t, "cron.list", json_pack("{s:b, s:i}", "includeDisabled", 1, "limit", 200),
                  cl__on_cron_list);
}

/* ---- dispatch ---------------------------------------------------------------- */

bool cl_oc_node_handles(enum cl_msg_type t)
{
    return t == CL_MSG_PROMPT || t == CL_MSG_STATUS || t == CL_MSG_RESTART ||
           t == CL_MSG_WORKFLOW || t == CL_MSG_WORKFLOWS;
}

static unsigned cl__needs(enum cl_msg_type t)
{
    switch (t) {
    case CL_MSG_PROMPT:
        return CL_CAP_CHAT;
    case CL_MSG_STATUS:
        return CL_CAP_STATUS;
    case CL_MSG_RESTART:
        return CL_CAP_RESTART;
    default:
        return CL_CAP_WORKFLOW;
    }
}

void cl_oc_node_on_message(struct cl_oc_node *n, const struct cl_msg *m)
{
    unsigned need = cl__needs(m->type);

    if (n->closing)
        return;
    if (!(n->set.caps & need)) {
        cl_warn("openclaw", "refused: capability not declared in the agent config",
                "request=%s type=%s capability=%s", m->request_id, cl_msg_type_name(m->type),
                cl_cap_name(need));
        cl__send_error(n, m->request_id, "capability_denied",
                       "this agent does not allow %s (not in its capabilities)", cl_cap_name(need));
        return;
    }
    if (m->type == CL_MSG_STATUS) {
        struct cl_msg r;
        memset(&r, 0, sizeof r);
        r.type = CL_MSG_STATUS;
        snprintf(r.request_id, sizeof r.request_id, "%s", m->request_id);
        cl__health(n, &r);
        if (cl__can_send(n))
            cl_agent_link_send_msg(n->link, &r);
        return;
    }
    if (!n->gw) {
        cl__send_error(n, m->request_id, "openclaw_not_configured",
                       "no OpenClaw gateway is configured on this machine");
        return;
    }
    if (cl__has_request(n, m->request_id)) {
        cl__send_error(n, m->request_id, "bad_message", "request_id already in use");
        return;
    }
    if (m->type != CL_MSG_RESTART && cl_gw_state(n->gw) != CL_NODE_ONLINE) {
        /* fail fast: nothing would answer */
        cl__send_error(n, m->request_id, "gateway_unavailable", "the OpenClaw gateway is %s%s%s",
                       cl_node_state_name(cl_gw_state(n->gw)),
                       cl_gw_last_error(n->gw)[0] ? ": " : "", cl_gw_last_error(n->gw));
        return;
    }
    switch (m->type) {
    case CL_MSG_PROMPT:
        cl__prompt(n, m);
        break;
    case CL_MSG_RESTART:
        cl__restart(n, m);
        break;
    default:
        cl__workflow(n, m);
        break;
    }
}

/* ---- gateway callbacks, timer ---------------------------------------------------- */

static void cl__on_gw_state(void *ud, enum cl_node_state state, const char *why)
{
    struct cl_oc_node *n = ud;
    struct cl__task *t, *next;

    cl_info("openclaw", "gateway link", "state=%s why=\"%s\"", cl_node_state_name(state), why);
    if (state != CL_NODE_ONLINE) {
        /* nothing will answer the prompts that were running */
        for (t = n->tasks; t; t = next) {
            next = t->next;
            if (t->kind == CL__PROMPT) {
                cl__send_error(n, t->request_id, "gateway_unavailable",
                               "the connection to the OpenClaw gateway was lost");
                cl__task_free(t);
            }
        }
    }
    cl__heartbeat(n);
}

static void cl__on_gw_event(void *ud, const char *event, json_t *payload)
{
    struct cl_oc_node *n = ud;
    if (strcmp(event, "chat") == 0)
        cl__on_chat_event(n, payload);
}

static void cl__on_tick(uv_timer_t *timer)
{
    struct cl_oc_node *n = timer->data;
    uint64_t now = uv_now(n->loop);
    struct cl__task *t, *next;

    if (n->closing)
        return;
    for (t = n->tasks; t; t = next) {
        next = t->next;
        if (now >= t->deadline) {
            cl__send_error(n, t->request_id, "timeout", "no answer from OpenClaw in %d s",
                           CL_OC_PROMPT_TIMEOUT_MS / 1000);
            cl__task_free(t);
        }
    }
    if (now - n->last_heartbeat >= CL_OC_HEARTBEAT_MS)
        cl__heartbeat(n);
}

/* ---- lifecycle --------------------------------------------------------------------- */

int cl_oc_node_new(uv_loop_t *loop, struct cl_gw *gw, struct cl_agent_link *link,
                   const char *device_id, const struct cl_gw_settings *settings,
                   struct cl_oc_node **out, char *err, size_t errlen)
{
    static const struct cl_gw_handler h = {cl__on_gw_state, cl__on_gw_event};
    struct cl_oc_node *n = calloc(1, sizeof *n);
    int rc;

    *out = NULL;
    if (!n)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    n->loop = loop;
    n->link = link;
    n->gw = gw;
    n->set = *settings;
    n->started_at = uv_now(loop);
    snprintf(n->device_id, sizeof n->device_id, "%s", device_id);
    if (gw) {
        rc = cl_gw_subscribe(gw, &h, n);
        if (rc) {
            cl_seterr(err, errlen, rc, "too many subscribers of the OpenClaw gateway");
            cl_gw_settings_wipe(&n->set);
            free(n);
            return rc;
        }
    }
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    n->timer_open = true;
    *out = n;
    return 0;
}

void cl_oc_node_start(struct cl_oc_node *n)
{
    /* without a gateway every request is refused at once: nothing to time */
    if (!n->gw)
        return;
    uv_timer_start(&n->timer, cl__on_tick, CL__TICK_MS, CL__TICK_MS);
}

void cl_oc_node_on_link_ready(struct cl_oc_node *n)
{
    cl__heartbeat(n);
}

void cl_oc_node_close(struct cl_oc_node *n)
{
    n->closing = true;
    while (n->tasks)
        cl__task_free(n->tasks);
    uv_timer_stop(&n->timer);
}

void cl_oc_node_destroy(struct cl_oc_node *n)
{
    n->closing = true;
    while (n->tasks)
        cl__task_free(n->tasks);
    if (n->gw)
        cl_gw_unsubscribe(n->gw, n);
    if (n->timer_open) {
        n->timer_open = false;
        uv_timer_stop(&n->timer);
        uv_close((uv_handle_t *)&n->timer, NULL);
    }
}

bool cl_oc_node_destroyed(const struct cl_oc_node *n)
{
    return !n->timer_open;
}

void cl_oc_node_free(struct cl_oc_node *n)
{
    if (!n)
        return;
    cl_gw_settings_wipe(&n->set);
    free(n);
}
