/* proto: decode and encode v1 (PrivaClaw JSON) messages. */
#include "core/proto.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/json.h"
#include "core/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cl__type_names[CL_MSG__COUNT] = {
    [CL_MSG_UNKNOWN] = NULL,
    [CL_MSG_HELLO] = "hello",
    [CL_MSG_HELLO_OK] = "hello_ok",
    [CL_MSG_AUTH] = "auth",
    [CL_MSG_AUTH_OK] = "auth_ok",
    [CL_MSG_SESSION_START] = "session_start",
    [CL_MSG_SESSION_STARTED] = "session_started",
    [CL_MSG_STDIN] = "stdin",
    [CL_MSG_STDOUT] = "stdout",
    [CL_MSG_RESIZE] = "resize",
    [CL_MSG_SESSION_END] = "session_end",
    [CL_MSG_ERROR] = "error",
    [CL_MSG_PING] = "ping",
    [CL_MSG_PONG] = "pong",
    [CL_MSG_ACK] = "ack",
    [CL_MSG_REPLAY] = "replay",
    [CL_MSG_GAP] = "gap",
    [CL_MSG_RESTARTING] = "restarting",
    [CL_MSG_PROMPT] = "prompt",
    [CL_MSG_STATUS] = "status",
    [CL_MSG_RESTART] = "restart",
    [CL_MSG_WORKFLOW] = "workflow",
    [CL_MSG_TOKEN] = "token",
    [CL_MSG_DONE] = "done",
    [CL_MSG_HEARTBEAT] = "heartbeat",
    [CL_MSG_WORKFLOWS] = "workflows",
    [CL_MSG_META_UPDATE] = "meta_update",
    [CL_MSG_RESPONSE] = "response",
    [CL_MSG_SESSION_TITLE] = "session_title",
    [CL_MSG_STDIN_ACK] = "stdin_ack",
};

static const char *const cl__state_names[] = {
    [CL_NODE_OFFLINE] = "offline",
    [CL_NODE_ONLINE] = "online",
    [CL_NODE_RECONNECTING] = "reconnecting",
};

static const char *const cl__cap_names[] = {"terminal", "chat", "status", "restart", "workflow"};

const char *cl_node_state_name(enum cl_node_state s)
{
    return (unsigned)s < sizeof cl__state_names / sizeof cl__state_names[0] ? cl__state_names[s]
                                                                            : "offline";
}

int cl_node_state_from_name(const char *name, enum cl_node_state *out)
{
    for (size_t i = 0; i < sizeof cl__state_names / sizeof cl__state_names[0]; i++)
        if (strcmp(cl__state_names[i], name) == 0) {
            *out = (enum cl_node_state)i;
            return 0;
        }
    return CL_EINVAL;
}

const char *cl_cap_name(unsigned cap)
{
    for (size_t i = 0; i < sizeof cl__cap_names / sizeof cl__cap_names[0]; i++)
        if (cap == 1u << i)
            return cl__cap_names[i];
    return NULL;
}

unsigned cl_cap_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof cl__cap_names / sizeof cl__cap_names[0]; i++)
        if (strcmp(cl__cap_names[i], name) == 0)
            return 1u << i;
    return 0;
}

bool cl_proto_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return n > 0 && n <= CL_ID_MAX;
}

bool cl_proto_label_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        /* U+0080..U+009F are C2 80..C2 9F in UTF-8 */
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return false;
    }
    return true;
}

const char *cl_msg_type_name(enum cl_msg_type t)
{
    return (t > CL_MSG_UNKNOWN && t < CL_MSG__COUNT) ? cl__type_names[t] : NULL;
}

enum cl_msg_type cl_msg_type_from_name(const char *name)
{
    for (int t = 1; t < CL_MSG__COUNT; t++)
        if (strcmp(cl__type_names[t], name) == 0)
            return (enum cl_msg_type)t;
    return CL_MSG_UNKNOWN;
}

