/*
 * chat_gw: the OpenClaw gateway's chat shapes read into plain structs.
 *
 * The shapes are those a real gateway (openclaw 2026.9.6) sends, captured
 * in tests/unit/fixtures/gw/ and described in docs/chat.md:
 *   entry   {role, content: "text" | [{type:"text", text} | {type:"toolCall",
 *            id, name, arguments} | …], timestamp, usage?, stopReason?,
 *            idempotencyKey?, toolCallId?, openclawAbort?: {aborted},
 *            __openclaw: {id, seq, runId?}}
 *   history page  {sessionId, messages: [entry], hasMore, nextOffset?,
 *                  deltaCursor?}
 *   history delta {kind: "delta", messages: [{message: entry, messageId,
 *                  messageSeq}], deltaCursor} | {kind: "reset"}
 *   chat event    {runId, sessionKey, seq, state, phase?, deltaText?,
 *                  replace?, message?: entry, usage?, stopReason?,
 *                  errorMessage?, errorKind?}
 * Text blocks are joined with "\n"; blocks of other types (thinking,
 * images) are not text. Nothing here calls the gateway.
 */
#include "agent/chat_gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static const char *const cl__state_names[] = {
    [CL_CHAT_GW_STATUS] = "status", [CL_CHAT_GW_STREAMING] = "streaming",
    [CL_CHAT_GW_FINAL] = "final",   [CL_CHAT_GW_ABORTED] = "aborted",
    [CL_CHAT_GW_ERROR] = "error",
};

const char *cl_chat_gw_state_name(enum cl_chat_gw_state s)
{
    if ((unsigned)s >= sizeof cl__state_names / sizeof cl__state_names[0])
        return "unknown";
    return cl__state_names[s];
}

static int cl__bad(char *why, size_t cap, const char *field, const char *what)
{
    if (why && cap)
        snprintf(why, cap, "%s %s", field, what);
    return CL_EINVAL;
}

/* Optional string member into a fixed buffer: absent or null → "". */
static int cl__copy(json_t *obj, const char *key, char *dst, size_t cap, char *why, size_t whycap)
{
    json_t *v = json_object_get(obj, key);
    size_t n;

    dst[0] = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return cl__bad(why, whycap, key, "is not a string");
    n = json_string_length(v);
    if (n >= cap)
        return cl__bad(why, whycap, key, "is too long");
    if (memchr(json_string_value(v), 0, n))
        return cl__bad(why, whycap, key, "contains a NUL byte");
    memcpy(dst, json_string_value(v), n);
    dst[n] = 0;
    return 0;
}

/* Optional number member: absent or null → 0. */
static int cl__num(json_t *obj, const char *key, long long *out, char *why, size_t whycap)
{
    json_t *v = json_object_get(obj, key);
    double d;

    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return 0;
    }
    if (!json_is_real(v))
        return cl__bad(why, whycap, key, "is not a number");
    d = json_real_value(v);
    if (!(d >= -9.0e18 && d <= 9.0e18))
        return cl__bad(why, whycap, key, "is out of range");
    *out = (long long)d;
    return 0;
}

/* Optional string member, copied to the heap: absent or null → NULL. */
static int cl__dup(json_t *obj, const char *key, size_t max, char **out, char *why, size_t whycap)
{
    json_t *v = json_object_get(obj, key);
    size_t n;

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return cl__bad(why, whycap, key, "is not a string");
    n = json_string_length(v);
    if (n > max)
        return cl__bad(why, whycap, key, "is too long");
    if (memchr(json_string_value(v), 0, n))
        return cl__bad(why, whycap, key, "contains a NUL byte");
    if (!(*out = malloc(n + 1)))
        return CL_ENOMEM;
    memcpy(*out, json_string_value(v), n);
    (*out)[n] = 0;
    return 0;
}

/* Compact JSON of v (an object or array), bounded: NULL when v is absent. */
static int cl__json(json_t *v, const char *field, char **out, char *why, size_t whycap)
{
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v) && !json_is_array(v))
        return cl__bad(why, whycap, field, "is not an object");
    if (!(*out = json_dumps(v, JSON_COMPACT)))
        return CL_ENOMEM;
    if (strlen(*out) > CL_CHAT_GW_JSON_MAX) {
        free(*out);
        *out = NULL;
        return cl__bad(why, whycap, field, "is too long");
    }
    return 0;
}

