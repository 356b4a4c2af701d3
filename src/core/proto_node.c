/*
 * proto_node: family 3 of the wire protocol, OpenClaw nodes.
 *
 * The relay's requests to a node (prompt, status, restart, workflow,
 * workflows) and the node's answers (token, done, status with its health,
 * heartbeat), each answer repeating the request_id; the PrivaClaw skill's
 * shapes of both (its nested requests, its "response" envelope); and the
 * names of node states and capabilities. docs/protocol.md, "OpenClaw
 * nodes"; docs/openclaw.md.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/proto_family.h"

#include <stdlib.h>
#include <string.h>

static const char *const cl__node_state_names[] = {
    [CL_NODE_OFFLINE] = "offline",
    [CL_NODE_ONLINE] = "online",
    [CL_NODE_RECONNECTING] = "reconnecting",
};

static const char *const cl__node_cap_names[] = {"terminal", "chat",     "status",
                                                 "restart",  "workflow", "files"};

const char *cl_node_state_name(enum cl_node_state s)
{
    return (unsigned)s < sizeof cl__node_state_names / sizeof cl__node_state_names[0]
               ? cl__node_state_names[s]
               : "offline";
}

int cl_node_state_from_name(const char *name, enum cl_node_state *out)
{
    for (size_t i = 0; i < sizeof cl__node_state_names / sizeof cl__node_state_names[0]; i++)
        if (strcmp(cl__node_state_names[i], name) == 0) {
            *out = (enum cl_node_state)i;
            return 0;
        }
    return CL_EINVAL;
}

const char *cl_cap_name(unsigned cap)
{
    for (size_t i = 0; i < sizeof cl__node_cap_names / sizeof cl__node_cap_names[0]; i++)
        if (cap == 1u << i)
            return cl__node_cap_names[i];
    return NULL;
}

unsigned cl_cap_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof cl__node_cap_names / sizeof cl__node_cap_names[0]; i++)
        if (strcmp(cl__node_cap_names[i], name) == 0)
            return 1u << i;
    return 0;
}

/* A malloc'd copy of string field key (at most max bytes) in m->text. An
 * empty string is allowed when allow_empty (a token may carry ""). */
static int cl__node_text(json_t *d, const char *key, size_t max, bool allow_empty, struct cl_msg *m,
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
static int cl__node_json_obj(json_t *d, const char *key, struct cl_msg *m, char *err, size_t errlen)
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

/* Sets key to the JSON object held as text in m->json (ignored if absent
 * or not an object). */
static void cl__node_json_encode(json_t *d, const char *key, const struct cl_msg *m)
{
    json_t *v = m->json ? json_loads(m->json, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (v && json_is_object(v))
        json_object_set_new(d, key, v);
    else
        json_decref(v);
}

/* Where a request's payload is: d itself (ours), or d.data when the flat
 * field is absent and d.data is an object (the PrivaClaw skill's shape). */
static json_t *cl__node_skill_payload(json_t *d, const char *flat)
{
    json_t *in = json_object_get(d, "data");
    return !json_object_get(d, flat) && json_is_object(in) ? in : d;
}

/* ---- the node's health: heartbeat (24), status from an agent (19) ------- */

static int cl__node_health(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long uptime = 0, tasks = 0;
    const char *state = NULL, *last = NULL;
    json_t *caps = json_object_get(d, "capabilities"), *e;
    size_t i;
    int rc =
        cl__proto_str(d, "data", "node_id", true, m->device_id, sizeof m->device_id, err, errlen);
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

/* Adds the node health payload to d. */
static void cl__node_health_encode(json_t *d, const struct cl_msg *m)
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

static int cl__node_heartbeat_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    return cl__node_health(d, m, err, errlen);
}

static json_t *cl__node_heartbeat_encode(const struct cl_msg *m)
{
    json_t *d = json_object();
    cl__node_health_encode(d, m);
    return d;
}

/* ---- requests: prompt (18), status (19), restart (20), workflow (21),
 * workflows (25) ---------------------------------------------------------- */

static int cl__node_prompt_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    json_t *p = cl__node_skill_payload(d, "prompt");
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    if (!rc)
        rc = cl__proto_str(p, "data", "session_key", false, m->key, sizeof m->key, err, errlen);
    return rc ? rc : cl__node_text(p, "prompt", CL_NODE_PROMPT_MAX, false, m, err, errlen);
}

static json_t *cl__node_prompt_encode(const struct cl_msg *m)
{
    json_t *d =
        json_pack("{s:s, s:s}", "request_id", m->request_id, "prompt", m->text ? m->text : "");
    if (d && m->key[0])
        json_object_set_new(d, "session_key", json_string(m->key));
    return d;
}

static int cl__node_status_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    /* from an agent it carries the health payload; from the relay, nothing */
    if (!rc && json_object_get(d, "connection_state"))
        rc = cl__node_health(d, m, err, errlen);
    return rc;
}