/* Copies a string field into a fixed buffer of size cap (maxlen cap-1). */
static int cl__copy_str(json_t *obj, const char *what, const char *key, bool required, char *dst,
                        size_t cap, char *err, size_t errlen)
{
    const char *s;
    int rc = cl_json_str(obj, what, key, required, cap - 1, &s, err, errlen);
    if (rc)
        return rc;
    if (s)
        memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int cl__size(json_t *d, bool required, struct cl_msg *m, char *err, size_t errlen)
{
    long long cols = 80, rows = 24;
    int rc =
        cl_json_int(d, "data", "cols", required, 1, CL_TERM_MAX_COLS, &cols, NULL, err, errlen);
    if (!rc)
        rc =
            cl_json_int(d, "data", "rows", required, 1, CL_TERM_MAX_ROWS, &rows, NULL, err, errlen);
    m->cols = (int)cols;
    m->rows = (int)rows;
    return rc;
}

static int cl__bytes(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    const char *b64;
    /* not required in cl_json_str's sense, which refuses "": the base64 of
     * zero bytes is "", and cl_msg_encode writes it for an empty chunk */
    int rc = cl_json_str(d, "data", "data_b64", false, CL_WS_MAX_MESSAGE, &b64, err, errlen);
    if (rc)
        return rc;
    if (!b64)
        return cl_seterr(err, errlen, CL_EINVAL, "missing field data.data_b64");
    size_t n = strlen(b64);
    size_t cap = n / 4 * 3 + 3;
    m->data = malloc(cap);
    if (!m->data)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    long got = cl_b64_decode(b64, n, m->data, cap);
    if (got < 0) {
        free(m->data);
        m->data = NULL;
        return cl_seterr(err, errlen, CL_EINVAL, "field data.data_b64 is not valid base64");
    }
    m->data_len = (size_t)got;
    return 0;
}

/* hello.sessions: [{session_id, offset}], at most CL_AGENT_MAX_SESSIONS. */
static int cl__sessions(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    json_t *arr = json_object_get(d, "sessions"), *e;
    size_t i;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.sessions must be an array");
    if (json_array_size(arr) > CL_AGENT_MAX_SESSIONS)
        return cl_seterr(err, errlen, CL_EINVAL, "field data.sessions has more than %d entries",
                         CL_AGENT_MAX_SESSIONS);
    if (json_array_size(arr) == 0)
        return 0;
    m->sessions = calloc(json_array_size(arr), sizeof *m->sessions);
    if (!m->sessions)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    json_array_foreach(arr, i, e)
    {
        long long off = 0;
        int rc;
        if (!json_is_object(e))
            return cl_seterr(err, errlen, CL_EINVAL, "data.sessions[%zu] must be an object", i);
        rc = cl__copy_str(e, "data.sessions[]", "session_id", true, m->sessions[i].session_id,
                          sizeof m->sessions[i].session_id, err, errlen);
        if (!rc)
            rc = cl_json_int(e, "data.sessions[]", "offset", true, 0, INT64_MAX, &off, NULL, err,
                             errlen);
        if (rc)
            return rc;
        if (!cl_proto_id_valid(m->sessions[i].session_id))
            return cl_seterr(err, errlen, CL_EINVAL,
                             "field data.sessions[].session_id has invalid characters");
        m->sessions[i].offset = (uint64_t)off;
        {
            long long acked = 0, viewers = 0, in_acked = 0, in_pending = 0;
            rc = cl_json_int(e, "data.sessions[]", "acked", false, 0, INT64_MAX, &acked, NULL, err,
                             errlen);
            if (!rc)
                rc = cl_json_int(e, "data.sessions[]", "viewers", false, 0, 1 << 20, &viewers, NULL,
                                 err, errlen);
            if (!rc)
                rc = cl_json_int(e, "data.sessions[]", "stdin_acked", false, 0, INT64_MAX / 2,
                                 &in_acked, NULL, err, errlen);
            if (!rc)
                rc = cl_json_int(e, "data.sessions[]", "stdin_pending", false, 0,
                                 CL_STDIN_WINDOW_MAX, &in_pending, NULL, err, errlen);
            if (rc)
                return rc;
            m->sessions[i].acked = (uint64_t)acked;
            m->sessions[i].viewers = (int)viewers;
            m->sessions[i].stdin_acked = (uint64_t)in_acked;
            m->sessions[i].stdin_pending = (uint64_t)in_pending;
        }
        m->nsessions = i + 1;
    }
    return 0;
}

/* data.proto (optional): the protocol version asked for or accepted. */
static int cl__proto(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long v = 0;
    int rc = cl_json_int(d, "data", "proto", false, 1, 255, &v, NULL, err, errlen);
    m->proto = (int)v;
    return rc;
}

/* data.stdin_window (optional): an input window granted or honoured. */
static int cl__stdin_window(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long v = 0;
    int rc = cl_json_int(d, "data", "stdin_window", false, 1, CL_STDIN_WINDOW_MAX, &v, NULL, err,
                         errlen);
    m->stdin_window = (uint32_t)v;
    return rc;
}

/* A malloc'd copy of string field key (at most max bytes) in m->text. An
 * empty string is allowed when allow_empty (a token may carry ""). */
static int cl__text(json_t *d, const char *key, size_t max, bool allow_empty, struct cl_msg *m,
                    char *err, size_t errlen)
{
    const char *s;
    int rc = cl_json_str(d, "data", key, !allow_empty, max, &s, err, errlen);
    if (rc)
        return rc;
    if (!s)
        return cl_seterr(err, errlen, CL_EINVAL, "missing field data.%s", key);
    m->text_len = strlen(s);
    m->text = malloc(m->text_len + 1);
    if (!m->text)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    memcpy(m->text, s, m->text_len + 1);
    return 0;
}

/* An optional object field key, kept as compact JSON text in m->json. */
static int cl__json_obj(json_t *d, const char *key, struct cl_msg *m, char *err, size_t errlen)
{
    json_t *v = json_object_get(d, key);
    size_t n = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.%s must be an object", key);
    m->json = cl_json_dump(v, &n);
    if (!m->json)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    if (n > CL_NODE_JSON_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "field data.%s is larger than %d bytes", key,
                         CL_NODE_JSON_MAX);
    return 0;
}

/* A metadata key: 1..CL_DEVICE_META_KEY_MAX of [A-Za-z0-9_.-]. */
static bool cl__meta_key_ok(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++) {
        char c = k[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n > 0 && n <= CL_DEVICE_META_KEY_MAX;
}

/* A metadata string: at most CL_DEVICE_META_VALUE_MAX bytes, no control
 * characters (nor NUL). */
static bool cl__meta_str_ok(json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > CL_DEVICE_META_VALUE_MAX || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* What a device says about itself (hello's meta, meta_update's data), kept
 * as the CL_DEVICE_META_* limits say: the object as received must fit
 * CL_DEVICE_META_MAX bytes; of it the first CL_DEVICE_META_FIELDS fields
 * with a usable key and a number or short string value are kept in
 * m->json (NULL when none is). skip_own drops name and kind (hello has
 * fields of its own for them). */
static int cl__meta(json_t *obj, const char *what, bool skip_own, struct cl_msg *m, char *err,
                    size_t errlen)
{
    json_t *keep, *v;
    const char *k;
    size_t n = 0, count = 0;
    char *text = cl_json_dump(obj, &n);

    if (!text)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    free(text);
    if (n > CL_DEVICE_META_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "field %s is larger than %d bytes", what,
                         CL_DEVICE_META_MAX);
    keep = json_object();
    json_object_foreach(obj, k, v)
    {
        if (count >= CL_DEVICE_META_FIELDS)
            break;
        if (!cl__meta_key_ok(k) || (skip_own && (strcmp(k, "name") == 0 || strcmp(k, "kind") == 0)))
            continue;
        if (!json_is_number(v) && !(json_is_string(v) && cl__meta_str_ok(v)))
            continue;
        json_object_set(keep, k, v);
        count++;
    }
    if (count)
        m->json = cl_json_dump(keep, NULL);
    json_decref(keep);
    if (count && !m->json)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    return 0;
}

/* The node health payload: heartbeat, and status coming from an agent. */
static int cl__health(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long uptime = 0, tasks = 0;
    const char *state = NULL, *last = NULL;
    json_t *caps = json_object_get(d, "capabilities"), *e;
    size_t i;
    int rc =
        cl__copy_str(d, "data", "node_id", true, m->device_id, sizeof m->device_id, err, errlen);
    if (!rc)
        rc = cl_json_int(d, "data", "uptime", true, 0, INT64_MAX, &uptime, NULL, err, errlen);
    if (!rc)
        rc = cl_json_int(d, "data", "active_tasks", true, 0, 1 << 20, &tasks, NULL, err, errlen);
    if (!rc)
        rc = cl_json_str(d, "data", "last_error", false, sizeof m->last_error - 1, &last, err,
                         errlen);
    if (!rc)
        rc = cl_json_str(d, "data", "connection_state", true, 32, &state, err, errlen);
    if (rc)
        return rc;
    if (cl_node_state_from_name(state, &m->node_state) != 0)
        return cl_seterr(err, errlen, CL_EINVAL,
                         "field data.connection_state must be online, reconnecting or offline");
    if (caps && !json_is_null(caps)) {
        if (!json_is_array(caps) || json_array_size(caps) > 32)
            return cl_seterr(err, errlen, CL_EINVAL,
                             "field data.capabilities must be an array of names");
        json_array_foreach(caps, i, e)
        {
            if (!json_is_string(e))
                return cl_seterr(err, errlen, CL_EINVAL,
                                 "field data.capabilities must be an array of names");
            m->caps |= cl_cap_from_name(json_string_value(e)); /* unknown: ignored */
        }
    }
    m->uptime = (uint64_t)uptime;
    m->active_tasks = (int)tasks;
    m->has_last_error = last != NULL;
    if (last)
        memcpy(m->last_error, last, strlen(last) + 1);
    m->has_health = true;
    return 0;
}

static int cl__request_id(json_t *d, bool required, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__copy_str(d, "data", "request_id", required, m->request_id, sizeof m->request_id,
                          err, errlen);
    if (!rc && m->request_id[0] && !cl_proto_id_valid(m->request_id))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.request_id has invalid characters");
    return rc;
}

/* Where a request's payload is: d itself (ours), or d.data when the flat
 * field is absent and d.data is an object (the PrivaClaw skill's shape). */
static json_t *cl__skill_payload(json_t *d, const char *flat)
{
    json_t *in = json_object_get(d, "data");
    return !json_object_get(d, flat) && json_is_object(in) ? in : d;
}

static int cl__decode_data(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = 0;
    switch (m->type) {
    case CL_MSG_HELLO: {
        json_t *meta = json_object_get(d, "meta");
        /* the PrivaClaw skill names its device node_id (docs/openclaw.md) */
        bool by_node = d && !json_object_get(d, "device_id") && json_object_get(d, "node_id");
        rc = cl__copy_str(d, "data", by_node ? "node_id" : "device_id", true, m->device_id,
                          sizeof m->device_id, err, errlen);
        if (!rc)
            rc = cl__copy_str(d, "data", "token", true, m->token, sizeof m->token, err, errlen);
        if (!rc && meta && !json_is_null(meta)) {
            json_t *kind = json_object_get(meta, "kind");
            if (!json_is_object(meta))
                return cl_seterr(err, errlen, CL_EINVAL, "field data.meta must be an object");
            rc = cl__copy_str(meta, "data.meta", "name", false, m->name, sizeof m->name, err,
                              errlen);
            /* a kind that is no short name is ignored, not refused */
            if (!rc && json_is_string(kind) && json_string_length(kind) <= CL_DEVICE_KIND_MAX &&
                cl__meta_key_ok(json_string_value(kind)))
                snprintf(m->kind, sizeof m->kind, "%s", json_string_value(kind));
            if (!rc)
                rc = cl__meta(meta, "data.meta", true, m, err, errlen);
        }
        if (!rc)
            rc = cl__proto(d, m, err, errlen);
        if (!rc)
            rc = cl__stdin_window(d, m, err, errlen);
        return rc ? rc : cl__sessions(d, m, err, errlen);
    }
    case CL_MSG_AUTH:
        /* optional: a browser may present its session cookie instead
         * (the relay decides; an empty token means none) */
        rc = cl__copy_str(d, "data", "token", false, m->token, sizeof m->token, err, errlen);
        if (!rc)
            rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id,
                              err, errlen);
        if (!rc)
            rc = cl__copy_str(d, "data", "device_id", true, m->device_id, sizeof m->device_id, err,
                              errlen);
        if (!rc) {
            long long ro = 0;
            rc = cl_json_int(d, "data", "resume_offset", false, 0, INT64_MAX, &ro,
                             &m->has_resume_offset, err, errlen);
            m->resume_offset = (uint64_t)ro;
        }
        return rc ? rc : cl__proto(d, m, err, errlen);
    case CL_MSG_SESSION_START:
        rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                          errlen);
        return rc ? rc : cl__size(d, false, m, err, errlen);
    case CL_MSG_RESIZE:
        rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                          errlen);
        return rc ? rc : cl__size(d, true, m, err, errlen);
    case CL_MSG_SESSION_STARTED:
        return cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                            errlen);
    case CL_MSG_STDIN:
    case CL_MSG_STDOUT: {
        long long off = 0;
        rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                          errlen);
        if (!rc && m->type == CL_MSG_STDOUT)
            rc = cl_json_int(d, "data", "offset", false, 0, INT64_MAX, &off, &m->has_offset, err,
                             errlen);
        m->offset = (uint64_t)off;
        return rc ? rc : cl__bytes(d, m, err, errlen);
    }
    case CL_MSG_SESSION_END: {
        long long code = 0;
        rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                          errlen);
        if (!rc)
            rc = cl__copy_str(d, "data", "reason", false, m->reason, sizeof m->reason, err, errlen);
        if (!rc)
            rc = cl_json_int(d, "data", "exit_code", false, -255, 255, &code, &m->has_exit_code,
                             err, errlen);
        m->exit_code = (int)code;
        return rc;
    }
    case CL_MSG_ERROR:
        rc = cl__copy_str(d, "data", "message", false, m->message, sizeof m->message, err, errlen);
        if (!rc)
            rc = cl__copy_str(d, "data", "code", false, m->code, sizeof m->code, err, errlen);
        return rc ? rc : cl__request_id(d, false, m, err, errlen);
    case CL_MSG_PROMPT: {
        json_t *p = cl__skill_payload(d, "prompt");
        rc = cl__request_id(d, true, m, err, errlen);
        if (!rc)
            rc = cl__copy_str(p, "data", "session_key", false, m->key, sizeof m->key, err, errlen);
        return rc ? rc : cl__text(p, "prompt", CL_NODE_PROMPT_MAX, false, m, err, errlen);
    }
    case CL_MSG_STATUS:
        rc = cl__request_id(d, true, m, err, errlen);
        /* from an agent it carries the health payload; from the relay, nothing */
        if (!rc && json_object_get(d, "connection_state"))
            rc = cl__health(d, m, err, errlen);
        return rc;
    case CL_MSG_RESTART:
    case CL_MSG_WORKFLOWS:
        return cl__request_id(d, true, m, err, errlen);
    case CL_MSG_WORKFLOW: {
        json_t *p = cl__skill_payload(d, "name");
        rc = cl__request_id(d, true, m, err, errlen);
        if (!rc)
            rc = cl__copy_str(p, "data", p == d ? "name" : "workflow_id", true, m->key,
                              sizeof m->key, err, errlen);
        return rc ? rc : cl__json_obj(p, "params", m, err, errlen);
    }
    case CL_MSG_META_UPDATE:
        if (!d)
            return cl_seterr(err, errlen, CL_EINVAL, "meta_update needs a data object");
        return cl__meta(d, "data", false, m, err, errlen);
    case CL_MSG_TOKEN:
        rc = cl__request_id(d, true, m, err, errlen);
        return rc ? rc : cl__text(d, "content", CL_NODE_TEXT_MAX, true, m, err, errlen);
    case CL_MSG_DONE:
        rc = cl__request_id(d, true, m, err, errlen);
        return rc ? rc : cl__json_obj(d, "result", m, err, errlen);
    case CL_MSG_HEARTBEAT:
        return cl__health(d, m, err, errlen);
    case CL_MSG_ACK:
    case CL_MSG_STDIN_ACK:
    case CL_MSG_REPLAY: {
        long long off = 0, viewers = 0;
        rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                          errlen);
        if (!rc)
            rc = cl_json_int(d, "data", "offset", true, 0, INT64_MAX, &off, &m->has_offset, err,
                             errlen);
        if (!rc && m->type == CL_MSG_ACK)
            rc = cl_json_int(d, "data", "viewers", false, 0, 1 << 20, &viewers, &m->has_viewers,
                             err, errlen);
        m->offset = (uint64_t)off;
        m->viewers = (int)viewers;
        return rc;
    }
    case CL_MSG_GAP: {
        long long from = 0, to = 0;
        rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                          errlen);
        if (!rc)
            rc = cl_json_int(d, "data", "from", true, 0, INT64_MAX, &from, NULL, err, errlen);
        if (!rc)
            rc = cl_json_int(d, "data", "to", true, from, INT64_MAX, &to, NULL, err, errlen);
        m->gap_from = (uint64_t)from;
        m->gap_to = (uint64_t)to;
        return rc;
    }
    case CL_MSG_SESSION_TITLE: {
        const char *t = NULL;
        rc = cl__copy_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                          errlen);
        /* "" is allowed (nothing known); absent is not */
        if (!rc)
            rc = cl_json_str(d, "data", "title", false, CL_SESSION_TITLE_MAX, &t, err, errlen);
        if (rc)
            return rc;
        if (!t)
            return cl_seterr(err, errlen, CL_EINVAL, "missing field data.title");
        if (!cl_proto_label_valid(t))
            return cl_seterr(err, errlen, CL_EINVAL, "field data.title has control characters");
        memcpy(m->title, t, strlen(t) + 1);
        return 0;
    }
    case CL_MSG_HELLO_OK:
    case CL_MSG_AUTH_OK:
        if (!d)
            return 0;
        rc = cl__proto(d, m, err, errlen);
        return rc ? rc : cl__stdin_window(d, m, err, errlen);
    case CL_MSG_PING:
    case CL_MSG_PONG:
    case CL_MSG_RESTARTING:
        return 0;
    default:
        return cl_seterr(err, errlen, CL_EPROTO, "unknown message type");
    }
}