/* The text of a content value (a string, or text blocks joined with "\n")
 * and, when tool_calls is not NULL, the toolCall blocks as a JSON array. */
static int cl__content(json_t *content, char **text, char **tool_calls, char *why, size_t whycap)
{
    json_t *calls = NULL, *blk;
    size_t i, len = 0, n;
    char *buf = NULL;
    int rc = 0;

    *text = NULL;
    if (tool_calls)
        *tool_calls = NULL;
    if (!content || json_is_null(content))
        goto done;
    if (json_is_string(content)) {
        n = json_string_length(content);
        if (n > CL_CHAT_GW_TEXT_MAX)
            return cl__bad(why, whycap, "content", "is too long");
        if (memchr(json_string_value(content), 0, n))
            return cl__bad(why, whycap, "content", "contains a NUL byte");
        if (!(buf = malloc(n + 1)))
            return CL_ENOMEM;
        memcpy(buf, json_string_value(content), n);
        len = n;
        goto done;
    }
    if (!json_is_array(content))
        return cl__bad(why, whycap, "content", "is neither a string nor an array");
    json_array_foreach(content, i, blk)
    {
        const char *type;
        json_t *t;

        if (!json_is_object(blk)) {
            rc = cl__bad(why, whycap, "content block", "is not an object");
            goto fail;
        }
        type = json_string_value(json_object_get(blk, "type"));
        if (!type)
            continue;
        if (strcmp(type, "text") == 0) {
            char *grown;

            t = json_object_get(blk, "text");
            if (!json_is_string(t)) {
                rc = cl__bad(why, whycap, "text block", "has no text");
                goto fail;
            }
            n = json_string_length(t);
            if (memchr(json_string_value(t), 0, n)) {
                rc = cl__bad(why, whycap, "content", "contains a NUL byte");
                goto fail;
            }
            if (n > CL_CHAT_GW_TEXT_MAX || len + (len ? 1 : 0) + n > CL_CHAT_GW_TEXT_MAX) {
                rc = cl__bad(why, whycap, "content", "is too long");
                goto fail;
            }
            if (!(grown = realloc(buf, len + 1 + n + 1))) {
                rc = CL_ENOMEM;
                goto fail;
            }
            buf = grown;
            if (len)
                buf[len++] = '\n';
            memcpy(buf + len, json_string_value(t), n);
            len += n;
        } else if (strcmp(type, "toolCall") == 0 && tool_calls) {
            if (!calls && !(calls = json_array())) {
                rc = CL_ENOMEM;
                goto fail;
            }
            if (json_array_append(calls, blk) != 0) {
                rc = CL_ENOMEM;
                goto fail;
            }
        }
    }
done:
    if (!buf && !(buf = malloc(1))) {
        rc = CL_ENOMEM;
        goto fail;
    }
    buf[len] = 0;
    if (calls && (rc = cl__json(calls, "tool calls", tool_calls, why, whycap)) != 0)
        goto fail;
    json_decref(calls);
    *text = buf;
    return 0;
fail:
    json_decref(calls);
    free(buf);
    return rc;
}

void cl_chat_gw_msg_clear(struct cl_chat_gw_msg *m)
{
    if (!m)
        return;
    free(m->text);
    free(m->tool_calls);
    free(m->usage);
    memset(m, 0, sizeof *m);
}