static json_t *cl__node_status_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s}", "request_id", m->request_id);
    if (d && m->has_health)
        cl__node_health_encode(d, m);
    return d;
}

/* restart, workflows: the request_id and nothing else */
static int cl__node_request_id_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    return cl__proto_request_id(d, true, m, err, errlen);
}

static json_t *cl__node_request_id_encode(const struct cl_msg *m)
{
    return json_pack("{s:s}", "request_id", m->request_id);
}

static int cl__node_workflow_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    json_t *p = cl__node_skill_payload(d, "name");
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    if (!rc)
        rc = cl__proto_str(p, "data", p == d ? "name" : "workflow_id", true, m->key, sizeof m->key,
                           err, errlen);
    return rc ? rc : cl__node_json_obj(p, "params", m, err, errlen);
}

static json_t *cl__node_workflow_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s, s:s}", "request_id", m->request_id, "name", m->key);
    if (d)
        cl__node_json_encode(d, "params", m);
    return d;
}

/* ---- answers: token (22), done (23) ------------------------------------- */

static int cl__node_token_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    return rc ? rc : cl__node_text(d, "content", CL_NODE_TEXT_MAX, true, m, err, errlen);
}

static json_t *cl__node_token_encode(const struct cl_msg *m)
{
    return json_pack("{s:s, s:s}", "request_id", m->request_id, "content", m->text ? m->text : "");
}

static int cl__node_done_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    return rc ? rc : cl__node_json_obj(d, "result", m, err, errlen);
}

static json_t *cl__node_done_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s}", "request_id", m->request_id);
    if (d)
        cl__node_json_encode(d, "result", m);
    return d;
}

/* ---- response (27): the skill's envelope ---------------------------------
 * {"type":"response","data":{"type":"token"|"done"|"status"|"error",...}}
 * is decoded as the message it wraps, whose fields sit beside the inner
 * type (m->type becomes the inner type); it is never encoded. */
static int cl__node_response_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    const struct cl_proto_codec *inner;
    const char *name = NULL;
    int rc = cl_json_str(d, "data", "type", true, 64, &name, err, errlen);
    if (!rc && !d)
        rc = cl_seterr(err, errlen, CL_EINVAL, "response needs a data object");
    if (rc)
        return rc;
    inner = cl_proto_codec_by_name(name);
    if (!inner || (inner->type != CL_MSG_TOKEN && inner->type != CL_MSG_DONE &&
                   inner->type != CL_MSG_STATUS && inner->type != CL_MSG_ERROR))
        return cl_seterr(err, errlen, CL_EPROTO, "unknown response type \"%.40s\"", name);
    m->type = inner->type;
    return inner->decode(d, m, err, errlen);
}

static const struct cl_proto_codec cl__node_codecs[] = {
    {CL_MSG_PROMPT, "prompt", cl__node_prompt_decode, cl__node_prompt_encode},
    {CL_MSG_STATUS, "status", cl__node_status_decode, cl__node_status_encode},
    {CL_MSG_RESTART, "restart", cl__node_request_id_decode, cl__node_request_id_encode},
    {CL_MSG_WORKFLOW, "workflow", cl__node_workflow_decode, cl__node_workflow_encode},
    {CL_MSG_TOKEN, "token", cl__node_token_decode, cl__node_token_encode},
    {CL_MSG_DONE, "done", cl__node_done_decode, cl__node_done_encode},
    {CL_MSG_HEARTBEAT, "heartbeat", cl__node_heartbeat_decode, cl__node_heartbeat_encode},
    {CL_MSG_WORKFLOWS, "workflows", cl__node_request_id_decode, cl__node_request_id_encode},
    {CL_MSG_RESPONSE, "response", cl__node_response_decode, NULL},
};

const struct cl_proto_family cl_proto_node = {
    3, "node", 96, 127, cl__node_codecs, sizeof cl__node_codecs / sizeof cl__node_codecs[0],
};

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