int cl_msg_decode(const char *text, size_t len, struct cl_msg *out, char *err, size_t errlen)
{
    const char *type;
    json_t *root, *data;
    int rc;

    memset(out, 0, sizeof *out);
    root = cl_json_parse_object(text, len, err, errlen);
    if (!root)
        return CL_EINVAL;
    rc = cl_json_str(root, "message", "type", true, 64, &type, err, errlen);
    if (rc)
        goto out_decref;
    out->type = cl_msg_type_from_name(type);
    if (out->type == CL_MSG_UNKNOWN) {
        rc = cl_seterr(err, errlen, CL_EPROTO, "unknown message type \"%.40s\"", type);
        goto out_decref;
    }
    data = json_object_get(root, "data");
    if (data && !json_is_object(data) && !json_is_null(data)) {
        rc = cl_seterr(err, errlen, CL_EINVAL, "field data must be an object");
        goto out_decref;
    }
    if (data && json_is_null(data))
        data = NULL;
    if (out->type == CL_MSG_RESPONSE) {
        /* the skill's envelope: decoded as the message it wraps */
        const char *inner = NULL;
        rc = cl_json_str(data, "data", "type", true, 64, &inner, err, errlen);
        if (!rc && !data)
            rc = cl_seterr(err, errlen, CL_EINVAL, "response needs a data object");
        if (rc)
            goto out_decref;
        out->type = cl_msg_type_from_name(inner);
        if (out->type != CL_MSG_TOKEN && out->type != CL_MSG_DONE && out->type != CL_MSG_STATUS &&
            out->type != CL_MSG_ERROR) {
            out->type = CL_MSG_RESPONSE;
            rc = cl_seterr(err, errlen, CL_EPROTO, "unknown response type \"%.40s\"", inner);
            goto out_decref;
        }
    }
    rc = cl__decode_data(data, out, err, errlen);
    if (!rc && out->session_id[0] && !cl_proto_id_valid(out->session_id))
        rc = cl_seterr(err, errlen, CL_EINVAL, "field data.session_id has invalid characters");
    if (!rc && out->device_id[0] && !cl_proto_id_valid(out->device_id))
        rc = cl_seterr(err, errlen, CL_EINVAL, "field data.device_id has invalid characters");
    if (rc) {
        enum cl_msg_type t = out->type;
        cl_msg_clear(out);
        out->type = t;
    }
out_decref:
    json_decref(root);
    return rc;
}