int cl_chat_gw_message(json_t *msg, struct cl_chat_gw_msg *out, char *why, size_t whycap)
{
    json_t *meta, *abort_info;
    const char *stop;
    int rc;

    memset(out, 0, sizeof *out);
    if (!json_is_object(msg))
        return cl__bad(why, whycap, "message", "is not an object");
    meta = json_object_get(msg, "__openclaw");
    if (meta && !json_is_null(meta) && !json_is_object(meta))
        return cl__bad(why, whycap, "__openclaw", "is not an object");
    if (!json_is_object(meta))
        meta = NULL;
    if ((rc = cl__copy(msg, "role", out->role, sizeof out->role, why, whycap)) != 0)
        goto fail;
    if (!out->role[0]) {
        rc = cl__bad(why, whycap, "role", "is missing");
        goto fail;
    }
    if ((rc = cl__copy(msg, "idempotencyKey", out->idem_key, sizeof out->idem_key, why, whycap)) !=
            0 ||
        (rc = cl__copy(msg, "toolCallId", out->tool_call_id, sizeof out->tool_call_id, why,
                       whycap)) != 0 ||
        (rc = cl__num(msg, "timestamp", &out->timestamp_ms, why, whycap)) != 0)
        goto fail;
    if (meta &&
        ((rc = cl__copy(meta, "id", out->id, sizeof out->id, why, whycap)) != 0 ||
         (rc = cl__copy(meta, "runId", out->run_id, sizeof out->run_id, why, whycap)) != 0 ||
         (rc = cl__num(meta, "seq", &out->seq, why, whycap)) != 0))
        goto fail;
    if ((rc = cl__content(json_object_get(msg, "content"), &out->text, &out->tool_calls, why,
                          whycap)) != 0)
        goto fail;
    if ((rc = cl__json(json_object_get(msg, "usage"), "usage", &out->usage, why, whycap)) != 0)
        goto fail;
    /* an aborted reply is stored with stopReason "stop": openclawAbort says it */
    abort_info = json_object_get(msg, "openclawAbort");
    stop = json_string_value(json_object_get(msg, "stopReason"));
    if (json_is_object(abort_info) && json_is_true(json_object_get(abort_info, "aborted")))
        out->state = CL_CHAT_GW_ABORTED;
    else if ((stop && strcmp(stop, "error") == 0) ||
             json_is_string(json_object_get(msg, "errorMessage")))
        out->state = CL_CHAT_GW_ERROR;
    else
        out->state = CL_CHAT_GW_FINAL;
    return 0;
fail:
    cl_chat_gw_msg_clear(out);
    return rc;
}

void cl_chat_gw_history_clear(struct cl_chat_gw_history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        cl_chat_gw_msg_clear(&h->msgs[i]);
    free(h->msgs);
    free(h->delta_cursor);
    memset(h, 0, sizeof *h);
}

int cl_chat_gw_history(json_t *payload, struct cl_chat_gw_history *out, char *why, size_t whycap)
{
    json_t *msgs, *item, *v;
    const char *kind;
    size_t i, n;
    int rc;

    memset(out, 0, sizeof *out);
    out->next_offset = -1;
    if (!json_is_object(payload))
        return cl__bad(why, whycap, "history", "is not an object");
    kind = json_string_value(json_object_get(payload, "kind"));
    if (kind && strcmp(kind, "reset") == 0) {
        out->delta = out->reset = true;
        return 0;
    }
    out->delta = kind && strcmp(kind, "delta") == 0;
    if (kind && !out->delta)
        return cl__bad(why, whycap, "kind", "is neither delta nor reset");
    if ((rc = cl__copy(payload, "sessionId", out->session_id, sizeof out->session_id, why,
                       whycap)) != 0 ||
        (rc = cl__dup(payload, "deltaCursor", CL_CHAT_GW_CURSOR_MAX, &out->delta_cursor, why,
                      whycap)) != 0)
        goto fail;
    out->has_more = json_is_true(json_object_get(payload, "hasMore"));
    v = json_object_get(payload, "nextOffset");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            rc = cl__bad(why, whycap, "nextOffset", "is not an offset");
            goto fail;
        }
        out->next_offset = (long long)json_integer_value(v);
    }
    msgs = json_object_get(payload, "messages");
    if (!json_is_array(msgs)) {
        rc = cl__bad(why, whycap, "messages", "is not an array");
        goto fail;
    }
    n = json_array_size(msgs);
    if (n > CL_CHAT_GW_HISTORY_MAX) {
        rc = cl__bad(why, whycap, "messages", "holds too many messages");
        goto fail;
    }
    if (n && !(out->msgs = calloc(n, sizeof *out->msgs))) {
        rc = CL_ENOMEM;
        goto fail;
    }
    json_array_foreach(msgs, i, item)
    {
        json_t *entry = item;
        struct cl_chat_gw_msg *m = &out->msgs[out->n];
        char id[sizeof m->id], one[160];
        long long seq = 0;

        one[0] = 0;
        if (out->delta) { /* {message, messageId, messageSeq} */
            entry = json_is_object(item) ? json_object_get(item, "message") : NULL;
            if (!json_is_object(item) ||
                cl__copy(item, "messageId", id, sizeof id, one, sizeof one) != 0 ||
                cl__num(item, "messageSeq", &seq, one, sizeof one) != 0)
                entry = NULL;
        }
        rc = entry ? cl_chat_gw_message(entry, m, one, sizeof one) : CL_EINVAL;
        if (rc == CL_ENOMEM)
            goto fail;
        if (rc != 0) { /* one bad entry does not stop the import of the others */
            if (!out->skipped++ && why && whycap)
                snprintf(why, whycap, "message %zu: %s", i, one[0] ? one : "is malformed");
            continue;
        }
        out->n++;
        if (out->delta) {
            if (!m->id[0])
                memcpy(m->id, id, sizeof id);
            if (seq)
                m->seq = seq;
        }
    }
    return 0;