void cl_msg_clear(struct cl_msg *m)
{
    if (!m->data_borrowed)
        free(m->data);
    free(m->sessions);
    free(m->text);
    free(m->json);
    cl_wipe(m->token, sizeof m->token);
    memset(m, 0, sizeof *m);
}

/* Adds the node health payload to d. */
static void cl__health_encode(json_t *d, const struct cl_msg *m)
{
    json_t *caps = json_array();
    json_object_set_new(d, "node_id", json_string(m->device_id));
    json_object_set_new(d, "uptime", json_integer((json_int_t)m->uptime));
    json_object_set_new(d, "active_tasks", json_integer(m->active_tasks));
    json_object_set_new(d, "last_error",
                        m->has_last_error ? json_string(m->last_error) : json_null());
    json_object_set_new(d, "connection_state", json_string(cl_node_state_name(m->node_state)));
    for (unsigned bit = 1; bit & CL_CAP__ALL; bit <<= 1)
        if (m->caps & bit)
            json_array_append_new(caps, json_string(cl_cap_name(bit)));
    json_object_set_new(d, "capabilities", caps);
}

/* Sets key to the JSON object held as text in m->json (ignored if absent
 * or not an object). */
static void cl__json_encode(json_t *d, const char *key, const struct cl_msg *m)
{
    json_t *v = m->json ? json_loads(m->json, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (v && json_is_object(v))
        json_object_set_new(d, key, v);
    else
        json_decref(v);
}

char *cl_msg_encode(const struct cl_msg *m, size_t *len)
{
    const char *name = cl_msg_type_name(m->type);
    json_t *root, *d = NULL;
    char *out;

    if (!name)
        return NULL;
    root = json_object();
    json_object_set_new(root, "type", json_string(name));
    switch (m->type) {
    case CL_MSG_HELLO: {
        json_t *meta = json_pack("{s:s}", "name", m->name);
        json_t *extra = m->json ? json_loads(m->json, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (m->kind[0])
            json_object_set_new(meta, "kind", json_string(m->kind));
        if (json_is_object(extra))
            json_object_update_missing(meta, extra);
        json_decref(extra);
        d = json_pack("{s:s, s:s, s:o}", "device_id", m->device_id, "token", m->token, "meta",
                      meta);
        if (d && m->nsessions) {
            json_t *arr = json_array();
            for (size_t i = 0; i < m->nsessions; i++) {
                const struct cl_msg_session *e = &m->sessions[i];
                json_t *o = json_pack("{s:s, s:I, s:I, s:i}", "session_id", e->session_id, "offset",
                                      (json_int_t)e->offset, "acked", (json_int_t)e->acked,
                                      "viewers", e->viewers);
                if (o && m->stdin_window) {
                    json_object_set_new(o, "stdin_acked", json_integer((json_int_t)e->stdin_acked));
                    json_object_set_new(o, "stdin_pending",
                                        json_integer((json_int_t)e->stdin_pending));
                }
                json_array_append_new(arr, o);
            }
            json_object_set_new(d, "sessions", arr);
        }
        if (d && m->proto)
            json_object_set_new(d, "proto", json_integer(m->proto));
        if (d && m->stdin_window)
            json_object_set_new(d, "stdin_window", json_integer(m->stdin_window));
        break;
    }
    case CL_MSG_META_UPDATE:
        d = m->json ? json_loads(m->json, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(d)) {
            json_decref(d);
            d = json_object();
        }
        break;
    case CL_MSG_HELLO_OK:
    case CL_MSG_AUTH_OK:
        if (m->proto)
            d = json_pack("{s:i}", "proto", m->proto);
        if (m->stdin_window) {
            if (!d)
                d = json_object();
            json_object_set_new(d, "stdin_window", json_integer(m->stdin_window));
        }
        break;
    case CL_MSG_AUTH:
        d = json_pack("{s:s, s:s, s:s}", "token", m->token, "session_id", m->session_id,
                      "device_id", m->device_id);
        if (d && m->has_resume_offset)
            json_object_set_new(d, "resume_offset", json_integer((json_int_t)m->resume_offset));
        if (d && m->proto)
            json_object_set_new(d, "proto", json_integer(m->proto));
        break;
    case CL_MSG_ACK:
    case CL_MSG_STDIN_ACK:
    case CL_MSG_REPLAY:
        d = json_pack("{s:s, s:I}", "session_id", m->session_id, "offset", (json_int_t)m->offset);
        if (d && m->type == CL_MSG_ACK && m->has_viewers)
            json_object_set_new(d, "viewers", json_integer(m->viewers));
        break;
    case CL_MSG_GAP:
        d = json_pack("{s:s, s:I, s:I}", "session_id", m->session_id, "from",
                      (json_int_t)m->gap_from, "to", (json_int_t)m->gap_to);
        break;
    case CL_MSG_SESSION_START:
    case CL_MSG_RESIZE:
        d = json_pack("{s:s, s:i, s:i}", "session_id", m->session_id, "cols", m->cols, "rows",
                      m->rows);
        break;
    case CL_MSG_SESSION_STARTED:
        d = json_pack("{s:s}", "session_id", m->session_id);
        break;
    case CL_MSG_SESSION_TITLE:
        d = json_pack("{s:s, s:s}", "session_id", m->session_id, "title", m->title);
        break;
    case CL_MSG_SESSION_END:
        d = json_pack("{s:s, s:s}", "session_id", m->session_id, "reason",
                      m->reason[0] ? m->reason : "exit");
        if (d && m->has_exit_code)
            json_object_set_new(d, "exit_code", json_integer(m->exit_code));
        break;
    case CL_MSG_ERROR:
        d = json_pack("{s:s}", "message", m->message);
        if (d && m->code[0])
            json_object_set_new(d, "code", json_string(m->code));
        if (d && m->session_id[0])
            json_object_set_new(d, "session_id", json_string(m->session_id));
        if (d && m->request_id[0])
            json_object_set_new(d, "request_id", json_string(m->request_id));
        break;
    case CL_MSG_PROMPT:
        d = json_pack("{s:s, s:s}", "request_id", m->request_id, "prompt", m->text ? m->text : "");
        if (d && m->key[0])
            json_object_set_new(d, "session_key", json_string(m->key));
        break;
    case CL_MSG_STATUS:
        d = json_pack("{s:s}", "request_id", m->request_id);
        if (d && m->has_health)
            cl__health_encode(d, m);
        break;
    case CL_MSG_RESTART:
    case CL_MSG_WORKFLOWS:
        d = json_pack("{s:s}", "request_id", m->request_id);
        break;
    case CL_MSG_WORKFLOW:
        d = json_pack("{s:s, s:s}", "request_id", m->request_id, "name", m->key);
        if (d)
            cl__json_encode(d, "params", m);
        break;
    case CL_MSG_TOKEN:
        d = json_pack("{s:s, s:s}", "request_id", m->request_id, "content", m->text ? m->text : "");
        break;
    case CL_MSG_DONE:
        d = json_pack("{s:s}", "request_id", m->request_id);
        if (d)
            cl__json_encode(d, "result", m);
        break;
    case CL_MSG_HEARTBEAT:
        d = json_object();
        cl__health_encode(d, m);
        break;
    case CL_MSG_STDIN:
    case CL_MSG_STDOUT: {
        size_t cap = cl_b64_encoded_size(m->data_len);
        char *b64 = malloc(cap);
        if (!b64)
            break;
        cl_b64_encode(m->data, m->data_len, b64, cap);
        d = json_pack("{s:s, s:s}", "session_id", m->session_id, "data_b64", b64);
        free(b64);
        if (d && m->has_offset)
            json_object_set_new(d, "offset", json_integer((json_int_t)m->offset));
        break;
    }
    default:
        break;
    }
    if (d)
        json_object_set_new(root, "data", d);
    out = cl_json_dump(root, len);
    json_decref(root);
    return out;
}

char *cl_msg_encode_skill(const struct cl_msg *m, size_t *len)
{
    json_t *root, *in;
    char *out;

    if (m->type != CL_MSG_PROMPT && m->type != CL_MSG_WORKFLOW)
        return cl_msg_encode(m, len); /* status, restart: {request_id}, as ours */
    if (m->type == CL_MSG_PROMPT) {
        in = json_pack("{s:s}", "prompt", m->text ? m->text : "");
        if (in && m->key[0])
            json_object_set_new(in, "session_key", json_string(m->key));
    } else {
        json_t *params = m->json ? json_loads(m->json, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(params)) {
            json_decref(params);
            params = json_object(); /* the skill gets an object, empty or not */
        }
        in = json_pack("{s:s, s:o}", "workflow_id", m->key, "params", params);
    }
    root = json_pack("{s:s, s:{s:s, s:o}}", "type", cl_msg_type_name(m->type), "data", "request_id",
                     m->request_id, "data", in);
    if (!root)
        return NULL;
    out = cl_json_dump(root, len);
    json_decref(root);
    return out;
}

size_t cl_msg_data_encoded_max(size_t session_id_len, size_t n)
{
    /* {"type":"stdout","data":{"session_id":"","offset":N,"data_b64":""}} */
    return 96 + session_id_len + 20 + cl_b64_encoded_size(n);
}

long cl_msg_encode_data(enum cl_msg_type type, const char *session_id, const uint8_t *bytes,
                        size_t n, int64_t offset, char *buf, size_t cap)
{
    size_t sid_len = strlen(session_id);
    int w;
    long b;

    if (cap < cl_msg_data_encoded_max(sid_len, n))
        return CL_ELIMIT;
    /* session ids are validated on entry (no quotes or backslashes). */
    if (offset >= 0)
        w = snprintf(buf, cap,
                     "{\"type\":\"%s\",\"data\":{\"session_id\":\"%s\",\"offset\":%lld,"
                     "\"data_b64\":\"",
                     cl_msg_type_name(type), session_id, (long long)offset);
    else
        w = snprintf(buf, cap, "{\"type\":\"%s\",\"data\":{\"session_id\":\"%s\",\"data_b64\":\"",
                     cl_msg_type_name(type), session_id);
    b = cl_b64_encode(bytes, n, buf + w, cap - (size_t)w);
    if (b < 0)
        return b;
    memcpy(buf + w + b, "\"}}", 4);
    return w + b + 3;
}

char *cl_msg_encode_error(const char *code, const char *message, size_t *len)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_ERROR;
    snprintf(m.code, sizeof m.code, "%s", code);
    snprintf(m.message, sizeof m.message, "%s", message);
    return cl_msg_encode(&m, len);
}

/* ---- protocol v2: binary data frames ---------------------------------- */

size_t cl_bin_write_header(uint8_t *dst, enum cl_msg_type type, const char *sid, uint64_t offset)
{
    size_t n = strlen(sid);
    dst[0] = (uint8_t)type;
    dst[1] = (uint8_t)n;
    for (int i = 0; i < 8; i++)
        dst[2 + i] = (uint8_t)(offset >> (56 - 8 * i));
    memcpy(dst + CL_BIN_FIXED, sid, n);
    return CL_BIN_FIXED + n;
}

int cl_bin_decode(const uint8_t *buf, size_t len, struct cl_msg *out, char *err, size_t errlen)
{
    size_t n;
    uint64_t off = 0;

    memset(out, 0, sizeof *out);
    if (len < CL_BIN_FIXED + 1)
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame shorter than its header");
    if (buf[0] != CL_MSG_STDIN && buf[0] != CL_MSG_STDOUT)
        return cl_seterr(err, errlen, CL_EPROTO, "binary frame of unknown type %u",
                         (unsigned)buf[0]);
    n = buf[1];
    if (n == 0 || n > CL_ID_MAX || len < CL_BIN_FIXED + n)
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame with a bad session id length");
    for (int i = 0; i < 8; i++)
        off = off << 8 | buf[2 + i];
    if (off > INT64_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame offset out of range");
    memcpy(out->session_id, buf + CL_BIN_FIXED, n);
    out->session_id[n] = '\0';
    if (strlen(out->session_id) != n || !cl_proto_id_valid(out->session_id)) {
        out->session_id[0] = '\0';
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame session id has invalid characters");
    }
    out->type = (enum cl_msg_type)buf[0];
    out->has_offset = out->type == CL_MSG_STDOUT;
    out->offset = out->has_offset ? off : 0;
    out->data = (uint8_t *)(buf + CL_BIN_FIXED + n);
    out->data_len = len - CL_BIN_FIXED - n;
    out->data_borrowed = true;
    return 0;
}

/* ---- v1 output, read without JSON --------------------------------------- */

static int cl__b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict, padded base64 of n characters: returns the decoded length, or
 * -1. Trailing bits must be zero, so there is one encoding per payload. */
static long cl__b64_check(const char *b, size_t n)
{
    size_t pad = 0, i;
    if (n % 4)
        return -1;
    if (n && b[n - 1] == '=')
        pad = b[n - 2] == '=' ? 2 : 1;
    for (i = 0; i < n - pad; i++)
        if (cl__b64_value((unsigned char)b[i]) < 0)
            return -1;
    if (pad == 1 && (cl__b64_value((unsigned char)b[n - 2]) & 0x3))
        return -1;
    if (pad == 2 && (cl__b64_value((unsigned char)b[n - 3]) & 0xf))
        return -1;
    return (long)(n / 4 * 3 - pad);
}

/* Consumes the literal lit at *p (bounded by end). */
static bool cl__lit(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

int cl_msg_peek_stdout(const char *text, size_t len, struct cl_msg *out)
{
    const char *p = text, *end = text + len, *q;
    uint64_t off = 0;
    size_t n;
    long dl;

    memset(out, 0, sizeof *out);
    if (!cl__lit(&p, end, "{\"type\":\"stdout\",\"data\":{\"session_id\":\""))
        return -1;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q || q == p || (size_t)(q - p) > CL_ID_MAX)
        return -1;
    n = (size_t)(q - p);
    memcpy(out->session_id, p, n);
    out->session_id[n] = '\0';
    if (strlen(out->session_id) != n || !cl_proto_id_valid(out->session_id))
        goto fail;
    p = q + 1;
    if (!cl__lit(&p, end, ",\"offset\":") || p == end || *p < '0' || *p > '9')
        goto fail;
    if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
        goto fail; /* leading zero */
    for (n = 0; p < end && *p >= '0' && *p <= '9'; p++, n++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (n >= 19 || off > ((uint64_t)INT64_MAX - d) / 10)
            goto fail;
        off = off * 10 + d;
    }
    if (!cl__lit(&p, end, ",\"data_b64\":\""))
        goto fail;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q || (size_t)(end - q) != 3 || memcmp(q, "\"}}", 3) != 0)
        goto fail;
    dl = cl__b64_check(p, (size_t)(q - p));
    if (dl < 0)
        goto fail;
    out->type = CL_MSG_STDOUT;
    out->has_offset = true;
    out->offset = off;
    out->data_len = (size_t)dl;
    out->b64 = p;
    out->b64_len = (size_t)(q - p);
    return 0;
fail:
    memset(out, 0, sizeof *out);
    return -1;
}