fail:
    cl_chat_gw_history_clear(out);
    return rc;
}

void cl_chat_gw_event_clear(struct cl_chat_gw_event *e)
{
    if (!e)
        return;
    free(e->delta);
    free(e->text);
    free(e->error_message);
    free(e->usage);
    memset(e, 0, sizeof *e);
}

int cl_chat_gw_event(json_t *payload, struct cl_chat_gw_event *out, char *why, size_t whycap)
{
    static const struct {
        const char *name;
        enum cl_chat_gw_state state;
    } states[] = {
        {"status", CL_CHAT_GW_STATUS}, {"delta", CL_CHAT_GW_STREAMING},
        {"final", CL_CHAT_GW_FINAL},   {"aborted", CL_CHAT_GW_ABORTED},
        {"error", CL_CHAT_GW_ERROR},
    };
    char state[CL_CHAT_GW_NAME_MAX + 1];
    json_t *msg;
    size_t i;
    int rc;

    memset(out, 0, sizeof *out);
    if (!json_is_object(payload))
        return cl__bad(why, whycap, "chat event", "is not an object");
    if ((rc = cl__copy(payload, "runId", out->run_id, sizeof out->run_id, why, whycap)) != 0 ||
        (rc = cl__copy(payload, "sessionKey", out->session_key, sizeof out->session_key, why,
                       whycap)) != 0 ||
        (rc = cl__copy(payload, "state", state, sizeof state, why, whycap)) != 0 ||
        (rc = cl__copy(payload, "stopReason", out->stop_reason, sizeof out->stop_reason, why,
                       whycap)) != 0 ||
        (rc = cl__copy(payload, "errorKind", out->error_kind, sizeof out->error_kind, why,
                       whycap)) != 0 ||
        (rc = cl__copy(payload, "phase", out->phase, sizeof out->phase, why, whycap)) != 0 ||
        (rc = cl__num(payload, "seq", &out->seq, why, whycap)) != 0)
        goto fail;
    if (!out->run_id[0] || !out->session_key[0]) {
        rc = cl__bad(why, whycap, "chat event", "has no runId or sessionKey");
        goto fail;
    }
    for (i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(state, states[i].name) == 0)
            break;
    if (i == sizeof states / sizeof states[0]) {
        rc = cl__bad(why, whycap, "state", "is unknown");
        goto fail;
    }
    out->state = states[i].state;
    out->replace = json_is_true(json_object_get(payload, "replace"));
    if ((rc = cl__dup(payload, "deltaText", CL_CHAT_GW_TEXT_MAX, &out->delta, why, whycap)) != 0 ||
        (rc = cl__dup(payload, "errorMessage", CL_CHAT_GW_TEXT_MAX, &out->error_message, why,
                      whycap)) != 0 ||
        (rc = cl__json(json_object_get(payload, "usage"), "usage", &out->usage, why, whycap)) != 0)
        goto fail;
    msg = json_object_get(payload, "message");
    if (msg && !json_is_null(msg)) {
        if (!json_is_object(msg)) {
            rc = cl__bad(why, whycap, "message", "is not an object");
            goto fail;
        }
        if ((rc = cl__content(json_object_get(msg, "content"), &out->text, NULL, why, whycap)) != 0)
            goto fail;
    }
    return 0;
fail:
    cl_chat_gw_event_clear(out);
    return rc;
}
